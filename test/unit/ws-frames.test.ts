import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCursor } from '../../src/core/cursor.js';
import { idField, parseClientFrame, type ParsedFrame } from '../../src/transports/ws-frames.js';

const parse = (frame: unknown): ParsedFrame => parseClientFrame(Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame)), false);

function refused(parsed: ParsedFrame): { code: string; id: unknown } {
  assert.equal(parsed.ok, false, `expected a refusal, got ${JSON.stringify(parsed)}`);
  if (parsed.ok) throw new Error('unreachable');
  return { code: parsed.error.code, id: parsed.id };
}

describe('parseClientFrame', () => {
  it('reads each client frame kind into its typed form', () => {
    const cursor = encodeCursor([
      ['a', { epoch: 'e1', offset: 4 }],
      ['b', { epoch: 'e2', offset: 9 }],
    ]);
    assert.deepEqual(parse({ type: 'subscribe', channel: 'b', cursor, id: 1 }), {
      ok: true,
      frame: { type: 'subscribe', id: 1, channel: 'b', start: { kind: 'after', position: { epoch: 'e2', offset: 9 } } },
    });
    assert.deepEqual(parse({ type: 'subscribe', channel: 'a', last: 5 }), { ok: true, frame: { type: 'subscribe', id: undefined, channel: 'a', start: { kind: 'last', count: 5 } } });
    assert.deepEqual(parse({ type: 'subscribe', channel: 'a', id: 'x' }), { ok: true, frame: { type: 'subscribe', id: 'x', channel: 'a', start: { kind: 'now' } } });
    assert.deepEqual(parse({ type: 'unsubscribe', channel: 'a' }), { ok: true, frame: { type: 'unsubscribe', id: undefined, channel: 'a' } });
    assert.deepEqual(parse({ type: 'publish', channel: 'a', data: null, event: 'tick', id: 3 }), {
      ok: true,
      frame: { type: 'publish', id: 3, channel: 'a', data: null, event: 'tick', idempotencyKey: undefined },
    });
    assert.equal((parse({ type: 'publish', channel: 'a', data: 1, idempotencyKey: 'k-1' }) as { frame: { idempotencyKey?: string } }).frame.idempotencyKey, 'k-1');
    assert.deepEqual(parse({ type: 'ping', id: 7 }), { ok: true, frame: { type: 'ping', id: 7 } });
    assert.deepEqual(parse({ type: 'auth', token: 'abc', id: 8 }), { ok: true, frame: { type: 'auth', id: 8, token: 'abc' } });
  });

  it('refuses what is not one JSON object with a string type, without an id', () => {
    assert.deepEqual(refused(parseClientFrame(Buffer.from('{}'), true)), { code: 'invalid_frame', id: undefined });
    assert.deepEqual(refused(parse('{"type":')), { code: 'invalid_json', id: undefined });
    for (const bad of ['[]', 'null', '42', '"subscribe"', '{"type":1}', '{"id":1}']) {
      assert.deepEqual(refused(parse(bad)), { code: 'invalid_frame', id: undefined }, bad);
    }
  });

  it('refuses bad fields with the code that names them, echoing a usable id', () => {
    assert.deepEqual(refused(parse({ type: 'subscribe', channel: 'bad name', id: 1 })), { code: 'invalid_channel', id: 1 });
    assert.deepEqual(refused(parse({ type: 'subscribe', channel: 'a', cursor: 5, id: 2 })), { code: 'invalid_cursor', id: 2 });
    const otherChannel = encodeCursor([['b', { epoch: 'e', offset: 1 }]]);
    assert.deepEqual(refused(parse({ type: 'subscribe', channel: 'a', cursor: otherChannel, id: 3 })), { code: 'invalid_cursor', id: 3 });
    assert.deepEqual(refused(parse({ type: 'subscribe', channel: 'a', last: 1001, id: 4 })), { code: 'invalid_parameter', id: 4 });
    assert.deepEqual(refused(parse({ type: 'publish', channel: 'a', id: 5 })), { code: 'invalid_frame', id: 5 });
    assert.deepEqual(refused(parse({ type: 'publish', channel: 'a', data: 1, event: 'gap', id: 6 })), { code: 'invalid_parameter', id: 6 });
    assert.deepEqual(refused(parse({ type: 'publish', channel: 'a', data: 1, idempotencyKey: 'has space', id: 9 })), { code: 'invalid_parameter', id: 9 });
    assert.deepEqual(refused(parse({ type: 'auth', token: '', id: 7 })), { code: 'invalid_frame', id: 7 });
    assert.deepEqual(refused(parse({ type: 'auth', token: 42 })), { code: 'invalid_frame', id: undefined });
    assert.deepEqual(refused(parse({ type: 'shout', id: { nested: true } })), { code: 'invalid_frame', id: undefined }, 'an object id is not echoed');
  });

  it('idField leaves out an absent id', () => {
    assert.deepEqual(idField(undefined), {});
    assert.deepEqual(idField(0), { id: 0 });
    assert.deepEqual(idField('a'), { id: 'a' });
  });
});
