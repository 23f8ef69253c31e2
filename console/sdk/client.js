// The Draftline client: one connection to a hub (a WebSocket or a WebRTC data channel),
// requests matched to replies, a resumable session, subscriptions that survive
// reconnects, and live project views.
import { DraftlineError } from "./errors.js";
import { Emitter } from "./emitter.js";
import { Subscription } from "./subscription.js";
import { ProjectView } from "./watch.js";
import { errorText } from "./transport.js";
import { WebSocketTransport } from "./websocket.js";
import { WebRtcTransport } from "./webrtc.js";
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
export class DraftlineClient extends Emitter {
    state = "disconnected";
    sessionId;
    session;
    welcome;
    options;
    transport;
    helloId = 0;
    helloError;
    /** An error without `re` and without a topic: the hub's reason for the close that follows (token expired). */
    farewell;
    token;
    nextId = 1;
    pending = new Map();
    queued = [];
    subscriptions = new Map();
    /** Set by `close()`: no reconnect, every request fails. */
    closed = false;
    /** Whether a welcome ever came: only then does a lost connection reconnect by itself. */
    established = false;
    connecting = [];
    attempt = 0;
    reconnectTimer;
    heartbeatTimer;
    refreshTimer;
    flushTimer;
    lastHeard = 0;
    /** After `rate_limited`, nothing is sent before this time. */
    pausedUntil = 0;
    constructor(options) {
        super();
        if (!options.token && !options.getToken)
            throw new TypeError("DraftlineClient needs token or getToken");
        if (options.transport === "webrtc" ? !options.url && !options.httpUrl : !options.url) {
            throw new TypeError(options.transport === "webrtc" ? "DraftlineClient needs httpUrl or url" : "DraftlineClient needs url");
        }
        this.options = options;
        this.token = options.token;
        this.sessionId = options.sessionId;
    }
    get connected() {
        return this.state === "connected";
    }
    /** Opens the connection; resolves after `welcome` (then `sessionId` is set). */
    connect() {
        if (this.state === "connected")
            return Promise.resolve();
        this.closed = false;
        const done = new Promise((resolve, reject) => this.connecting.push({ resolve, reject }));
        if (this.state === "disconnected") {
            clearTimeout(this.reconnectTimer);
            void this.open();
        }
        return done;
    }
    /** Closes the connection for good: no reconnect; waiting requests fail with `closed`. */
    close() {
        this.closed = true;
        clearTimeout(this.reconnectTimer);
        clearTimeout(this.refreshTimer);
        this.detach()?.close();
        const closed = new DraftlineError("closed", "the client was closed");
        this.failAll(closed, true);
        for (const waiter of this.connecting.splice(0))
            waiter.reject(closed);
        for (const sub of [...this.subscriptions.values()])
            void sub.unsubscribe();
        this.setState("disconnected");
    }
    /** Changes the session's mode, project or auto-accept; answers the session. */
    async configure(options) {
        const reply = await this.request({ type: "session.configure", ...options });
        const data = reply.type === "ok" ? reply.data : undefined;
        if (!data || !("session" in data))
            throw unexpected(reply);
        this.updateSession(data.session);
        return data.session;
    }
    /**
     * Calls a tool; answers its output, or rejects with `DraftlineError` carrying the
     * server's code (`invalid_arguments`, `tool_not_allowed`, `not_found`, ...).
     */
    async callTool(name, args, options) {
        return (await this.callToolRaw(name, args, options?.callId));
    }
    /**
     * Calls a tool by a name and arguments not known in advance (an object, or the JSON
     * text a realtime model emits), as bridges do.
     */
    async callToolRaw(name, args, callId) {
        const call_id = callId ?? `c${this.nextId}`;
        const reply = await this.request({ type: "tool.call", call_id, name, arguments: args });
        if (reply.type !== "tool.result")
            throw unexpected(reply);
        if (reply.ok)
            return reply.output;
        throw DraftlineError.fromBody(reply.error);
    }
    /** Subscribes to `project:{id}` or `session:{id}`. One subscription per topic. */
    subscribe(topic, options = {}) {
        if (this.subscriptions.has(topic))
            throw new Error(`already subscribed to ${topic}; unsubscribe first`);
        const sub = new Subscription(this, topic, options);
        this.subscriptions.set(topic, sub);
        sub.start();
        return sub;
    }
    /** The project's state from a snapshot, kept current by its events. */
    watchProject(projectId, options = {}) {
        return new ProjectView(this, projectId, options);
    }
    /** The project's state, read after its topic's `position`. */
    async snapshot(projectId) {
        const reply = await this.request({ type: "snapshot", project_id: projectId });
        if (reply.type !== "snapshot")
            throw unexpected(reply);
        const { type: _type, re: _re, ...snapshot } = reply;
        return snapshot;
    }
    /** Approves or rejects pending operations; `edits` are JSON merge patches over their data. */
    async decide(operationIds, decision, edits) {
        const reply = await this.request({
            type: "operation.decide",
            operation_ids: operationIds,
            decision,
            ...(edits ? { edits } : {}),
        });
        const data = reply.type === "ok" ? reply.data : undefined;
        if (!data || !("batch_id" in data))
            throw unexpected(reply);
        return data;
    }
    /** Appends transcript items to the session; items already sent (same `item_id`) are skipped. */
    async appendTranscript(items) {
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
        if (!data || !("appended" in data))
            throw unexpected(reply);
        return { appended: data.appended };
    }
    /** Sends a chat message to the project; the reply streams as `chat.delta` then `chat.message`. */
    async sendChat(projectId, text) {
        const reply = await this.request({ type: "chat.send", project_id: projectId, text });
        const data = reply.type === "ok" ? reply.data : undefined;
        if (!data || !("message_id" in data))
            throw unexpected(reply);
        return data;
    }
    /** The tools of `mode` as OpenAI Realtime function definitions (`GET /v1/tools`). */
    async tools(mode) {
        const fetchFn = this.options.fetch ?? globalThis.fetch;
        const url = new URL("v1/tools", this.httpBase());
        if (mode)
            url.searchParams.set("mode", mode);
        const response = await fetchFn(url);
        const body = await response.json();
        if (!response.ok) {
            const error = body;
            throw new DraftlineError(error.code ?? "internal", error.message ?? `GET ${url.pathname}: ${response.status}`);
        }
        return body;
    }
    /** A round trip to the hub. */
    async ping() {
        await this.request({ type: "ping" });
    }
    /**
     * Hands the hub a fresh token from `getToken` (`auth.refresh`) so the connection
     * outlives the old one's expiry; answers the new expiry. Runs by itself ahead of
     * each expiry when `getToken` is set.
     */
    async refreshToken() {
        if (!this.options.getToken)
            throw new Error("refreshToken needs getToken");
        const token = await this.options.getToken();
        this.token = token;
        const reply = await this.request({ type: "auth.refresh", token });
        const data = reply.type === "ok" ? reply.data : undefined;
        if (!data?.expires_at)
            throw unexpected(reply);
        this.scheduleRefresh(Date.parse(data.expires_at));
        return data.expires_at;
    }
    // --- SubscriptionHost ------------------------------------------------------------
    /** @internal */
    async subscribeRequest(topic, since) {
        const reply = await this.request({ type: "subscribe", topic, ...(since ? { since } : {}) }, false);
        if (reply.type !== "subscribed")
            throw unexpected(reply);
        return reply;
    }
    /** @internal */
    async unsubscribeRequest(topic) {
        await this.request({ type: "unsubscribe", topic }, false);
    }
    /** @internal */
    forget(subscription) {
        if (this.subscriptions.get(subscription.topic) === subscription)
            this.subscriptions.delete(subscription.topic);
    }
    // --- requests ----------------------------------------------------------------------
    /**
     * Sends a request and waits for the message whose `re` is its id. With `queue`, a
     * request made while disconnected waits for the connection; without, it fails at once.
     */
    request(body, queue = true) {
        if (this.closed)
            return Promise.reject(new DraftlineError("closed", "the client was closed"));
        if (!queue && !this.connected)
            return Promise.reject(new DraftlineError("disconnected", "not connected"));
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            const pending = {
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
                if (at >= 0)
                    this.queued.splice(at, 1);
                reject(new DraftlineError("timeout", `no reply to ${String(body["type"])} within ${timeoutMs} ms`));
            }, timeoutMs);
            this.pending.set(id, pending);
            this.queued.push(pending);
            this.flush();
        });
    }
    /** Sends what waits, unless disconnected or paused by `rate_limited`. */
    flush() {
        clearTimeout(this.flushTimer);
        const transport = this.transport;
        if (!this.connected || !transport)
            return;
        const wait = this.pausedUntil - Date.now();
        if (wait > 0) {
            this.flushTimer = setTimeout(() => this.flush(), wait);
            return;
        }
        while (this.queued.length > 0) {
            const next = this.queued.shift();
            if (!next)
                break;
            next.sent = true;
            transport.send(next.frame);
        }
    }
    settle(message) {
        if (typeof message.re !== "number")
            return;
        const pending = this.pending.get(message.re);
        if (!pending)
            return;
        if (message.type === "error") {
            if ((message.code === "rate_limited" || message.code === "unavailable") &&
                typeof message.retry_after_ms === "number") {
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
    failAll(error, all) {
        for (const pending of [...this.pending.values()]) {
            if (!all && !pending.sent && pending.queue)
                continue;
            this.pending.delete(pending.id);
            clearTimeout(pending.timer);
            clearTimeout(pending.retry);
            pending.reject(error);
        }
        if (all)
            this.queued.length = 0;
        else {
            const keep = this.queued.filter((p) => this.pending.has(p.id));
            this.queued.length = 0;
            this.queued.push(...keep);
        }
    }
    // --- the connection ----------------------------------------------------------------
    async open() {
        this.setState("connecting");
        this.helloError = undefined;
        this.farewell = undefined;
        const webrtc = this.options.transport === "webrtc";
        let token;
        try {
            // Each WebRTC connection starts with an HTTP request that the token must pass, so
            // a reconnect asks `getToken` for a fresh one; a WebSocket's `hello` learns of an
            // expired token from the hub (4001) and asks then.
            const fresh = webrtc && this.established && this.options.getToken !== undefined;
            token = (!fresh && this.token) || (await this.askToken());
        }
        catch (e) {
            this.stop(new DraftlineError("unauthorized", `getToken failed: ${errorText(e)}`));
            return;
        }
        if (this.closed || this.state !== "connecting")
            return;
        const transport = webrtc
            ? new WebRtcTransport({
                httpBase: this.httpBase(),
                fetch: this.options.fetch ?? globalThis.fetch?.bind(globalThis),
                RTCPeerConnection: this.options.RTCPeerConnection ??
                    globalThis.RTCPeerConnection,
                iceServers: this.options.iceServers,
            })
            : new WebSocketTransport(this.options.url ?? "", this.options.WebSocket ?? globalThis.WebSocket);
        this.transport = transport;
        const helloId = this.nextId++;
        this.helloId = helloId;
        transport.open(token, {
            onopen: () => {
                if (this.transport !== transport)
                    return;
                this.touch();
                const hello = { type: "hello", id: helloId, token, client: this.options.client };
                if (this.sessionId)
                    hello["session_id"] = this.sessionId;
                transport.send(JSON.stringify(hello));
            },
            onmessage: (text) => {
                if (this.transport !== transport)
                    return;
                this.touch();
                this.receive(text);
            },
            onalive: () => {
                if (this.transport === transport)
                    this.touch();
            },
            onclose: (close) => {
                if (this.transport === transport)
                    this.dropped(close);
            },
        });
    }
    receive(text) {
        let message;
        try {
            message = JSON.parse(text);
        }
        catch {
            return;
        }
        switch (message.type) {
            case "welcome":
                if (message.re === this.helloId)
                    this.welcomed(message);
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
                    if (topicOf(error) === undefined)
                        this.farewell = error;
                    this.unsolicited(error);
                    return;
                }
                break;
        }
        this.settle(message);
    }
    /** An error that answers no request: a subscription revoked, or news for the app. */
    unsolicited(error) {
        const topic = topicOf(error);
        const sub = topic ? this.subscriptions.get(topic) : undefined;
        if (sub)
            sub.end(error);
        else
            this.emit("error", error);
    }
    welcomed(welcome) {
        this.welcome = welcome;
        this.sessionId = welcome.session_id;
        this.established = true;
        this.attempt = 0;
        this.setState("connected");
        this.startHeartbeat(this.options.heartbeatMs ?? welcome.heartbeat_ms);
        this.emit("welcome", welcome);
        this.updateSession(welcome.session);
        for (const sub of [...this.subscriptions.values()])
            sub.start();
        this.flush();
        if (this.options.getToken && this.token)
            this.scheduleRefresh(tokenExpiry(this.token));
        for (const waiter of this.connecting.splice(0))
            waiter.resolve();
    }
    dropped(close) {
        this.detach();
        this.setState("disconnected");
        for (const sub of this.subscriptions.values())
            sub.suspend();
        // What the hub said: its refusal of the offer, of `hello`, or the error it sent before
        // a close that has no code (a data channel's, docs/protocol.md section 1.3).
        const said = close.error ?? this.helloError ?? (close.code === undefined ? this.farewell : undefined);
        const code = close.code ?? (said ? closeCodeOf(said) : ABNORMAL_CLOSE);
        const how = close.code === undefined ? close.reason : `${close.code}${close.reason ? ` ${close.reason}` : ""}`;
        this.failAll(new DraftlineError("disconnected", `connection closed (${how})`), false);
        if (this.closed)
            return;
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
        }
        else if (this.helloError?.code === "not_found") {
            // The session is gone (not the caller's to resume any more): start a new one.
            this.sessionId = undefined;
        }
        else if (FATAL_CLOSE.has(code)) {
            this.stop(said ?? new DraftlineError("forbidden", `the hub closed the connection (${how})`));
            return;
        }
        this.scheduleReconnect(said?.retryAfterMs ?? 0);
    }
    /** Reconnects after a full-jitter delay, and not before `atLeastMs` (a refusal's `retry_after_ms`). */
    scheduleReconnect(atLeastMs) {
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
    stop(error) {
        this.detach();
        clearTimeout(this.refreshTimer);
        this.failAll(error, true);
        this.setState("disconnected");
        const waiters = this.connecting.splice(0);
        for (const waiter of waiters)
            waiter.reject(error);
        if (waiters.length === 0)
            this.emit("error", error);
    }
    /** Forgets the transport (its handlers are ignored from now on) and answers it. */
    detach() {
        clearInterval(this.heartbeatTimer);
        clearTimeout(this.flushTimer);
        const transport = this.transport;
        this.transport = undefined;
        return transport;
    }
    startHeartbeat(intervalMs) {
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => {
            const transport = this.transport;
            if (!transport)
                return;
            const silent = Date.now() - this.lastHeard;
            if (silent >= intervalMs * SILENT_HEARTBEATS) {
                // A dead peer never finishes the close handshake: drop it without waiting.
                this.detach()?.close(true);
                this.dropped({ code: ABNORMAL_CLOSE, reason: "hub silent" });
            }
            else if (silent >= intervalMs) {
                transport.send(JSON.stringify({ type: "ping", id: this.nextId++ }));
            }
        }, intervalMs);
    }
    touch() {
        this.lastHeard = Date.now();
    }
    scheduleRefresh(expiresAt) {
        clearTimeout(this.refreshTimer);
        if (!expiresAt || !this.options.getToken)
            return;
        const left = expiresAt - Date.now();
        const delay = Math.max(0, left - Math.min(REFRESH_AHEAD_MS, left * 0.2));
        this.refreshTimer = setTimeout(() => {
            this.refreshToken().catch((e) => {
                // A hub without `auth.refresh` answers bad_request: the connection then lives
                // until the token expires (4001) and reconnects with a new one.
                if (e instanceof DraftlineError && e.code !== "bad_request")
                    this.emit("error", e);
            });
        }, delay);
    }
    async askToken() {
        if (!this.options.getToken)
            throw new Error("no token");
        const token = await this.options.getToken();
        this.token = token;
        return token;
    }
    updateSession(session) {
        this.session = session;
        this.emit("session", session);
    }
    setState(state) {
        if (this.state === state)
            return;
        this.state = state;
        this.emit("state", state);
    }
    httpBase() {
        if (this.options.httpUrl)
            return this.options.httpUrl.endsWith("/") ? this.options.httpUrl : `${this.options.httpUrl}/`;
        const url = new URL(this.options.url ?? "");
        url.protocol = url.protocol === "wss:" ? "https:" : "http:";
        url.pathname = url.pathname.replace(/v1\/ws$/, "");
        url.search = "";
        return url.toString();
    }
}
function unexpected(reply) {
    return new DraftlineError("internal", `unexpected reply: ${reply.type}`);
}
/** The topic an error names (`details.topic`: a subscription ended). */
function topicOf(error) {
    const details = error.details;
    return typeof details?.topic === "string" ? details.topic : undefined;
}
/**
 * The close code that goes with an error the hub sent before closing, or with its refusal
 * of an offer: the hub's own pairing (docs/protocol.md sections 1.2 and 1.3).
 */
function closeCodeOf(error) {
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
function tokenExpiry(token) {
    const payload = token.split(".")[1];
    if (!payload)
        return undefined;
    try {
        const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
        const exp = JSON.parse(json).exp;
        return typeof exp === "number" ? exp * 1000 : undefined;
    }
    catch {
        return undefined;
    }
}
//# sourceMappingURL=client.js.map