// Errors the client rejects with: the server's error body, or a client-side reason.
/** A failed request: `code` is the server's error code (or a {@link ClientErrorCode}). */
export class DraftlineError extends Error {
    code;
    details;
    retryAfterMs;
    constructor(code, message, details, retryAfterMs) {
        super(message);
        this.name = "DraftlineError";
        this.code = code;
        this.details = details ?? undefined;
        this.retryAfterMs = retryAfterMs;
    }
    static fromBody(body) {
        return new DraftlineError(body.code, body.message, body.details ?? undefined, body.retry_after_ms ?? undefined);
    }
}
//# sourceMappingURL=errors.js.map