import WebSocket from 'ws';

/**
 * A full garbage collection in the server, asked for over its inspector
 * (`HeapProfiler.collectGarbage`), so that an RSS reading counts what connections keep,
 * not what connecting left for a GC that an idle server never runs. Works on any Node
 * server started with `--inspect`, peers included, without touching their code.
 */
export async function collectGarbage(inspectorUrl: string | undefined): Promise<void> {
  if (inspectorUrl === undefined) return;
  const ws = new WebSocket(inspectorUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  for (let id = 1; id <= 2; id++) {
    await new Promise<void>((resolve) => {
      const onMessage = (data: Buffer) => {
        if ((JSON.parse(data.toString()) as { id?: number }).id === id) {
          ws.off('message', onMessage);
          resolve();
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
    });
  }
  ws.close();
}
