import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { payload } from '../../bench/loadgen/fleet.js';
import { multipartBodies, nchanPoll } from '../../bench/loadgen/nchan-poll.js';

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

describe("bench: the Nchan poll dialect", () => {
  const id = { lastModified: 'Tue, 24 Nov 2026 13:00:00 GMT', etag: '0' };

  it('asks after the id it has, as If-Modified-Since and If-None-Match, on /lp or /sp', () => {
    assert.deepEqual(nchanPoll(true).request(undefined, 0), { path: '/lp', headers: {} });
    assert.deepEqual(nchanPoll(false).request(id, 0), { path: '/sp', headers: { 'if-modified-since': id.lastModified, 'if-none-match': id.etag } });
  });

  it('reads a 304 as an empty answer that keeps the id, none included', () => {
    assert.deepEqual(nchanPoll(false).read({ statusCode: 304, headers: {}, text: '' }, id), { messages: [], position: id, gaps: 0 });
    assert.deepEqual(nchanPoll(false).read({ statusCode: 304, headers: {}, text: '' }, undefined), { messages: [], position: undefined, gaps: 0 });
  });

  it("reads an intervalpoll answer as one message and the next id from its headers", () => {
    const headers = { 'content-type': 'application/json', 'last-modified': 'Tue, 24 Nov 2026 13:00:01 GMT', etag: '1' };
    assert.deepEqual(nchanPoll(false).read({ statusCode: 200, headers, text: '{"seq":1,"t":5}' }, id), {
      messages: [{ seq: 1, t: 5 }],
      position: { lastModified: headers['last-modified'], etag: '1' },
      gaps: 0,
    });
  });

  it('refuses an answer without the next id, or with another status', () => {
    assert.throws(() => nchanPoll(true).read({ statusCode: 200, headers: { 'content-type': 'application/json' }, text: '{"seq":1,"t":5}' }, id), /Etag/);
    assert.throws(() => nchanPoll(true).read({ statusCode: 500, headers: {}, text: 'boom' }, id), /500: boom/);
  });
});
