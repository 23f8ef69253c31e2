import type { DraftlineClient } from "../client.js";
import type { Mode } from "../generated/protocol.js";
import { type RealtimeTransport } from "./transport.js";
export type { RealtimeTransport } from "./transport.js";
export interface OpenAIRealtimeOptions {
    /** Put the Draftline session in this mode first; its tools are the ones offered. */
    mode?: Mode;
    /** More `session` fields for every `session.update` (instructions, voice, ...). */
    session?: Record<string, unknown>;
    /** Speak `tool.progress` narrations of the session's jobs (default true). */
    narrate?: boolean;
    /** Something went wrong outside any call (fetching tools, subscribing). */
    onError?(error: unknown): void;
}
export interface OpenAIRealtimeBridge {
    /** Resolves once the first `session.update` with the tools was sent. */
    readonly ready: Promise<void>;
    /** Detaches from the transport and the client. */
    close(): void;
}
/**
 * Attaches to `transport` (a WebSocket to the Realtime API, or the WebRTC data channel
 * `oai-events`). Function calls go to the hub; their outputs go back as
 * `conversation.item.create` (`function_call_output`) followed by one `response.create`,
 * sent only when no response is in flight and the person is not speaking.
 */
export declare function attachOpenAIRealtime(client: DraftlineClient, transport: RealtimeTransport, options?: OpenAIRealtimeOptions): OpenAIRealtimeBridge;
//# sourceMappingURL=openai-realtime.d.ts.map