// What the bridges need of the realtime model's connection, and how they read its frames.
/**
 * A `send` for JSON messages that holds them until the transport is open: a bridge
 * attached to a data channel still being negotiated sends its set-up when it opens.
 */
export function sender(transport) {
    const isOpen = () => transport.readyState === undefined || transport.readyState === 1 || transport.readyState === "open";
    const waiting = [];
    if (!isOpen()) {
        transport.addEventListener("open", () => {
            for (const text of waiting.splice(0))
                transport.send(text);
        });
    }
    return (message) => {
        const text = JSON.stringify(message);
        if (waiting.length === 0 && isOpen())
            transport.send(text);
        else
            waiting.push(text);
    };
}
/** A JSON object from a frame; Gemini Live sends its JSON in binary frames. */
export async function readJson(data) {
    let text;
    if (typeof data === "string")
        text = data;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
        text = new TextDecoder().decode(data);
    else if (typeof Blob !== "undefined" && data instanceof Blob)
        text = await data.text();
    if (text === undefined)
        return undefined;
    try {
        const value = JSON.parse(text);
        return typeof value === "object" && value !== null && !Array.isArray(value)
            ? value
            : undefined;
    }
    catch {
        return undefined;
    }
}
/** What a failed hub call looks like to a model: its code and message. */
export function errorOutput(error) {
    const e = error;
    return {
        error: {
            code: typeof e.code === "string" ? e.code : "internal",
            message: typeof e.message === "string" ? e.message : String(error),
        },
    };
}
/** The client's session: now, or once the hub welcomes it. */
export function sessionOf(client) {
    if (client.session)
        return Promise.resolve(client.session);
    return new Promise((resolve) => {
        const off = client.on("session", (session) => {
            off();
            resolve(session);
        });
    });
}
//# sourceMappingURL=transport.js.map