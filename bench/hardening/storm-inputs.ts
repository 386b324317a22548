/**
 * The hostile storm's inputs, generated with fast-check (seeded, so a run can be replayed).
 * Each input is a raw exchange on its own TCP connection (HTTP kinds) or a sequence of raw
 * frames on an upgraded connection (WebSocket kinds), plus what a proper answer may be.
 */
import fc from 'fast-check';
import type { Script } from './lib/raw-http.js';
import { frame, text } from './lib/raw-ws.js';

export interface HttpInput {
  kind: string;
  script: Script;
  /** The server may keep the connection open without answering (streams, long polls, unfinished requests). */
  mayHold: boolean;
  /** The server may close without an answer (HTTP parse errors where no request exists). */
  mayClose: boolean;
  label: string;
}

export interface WsInput {
  kind: string;
  frames: Buffer[];
  /** A valid close code we sent, which the server echoes (RFC 6455 § 5.5.1). */
  echoClose?: number;
  /** Nothing back is right (e.g. an unsolicited pong). */
  allowSilent: boolean;
  label: string;
}

export interface Limits {
  maxMessageBytes: number;
  maxFrameBytes: number;
}

/** Channels the storm may write to; the guarded ones are never named by a generator. */
export const STORM_CHANNEL = 'storm-x';

const enc = (s: string) => Buffer.from(s, 'utf8');

function request(method: string, target: string, headers: [string, string][], body?: Buffer, contentLength = true): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined && contentLength) lines.push(`Content-Length: ${body.length}`);
  lines.push('Connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

const whole = (bytes: Buffer, waitMs = 3000): Script => ({ steps: [bytes], then: 'wait', waitMs });

/** Invalid UTF-8 sequences: stray continuation, overlong, surrogate, truncated, out of range. */
const BAD_UTF8 = [[0x80], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xff], [0xfe, 0xfe]].map((b) => Buffer.from(b));
const badUtf8 = fc.constantFrom(...BAD_UTF8);

/** JSON text with a defect put in at a random place. */
const malformedJson = fc
  .tuple(fc.json({ maxDepth: 4 }), fc.nat(), fc.constantFrom('truncate', 'insert', 'delete', 'trailing', 'bom', 'nan', 'single-quote', 'comment'), fc.string({ maxLength: 3 }))
  .map(([json, at, how, junk]) => {
    const i = json.length === 0 ? 0 : at % json.length;
    switch (how) {
      case 'truncate':
        return json.length > 1 ? json.slice(0, i) : '{';
      case 'insert':
        return json.slice(0, i) + (junk === '' ? '}' : junk) + json.slice(i);
      case 'delete':
        return json.slice(0, i) + json.slice(i + 1) || '[';
      case 'trailing':
        return `${json},`;
      case 'bom':
        return `\ufeff${json}x`;
      case 'nan':
        return `{"a":NaN,"b":${json}`;
      case 'single-quote':
        return `{'a':${json}}`;
      default:
        return `/* c */${json}`;
    }
  });

