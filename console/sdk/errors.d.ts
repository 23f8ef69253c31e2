import type { ErrorBody, ErrorCode, JsonValue } from "./generated/protocol.js";
/**
 * Codes the client uses for failures that did not come from the server:
 * `disconnected` (the connection dropped before the reply; the request may or may not
 * have run), `closed` (the client was closed), `timeout` (no reply in time).
 */
export type ClientErrorCode = "disconnected" | "closed" | "timeout";
/** A failed request: `code` is the server's error code (or a {@link ClientErrorCode}). */
export declare class DraftlineError extends Error {
    readonly code: ErrorCode | ClientErrorCode;
    readonly details: JsonValue | undefined;
    readonly retryAfterMs: number | undefined;
    constructor(code: ErrorCode | ClientErrorCode, message: string, details?: JsonValue, retryAfterMs?: number);
    static fromBody(body: ErrorBody): DraftlineError;
}
//# sourceMappingURL=errors.d.ts.map