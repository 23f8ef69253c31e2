// The WebSocket transport: `GET /v1/ws` with the `draftline.v1` subprotocol
// (docs/protocol.md section 1.2); the token goes in `hello`.
import { DraftlineError } from "./errors.js";
import { errorText, textOf } from "./transport.js";
/** The WebSocket subprotocol of protocol version 1. */
export const SUBPROTOCOL = "draftline.v1";
export class WebSocketTransport {
    url;
    Ctor;
    socket;
    constructor(url, Ctor) {
        this.url = url;
        this.Ctor = Ctor;
    }
    open(_token, handlers) {
        if (!this.Ctor) {
            handlers.onclose({ reason: "no WebSocket", error: new DraftlineError("internal", "no WebSocket implementation: pass options.WebSocket") });
            return;
        }
        let socket;
        try {
            socket = new this.Ctor(this.url, SUBPROTOCOL);
        }
        catch (e) {
            handlers.onclose({ reason: "bad url", error: new DraftlineError("bad_request", `cannot open ${this.url}: ${errorText(e)}`) });
            return;
        }
        this.socket = socket;
        socket.onopen = () => handlers.onopen();
        socket.onmessage = (event) => {
            const text = textOf(event.data);
            if (text !== undefined)
                handlers.onmessage(text);
        };
        socket.onclose = (event) => {
            this.detach();
            handlers.onclose({ code: event.code, reason: event.reason });
        };
        socket.onerror = () => {
            // A close event follows with the code.
        };
        // `ws` on Node shows the hub's pings; a browser answers them unseen.
        const node = socket;
        if (typeof node.on === "function")
            node.on("ping", () => handlers.onalive());
    }
    send(text) {
        this.socket?.send(text);
    }
    close(abort = false) {
        const socket = this.detach();
        if (!socket)
            return;
        // A dead peer never finishes the close handshake: `ws` can drop it without one.
        const terminate = socket.terminate;
        if (abort && typeof terminate === "function")
            terminate.call(socket);
        else if (abort)
            socket.close(4000, "hub silent");
        else
            socket.close(1000, "client closed");
    }
    detach() {
        const socket = this.socket;
        this.socket = undefined;
        if (socket) {
            socket.onopen = null;
            socket.onmessage = null;
            socket.onclose = null;
        }
        return socket;
    }
}
//# sourceMappingURL=websocket.js.map