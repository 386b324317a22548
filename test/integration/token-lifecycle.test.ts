import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { CLOSE_REASONS } from '../../src/core/close-reasons.js';
import type { TidingsServer } from '../../src/server.js';
import { RawSse } from '../helpers/sse-raw.js';
import { assertProblem, offsets, publish, request, startTestServer, uniqueChannel, waitFor, within } from '../helpers/server.js';
import { WsSubscriber } from '../helpers/subscribers.js';

const SECRET = 'token-lifecycle-secret-long-enough-for-hs256';
const API_KEY = 'lifecycle-publisher';

/**
 * Seconds a short-lived token lives. JWT `exp` is whole seconds, so such a token lapses
 * between SHORT - 1 and SHORT seconds from now: short enough for a quick test, long enough
 * to connect and subscribe first even on a busy machine. The tests run concurrently.
 */
const SHORT = 4;

/** The `exp` of a token asked for `seconds` from now. */
const expIn = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds;

function token(claims: { subscribe?: string[]; publish?: string[] }, seconds = 3600, exp = expIn(seconds)): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('lifecycle-user').setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));
}

describe('token lifecycle', { concurrency: true }, () => {
  let server: TidingsServer;
  const pub = (channel: string, data: unknown) => publish(server.url, channel, data, { apiKey: API_KEY });
  const waitForSubscribers = (_url: string, channel: string, n: number) =>
    waitFor(
      async () => (await request<{ subscribers: number }>(server.url, `/v1/channels/${channel}`, { headers: { authorization: `Bearer ${API_KEY}` } })).body.subscribers === n,
      8000,
      `${n} subscribers on ${channel}`,
    );
  before(async () => (server = await startTestServer({ jwtSecret: SECRET, apiKey: API_KEY })));
  after(() => server.close());

  describe('WebSocket', { concurrency: true }, () => {
    it('a token that expires mid-stream ends the connection: error frame token_expired, then close 4001', async () => {
      const channel = uniqueChannel('exp');
      const ws = new WsSubscriber(server.url);
      try {
        const socket = await ws.connect(`?token=${await token({ subscribe: [channel] }, SHORT)}`);
        const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
        await ws.call({ type: 'subscribe', channel });
        await pub(channel, 1);
        await waitFor(() => ws.messages.length === 1, 8000, 'the message before expiry');
        const { code, reason } = await within(closed, 8000, 'close at expiry');
        assert.equal(code, 4001);
        assert.equal(code, CLOSE_REASONS.token_expired.ws);
        assert.equal(reason, CLOSE_REASONS.token_expired.text);
        const error = ws.frames.find((f) => f.type === 'error');
        assert.equal(error?.code, 'token_expired', 'the error frame comes before the close');
        await waitForSubscribers(server.url, channel, 0);
      } finally {
        await ws.close();
      }
    });

    it('an auth frame swaps the token in place: the connection outlives the first token and keeps delivering', async () => {
      const channel = uniqueChannel('refresh');
      const ws = new WsSubscriber(server.url);
      try {
        const firstExp = expIn(SHORT);
        await ws.connect(`?token=${await token({ subscribe: [channel] }, SHORT, firstExp)}`);
        await ws.call({ type: 'subscribe', channel });
        const fresh = await token({ subscribe: [channel] }, 3600);
        const answer = await ws.call({ type: 'auth', token: fresh });
        assert.equal(answer.type, 'authenticated');
        assert.equal(typeof answer.expires, 'number');
        // Past the first token's exp: still open, still delivering.
        await new Promise((r) => setTimeout(r, firstExp * 1000 + 300 - Date.now()));
        assert.equal(ws.closeCode, undefined, 'not closed at the old token’s expiry');
        await pub(channel, 'after');
        await waitFor(() => ws.messages.length === 1, 8000, 'a message after the old token lapsed');
        assert.equal(ws.frames.some((f) => f.type === 'error'), false);
      } finally {
        await ws.close();
      }
    });

    it('a new token with narrower grants ends the subscriptions it no longer covers with forbidden', async () => {
      const kept = uniqueChannel('kept');
      const lost = uniqueChannel('lost');
      const ws = new WsSubscriber(server.url);
      try {
        await ws.connect(`?token=${await token({ subscribe: [kept, lost] })}`);
        await ws.call({ type: 'subscribe', channel: kept });
        await ws.call({ type: 'subscribe', channel: lost });
        const answer = await ws.call({ type: 'auth', token: await token({ subscribe: [kept] }) });
        assert.equal(answer.type, 'authenticated');
        const ended = ws.frames.find((f) => f.type === 'error');
        assert.deepEqual({ code: ended?.code, channel: ended?.channel }, { code: 'forbidden', channel: lost });
        await waitForSubscribers(server.url, lost, 0);
        await pub(lost, 'not for you');
        await pub(kept, 'yours');
        await waitFor(() => ws.messages.length === 1, 8000, 'the message on the kept channel');
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(ws.messages.map((m) => m.channel), [kept]);
        const again = await ws.call({ type: 'subscribe', channel: lost });
        assert.deepEqual([again.type, again.code], ['error', 'forbidden'], 'the new grants apply to new subscribes');
      } finally {
        await ws.close();
      }
    });

    it('a refused auth frame changes nothing: forged is unauthorized, expired is token_expired', async () => {
      const channel = uniqueChannel('keep');
      const ws = new WsSubscriber(server.url);
      try {
        await ws.connect(`?token=${await token({ subscribe: [channel] })}`);
        await ws.call({ type: 'subscribe', channel });
        const forged = (await token({ subscribe: ['*'] })).slice(0, -3) + 'abc';
        assert.deepEqual(await ws.call({ type: 'auth', token: forged }).then((f) => [f.type, f.code]), ['error', 'unauthorized']);
        assert.deepEqual(await ws.call({ type: 'auth', token: await token({ subscribe: ['*'] }, -5) }).then((f) => [f.type, f.code]), ['error', 'token_expired']);
        assert.deepEqual(await ws.call({ type: 'auth', token: 'not-the-key' }).then((f) => [f.type, f.code]), ['error', 'unauthorized']);
        await pub(channel, 1);
        await waitFor(() => ws.messages.length === 1, 8000, 'delivery under the old token');
        assert.equal((await ws.call({ type: 'subscribe', channel: uniqueChannel('other') })).code, 'forbidden', 'the old grants still apply');
      } finally {
        await ws.close();
      }
    });
  });

  describe('SSE', { concurrency: true }, () => {
    it('a token that expires mid-stream ends it with event: close, reason token_expired; a fresh token resumes with no loss', async () => {
      const channel = uniqueChannel('sse-exp');
      const sse = await RawSse.open(`${server.url}/v1/events?channel=${channel}&token=${await token({ subscribe: [channel] }, SHORT)}`);
      try {
        assert.equal(sse.status, 200);
        await waitForSubscribers(server.url, channel, 1);
        await pub(channel, 1);
        await waitFor(() => sse.events().length === 1, 8000, 'the message before expiry');
        await waitFor(() => sse.ended, 8000, 'the stream to end at expiry');
        const close = sse.events().find((e) => e.event === 'close');
        assert.equal((JSON.parse(close!.data!) as { reason: string }).reason, 'token_expired');
        await pub(channel, 2);
        // Resume as a browser would: Last-Event-ID from the last id seen, and a fresh token.
        const lastId = sse.blocks().filter((b) => b.id !== undefined).at(-1)!.id!;
        const again = await RawSse.open(`${server.url}/v1/events?channel=${channel}&token=${await token({ subscribe: [channel] })}`, { 'last-event-id': lastId });
        try {
          await waitFor(() => again.events().length === 1, 8000, 'the message published while away');
          assert.deepEqual(offsets(again.events().map((e) => JSON.parse(e.data!) as { offset: number })), [2]);
        } finally {
          again.close();
        }
      } finally {
        sse.close();
      }
    });

    it('a reconnect with narrower grants is refused with 403 for the channel no longer covered', async () => {
      const kept = uniqueChannel('sse-kept');
      const lost = uniqueChannel('sse-lost');
      const narrower = await token({ subscribe: [kept] });
      const refused = await request(server.url, `/v1/events?channel=${kept}&channel=${lost}&token=${narrower}`);
      assertProblem(refused, 403, 'forbidden');
    });
  });

  describe('long poll', { concurrency: true }, () => {
    it('a parked long poll whose token expires answers 401 token_expired; the same cursor with a fresh token loses nothing', async () => {
      const channel = uniqueChannel('poll-exp');
      const first = await request<{ cursor: string }>(server.url, `/v1/poll?channel=${channel}&token=${await token({ subscribe: [channel] })}`);
      assert.equal(first.status, 200);
      const cursor = first.body.cursor;
      const started = Date.now();
      const parked = await request(server.url, `/v1/poll?channel=${channel}&wait=20&cursor=${cursor}&token=${await token({ subscribe: [channel] }, SHORT)}`);
      assertProblem(parked, 401, 'token_expired');
      assert.ok(Date.now() - started < 10_000, 'answered at the token’s expiry, not the 20 s deadline');
      await pub(channel, 'while refreshing');
      const resumed = await request<{ messages: { offset: number }[] }>(server.url, `/v1/poll?channel=${channel}&cursor=${cursor}&token=${await token({ subscribe: [channel] })}`);
      assert.deepEqual(offsets(resumed.body.messages), [1]);
    });

    it('a parked long poll of several channels whose token expires answers 401 token_expired and leaves no subscription', async () => {
      const a = uniqueChannel('poll-exp-a');
      const b = uniqueChannel('poll-exp-b');
      const started = Date.now();
      const polling = request(server.url, `/v1/poll?channel=${a}&channel=${b}&wait=20&token=${await token({ subscribe: [a, b] }, SHORT)}`);
      await waitForSubscribers(server.url, a, 1);
      await waitForSubscribers(server.url, b, 1);
      assertProblem(await polling, 401, 'token_expired');
      assert.ok(Date.now() - started < 10_000, 'answered at the token’s expiry, not the 20 s deadline');
      await waitForSubscribers(server.url, a, 0);
      await waitForSubscribers(server.url, b, 0);
    });

    it('an expired token on a new poll is 401 token_expired, a forged one 401 unauthorized', async () => {
      const channel = uniqueChannel('poll-old');
      assertProblem(await request(server.url, `/v1/poll?channel=${channel}&token=${await token({ subscribe: [channel] }, -5)}`), 401, 'token_expired');
      assertProblem(await request(server.url, `/v1/poll?channel=${channel}&token=nonsense`), 401, 'unauthorized');
    });
  });
});
