// The Draftline client: one connection to a hub (a WebSocket or a WebRTC data channel),
// requests matched to replies, a resumable session, subscriptions that survive
// reconnects, and live project views.

import type {
  ClientInfo,
  Decided,
  Decision,
  FunctionDef,
  JsonValue,
  Mode,
  OperationId,
  Position,
  ProjectId,
  ServerMessage,
  Session,
  SessionId,
  ToolName,
  Tools,
  TranscriptRole,
} from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";
import { Emitter } from "./emitter.js";
import { Subscription, type SubscribeOptions, type Subscribed, type SubscriptionHost } from "./subscription.js";
import { ProjectView, type ProjectSnapshot, type WatchOptions } from "./watch.js";
import { errorText, type Transport, type TransportClose } from "./transport.js";
import { WebSocketTransport, type WebSocketConstructor } from "./websocket.js";
import { WebRtcTransport, type IceServer, type RtcPeerConnectionConstructor } from "./webrtc.js";

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
  reconnect?: false | { minDelayMs?: number; maxDelayMs?: number };
  /** How long a request waits for its reply (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** Overrides the heartbeat the hub announces in `welcome`. */
  heartbeatMs?: number;
  /** The hub's HTTP base (for `tools` and WebRTC signalling); derived from `url` by default. */
  httpUrl?: string;
  fetch?: typeof fetch;
}

/** The `welcome` the hub answers `hello` with. */
export type Welcome = Extract<ServerMessage, { type: "welcome" }>;

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

interface Pending {
  id: number;
  frame: string;
  /** Only requests that wait for a connection go into the queue; the others fail at once. */
  queue: boolean;
  /**
   * A `subscribe`: refused as `unavailable` (the hub's event bus, not its capacity for
   * calls), it waits out `retry_after_ms` alone while the other requests go on.
   */
  subscribe: boolean;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A refused subscribe's wait before it is sent again. */
  retry: ReturnType<typeof setTimeout> | undefined;
  resolve(message: ServerMessage): void;
  reject(error: DraftlineError): void;
}

// Close codes (docs/protocol.md section 4.3) after which coming back would fail the same way.
const FATAL_CLOSE = new Set([1008, 1009, 4003, 4029]);
const UNAUTHORIZED_CLOSE = 4001;
// A connection lost without a word (no close frame, no error before it).
const ABNORMAL_CLOSE = 1006;
// A heartbeat without a word from the hub sends a `ping`; three silent heartbeats mean
// the hub (or the path to it) is gone, as the hub itself judges its peers.
const SILENT_HEARTBEATS = 3;
// Refresh a token this long before it expires, or at 80% of a shorter lifetime.
const REFRESH_AHEAD_MS = 60_000;

export class DraftlineClient extends Emitter<ClientEvents> implements SubscriptionHost {
  state: ConnectionState = "disconnected";
  sessionId: SessionId | undefined;
  session: Session | undefined;
  welcome: Welcome | undefined;

  private readonly options: DraftlineClientOptions;
  private transport: Transport | undefined;
  private helloId = 0;
  private helloError: DraftlineError | undefined;
  /** An error without `re` and without a topic: the hub's reason for the close that follows (token expired). */
  private farewell: DraftlineError | undefined;
  private token: string | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queued: Pending[] = [];
  private readonly subscriptions = new Map<string, Subscription>();
  /** Set by `close()`: no reconnect, every request fails. */
  private closed = false;
  /** Whether a welcome ever came: only then does a lost connection reconnect by itself. */
  private established = false;
  private connecting: { resolve(): void; reject(e: DraftlineError): void }[] = [];
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private lastHeard = 0;
  /** After `rate_limited`, nothing is sent before this time. */
  private pausedUntil = 0;

