// The WebSocket transport: `GET /v1/ws` with the `draftline.v1` subprotocol
// (docs/protocol.md section 1.2); the token goes in `hello`.

import { DraftlineError } from "./errors.js";
import { errorText, textOf, type Transport, type TransportHandlers } from "./transport.js";

/** The WebSocket subprotocol of protocol version 1. */
export const SUBPROTOCOL = "draftline.v1";

/** What the client uses of a WebSocket: the browser's, or `ws` on Node. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` on Node. */
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => unknown;

export class WebSocketTransport implements Transport {
  private socket: WebSocketLike | undefined;

  constructor(
    private readonly url: string,
    private readonly Ctor: WebSocketConstructor | undefined,
  ) {}

  open(_token: string, handlers: TransportHandlers): void {
    if (!this.Ctor) {
      handlers.onclose({ reason: "no WebSocket", error: new DraftlineError("internal", "no WebSocket implementation: pass options.WebSocket") });
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.Ctor(this.url, SUBPROTOCOL) as WebSocketLike;
    } catch (e) {
      handlers.onclose({ reason: "bad url", error: new DraftlineError("bad_request", `cannot open ${this.url}: ${errorText(e)}`) });
      return;
    }
    this.socket = socket;
    socket.onopen = () => handlers.onopen();
    socket.onmessage = (event) => {
      const text = textOf(event.data);
      if (text !== undefined) handlers.onmessage(text);
    };
    socket.onclose = (event) => {
      this.detach();
      handlers.onclose({ code: event.code, reason: event.reason });
    };
    socket.onerror = () => {
      // A close event follows with the code.
    };
    // `ws` on Node shows the hub's pings; a browser answers them unseen.
    const node = socket as unknown as { on?: (name: string, listener: () => void) => void };
    if (typeof node.on === "function") node.on("ping", () => handlers.onalive());
  }

  send(text: string): void {
    this.socket?.send(text);
  }

  close(abort = false): void {
    const socket = this.detach();
    if (!socket) return;
    // A dead peer never finishes the close handshake: `ws` can drop it without one.
    const terminate = (socket as unknown as { terminate?: () => void }).terminate;
    if (abort && typeof terminate === "function") terminate.call(socket);
    else if (abort) socket.close(4000, "hub silent");
    else socket.close(1000, "client closed");
  }

  private detach(): WebSocketLike | undefined {
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
