import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { payload } from '../../bench/loadgen/fleet.js';
import { multipartBodies } from '../../bench/loadgen/nchan-poll-fleet.js';

/** The bench reads Nchan's answers itself; these are the shapes Nchan 1.3.6 sends (captured from it). */
describe("bench: Nchan's long-poll multipart answers", () => {
  const boundary = 'KMrVw3qChAFqOaFr/DXdGO8S4z6uJW0f';
  const part = (body: string, headers = 'Content-Type: application/json\r\n') => `--${boundary}\r\n${headers}\r\n${body}\r\n`;

  it('gives every message body, in order, with or without part headers', () => {
    const text = `${part('{"seq":1,"t":5}')}${part('{"seq":2,"t":6}', '')}--${boundary}--\r\n`;
    const bodies = multipartBodies(text, `multipart/mixed; boundary=${boundary}`);
    assert.deepEqual(bodies, ['{"seq":1,"t":5}', '{"seq":2,"t":6}']);
    assert.deepEqual(
      bodies.map((b) => payload(JSON.parse(b))),
      [
        { seq: 1, t: 5, order: 1 },
        { seq: 2, t: 6, order: 2 },
      ],
    );
  });

  it('keeps a body that holds CRLFs and dashes whole', () => {
    const body = '{"seq":3,"t":7,"x":"a\\r\\n--b"}';
    assert.deepEqual(multipartBodies(`${part(body)}--${boundary}--\r\n`, `multipart/mixed; boundary="${boundary}"`), [body]);
  });

  it('refuses an answer it cannot read instead of counting it as empty', () => {
    assert.throws(() => multipartBodies('x', 'multipart/mixed'), /boundary/);
    assert.throws(() => multipartBodies(`--${boundary}\r\nno blank line--${boundary}--`, `multipart/mixed; boundary=${boundary}`), /malformed/);
  });
});
