/** A tiny typed event emitter: what `client.on(...)` needs and no more (kept small for the bundle). */
export class Emitter<Events extends Record<string, unknown>> {
  private readonly listeners: { [K in keyof Events]?: Set<(payload: Events[K]) => void> } = {};

  /**
   * Adds a listener; returns the function that removes it. A listener that throws does
   * not stop the others (its error is rethrown on a later turn).
   *
   * @example const stop = client.on('state', (s) => console.log(s.state, s.transport)); stop();
   */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    (this.listeners[event] ??= new Set()).add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): void {
    this.listeners[event]?.delete(listener);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const l of [...(this.listeners[event] ?? [])]) {
      // One listener's bug must not stop delivery to the others, nor the client itself.
      try {
        l(payload);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
