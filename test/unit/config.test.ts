import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, SETTINGS, configWith, loadConfig, type Config } from '../../src/config.js';
import { cappedByOpenFiles, openFileLimit } from '../../src/http/connection-limits.js';

function failsNaming(flags: Partial<Record<keyof Config, string>>, env: NodeJS.ProcessEnv, name: string, also?: RegExp): void {
  assert.throws(
    () => loadConfig(flags, env),
    (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${name}:`) && (also === undefined || also.test(err.message)),
    `${JSON.stringify(flags)} ${JSON.stringify(env)} should fail naming ${name}`,
  );
}

describe('loadConfig (src/config.ts)', () => {
  it('the defaults are the documented ones', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.historyCount, 1000);
    assert.equal(c.historyAgeMs, 24 * 3_600_000);
    assert.equal(c.maxMessageBytes, 64 * 1024);
    assert.equal(c.maxFrameBytes, 1024 * 1024);
    assert.equal(c.heartbeatMs, 15_000);
    assert.equal(c.longPollMaxWaitMs, 60_000);
    assert.equal(c.writeGapMs, 20);
    assert.equal(c.apiKey, undefined);
    assert.deepEqual(c.corsOrigins, ['*']);
  });

  it('a flag wins over its env var, which wins over the default; an empty env var is unset', () => {
    assert.equal(loadConfig({ heartbeatMs: '2s' }, { TIDINGS_HEARTBEAT: '3s' }).heartbeatMs, 2000);
    assert.equal(loadConfig({}, { TIDINGS_HEARTBEAT: '3s' }).heartbeatMs, 3000);
    assert.equal(loadConfig({}, { TIDINGS_HEARTBEAT: '' }).heartbeatMs, 15_000);
    assert.deepEqual(loadConfig({ corsOrigins: 'https://a.example, https://b.example' }, {}).corsOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(loadConfig({}, { TIDINGS_MAX_QUEUE_BYTES: '2MiB' }).maxQueueBytes, 2 * 1024 ** 2);
  });

  it('a bad value fails naming the flag, or the env var it came from', () => {
    failsNaming({ port: '70000' }, {}, '--port', /not a port/);
    failsNaming({ port: 'http' }, {}, '--port');
    failsNaming({ historyCount: '0' }, {}, '--history-count', /minimum 1/);
    failsNaming({ historyCount: '1.5' }, {}, '--history-count', /whole number/);
    failsNaming({ heartbeatMs: '15' }, {}, '--heartbeat', /not a duration/);
    failsNaming({ heartbeatMs: '5ms' }, {}, '--heartbeat', /minimum/);
    failsNaming({ maxFrameBytes: '10' }, {}, '--max-frame-size', /minimum 1024 bytes/);
    failsNaming({ writeGapMs: '5s' }, {}, '--write-gap', /above the maximum 1000ms/);
    failsNaming({ maxMessageBytes: 'lots' }, {}, '--max-message-size', /not a size/);
    failsNaming({ longPollMaxWaitMs: '500ms' }, {}, '--long-poll-max-wait');
    failsNaming({ logLevel: 'loud' }, {}, '--log-level', /one of/);
    failsNaming({ corsOrigins: ' , ' }, {}, '--cors-origins', /at least one/);
    failsNaming({ apiKey: '' }, {}, '--api-key', /empty/);
    failsNaming({}, { TIDINGS_PORT: 'x' }, 'TIDINGS_PORT');
    failsNaming({}, { TIDINGS_HISTORY_AGE: 'forever' }, 'TIDINGS_HISTORY_AGE');
    // A good flag hides a bad env var: the flag is what is used.
    assert.equal(loadConfig({ port: '1' }, { TIDINGS_PORT: 'x' }).port, 1);
  });

  it('every setting has a distinct flag and env var, and its default parses', () => {
    assert.equal(new Set(SETTINGS.map((s) => s.flag)).size, SETTINGS.length);
    assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
    for (const s of SETTINGS) {
      assert.match(s.flag, /^--[a-z][a-z-]*$/);
      assert.match(s.env, /^TIDINGS_[A-Z_]+$/);
    }
    assert.doesNotThrow(() => loadConfig({}, {}));
  });

  it('limits and timeouts: documented defaults, and headers may not outlast the whole request', () => {
    const c = loadConfig({}, {});
    assert.deepEqual(
      [c.maxConnections, c.maxConnectionsPerIp, c.headersTimeoutMs, c.requestTimeoutMs, c.lingeringBytes, c.lingeringTimeMs],
      [50_000, 0, 10_000, 30_000, 4 * 1024 ** 2, 2000],
    );
    failsNaming({ headersTimeoutMs: '40s' }, {}, '--headers-timeout', /--request-timeout/);
    assert.equal(loadConfig({ headersTimeoutMs: '40s', requestTimeoutMs: '0' }, {}).headersTimeoutMs, 40_000, 'no request timeout: any headers timeout');
    failsNaming({ headersTimeoutMs: '50ms' }, {}, '--headers-timeout', /minimum/);
    failsNaming({}, { TIDINGS_MAX_CONNECTIONS: '-1' }, 'TIDINGS_MAX_CONNECTIONS');
  });

  it('boolean settings (--web, --demo) take true/false and their usual spellings, and refuse anything else', () => {
    const c = loadConfig({}, {});
    assert.equal(c.web, true);
    assert.equal(c.demo, false);
    assert.equal(loadConfig({ web: 'false' }, {}).web, false);
    assert.equal(loadConfig({}, { TIDINGS_WEB: 'off' }).web, false);
    assert.equal(loadConfig({}, { TIDINGS_DEMO: 'TRUE' }).demo, true);
    assert.equal(loadConfig({}, { TIDINGS_DEMO: '1' }).demo, true);
    assert.equal(loadConfig({ demo: 'false' }, { TIDINGS_DEMO: 'yes' }).demo, false);
    failsNaming({}, { TIDINGS_WEB: 'maybe' }, 'TIDINGS_WEB', /not a boolean/);
    failsNaming({}, { TIDINGS_DEMO: 'constructor' }, 'TIDINGS_DEMO', /not a boolean/);
  });

  it('configWith overrides defaults for embedding', () => {
    const c = configWith({ port: 0, historyCount: 3 });
    assert.equal(c.port, 0);
    assert.equal(c.historyCount, 3);
    assert.equal(c.heartbeatMs, 15_000);
  });
});

describe('connection limits and the open-file limit (src/http/connection-limits.ts)', () => {
  it('reads the soft open-file limit from /proc/<pid>/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \n';
    assert.equal(openFileLimit(text), 1024);
    assert.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), undefined);
    assert.equal(openFileLimit('nothing here'), undefined);
  });

  it('--max-connections is capped below the open-file limit, where the kernel would refuse unanswered', () => {
    assert.equal(cappedByOpenFiles(50_000, 1024), 960);
    assert.equal(cappedByOpenFiles(500, 1024), 500);
    assert.equal(cappedByOpenFiles(50_000, undefined), 50_000);
    assert.equal(cappedByOpenFiles(0, 1024), 0, 'off stays off');
  });
});
