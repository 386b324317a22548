import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Score } from '../../src/demo/cricket.js';
import { CricketStream } from '../../src/demo/cricket.js';
import { DemoFeed } from '../../src/demo/demo-feed.js';
import type { LogLine } from '../../src/demo/deploy-log.js';
import { DeployLogStream } from '../../src/demo/deploy-log.js';
import type { Tick } from '../../src/demo/ticker.js';
import { TickerStream } from '../../src/demo/ticker.js';

// A tick count of today's wall clock at 250 ms: the numbers the streams really see.
const T0 = Math.floor(Date.UTC(2026, 10, 24) / 250);

describe('demo streams (src/demo)', () => {
  it('the ticker moves every symbol in turn by small steps, each tick naming the previous price', () => {
    const ticker = new TickerStream();
    const last = new Map<string, number>();
    let moves = 0;
    for (let t = T0; t < T0 + 6000; t++) {
      const m = ticker.at(t);
      assert.equal(m.channel, 'demo:ticker');
      assert.equal(m.event, 'tick');
      const tick = m.data as Tick;
      if (last.has(tick.sym)) assert.equal(tick.prev, last.get(tick.sym), `${tick.sym} prev is its last price`);
      assert.ok(tick.px > 0);
      assert.ok(Math.abs(tick.px - tick.prev) <= tick.prev * 0.01 + 0.011, `step ${tick.prev} → ${tick.px}`);
      if (tick.px !== tick.prev) moves++;
      last.set(tick.sym, tick.px);
    }
    assert.equal(last.size, 6);
    assert.ok(moves > 5000, `prices move (${moves} of 6000 ticks)`);
  });

  it('the deploy log numbers its lines 1..of, ends with done, pauses, then starts a new deploy', () => {
    const log = new DeployLogStream();
    const lines: LogLine[] = [];
    let quiet = 0;
    for (let t = T0; t < T0 + 1200; t++) {
      const m = log.at(t);
      if (m === undefined) {
        quiet++;
        continue;
      }
      assert.equal(m.channel, 'demo:deploy');
      lines.push(m.data as LogLine);
    }
    const deploys = [...new Set(lines.map((l) => l.deploy))];
    assert.ok(deploys.length >= 9, `several deploys: ${deploys.join(', ')}`);
    for (const d of deploys.slice(1, -1)) {
      const mine = lines.filter((l) => l.deploy === d);
      assert.deepEqual(mine.map((l) => l.line), mine.map((_, i) => i + 1), `${d} lines in order, from 1`);
      assert.equal(mine.length, mine[0]!.of);
      assert.ok(mine.length * 3 < 112 - 12, `${d} fits its slot with a pause`);
      assert.equal(mine.at(-1)!.level, 'done');
      assert.ok(mine.slice(0, -1).every((l) => l.level !== 'done'));
    }
    assert.ok(quiet > lines.length, 'a line every third tick, and pauses between deploys');
  });

  it('the cricket score adds up ball by ball, and matches end and restart', () => {
    const cricket = new CricketStream();
    let prev: Score | undefined;
    const matches = new Set<number>();
    const results: string[] = [];
    for (let t = T0; t < T0 + 6 * 300 * 4; t++) {
      const m = cricket.at(t);
      if (m === undefined) continue;
      const s = m.data as Score;
      matches.add(s.match);
      assert.ok(s.wickets <= 10 && s.balls <= 120);
      assert.equal(s.overs, `${Math.floor(s.balls / 6)}.${s.balls % 6}`);
      if (prev !== undefined && prev.match === s.match && prev.innings === s.innings) {
        const runs = s.last === 'W' ? 0 : s.last === 'wd' ? 1 : Number(s.last);
        assert.equal(s.runs, prev.runs + runs, `runs after ${s.last}`);
        assert.equal(s.balls, prev.balls + (s.last === 'wd' ? 0 : 1));
      }
      if (s.innings === 2) assert.ok(s.target !== undefined && s.target > 0);
      if (s.result !== undefined) results.push(s.result);
      prev = s;
    }
    assert.ok(matches.size >= 4, `${matches.size} matches`);
    assert.ok(results.length >= 3 && results.every((r) => /won by|tied|no result/.test(r)), results.join('; '));
  });

  it('what a tick publishes depends on the tick alone: two feeds agree, whatever they saw before', () => {
    const logger = pino({ level: 'silent' });
    const publish = () => Promise.resolve([]);
    const a = new DemoFeed({ publish, logger });
    const b = new DemoFeed({ publish, logger });
    a.messages(T0, T0 + 500); // a has been running for a while; b starts now
    const fromA = a.messages(T0 + 700, T0 + 760);
    assert.deepEqual(b.messages(T0 + 700, T0 + 760), fromA);
    assert.ok(fromA.length > 30);
    assert.ok(fromA.every((m) => m.channel.startsWith('demo:') && /^tick-\d+$/.test(m.idempotencyKey!)));
  });
});
