export declare class Emitter<Events extends {
    [K in keyof Events]: (...args: never[]) => void;
}> {
    private readonly listeners;
    /** Adds a listener; answers a function that removes it. */
    on<K extends keyof Events>(name: K, listener: Events[K]): () => void;
    off<K extends keyof Events>(name: K, listener: Events[K]): void;
    protected emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): void;
}
//# sourceMappingURL=emitter.d.ts.map