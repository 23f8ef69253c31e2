// The WebRTC transport (docs/protocol.md section 1.3): a peer connection with the
// `draftline` data channel, signalled WHIP-style (the whole offer after ICE gathering,
// `POST /v1/rtc/offer`, the answer, `DELETE` on its `Location` to hang up).
import { DraftlineError } from "./errors.js";
import { errorText, textOf } from "./transport.js";
/** The label of the data channel that carries the protocol. */
export const CHANNEL_LABEL = "draftline";
// Gathering host candidates takes milliseconds; STUN servers that do not answer can hold
// it for many seconds, and the candidates gathered by then are sent.
const GATHER_TIMEOUT_MS = 5_000;
// The hub drops an answered peer whose channel is not open after 15 s
// (`DRAFTLINE_RTC_OPEN_TIMEOUT_MS`); this side gives up on signalling plus opening as late.
const OPEN_TIMEOUT_MS = 15_000;
// The hub answers a hang-up once the peer is freed, normally within milliseconds; the
// peer is closed here after this long even without an answer.
const HANG_UP_WAIT_MS = 2_000;
// ICE consent checks mark a connection `disconnected` after about 5 s without answers
// and often recover; one still disconnected this much later is given up and reopened.
const DISCONNECTED_GRACE_MS = 5_000;
export class WebRtcTransport {
    options;
    handlers;
    token = "";
    pc;
    channel;
    /** The peer's address on the hub, from the answer's `Location`. */
    location;
    ended = false;
    abort = new AbortController();
    openTimer;
    disconnectedTimer;
    /** Ends the wait for ICE gathering early (on close). */
    wake;
    constructor(options) {
        this.options = options;
    }
    open(token, handlers) {
        this.token = token;
        this.handlers = handlers;
        this.openTimer = setTimeout(() => this.end({ reason: `the data channel did not open within ${OPEN_TIMEOUT_MS} ms` }), OPEN_TIMEOUT_MS);
        this.signal().catch((e) => {
            if (e instanceof DraftlineError)
                this.end({ reason: e.message, error: e });
            else
                this.end({ reason: `signalling failed: ${errorText(e)}` });
        });
    }
    send(text) {
        if (this.channel?.readyState !== "open")
            return;
        try {
            this.channel.send(text);
        }
        catch (e) {
            // A TypeError is a message over the answer's `a=max-message-size` (the hub's frame
            // limit), where the hub would close a WebSocket with 1009; anything else is a
            // channel that can no longer send.
            const tooBig = e instanceof TypeError;
            this.end({ ...(tooBig ? { code: 1009 } : {}), reason: `message not sent: ${errorText(e)}` });
        }
    }
    close() {
        this.handlers = undefined;
        this.end({ reason: "client closed" });
    }
    async signal() {
        const Ctor = this.options.RTCPeerConnection;
        if (!Ctor) {
            throw new DraftlineError("internal", "no RTCPeerConnection implementation: pass options.RTCPeerConnection");
        }
        if (!this.options.fetch)
            throw new DraftlineError("internal", "no fetch implementation: pass options.fetch");
        const iceServers = this.options.iceServers ?? (await this.iceServers());
        if (this.ended)
            return;
        const pc = new Ctor({ iceServers });
        this.pc = pc;
        // Ordered and reliable (the defaults), as the protocol needs.
        const channel = pc.createDataChannel(CHANNEL_LABEL);
        this.channel = channel;
        channel.onopen = () => {
            clearTimeout(this.openTimer);
            this.handlers?.onopen();
        };
        channel.onmessage = (event) => {
            const text = textOf(event.data);
            if (text !== undefined)
                this.handlers?.onmessage(text);
        };
        // The hub closed the channel (and so freed the peer): nothing to hang up.
        channel.onclose = () => this.end({ reason: "the data channel closed" }, false);
        pc.onconnectionstatechange = () => this.connectionState(pc.connectionState);
        await pc.setLocalDescription(await pc.createOffer());
        if (this.ended)
            return;
        await this.gathered(pc);
        const offer = pc.localDescription?.sdp;
        if (this.ended)
            return;
        if (!offer)
            throw new Error("no local description after the offer");
        const response = await this.fetch(new URL("v1/rtc/offer", this.options.httpBase), {
            method: "POST",
            headers: { "content-type": "application/sdp", authorization: `Bearer ${this.token}` },
            body: offer,
            signal: this.abort.signal,
        });
        if (response.status !== 201)
            throw await refusal(response, "POST /v1/rtc/offer");
        // Known from here on, so ending the peer from now hangs it up on the hub.
        const location = response.headers.get("location");
        if (location)
            this.location = new URL(location, this.options.httpBase).toString();
        const answer = await response.text();
        if (this.ended)
            return;
        await pc.setRemoteDescription({ type: "answer", sdp: answer });
    }
    fetch(input, init) {
        const fetchFn = this.options.fetch;
        return fetchFn ? fetchFn(input, init) : Promise.reject(new Error("no fetch"));
    }
    /** `GET /v1/rtc/config`: the ICE servers the hub hands out. */
    async iceServers() {
        const response = await this.fetch(new URL("v1/rtc/config", this.options.httpBase), {
            headers: { authorization: `Bearer ${this.token}` },
            signal: this.abort.signal,
        });
        if (!response.ok)
            throw await refusal(response, "GET /v1/rtc/config");
        const body = (await response.json());
        return body.ice_servers ?? [];
    }
    /** Waits for ICE gathering to complete (no trickle: the offer carries every candidate). */
    gathered(pc) {
        if (pc.iceGatheringState === "complete")
            return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(done, GATHER_TIMEOUT_MS);
            function done() {
                clearTimeout(timer);
                pc.onicegatheringstatechange = null;
                resolve();
            }
            this.wake = done;
            pc.onicegatheringstatechange = () => {
                if (pc.iceGatheringState === "complete")
                    done();
            };
        });
    }
    connectionState(state) {
        if (state === "failed" || state === "closed") {
            this.end({ reason: `the peer connection ${state}` });
        }
        else if (state === "disconnected") {
            this.disconnectedTimer ??= setTimeout(() => this.end({ reason: `the peer connection stayed disconnected for ${DISCONNECTED_GRACE_MS} ms` }), DISCONNECTED_GRACE_MS);
        }
        else {
            clearTimeout(this.disconnectedTimer);
            this.disconnectedTimer = undefined;
        }
    }
    /**
     * Ends the peer once and tells the client. Unless the hub ended it, the peer is hung up
     * first (WHIP-style) and closed here once the hub has answered, so the hub frees it on
     * the `DELETE` rather than on noticing the close.
     */
    end(close, hangUp = true) {
        if (this.ended)
            return;
        this.ended = true;
        clearTimeout(this.openTimer);
        clearTimeout(this.disconnectedTimer);
        this.wake?.();
        this.abort.abort();
        const { pc, channel } = this;
        if (channel) {
            channel.onopen = null;
            channel.onmessage = null;
            channel.onclose = null;
        }
        if (pc)
            pc.onconnectionstatechange = null;
        const release = () => {
            try {
                channel?.close();
                pc?.close();
            }
            catch {
                // Already closed.
            }
        };
        const location = hangUp ? this.location : undefined;
        this.location = undefined;
        if (location) {
            const bound = setTimeout(release, HANG_UP_WAIT_MS);
            void this.hangUp(location).finally(() => {
                clearTimeout(bound);
                release();
            });
        }
        else {
            release();
        }
        const handlers = this.handlers;
        this.handlers = undefined;
        handlers?.onclose(close);
    }
    /** `DELETE` on the peer's `Location`, so the hub frees it now rather than when ICE times out. */
    async hangUp(location) {
        try {
            const response = await this.fetch(location, { method: "DELETE", headers: { authorization: `Bearer ${this.token}` } });
            await response.body?.cancel();
        }
        catch {
            // The hub is unreachable: it frees the peer when ICE consent fails.
        }
    }
}
/** The hub's refusal as a `DraftlineError`: its error body (docs/protocol.md section 7), else the status's code. */
async function refusal(response, what) {
    const text = await response.text().catch(() => "");
    try {
        const body = JSON.parse(text);
        if (typeof body.code === "string" && typeof body.message === "string") {
            return DraftlineError.fromBody(body);
        }
    }
    catch {
        // Not the hub's error body (a proxy's page, say): the status says enough.
    }
    return new DraftlineError(codeOfStatus(response.status), `${what}: HTTP ${response.status}`);
}
/** The wire code of an HTTP status, as the hub pairs them (docs/protocol.md section 7). */
function codeOfStatus(status) {
    switch (status) {
        case 400:
        case 415:
            return "bad_request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 422:
            return "invalid_arguments";
        case 429:
            return "rate_limited";
        case 502:
        case 503:
        case 504:
            return "unavailable";
        default:
            return "internal";
    }
}
//# sourceMappingURL=webrtc.js.map