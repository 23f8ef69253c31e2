// A small typed event emitter, so the package needs no runtime dependency.

export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener; answers a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Events[K]): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Events[K]): void {
    this.listeners.get(name)?.delete(listener);
  }

  protected emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      // A listener that throws must not stop the others or the client's own loop.
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (e) {
        console.error("draftline: a listener threw", e);
      }
    }
  }
}