/** Valid JSON nested `depth` deep: arrays, objects, or both in turn. */
export function deepJson(depth: number, shape: 'array' | 'object' | 'mixed'): string {
  if (shape === 'array') return '['.repeat(depth) + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"k":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}0${close}`;
}

const deep = (limit: number) =>
  fc.tuple(fc.integer({ min: 500, max: Math.max(600, Math.floor(limit / 6)) }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>).map(([d, shape]) => {
    // Keep it under the size limit, so that the depth, not the size, is what is tested.
    let depth = d;
    let s = deepJson(depth, shape);
    while (s.length > limit - 64 && depth > 10) s = deepJson((depth = Math.floor(depth * 0.8)), shape);
    return { s, depth, shape };
  });

/** Values of the wrong type for any field. */
const wrongValue = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ maxLength: 20 }), fc.array(fc.nat(), { maxLength: 3 }), fc.object({ maxDepth: 1 }), fc.constant(''));
const junkName = fc.string({ unit: 'binary', maxLength: 30 });
const channelish = fc.oneof(fc.constant(STORM_CHANNEL), junkName, fc.string({ unit: 'binary-ascii', minLength: 201, maxLength: 300 }), fc.constant(''));

// ───────────────────────────── HTTP ─────────────────────────────

function httpKinds(l: Limits): [string, number, fc.Arbitrary<HttpInput>][] {
  const publishPath = `/v1/channels/${STORM_CHANNEL}/messages`;
  const jsonHeaders: [string, string][] = [['Content-Type', 'application/json']];
  return [
    [
      'malformed JSON body',
      3,
      fc.tuple(malformedJson, fc.constantFrom(publishPath, '/v1/publish')).map(([body, path]) => ({
        kind: 'malformed JSON body',
        script: whole(request('POST', path, jsonHeaders, enc(body))),
        mayHold: false,
        mayClose: false,
        label: `POST ${path} ${body.slice(0, 60)}`,
      })),
    ],
    [
      'deeply nested JSON body',
      2,
      fc.tuple(deep(l.maxMessageBytes), fc.boolean()).map(([d, batch]) => {
        const body = batch ? `{"messages":[{"channel":"${STORM_CHANNEL}","data":${d.s}}]}` : d.s;
        const path = batch ? '/v1/publish' : publishPath;
        return {
          kind: 'deeply nested JSON body',
          script: whole(request('POST', path, jsonHeaders, enc(body))),
          mayHold: false,
          mayClose: false,
          label: `POST ${path} ${d.shape} nested ${d.depth} deep (${body.length} bytes)`,
        };
      }),
    ],
    [
      'wrong types',
      3,
      fc
        .oneof(
          fc.record({ messages: fc.oneof(wrongValue, fc.array(fc.record({ channel: fc.oneof(wrongValue, channelish), data: fc.jsonValue({ maxDepth: 2 }), event: fc.option(wrongValue) }), { maxLength: 5 })) }),
          fc.array(wrongValue, { maxLength: 4 }),
          wrongValue,
          fc.record({ messages: fc.array(fc.constant({ channel: STORM_CHANNEL, data: 1 }), { minLength: 1001, maxLength: 1003 }) }),
        )
        .map((v) => {
          const body = JSON.stringify(v) ?? 'null';
          return { kind: 'wrong types', script: whole(request('POST', '/v1/publish', jsonHeaders, enc(body))), mayHold: false, mayClose: false, label: `POST /v1/publish ${body.slice(0, 80)}` };
        }),
    ],
    [
      'invalid UTF-8',
      3,
      fc.tuple(badUtf8, fc.constantFrom('body', 'path', 'pct-path', 'query', 'header', 'event'), fc.string({ maxLength: 10 })).map(([bad, where, s]) => {
        const hex = [...bad].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
        let bytes: Buffer;
        if (where === 'body') bytes = request('POST', publishPath, jsonHeaders, Buffer.concat([enc(`{"s":"${s.replace(/["\\]/g, '')}`), bad, enc('"}')]));
        else if (where === 'path') bytes = Buffer.concat([Buffer.from('GET /v1/channels/x'), bad, Buffer.from(' HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')]);
        else if (where === 'pct-path') bytes = request('GET', `/v1/channels/a${hex}b/messages`, []);
        else if (where === 'query') bytes = request('GET', `/v1/poll?channel=${STORM_CHANNEL}&cursor=${hex}&last=${hex}`, []);
        else if (where === 'event') bytes = request('POST', `${publishPath}?event=e${hex}`, jsonHeaders, enc('1'));
        else bytes = Buffer.concat([Buffer.from(`GET /v1/poll?channel=${STORM_CHANNEL} HTTP/1.1\r\nHost: a\r\nLast-Event-ID: `), bad, Buffer.from('\r\nConnection: close\r\n\r\n')]);
        return { kind: 'invalid UTF-8', script: whole(bytes), mayHold: false, mayClose: where === 'path' || where === 'header', label: `invalid UTF-8 ${[...bad].map((b) => b.toString(16))} in ${where}` };
      }),
    ],
    [
      'absurd and repeated query parameters',
      4,
      fc
        .tuple(
          fc.constantFrom('/v1/poll', '/v1/events', publishPath, `/v1/channels/${STORM_CHANNEL}`, '/v1/ws'),
          fc.array(
            fc.tuple(
              fc.constantFrom('channel', 'cursor', 'last', 'wait', 'limit', 'after', 'event', 'token', '', 'x'),
              fc.oneof(
                fc.constantFrom('-1', '1e309', 'NaN', 'Infinity', '0x10', '99999999999999999999', '', '%', '%%', '%00', '1.5', ' 1', '60', '61', '1001', 'null', '[]'),
                fc.string({ unit: 'binary-ascii', maxLength: 40 }).map(encodeURIComponent),
                fc.nat({ max: 5000 }).map((n) => 'A'.repeat(n)),
              ),
            ),
            { minLength: 1, maxLength: 40 },
          ),
          fc.nat({ max: 2000 }),
        )
        .map(([path, params, repeats]) => {
          const parts = params.map(([k, v]) => `${k}=${v}`);
          // Sometimes one parameter repeated hundreds of times.
          if (repeats > 1500) for (let i = 0; i < repeats - 1500; i++) parts.push(`channel=c${i}`);
          const target = `${path}?${parts.join('&')}`;
          const streaming = path === '/v1/poll' || path === '/v1/events';
          return {
            kind: 'absurd and repeated query parameters',
            script: whole(request('GET', target, []), streaming ? 1500 : 3000),
            mayHold: streaming,
            mayClose: target.length > 16_000,
            label: `GET ${target.slice(0, 100)}… (${target.length} chars)`,
          };
        }),
    ],
    [
      'huge headers',
      2,
      fc.tuple(fc.constantFrom('one', 'many', 'auth', 'last-event-id', 'cookie'), fc.integer({ min: 8_000, max: 120_000 })).map(([shape, size]) => {
        let headers: [string, string][];
        if (shape === 'many') headers = Array.from({ length: Math.floor(size / 20) }, (_, i) => [`X-H${i}`, 'v'.repeat(10)] as [string, string]);
        else if (shape === 'auth') headers = [['Authorization', `Bearer ${'t'.repeat(size)}`]];
        else if (shape === 'last-event-id') headers = [['Last-Event-ID', 'c'.repeat(size)]];
        else if (shape === 'cookie') headers = [['Cookie', `a=${'b'.repeat(size)}`]];
        else headers = [['X-Huge', 'h'.repeat(size)]];
        return { kind: 'huge headers', script: whole(request('GET', `/v1/poll?channel=${STORM_CHANNEL}`, headers)), mayHold: false, mayClose: true, label: `${shape} headers, ${size} bytes` };
      }),
    ],
    [
      'broken HTTP framing',
      3,
      fc
        .oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.from('\r\n\r\n')])),
          fc.constantFrom(
            'GET / HTTP/9.9\r\n\r\n',
            'GET /healthz\r\n\r\n',
            'BREW /v1/poll HTTP/1.1\r\nHost: a\r\n\r\n',
            'GET /v1/poll HTTP/1.1\r\nHost a\r\n\r\n',
            'POST /v1/publish HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n',
            'POST /v1/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
            'POST /v1/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
            'POST /v1/publish HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n',
            'POST /v1/publish HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
            'GET /v1/poll HTTP/1.1\r\nHost: a\r\n folded: yes\r\n\r\n',
            'GET /v1/poll HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n',
            'GET http://[bad HTTP/1.1\r\nHost: a\r\n\r\n',
            'GET // HTTP/1.1\r\nHost: a\r\n\r\n',
            'GET * HTTP/1.1\r\nHost: a\r\n\r\n',
            'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: a\r\n\r\n',
            '\r\n\r\n\r\n',
            'GET /v1/poll?channel=a HTTP/1.1\nHost: a\n\n',
          ).map((s) => Buffer.from(s, 'latin1')),
        )
        // Empty lines before a request are skipped (RFC 9112 § 2.2): only CRLFs is no request yet.
        .map((bytes) => ({ kind: 'broken HTTP framing', script: whole(bytes), mayHold: /^[\r\n]*$/.test(bytes.toString('latin1')), mayClose: true, label: JSON.stringify(bytes.subarray(0, 60).toString('latin1')) })),
    ],
    [
      'body cut mid-way',
      2,
      fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.boolean(), fc.constantFrom('end', 'destroy') as fc.Arbitrary<'end' | 'destroy'>).map(([json, at, chunked, then]) => {
        const body = enc(`{"messages":[{"channel":"${STORM_CHANNEL}","data":${json}}]}`);
        const cut = body.subarray(0, at % body.length);
        const head = request('POST', '/v1/publish', chunked ? [...jsonHeaders, ['Transfer-Encoding', 'chunked']] : jsonHeaders, chunked ? undefined : body, !chunked);
        const bytes = chunked ? Buffer.concat([head, Buffer.from(`${body.length.toString(16)}\r\n`), cut]) : head.subarray(0, head.length - (body.length - cut.length));
        return { kind: 'body cut mid-way', script: { steps: [bytes], then, waitMs: 3000 }, mayHold: false, mayClose: true, label: `${chunked ? 'chunked' : 'sized'} body cut at ${cut.length}/${body.length}, then ${then}` };
      }),
    ],
    [
      'slow headers',
      1,
      fc.tuple(fc.integer({ min: 3, max: 12 }), fc.integer({ min: 50, max: 200 }), fc.boolean()).map(([pieces, pause, finish]) => {
        const all = request('GET', `/v1/channels/${STORM_CHANNEL}`, [['X-Slow', 'yes']]);
        const steps: (Buffer | number)[] = [];
        const cut = finish ? all.length : Math.floor(all.length / 2);
        for (let i = 0; i < pieces; i++) {
          steps.push(all.subarray(Math.floor((i * cut) / pieces), Math.floor(((i + 1) * cut) / pieces)), pause);
        }
        return { kind: 'slow headers', script: { steps, then: 'wait', waitMs: finish ? 3000 : 1000 }, mayHold: !finish, mayClose: !finish, label: `${pieces} pieces ${pause} ms apart${finish ? '' : ', never finished'}` };
      }),
    ],
    [
      'half-open socket',
      1,
      fc.constantFrom('', 'G', 'GET /v1/poll?channel=a HTTP/1.1\r\n', 'POST /v1/publish HTTP/1.1\r\nContent-Length: 100\r\n\r\n{').map((prefix) => ({
        kind: 'half-open socket',
        script: { steps: prefix === '' ? [] : [Buffer.from(prefix)], then: 'wait', waitMs: 1000 },
        mayHold: true,
        mayClose: true,
        label: `sends ${JSON.stringify(prefix.slice(0, 30))} and then nothing`,
      })),
    ],
    [
      'bad WebSocket upgrade',
      2,
      fc
        .tuple(
          fc.constantFrom('/v1/ws', '/v1/ws?channel=%FF', '/v1/ws?channel=' + 'a'.repeat(300), '/nope', '/v1/ws?last=x&channel=a', '/v1/poll'),
          fc.constantFrom('version', 'no-key', 'bad-key', 'post', 'no-connection', 'ok'),
        )
        .map(([path, flaw]) => {
          const headers: [string, string][] = [['Upgrade', 'websocket']];
          if (flaw !== 'no-connection') headers.push(['Connection', 'Upgrade']);
          if (flaw !== 'no-key') headers.push(['Sec-WebSocket-Key', flaw === 'bad-key' ? 'short' : 'dGhlIHNhbXBsZSBub25jZQ==']);
          headers.push(['Sec-WebSocket-Version', flaw === 'version' ? '8' : '13']);
          const lines = [`${flaw === 'post' ? 'POST' : 'GET'} ${path} HTTP/1.1`, 'Host: a', ...headers.map(([k, v]) => `${k}: ${v}`)];
          return { kind: 'bad WebSocket upgrade', script: whole(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`)), mayHold: false, mayClose: false, label: `upgrade ${path.slice(0, 40)} (${flaw})` };
        }),
    ],
  ];
}

