import type { ClientInfo, Decided, Decision, FunctionDef, JsonValue, Mode, OperationId, Position, ProjectId, ServerMessage, Session, SessionId, ToolName, Tools, TranscriptRole } from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";
import { Emitter } from "./emitter.js";
import { Subscription, type SubscribeOptions, type Subscribed, type SubscriptionHost } from "./subscription.js";
import { ProjectView, type ProjectSnapshot, type WatchOptions } from "./watch.js";
import { type WebSocketConstructor } from "./websocket.js";
import { type IceServer, type RtcPeerConnectionConstructor } from "./webrtc.js";
export type ConnectionState = "disconnected" | "connecting" | "connected";
export interface DraftlineClientOptions {
    /**
     * `"websocket"` (the default) or `"webrtc"`: a data channel labelled `draftline`,
     * signalled over HTTP at `httpUrl` (docs/protocol.md section 1.3). Both carry the same
     * protocol, reconnect and recover alike.
     */
    transport?: "websocket" | "webrtc";
    /** The hub's WebSocket endpoint, e.g. `ws://127.0.0.1:8080/v1/ws` (WebRTC: `httpUrl` may stand for it). */
    url?: string;
    /** A token; or `getToken`, asked at the start and again when the hub says it is invalid or about to expire. */
    token?: string;
    getToken?: () => string | Promise<string>;
    client: ClientInfo;
    /** Defaults to `globalThis.WebSocket`. */
    WebSocket?: WebSocketConstructor;
    /** WebRTC only: defaults to `globalThis.RTCPeerConnection`. */
    RTCPeerConnection?: RtcPeerConnectionConstructor;
    /** WebRTC only: the ICE servers; by default those of the hub's `GET /v1/rtc/config`. */
    iceServers?: IceServer[];
    /** Resume this session instead of starting a new one. */
    sessionId?: SessionId;
    /** Reconnect delays: full jitter, the cap doubling from `minDelayMs` (500) to `maxDelayMs` (20,000); `false` never reconnects. */
    reconnect?: false | {
        minDelayMs?: number;
        maxDelayMs?: number;
    };
    /** How long a request waits for its reply (default 30,000 ms). */
    requestTimeoutMs?: number;
    /** Overrides the heartbeat the hub announces in `welcome`. */
    heartbeatMs?: number;
    /** The hub's HTTP base (for `tools` and WebRTC signalling); derived from `url` by default. */
    httpUrl?: string;
    fetch?: typeof fetch;
}
/** The `welcome` the hub answers `hello` with. */
export type Welcome = Extract<ServerMessage, {
    type: "welcome";
}>;
export interface ConfigureOptions {
    mode?: Mode;
    project_id?: ProjectId;
    auto_accept?: boolean;
}
/** A transcript item; `at` defaults to now. */
export interface TranscriptItem {
    item_id: string;
    role: TranscriptRole;
    text: string;
    at?: string | Date;
}
export type ToolArgs<N extends ToolName> = Tools[N]["args"];
export type ToolOutput<N extends ToolName> = Tools[N]["output"];
type ClientEvents = {
    state: (state: ConnectionState) => void;
    welcome: (welcome: Welcome) => void;
    /** The session as it now stands (after `welcome` and `configure`). */
    session: (session: Session) => void;
    /** Errors that belong to no request (and the reason the client stopped, if it did). */
    error: (error: DraftlineError) => void;
};
export declare class DraftlineClient extends Emitter<ClientEvents> implements SubscriptionHost {
    state: ConnectionState;
    sessionId: SessionId | undefined;
    session: Session | undefined;
    welcome: Welcome | undefined;
    private readonly options;
    private transport;
    private helloId;
    private helloError;
    /** An error without `re` and without a topic: the hub's reason for the close that follows (token expired). */
    private farewell;
    private token;
    private nextId;
    private readonly pending;
    private readonly queued;
    private readonly subscriptions;
    /** Set by `close()`: no reconnect, every request fails. */
    private closed;
    /** Whether a welcome ever came: only then does a lost connection reconnect by itself. */
    private established;
    private connecting;
    private attempt;
    private reconnectTimer;
    private heartbeatTimer;
    private refreshTimer;
    private flushTimer;
    private lastHeard;
    /** After `rate_limited`, nothing is sent before this time. */
    private pausedUntil;
    constructor(options: DraftlineClientOptions);
    get connected(): boolean;
    /** Opens the connection; resolves after `welcome` (then `sessionId` is set). */
    connect(): Promise<void>;
    /** Closes the connection for good: no reconnect; waiting requests fail with `closed`. */
    close(): void;
    /** Changes the session's mode, project or auto-accept; answers the session. */
    configure(options: ConfigureOptions): Promise<Session>;
    /**
     * Calls a tool; answers its output, or rejects with `DraftlineError` carrying the
     * server's code (`invalid_arguments`, `tool_not_allowed`, `not_found`, ...).
     */
    callTool<N extends ToolName>(name: N, args: ToolArgs<N>, options?: {
        callId?: string;
    }): Promise<ToolOutput<N>>;
    /**
     * Calls a tool by a name and arguments not known in advance (an object, or the JSON
     * text a realtime model emits), as bridges do.
     */
    callToolRaw(name: string, args: JsonValue, callId?: string): Promise<JsonValue>;
    /** Subscribes to `project:{id}` or `session:{id}`. One subscription per topic. */
    subscribe(topic: string, options?: SubscribeOptions): Subscription;
    /** The project's state from a snapshot, kept current by its events. */
    watchProject(projectId: ProjectId, options?: WatchOptions): ProjectView;
    /** The project's state, read after its topic's `position`. */
    snapshot(projectId: ProjectId): Promise<ProjectSnapshot>;
    /** Approves or rejects pending operations; `edits` are JSON merge patches over their data. */
    decide(operationIds: OperationId[], decision: Decision, edits?: Record<OperationId, JsonValue>): Promise<Decided>;
    /** Appends transcript items to the session; items already sent (same `item_id`) are skipped. */
    appendTranscript(items: TranscriptItem[]): Promise<{
        appended: number;
    }>;
    /** Sends a chat message to the project; the reply streams as `chat.delta` then `chat.message`. */
    sendChat(projectId: ProjectId, text: string): Promise<{
        message_id: string;
        job_id: string;
    }>;
    /** The tools of `mode` as OpenAI Realtime function definitions (`GET /v1/tools`). */
    tools(mode?: Mode): Promise<FunctionDef[]>;
    /** A round trip to the hub. */
    ping(): Promise<void>;
    /**
     * Hands the hub a fresh token from `getToken` (`auth.refresh`) so the connection
     * outlives the old one's expiry; answers the new expiry. Runs by itself ahead of
     * each expiry when `getToken` is set.
     */
    refreshToken(): Promise<string>;
    /** @internal */
    subscribeRequest(topic: string, since: Position | undefined): Promise<Subscribed>;
    /** @internal */
    unsubscribeRequest(topic: string): Promise<void>;
    /** @internal */
    forget(subscription: Subscription): void;
    /**
     * Sends a request and waits for the message whose `re` is its id. With `queue`, a
     * request made while disconnected waits for the connection; without, it fails at once.
     */
    private request;
    /** Sends what waits, unless disconnected or paused by `rate_limited`. */
    private flush;
    private settle;
    /** Fails requests: those already sent (their reply cannot come), and with `all` the waiting ones. */
    private failAll;
    private open;
    private receive;
    /** An error that answers no request: a subscription revoked, or news for the app. */
    private unsolicited;
    private welcomed;
    private dropped;
    /** Reconnects after a full-jitter delay, and not before `atLeastMs` (a refusal's `retry_after_ms`). */
    private scheduleReconnect;
    /** Gives up: fails every waiting request and tells the app why. */
    private stop;
    /** Forgets the transport (its handlers are ignored from now on) and answers it. */
    private detach;
    private startHeartbeat;
    private touch;
    private scheduleRefresh;
    private askToken;
    private updateSession;
    private setState;
    private httpBase;
}
export {};
//# sourceMappingURL=client.d.ts.map