// A small typed event emitter, so the package needs no runtime dependency.
export class Emitter {
    listeners = new Map();
    /** Adds a listener; answers a function that removes it. */
    on(name, listener) {
        let set = this.listeners.get(name);
        if (!set) {
            set = new Set();
            this.listeners.set(name, set);
        }
        set.add(listener);
        return () => this.off(name, listener);
    }
    off(name, listener) {
        this.listeners.get(name)?.delete(listener);
    }
    emit(name, ...args) {
        for (const listener of [...(this.listeners.get(name) ?? [])]) {
            // A listener that throws must not stop the others or the client's own loop.
            try {
                listener(...args);
            }
            catch (e) {
                console.error("draftline: a listener threw", e);
            }
        }
    }
}
//# sourceMappingURL=emitter.js.map