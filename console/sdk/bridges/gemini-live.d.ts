import type { DraftlineClient } from "../client.js";
import type { JsonValue, Mode } from "../generated/protocol.js";
import { type RealtimeTransport } from "./transport.js";
export type { RealtimeTransport } from "./transport.js";
export interface GeminiLiveOptions {
    /** Put the Draftline session in this mode first; its tools are the ones declared. */
    mode?: Mode;
    /**
     * The `setup` message (model, generation config, system instruction, ...); the bridge
     * adds the tools and sends it. Without it, send your own `setup` with
     * `bridge.functionDeclarations`.
     */
    setup?: Record<string, unknown>;
    /**
     * Tools that start background work: declared `NON_BLOCKING`, answered at once, then
     * their job's progress (default: `queue_draft_update`).
     */
    nonBlocking?: string[];
    onError?(error: unknown): void;
}
/** A Gemini function declaration with its parameters as JSON Schema. */
export interface FunctionDeclaration {
    name: string;
    description: string;
    parametersJsonSchema: JsonValue;
    behavior?: "NON_BLOCKING";
}
export interface GeminiLiveBridge {
    /** Resolves with the declarations once they are known (and `setup` was sent, when given). */
    readonly ready: Promise<FunctionDeclaration[]>;
    close(): void;
}
/**
 * Attaches to `transport` (the Live API WebSocket). Each `toolCall` is answered with
 * one `toolResponse` holding the hub's answers in order, except calls the API cancelled
 * (`toolCallCancellation`). A non-blocking tool's job then reports its progress as
 * further responses with `scheduling: "WHEN_IDLE"`, the last with `willContinue: false`.
 */
export declare function attachGeminiLive(client: DraftlineClient, transport: RealtimeTransport, options?: GeminiLiveOptions): GeminiLiveBridge;
//# sourceMappingURL=gemini-live.d.ts.map