import type { DraftlineClient } from "../client.js";
import type { Session } from "../generated/protocol.js";
/**
 * A WebSocket to the model's API, or a WebRTC data channel (`oai-events`): anything
 * that sends text and emits `message` events.
 */
export interface RealtimeTransport {
    /** 1 (`WebSocket.OPEN`) or `"open"` (a data channel) once it can send; sends wait till then. */
    readonly readyState?: number | string;
    send(data: string): void;
    addEventListener(type: "message" | "open", listener: (event: object) => void): void;
    removeEventListener?(type: "message" | "open", listener: (event: object) => void): void;
}
/**
 * A `send` for JSON messages that holds them until the transport is open: a bridge
 * attached to a data channel still being negotiated sends its set-up when it opens.
 */
export declare function sender(transport: RealtimeTransport): (message: Record<string, unknown>) => void;
/** A JSON object from a frame; Gemini Live sends its JSON in binary frames. */
export declare function readJson(data: unknown): Promise<Record<string, unknown> | undefined>;
/** What a failed hub call looks like to a model: its code and message. */
export declare function errorOutput(error: unknown): {
    error: {
        code: string;
        message: string;
    };
};
/** The client's session: now, or once the hub welcomes it. */
export declare function sessionOf(client: DraftlineClient): Promise<Session>;
//# sourceMappingURL=transport.d.ts.map