// ───────────────────────────── WebSocket ─────────────────────────────

function wsKinds(l: Limits): [string, number, fc.Arbitrary<WsInput>][] {
  const ws = (kind: string, frames: Buffer[], label: string, allowSilent = false): WsInput => ({ kind, frames, label, allowSilent });
  const types = fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping', 'auth', 'message', '', 'SUBSCRIBE');
  const tidingsFrame = fc.record(
    { type: fc.oneof(types, wrongValue), channel: fc.oneof(channelish, wrongValue), cursor: fc.oneof(wrongValue, junkName), last: wrongValue, data: fc.jsonValue({ maxDepth: 3 }), event: wrongValue, id: wrongValue },
    { requiredKeys: ['type'] },
  );
  return [
    ['JSON of wrong shape and types', 4, fc.oneof(tidingsFrame, fc.jsonValue({ maxDepth: 3 })).map((v) => ws('JSON of wrong shape and types', [text(JSON.stringify(v) ?? 'null')], (JSON.stringify(v) ?? '').slice(0, 80)))],
    ['malformed JSON', 3, malformedJson.map((s) => ws('malformed JSON', [text(s)], s.slice(0, 80)))],
    [
      'deeply nested JSON',
      2,
      fc.tuple(deep(l.maxMessageBytes * 4), fc.boolean()).map(([d, asData]) =>
        ws('deeply nested JSON', [text(asData ? `{"type":"publish","channel":"${STORM_CHANNEL}","data":${d.s}}` : d.s)], `${asData ? 'publish data' : 'frame'} ${d.shape} nested ${d.depth} deep`),
      ),
    ],
    ['binary frame', 2, fc.uint8Array({ maxLength: 2000 }).map((b) => ws('binary frame', [frame({ opcode: 2, payload: Buffer.from(b) })], `${b.length} bytes`))],
    [
      'fragmented message',
      2,
      fc.tuple(fc.oneof(tidingsFrame.map((v) => JSON.stringify(v)), malformedJson), fc.integer({ min: 2, max: 6 }), fc.boolean()).map(([s, n, pingBetween]) => {
        const b = enc(s);
        const frames: Buffer[] = [];
        for (let i = 0; i < n; i++) {
          const part = b.subarray(Math.floor((i * b.length) / n), Math.floor(((i + 1) * b.length) / n));
          frames.push(frame({ opcode: i === 0 ? 1 : 0, fin: i === n - 1, payload: part }));
          if (pingBetween && i < n - 1) frames.push(frame({ opcode: 9, payload: Buffer.from('p') }));
        }
        return ws('fragmented message', frames, `${n} fragments${pingBetween ? ' with pings between' : ''}: ${s.slice(0, 60)}`);
      }),
    ],
    [
      'broken fragmentation',
      1,
      fc.constantFrom('continuation first', 'text inside a fragmented text', 'never finished').map((how) => {
        const frames =
          how === 'continuation first'
            ? [frame({ opcode: 0, payload: enc('{"type":"ping"}') })]
            : how === 'text inside a fragmented text'
              ? [frame({ opcode: 1, fin: false, payload: enc('{"ty') }), text('{"type":"ping"}')]
              : [frame({ opcode: 1, fin: false, payload: enc('{"type":') })];
        return ws('broken fragmentation', frames, how);
      }),
    ],
    [
      'oversized frame',
      2,
      fc.oneof(
        fc.tuple(fc.integer({ min: l.maxFrameBytes + 1, max: 2 ** 40 }), fc.constantFrom(1, 2)).map(([n, op]) => ws('oversized frame', [frame({ opcode: op, payload: Buffer.alloc(16), declaredLength: n })], `declares ${n} bytes`)),
        fc.integer({ min: l.maxMessageBytes + 1, max: Math.min(l.maxFrameBytes - 200, l.maxMessageBytes * 3) }).map((n) =>
          ws('oversized frame', [text(`{"type":"publish","channel":"${STORM_CHANNEL}","data":"${'x'.repeat(n)}"}`)], `publish with ${n} bytes of data`),
        ),
      ),
    ],
    [
      'bad opcode',
      2,
      fc.tuple(fc.constantFrom(3, 4, 5, 6, 7, 11, 12, 13, 14, 15), fc.uint8Array({ maxLength: 50 })).map(([op, b]) => ws('bad opcode', [frame({ opcode: op, payload: Buffer.from(b) })], `opcode ${op}`)),
    ],
    ['unmasked client frame', 2, tidingsFrame.map((v) => ws('unmasked client frame', [text(JSON.stringify(v), { mask: false })], 'unmasked text frame'))],
    [
      'control frame too long or fragmented',
      2,
      fc.tuple(fc.constantFrom(8, 9, 10), fc.integer({ min: 126, max: 1000 }), fc.boolean()).map(([op, n, fragmented]) =>
        ws('control frame too long or fragmented', [frame({ opcode: op, payload: Buffer.alloc(fragmented ? 4 : n, 0x61), fin: !fragmented })], fragmented ? `fragmented control frame ${op}` : `control frame ${op} of ${n} bytes`),
      ),
    ],
    ['reserved bits set', 1, fc.tuple(fc.integer({ min: 1, max: 7 }), fc.constantFrom(1, 2, 9)).map(([rsv, op]) => ws('reserved bits set', [frame({ opcode: op, rsv, payload: enc('{"type":"ping"}') })], `RSV ${rsv} on opcode ${op}`))],
    [
      'invalid UTF-8 text',
      2,
      fc.tuple(badUtf8, fc.string({ maxLength: 20 })).map(([bad, s]) => ws('invalid UTF-8 text', [text(Buffer.concat([enc(`{"type":"ping","x":"${s.replace(/["\\]/g, '')}`), bad, enc('"}')]))], `bytes ${[...bad].map((b) => b.toString(16))}`)),
    ],
    [
      'close frame',
      1,
      fc.oneof(
        fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 1000, 1001, 3000, 4999).map((code) => {
          const p = Buffer.alloc(2);
          p.writeUInt16BE(code);
          const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
          return { ...ws('close frame', [frame({ opcode: 8, payload: p })], `close ${code}`), ...(valid ? { echoClose: code } : {}) };
        }),
        fc.constant(ws('close frame', [frame({ opcode: 8, payload: Buffer.from([3]) })], 'close with a 1-byte payload')),
        badUtf8.map((bad) => ws('close frame', [frame({ opcode: 8, payload: Buffer.concat([Buffer.from([3, 232]), bad]) })], 'close reason with invalid UTF-8')),
      ),
    ],
    ['control frames', 1, fc.constantFrom(9, 10).map((op) => ws('control frames', [frame({ opcode: op, payload: enc('hi') })], op === 9 ? 'ping' : 'unsolicited pong', true))],
    [
      'garbage run (past the bad-frame limit)',
      1,
      fc.array(malformedJson, { minLength: 10, maxLength: 14 }).map((xs) => ws('garbage run (past the bad-frame limit)', xs.map((s) => text(s)), `${xs.length} malformed frames in a row`)),
    ],
  ];
}

export interface StormInputs {
  http: HttpInput[];
  ws: WsInput[];
}

/** `count` inputs, about half HTTP and half WebSocket, spread over the kinds by weight. */
export function generate(count: number, seed: number, limits: Limits): StormInputs {
  const pick = <T>(kinds: [string, number, fc.Arbitrary<T>][], n: number, s: number): T[] =>
    fc.sample(fc.oneof(...kinds.map(([, weight, arbitrary]) => ({ weight, arbitrary }))), { numRuns: n, seed: s });
  return { http: pick(httpKinds(limits), Math.ceil(count / 2), seed), ws: pick(wsKinds(limits), Math.floor(count / 2), seed + 1) };
}