  constructor(options: DraftlineClientOptions) {
    super();
    if (!options.token && !options.getToken) throw new TypeError("DraftlineClient needs token or getToken");
    if (options.transport === "webrtc" ? !options.url && !options.httpUrl : !options.url) {
      throw new TypeError(options.transport === "webrtc" ? "DraftlineClient needs httpUrl or url" : "DraftlineClient needs url");
    }
    this.options = options;
    this.token = options.token;
    this.sessionId = options.sessionId;
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  /** Opens the connection; resolves after `welcome` (then `sessionId` is set). */
  connect(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    this.closed = false;
    const done = new Promise<void>((resolve, reject) => this.connecting.push({ resolve, reject }));
    if (this.state === "disconnected") {
      clearTimeout(this.reconnectTimer);
      void this.open();
    }
    return done;
  }

  /** Closes the connection for good: no reconnect; waiting requests fail with `closed`. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.detach()?.close();
    const closed = new DraftlineError("closed", "the client was closed");
    this.failAll(closed, true);
    for (const waiter of this.connecting.splice(0)) waiter.reject(closed);
    for (const sub of [...this.subscriptions.values()]) void sub.unsubscribe();
    this.setState("disconnected");
  }

  /** Changes the session's mode, project or auto-accept; answers the session. */
  async configure(options: ConfigureOptions): Promise<Session> {
    const reply = await this.request({ type: "session.configure", ...options });
    const data = reply.type === "ok" ? reply.data : undefined;
    if (!data || !("session" in data)) throw unexpected(reply);
    this.updateSession(data.session);
    return data.session;
  }

  /**
   * Calls a tool; answers its output, or rejects with `DraftlineError` carrying the
   * server's code (`invalid_arguments`, `tool_not_allowed`, `not_found`, ...).
   */
  async callTool<N extends ToolName>(name: N, args: ToolArgs<N>, options?: { callId?: string }): Promise<ToolOutput<N>> {
    return (await this.callToolRaw(name, args as JsonValue, options?.callId)) as ToolOutput<N>;
  }

  /**
   * Calls a tool by a name and arguments not known in advance (an object, or the JSON
   * text a realtime model emits), as bridges do.
   */
  async callToolRaw(name: string, args: JsonValue, callId?: string): Promise<JsonValue> {
    const call_id = callId ?? `c${this.nextId}`;
    const reply = await this.request({ type: "tool.call", call_id, name, arguments: args });
    if (reply.type !== "tool.result") throw unexpected(reply);
    if (reply.ok) return reply.output;
    throw DraftlineError.fromBody(reply.error);
  }

  /** Subscribes to `project:{id}` or `session:{id}`. One subscription per topic. */
  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    if (this.subscriptions.has(topic)) throw new Error(`already subscribed to ${topic}; unsubscribe first`);
    const sub = new Subscription(this, topic, options);
    this.subscriptions.set(topic, sub);
    sub.start();
    return sub;
  }

  /** The project's state from a snapshot, kept current by its events. */
  watchProject(projectId: ProjectId, options: WatchOptions = {}): ProjectView {
    return new ProjectView(this, projectId, options);
  }

  /** The project's state, read after its topic's `position`. */
  async snapshot(projectId: ProjectId): Promise<ProjectSnapshot> {
    const reply = await this.request({ type: "snapshot", project_id: projectId });
    if (reply.type !== "snapshot") throw unexpected(reply);
    const { type: _type, re: _re, ...snapshot } = reply;
    return snapshot;
  }

  /** Approves or rejects pending operations; `edits` are JSON merge patches over their data. */
  async decide(
    operationIds: OperationId[],
    decision: Decision,
    edits?: Record<OperationId, JsonValue>,
  ): Promise<Decided> {
    const reply = await this.request({
      type: "operation.decide",
      operation_ids: operationIds,
      decision,
      ...(edits ? { edits } : {}),
    });
    const data = reply.type === "ok" ? reply.data : undefined;
    if (!data || !("batch_id" in data)) throw unexpected(reply);
    return data;
  }

