import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RunResult } from './harness.js';

/** One row of chart data per run. */
function rows(results: RunResult[]) {
  return results.map((r) => ({
    scenario: r.spec.scenario,
    run: r.name,
    subscribers: r.spec.subscribers,
    tidings: r.spec.system === 'tidings' ? 'Tidings' : 'peer',
    cpu: r.stats?.cpuUsPerDelivery ?? null,
    p99: r.stats?.latencyMs.p99 ?? null,
    bytes: r.stats?.bytesPerDelivery ?? null,
    rate: r.stats?.deliveriesPerSec ?? null,
    kbPerConn: r.idle?.bytesPerConnection === undefined ? null : r.idle.bytesPerConnection / 1024,
  }));
}

/** Linear bars: on a log scale vega-lite draws a bar from 0, which has no place on the axis, so it draws none. */
function bars(scenario: string, field: string, title: string): object {
  return {
    title: { text: title, fontSize: 12 },
    width: 260,
    height: 150,
    transform: [{ filter: `datum.scenario === '${scenario}' && datum.${field} !== null` }],
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'run', type: 'nominal', sort: 'x', title: null },
      x: { field, type: 'quantitative', title: null },
      color: { field: 'tidings', type: 'nominal', scale: { domain: ['Tidings', 'peer'], range: ['#1f77b4', '#aaaaaa'] }, legend: null },
    },
  };
}

/** The report's chart: fan-out cost and latency, the seeds' bytes, the growth curve, idle memory, throughput. */
export async function renderChart(results: RunResult[], subtitle: string): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Tidings vs Nchan, bare ws, bare SSE and Socket.IO 4', subtitle },
    data: { values: rows(results) },
    // The bars colour Tidings against peers, the growth lines colour each run: scales of their own.
    resolve: { scale: { color: 'independent' } },
    vconcat: [
      { hconcat: [bars('fanout', 'cpu', 'Fan-out: server CPU µs per delivery'), bars('fanout', 'p99', 'Fan-out: p99 latency, ms')] },
      { hconcat: [bars('compare', 'bytes', 'Seeds’ comparison: bytes on the wire per delivery'), bars('throughput', 'rate', 'Throughput: deliveries per second')] },
      {
        resolve: { scale: { color: 'independent' } },
        hconcat: [
          {
            title: { text: 'Growth: server CPU µs per delivery vs subscribers', fontSize: 12 },
            width: 260,
            height: 150,
            transform: [{ filter: "datum.scenario === 'growth' && datum.cpu !== null" }],
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'subscribers', type: 'quantitative', scale: { type: 'log' }, title: 'subscribers' },
              y: { field: 'cpu', type: 'quantitative', title: 'µs' },
              color: { field: 'run', type: 'nominal', title: null },
            },
          },
          bars('idle', 'kbPerConn', 'Idle: server RSS KB per connection'),
        ],
      },
    ],
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
