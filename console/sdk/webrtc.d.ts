import { type Transport, type TransportHandlers } from "./transport.js";
/** The label of the data channel that carries the protocol. */
export declare const CHANNEL_LABEL = "draftline";
/** One entry of `RTCPeerConnection`'s `iceServers`, as `GET /v1/rtc/config` gives them. */
export interface IceServer {
    urls: string | string[];
    username?: string;
    credential?: string;
}
/** What the client uses of a data channel. */
export interface RtcDataChannelLike {
    readonly readyState: string;
    send(data: string): void;
    close(): void;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: unknown) => void) | null;
}
/** What the client uses of a peer connection: the browser's `RTCPeerConnection`, or a polyfill's. */
export interface RtcPeerConnectionLike {
    readonly connectionState: string;
    readonly iceGatheringState: string;
    readonly localDescription: {
        sdp: string;
    } | null;
    createDataChannel(label: string): RtcDataChannelLike;
    createOffer(): Promise<unknown>;
    setLocalDescription(description: unknown): Promise<void>;
    setRemoteDescription(description: {
        type: "answer";
        sdp: string;
    }): Promise<void>;
    close(): void;
    onconnectionstatechange: ((event: unknown) => void) | null;
    onicegatheringstatechange: ((event: unknown) => void) | null;
}
/** An `RTCPeerConnection` class: `globalThis.RTCPeerConnection` in browsers. */
export type RtcPeerConnectionConstructor = new (configuration: {
    iceServers: IceServer[];
}) => unknown;
export interface WebRtcTransportOptions {
    /** The hub's HTTP base, ending with `/`. */
    httpBase: string;
    fetch: typeof fetch | undefined;
    RTCPeerConnection: RtcPeerConnectionConstructor | undefined;
    /** Used as given; else asked of `GET /v1/rtc/config`. */
    iceServers: IceServer[] | undefined;
}
export declare class WebRtcTransport implements Transport {
    private readonly options;
    private handlers;
    private token;
    private pc;
    private channel;
    /** The peer's address on the hub, from the answer's `Location`. */
    private location;
    private ended;
    private readonly abort;
    private openTimer;
    private disconnectedTimer;
    /** Ends the wait for ICE gathering early (on close). */
    private wake;
    constructor(options: WebRtcTransportOptions);
    open(token: string, handlers: TransportHandlers): void;
    send(text: string): void;
    close(): void;
    private signal;
    private fetch;
    /** `GET /v1/rtc/config`: the ICE servers the hub hands out. */
    private iceServers;
    /** Waits for ICE gathering to complete (no trickle: the offer carries every candidate). */
    private gathered;
    private connectionState;
    /**
     * Ends the peer once and tells the client. Unless the hub ended it, the peer is hung up
     * first (WHIP-style) and closed here once the hub has answered, so the hub frees it on
     * the `DELETE` rather than on noticing the close.
     */
    private end;
    /** `DELETE` on the peer's `Location`, so the hub frees it now rather than when ICE times out. */
    private hangUp;
}
//# sourceMappingURL=webrtc.d.ts.map