import WebSocket from 'ws';

export interface HeapEntry {
  name: string;
  count: number;
  bytes: number;
}

/**
 * Takes a heap snapshot of a server over its inspector (`HeapProfiler.takeHeapSnapshot`)
 * and sums the self size of its objects by constructor name: what an RSS figure is made of.
 */
export async function heapSummary(inspectorUrl: string | undefined): Promise<HeapEntry[]> {
  if (inspectorUrl === undefined) return [];
  const ws = new WebSocket(inspectorUrl, { perMessageDeflate: false, maxPayload: 2 ** 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const chunks: string[] = [];
  await new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { chunk: string } };
      if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(msg.params!.chunk);
      if (msg.id === 1) resolve();
    });
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.takeHeapSnapshot', params: { reportProgress: false } }));
  });
  ws.close();
  const snap = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const byName = new Map<string, HeapEntry>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
    const e = byName.get(name) ?? { name, count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + sizeAt]!;
    byName.set(name, e);
  }
  return [...byName.values()];
}

/** The `top` constructors by self size. */
export function heapTop(entries: HeapEntry[], top = 10): HeapEntry[] {
  return [...entries].sort((a, b) => b.bytes - a.bytes).slice(0, top);
}