  /** Appends transcript items to the session; items already sent (same `item_id`) are skipped. */
  async appendTranscript(items: TranscriptItem[]): Promise<{ appended: number }> {
    const now = new Date().toISOString();
    const reply = await this.request({
      type: "transcript.append",
      items: items.map((item) => ({
        item_id: item.item_id,
        role: item.role,
        text: item.text,
        at: item.at instanceof Date ? item.at.toISOString() : (item.at ?? now),
      })),
    });
    const data = reply.type === "ok" ? reply.data : undefined;
    if (!data || !("appended" in data)) throw unexpected(reply);
    return { appended: data.appended };
  }

  /** Sends a chat message to the project; the reply streams as `chat.delta` then `chat.message`. */
  async sendChat(projectId: ProjectId, text: string): Promise<{ message_id: string; job_id: string }> {
    const reply = await this.request({ type: "chat.send", project_id: projectId, text });
    const data = reply.type === "ok" ? reply.data : undefined;
    if (!data || !("message_id" in data)) throw unexpected(reply);
    return data;
  }

  /** The tools of `mode` as OpenAI Realtime function definitions (`GET /v1/tools`). */
  async tools(mode?: Mode): Promise<FunctionDef[]> {
    const fetchFn = this.options.fetch ?? globalThis.fetch;
    const url = new URL("v1/tools", this.httpBase());
    if (mode) url.searchParams.set("mode", mode);
    const response = await fetchFn(url);
    const body: unknown = await response.json();
    if (!response.ok) {
      const error = body as { code?: string; message?: string };
      throw new DraftlineError(
        (error.code as DraftlineError["code"]) ?? "internal",
        error.message ?? `GET ${url.pathname}: ${response.status}`,
      );
    }
    return body as FunctionDef[];
  }

  /** A round trip to the hub. */
  async ping(): Promise<void> {
    await this.request({ type: "ping" });
  }

  /**
   * Hands the hub a fresh token from `getToken` (`auth.refresh`) so the connection
   * outlives the old one's expiry; answers the new expiry. Runs by itself ahead of
   * each expiry when `getToken` is set.
   */
  async refreshToken(): Promise<string> {
    if (!this.options.getToken) throw new Error("refreshToken needs getToken");
    const token = await this.options.getToken();
    this.token = token;
    const reply = await this.request({ type: "auth.refresh", token });
    const data = reply.type === "ok" ? (reply.data as unknown as { expires_at?: string } | undefined) : undefined;
    if (!data?.expires_at) throw unexpected(reply);
    this.scheduleRefresh(Date.parse(data.expires_at));
    return data.expires_at;
  }

  // --- SubscriptionHost ------------------------------------------------------------

  /** @internal */
  async subscribeRequest(topic: string, since: Position | undefined): Promise<Subscribed> {
    const reply = await this.request({ type: "subscribe", topic, ...(since ? { since } : {}) }, false);
    if (reply.type !== "subscribed") throw unexpected(reply);
    return reply;
  }

  /** @internal */
  async unsubscribeRequest(topic: string): Promise<void> {
    await this.request({ type: "unsubscribe", topic }, false);
  }

