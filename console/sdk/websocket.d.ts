import { type Transport, type TransportHandlers } from "./transport.js";
/** The WebSocket subprotocol of protocol version 1. */
export declare const SUBPROTOCOL = "draftline.v1";
/** What the client uses of a WebSocket: the browser's, or `ws` on Node. */
export interface WebSocketLike {
    send(data: string): void;
    close(code?: number, reason?: string): void;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
}
/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` on Node. */
export type WebSocketConstructor = new (url: string, protocols: string | string[]) => unknown;
export declare class WebSocketTransport implements Transport {
    private readonly url;
    private readonly Ctor;
    private socket;
    constructor(url: string, Ctor: WebSocketConstructor | undefined);
    open(_token: string, handlers: TransportHandlers): void;
    send(text: string): void;
    close(abort?: boolean): void;
    private detach;
}
//# sourceMappingURL=websocket.d.ts.map