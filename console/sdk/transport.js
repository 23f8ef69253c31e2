// The seam between the client's protocol code (`client.ts`) and what carries its
// messages: a WebSocket (`websocket.ts`) or a WebRTC data channel (`webrtc.ts`).
/** The text of a message; the hub sends text only, which arrives as strings. */
export function textOf(data) {
    if (typeof data === "string")
        return data;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
        return new TextDecoder().decode(data);
    return undefined;
}
export function errorText(e) {
    return e instanceof Error ? e.message : String(e);
}
//# sourceMappingURL=transport.js.map