  /** @internal */
  forget(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.topic) === subscription) this.subscriptions.delete(subscription.topic);
  }

  // --- requests ----------------------------------------------------------------------

  /**
   * Sends a request and waits for the message whose `re` is its id. With `queue`, a
   * request made while disconnected waits for the connection; without, it fails at once.
   */
  private request(body: Record<string, unknown>, queue = true): Promise<ServerMessage> {
    if (this.closed) return Promise.reject(new DraftlineError("closed", "the client was closed"));
    if (!queue && !this.connected) return Promise.reject(new DraftlineError("disconnected", "not connected"));
    const id = this.nextId++;
    return new Promise<ServerMessage>((resolve, reject) => {
      const pending: Pending = {
        id,
        frame: JSON.stringify({ ...body, id }),
        queue,
        subscribe: body["type"] === "subscribe",
        sent: false,
        timer: undefined,
        retry: undefined,
        resolve,
        reject,
      };
      const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
      pending.timer = setTimeout(() => {
        clearTimeout(pending.retry);
        this.pending.delete(id);
        const at = this.queued.indexOf(pending);
        if (at >= 0) this.queued.splice(at, 1);
        reject(new DraftlineError("timeout", `no reply to ${String(body["type"])} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, pending);
      this.queued.push(pending);
      this.flush();
    });
  }

  /** Sends what waits, unless disconnected or paused by `rate_limited`. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    const transport = this.transport;
    if (!this.connected || !transport) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      this.flushTimer = setTimeout(() => this.flush(), wait);
      return;
    }
    while (this.queued.length > 0) {
      const next = this.queued.shift();
      if (!next) break;
      next.sent = true;
      transport.send(next.frame);
    }
  }

  private settle(message: ServerMessage & { re?: unknown }): void {
    if (typeof message.re !== "number") return;
    const pending = this.pending.get(message.re);
    if (!pending) return;
    if (message.type === "error") {
      if (
        (message.code === "rate_limited" || message.code === "unavailable") &&
        typeof message.retry_after_ms === "number"
      ) {
        // The hub did not run the request (over the user's rate, the node at capacity, or
        // its event bus slow to take a subscribe): send it again once the pause is over.
        pending.sent = false;
        if (message.code === "unavailable" && pending.subscribe) {
          pending.retry = setTimeout(() => {
            this.queued.push(pending);
            this.flush();
          }, message.retry_after_ms);
          return;
        }
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + message.retry_after_ms);
        this.queued.unshift(pending);
        this.flush();
        return;
      }
      this.pending.delete(pending.id);
      clearTimeout(pending.timer);
      pending.reject(DraftlineError.fromBody(message));
      return;
    }
    this.pending.delete(pending.id);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  /** Fails requests: those already sent (their reply cannot come), and with `all` the waiting ones. */
  private failAll(error: DraftlineError, all: boolean): void {
    for (const pending of [...this.pending.values()]) {
      if (!all && !pending.sent && pending.queue) continue;
      this.pending.delete(pending.id);
      clearTimeout(pending.timer);
      clearTimeout(pending.retry);
      pending.reject(error);
    }
    if (all) this.queued.length = 0;
    else {
      const keep = this.queued.filter((p) => this.pending.has(p.id));
      this.queued.length = 0;
      this.queued.push(...keep);
    }
  }

  // --- the connection ----------------------------------------------------------------

  private async open(): Promise<void> {
    this.setState("connecting");
    this.helloError = undefined;
    this.farewell = undefined;
    const webrtc = this.options.transport === "webrtc";
    let token: string;
    try {
      // Each WebRTC connection starts with an HTTP request that the token must pass, so
      // a reconnect asks `getToken` for a fresh one; a WebSocket's `hello` learns of an
      // expired token from the hub (4001) and asks then.
      const fresh = webrtc && this.established && this.options.getToken !== undefined;
      token = (!fresh && this.token) || (await this.askToken());
    } catch (e) {
      this.stop(new DraftlineError("unauthorized", `getToken failed: ${errorText(e)}`));
      return;
    }
    if (this.closed || this.state !== "connecting") return;
    const transport: Transport = webrtc
      ? new WebRtcTransport({
          httpBase: this.httpBase(),
          fetch: this.options.fetch ?? globalThis.fetch?.bind(globalThis),
          RTCPeerConnection:
            this.options.RTCPeerConnection ??
            (globalThis as { RTCPeerConnection?: RtcPeerConnectionConstructor }).RTCPeerConnection,
          iceServers: this.options.iceServers,
        })
      : new WebSocketTransport(
          this.options.url ?? "",
          this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
        );
    this.transport = transport;
    const helloId = this.nextId++;
    this.helloId = helloId;
    transport.open(token, {
      onopen: () => {
        if (this.transport !== transport) return;
        this.touch();
        const hello: Record<string, unknown> = { type: "hello", id: helloId, token, client: this.options.client };
        if (this.sessionId) hello["session_id"] = this.sessionId;
        transport.send(JSON.stringify(hello));
      },
      onmessage: (text) => {
        if (this.transport !== transport) return;
        this.touch();
        this.receive(text);
      },
      onalive: () => {
        if (this.transport === transport) this.touch();
      },
      onclose: (close) => {
        if (this.transport === transport) this.dropped(close);
      },
    });
  }

  private receive(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case "welcome":
        if (message.re === this.helloId) this.welcomed(message);
        return;
      case "event":
        this.subscriptions.get(message.topic)?.deliver(message);
        return;
      case "error":
        if (message.re === this.helloId && !this.connected) {
          // The close that follows says what to do; keep the reason.
          this.helloError = DraftlineError.fromBody(message);
          return;
        }
        if (message.re === undefined || message.re === null) {
          const error = DraftlineError.fromBody(message);
          if (topicOf(error) === undefined) this.farewell = error;
          this.unsolicited(error);
          return;
        }
        break;
    }
    this.settle(message);
  }

  /** An error that answers no request: a subscription revoked, or news for the app. */
  private unsolicited(error: DraftlineError): void {
    const topic = topicOf(error);
    const sub = topic ? this.subscriptions.get(topic) : undefined;
    if (sub) sub.end(error);
    else this.emit("error", error);
  }

  private welcomed(welcome: Welcome): void {
    this.welcome = welcome;
    this.sessionId = welcome.session_id;
    this.established = true;
    this.attempt = 0;
    this.setState("connected");
    this.startHeartbeat(this.options.heartbeatMs ?? welcome.heartbeat_ms);
    this.emit("welcome", welcome);
    this.updateSession(welcome.session);
    for (const sub of [...this.subscriptions.values()]) sub.start();
    this.flush();
    if (this.options.getToken && this.token) this.scheduleRefresh(tokenExpiry(this.token));
    for (const waiter of this.connecting.splice(0)) waiter.resolve();
  }

  private dropped(close: TransportClose): void {
    this.detach();
    this.setState("disconnected");
    for (const sub of this.subscriptions.values()) sub.suspend();
    // What the hub said: its refusal of the offer, of `hello`, or the error it sent before
    // a close that has no code (a data channel's, docs/protocol.md section 1.3).
    const said = close.error ?? this.helloError ?? (close.code === undefined ? this.farewell : undefined);
    const code = close.code ?? (said ? closeCodeOf(said) : ABNORMAL_CLOSE);
    const how = close.code === undefined ? close.reason : `${close.code}${close.reason ? ` ${close.reason}` : ""}`;
    this.failAll(new DraftlineError("disconnected", `connection closed (${how})`), false);
    if (this.closed) return;
    if (!this.established) {
      // The first connection failed: the caller of connect() decides what to do, unless
      // the hub only said to come back later (a `hello` refused unrun at capacity,
      // docs/protocol.md section 1.2): then connect() waits and says hello again.
      if (said?.code === "unavailable" && said.retryAfterMs !== undefined && this.options.reconnect !== false) {
        this.scheduleReconnect(said.retryAfterMs);
        return;
      }
      this.stop(said ?? new DraftlineError("disconnected", `could not connect (${how})`));
      return;
    }
    if (code === UNAUTHORIZED_CLOSE) {
      if (!this.options.getToken) {
        this.stop(said ?? new DraftlineError("unauthorized", "the hub refused the token (4001)"));
        return;
      }
      this.token = undefined; // ask getToken again; it stops the client if it throws
    } else if (this.helloError?.code === "not_found") {
      // The session is gone (not the caller's to resume any more): start a new one.
      this.sessionId = undefined;
    } else if (FATAL_CLOSE.has(code)) {
      this.stop(said ?? new DraftlineError("forbidden", `the hub closed the connection (${how})`));
      return;
    }
    this.scheduleReconnect(said?.retryAfterMs ?? 0);
  }

  /** Reconnects after a full-jitter delay, and not before `atLeastMs` (a refusal's `retry_after_ms`). */
  private scheduleReconnect(atLeastMs: number): void {
    if (this.options.reconnect === false) {
      this.stop(new DraftlineError("disconnected", "connection lost"));
      return;
    }
    const min = this.options.reconnect?.minDelayMs ?? 500;
    const max = this.options.reconnect?.maxDelayMs ?? 20_000;
    // Full jitter: anywhere up to a cap that doubles with each failed attempt, so many
    // clients dropped at once by a restart do not come back at once.
    const cap = Math.min(max, min * 2 ** this.attempt);
    const delay = Math.max(min / 10, Math.random() * cap, atLeastMs);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  /** Gives up: fails every waiting request and tells the app why. */
  private stop(error: DraftlineError): void {
    this.detach();
    clearTimeout(this.refreshTimer);
    this.failAll(error, true);
    this.setState("disconnected");
    const waiters = this.connecting.splice(0);
    for (const waiter of waiters) waiter.reject(error);
    if (waiters.length === 0) this.emit("error", error);
  }

  /** Forgets the transport (its handlers are ignored from now on) and answers it. */
  private detach(): Transport | undefined {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.flushTimer);
    const transport = this.transport;
    this.transport = undefined;
    return transport;
  }

  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      const transport = this.transport;
      if (!transport) return;
      const silent = Date.now() - this.lastHeard;
      if (silent >= intervalMs * SILENT_HEARTBEATS) {
        // A dead peer never finishes the close handshake: drop it without waiting.
        this.detach()?.close(true);
        this.dropped({ code: ABNORMAL_CLOSE, reason: "hub silent" });
      } else if (silent >= intervalMs) {
        transport.send(JSON.stringify({ type: "ping", id: this.nextId++ }));
      }
    }, intervalMs);
  }

  private touch(): void {
    this.lastHeard = Date.now();
  }

  private scheduleRefresh(expiresAt: number | undefined): void {
    clearTimeout(this.refreshTimer);
    if (!expiresAt || !this.options.getToken) return;
    const left = expiresAt - Date.now();
    const delay = Math.max(0, left - Math.min(REFRESH_AHEAD_MS, left * 0.2));
    this.refreshTimer = setTimeout(() => {
      this.refreshToken().catch((e: unknown) => {
        // A hub without `auth.refresh` answers bad_request: the connection then lives
        // until the token expires (4001) and reconnects with a new one.
        if (e instanceof DraftlineError && e.code !== "bad_request") this.emit("error", e);
      });
    }, delay);
  }

  private async askToken(): Promise<string> {
    if (!this.options.getToken) throw new Error("no token");
    const token = await this.options.getToken();
    this.token = token;
    return token;
  }

  private updateSession(session: Session): void {
    this.session = session;
    this.emit("session", session);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  private httpBase(): string {
    if (this.options.httpUrl) return this.options.httpUrl.endsWith("/") ? this.options.httpUrl : `${this.options.httpUrl}/`;
    const url = new URL(this.options.url ?? "");
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.pathname = url.pathname.replace(/v1\/ws$/, "");
    url.search = "";
    return url.toString();
  }
}

function unexpected(reply: ServerMessage): DraftlineError {
  return new DraftlineError("internal", `unexpected reply: ${reply.type}`);
}

/** The topic an error names (`details.topic`: a subscription ended). */
function topicOf(error: DraftlineError): string | undefined {
  const details = error.details as { topic?: unknown } | undefined;
  return typeof details?.topic === "string" ? details.topic : undefined;
}

/**
 * The close code that goes with an error the hub sent before closing, or with its refusal
 * of an offer: the hub's own pairing (docs/protocol.md sections 1.2 and 1.3).
 */
function closeCodeOf(error: DraftlineError): number {
  switch (error.code) {
    case "unauthorized":
      return UNAUTHORIZED_CLOSE;
    case "forbidden":
      return 4003;
    case "rate_limited":
      return 4009;
    case "unavailable":
      // Refused unrun at capacity (try again later), else a fault.
      return error.retryAfterMs !== undefined ? 1013 : 1011;
    case "internal":
      return 1011;
    case "disconnected":
    case "timeout":
      return ABNORMAL_CLOSE;
    default:
      return 1008;
  }
}

/** The `exp` claim of a JWT, in milliseconds; undefined when it has none or is not a JWT. */
function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
