import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult } from '../../bench/harness.js';
import { SCENARIOS, type RunSpec } from '../../bench/scenarios.js';
import { checkTargets } from '../../bench/targets.js';
import { fanoutPairs, medianRatio } from '../../bench/tables.js';
import type { RunStats } from '../../bench/lib/types.js';

/** A fan-out run with only the figures the pair reading uses. */
function run(system: 'tidings' | 'nchan', transport: RunSpec['transport'], cpuUs: number, pair?: number, publishesPerSec = 200): RunResult {
  const spec: RunSpec = { scenario: pair === undefined ? 'fanout' : 'pairs', system, transport, subscribers: 1000, kind: 'publish', messages: 500, rate: 200, pollIntervalMs: 500, pair };
  const stats = { cpuUsPerDelivery: cpuUs, publishesPerSec, lost: 0, duplicates: 0, outOfOrder: 0, dropped: 0, gaps: 0 } as RunStats;
  return { spec, name: `${system} ${transport}`, stats };
}

describe('bench: fan-out pairs against Nchan', () => {
  it('holds each Tidings run to the Nchan run of its own pair, and the target to the median', () => {
    const results = [
      run('tidings', 'ws', 3.0),
      run('nchan', 'ws', 2.0), // pair 1: 1.5×
      run('nchan', 'ws', 4.0, 2),
      run('tidings', 'ws', 3.6, 2), // pair 2: 0.9×
      run('tidings', 'ws', 2.0, 3),
      run('nchan', 'ws', 2.5, 3), // pair 3: 0.8×
    ];
    const pairs = fanoutPairs(results, 'ws');
    assert.deepEqual(
      pairs.map((p) => [p.pair, Number(p.ratio!.toFixed(2))]),
      [
        [1, 1.5],
        [2, 0.9],
        [3, 0.8],
      ],
    );
    assert.equal(medianRatio(pairs), 0.9);
    const ws = checkTargets(results).find((c) => c.target.startsWith('WebSocket fan-out CPU/delivery ≤ 1.0× Nchan'));
    assert.equal(ws?.met, true, ws?.detail);
    assert.match(ws!.detail, /0\.90× over 3 pairs \(1\.50, 0\.90, 0\.80\)/);
  });

  it('takes the mean of the middle two for an even count, and misses when the median is over the goal', () => {
    const results = [run('tidings', 'sse', 1.1), run('nchan', 'sse', 1.0), run('tidings', 'sse', 1.3, 2), run('nchan', 'sse', 1.0, 2)];
    assert.equal(Number(medianRatio(fanoutPairs(results, 'sse'))!.toFixed(2)), 1.2);
    assert.equal(checkTargets(results).find((c) => c.target.startsWith('SSE fan-out CPU/delivery ≤ 1.0× Nchan'))?.met, false);
  });

  it('misses the long-poll target when one pair fell short of the offered rate, whatever the ratio', () => {
    const results = [run('tidings', 'long-poll', 1.2), run('nchan', 'long-poll', 1.0), run('tidings', 'long-poll', 1.2, 2, 150), run('nchan', 'long-poll', 1.0, 2)];
    const lp = checkTargets(results).find((c) => c.target.startsWith('Long-poll fan-out'));
    assert.equal(lp?.met, false, lp?.detail);
  });

  it('alternates which server of a pair goes first, and runs every paired transport on both', () => {
    const runs = SCENARIOS.find((s) => s.name === 'pairs')!.runs(false);
    const firsts = new Map<number, string[]>();
    for (let i = 0; i < runs.length; i += 2) {
      const [a, b] = [runs[i]!, runs[i + 1]!];
      assert.equal(a.transport, b.transport);
      assert.equal(a.pair, b.pair);
      assert.notEqual(a.system, b.system);
      firsts.set(a.pair!, [...(firsts.get(a.pair!) ?? []), a.system]);
    }
    assert.deepEqual([...firsts.keys()], [2, 3, 4]);
    assert.deepEqual(firsts.get(2), ['nchan', 'nchan', 'nchan']);
    assert.deepEqual(firsts.get(3), ['tidings', 'tidings', 'tidings']);
  });
});
