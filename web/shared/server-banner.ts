import type { StateChange } from '/client.js';

interface Watched {
  on(event: 'state', listener: (s: StateChange) => void): unknown;
}

const PROBE_EVERY_MS = 2000;

/**
 * The banner that says the server can't be reached. A client that is reconnecting may just
 * have lost its own connection, so while any watched client is not connected the banner
 * asks `/healthz` every 2 s, and shows only when that fails too (or says the server is
 * shutting down). It hides itself once the probe answers again.
 */
export class ServerBanner {
  private readonly down = new Set<Watched>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly element: HTMLElement, private readonly baseUrl = location.origin) {
    element.setAttribute('role', 'alert');
    element.hidden = true;
  }

  watch(client: Watched): void {
    client.on('state', (s) => {
      if (s.state === 'reconnecting') this.down.add(client);
      else this.down.delete(client);
      if (s.state === 'closed') this.down.delete(client);
      this.schedule();
    });
  }

  /** Stops watching a client that was closed on purpose (a panel re-made with new options). */
  forget(client: Watched): void {
    this.down.delete(client);
    this.schedule();
  }

  private schedule(): void {
    if (this.down.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.show(undefined);
      return;
    }
    this.timer ??= setTimeout(() => void this.probe(), PROBE_EVERY_MS);
  }

  private async probe(): Promise<void> {
    let problem: string | undefined;
    try {
      const res = await fetch(new URL('/healthz', this.baseUrl), { cache: 'no-store', signal: AbortSignal.timeout(PROBE_EVERY_MS) });
      if (res.status === 503) problem = 'The server is shutting down or restarting. Reconnecting when it is back…';
    } catch {
      problem = `Can't reach the Tidings server at ${this.baseUrl}. Retrying; every panel resumes where it was once the server is back.`;
    }
    this.timer = undefined;
    if (this.down.size === 0) problem = undefined;
    this.show(problem);
    if (this.down.size > 0) this.schedule();
  }

  private show(problem: string | undefined): void {
    this.element.hidden = problem === undefined;
    this.element.textContent = problem ?? '';
  }
}
