// The WebRTC transport (docs/protocol.md section 1.3): a peer connection with the
// `draftline` data channel, signalled WHIP-style (the whole offer after ICE gathering,
// `POST /v1/rtc/offer`, the answer, `DELETE` on its `Location` to hang up).

import type { ErrorBody, ErrorCode } from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";
import { errorText, textOf, type Transport, type TransportClose, type TransportHandlers } from "./transport.js";

/** The label of the data channel that carries the protocol. */
export const CHANNEL_LABEL = "draftline";

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
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
}

/** What the client uses of a peer connection: the browser's `RTCPeerConnection`, or a polyfill's. */
export interface RtcPeerConnectionLike {
  readonly connectionState: string;
  readonly iceGatheringState: string;
  readonly localDescription: { sdp: string } | null;
  createDataChannel(label: string): RtcDataChannelLike;
  createOffer(): Promise<unknown>;
  setLocalDescription(description: unknown): Promise<void>;
  setRemoteDescription(description: { type: "answer"; sdp: string }): Promise<void>;
  close(): void;
  onconnectionstatechange: ((event: unknown) => void) | null;
  onicegatheringstatechange: ((event: unknown) => void) | null;
}

/** An `RTCPeerConnection` class: `globalThis.RTCPeerConnection` in browsers. */
export type RtcPeerConnectionConstructor = new (configuration: { iceServers: IceServer[] }) => unknown;

export interface WebRtcTransportOptions {
  /** The hub's HTTP base, ending with `/`. */
  httpBase: string;
  fetch: typeof fetch | undefined;
  RTCPeerConnection: RtcPeerConnectionConstructor | undefined;
  /** Used as given; else asked of `GET /v1/rtc/config`. */
  iceServers: IceServer[] | undefined;
}

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

export class WebRtcTransport implements Transport {
  private readonly options: WebRtcTransportOptions;
  private handlers: TransportHandlers | undefined;
  private token = "";
  private pc: RtcPeerConnectionLike | undefined;
  private channel: RtcDataChannelLike | undefined;
  /** The peer's address on the hub, from the answer's `Location`. */
  private location: string | undefined;
  private ended = false;
  private readonly abort = new AbortController();
  private openTimer: ReturnType<typeof setTimeout> | undefined;
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the wait for ICE gathering early (on close). */
  private wake: (() => void) | undefined;

  constructor(options: WebRtcTransportOptions) {
    this.options = options;
  }

  open(token: string, handlers: TransportHandlers): void {
    this.token = token;
    this.handlers = handlers;
    this.openTimer = setTimeout(() => this.end({ reason: `the data channel did not open within ${OPEN_TIMEOUT_MS} ms` }), OPEN_TIMEOUT_MS);
    this.signal().catch((e: unknown) => {
      if (e instanceof DraftlineError) this.end({ reason: e.message, error: e });
      else this.end({ reason: `signalling failed: ${errorText(e)}` });
    });
  }

  send(text: string): void {
    if (this.channel?.readyState !== "open") return;
    try {
      this.channel.send(text);
    } catch (e) {
      // A TypeError is a message over the answer's `a=max-message-size` (the hub's frame
      // limit), where the hub would close a WebSocket with 1009; anything else is a
      // channel that can no longer send.
      const tooBig = e instanceof TypeError;
      this.end({ ...(tooBig ? { code: 1009 } : {}), reason: `message not sent: ${errorText(e)}` });
    }
  }

  close(): void {
    this.handlers = undefined;
    this.end({ reason: "client closed" });
  }

  private async signal(): Promise<void> {
    const Ctor = this.options.RTCPeerConnection;
    if (!Ctor) {
      throw new DraftlineError("internal", "no RTCPeerConnection implementation: pass options.RTCPeerConnection");
    }
    if (!this.options.fetch) throw new DraftlineError("internal", "no fetch implementation: pass options.fetch");
    const iceServers = this.options.iceServers ?? (await this.iceServers());
    if (this.ended) return;
    const pc = new Ctor({ iceServers }) as RtcPeerConnectionLike;
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
      if (text !== undefined) this.handlers?.onmessage(text);
    };
    // The hub closed the channel (and so freed the peer): nothing to hang up.
    channel.onclose = () => this.end({ reason: "the data channel closed" }, false);
    pc.onconnectionstatechange = () => this.connectionState(pc.connectionState);
    await pc.setLocalDescription(await pc.createOffer());
    if (this.ended) return;
    await this.gathered(pc);
    const offer = pc.localDescription?.sdp;
    if (this.ended) return;
    if (!offer) throw new Error("no local description after the offer");
    const response = await this.fetch(new URL("v1/rtc/offer", this.options.httpBase), {
      method: "POST",
      headers: { "content-type": "application/sdp", authorization: `Bearer ${this.token}` },
      body: offer,
      signal: this.abort.signal,
    });
    if (response.status !== 201) throw await refusal(response, "POST /v1/rtc/offer");
    // Known from here on, so ending the peer from now hangs it up on the hub.
    const location = response.headers.get("location");
    if (location) this.location = new URL(location, this.options.httpBase).toString();
    const answer = await response.text();
    if (this.ended) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  private fetch(input: URL | string, init: RequestInit): Promise<Response> {
    const fetchFn = this.options.fetch;
    return fetchFn ? fetchFn(input, init) : Promise.reject(new Error("no fetch"));
  }

  /** `GET /v1/rtc/config`: the ICE servers the hub hands out. */
  private async iceServers(): Promise<IceServer[]> {
    const response = await this.fetch(new URL("v1/rtc/config", this.options.httpBase), {
      headers: { authorization: `Bearer ${this.token}` },
      signal: this.abort.signal,
    });
    if (!response.ok) throw await refusal(response, "GET /v1/rtc/config");
    const body = (await response.json()) as { ice_servers?: IceServer[] };
    return body.ice_servers ?? [];
  }

  /** Waits for ICE gathering to complete (no trickle: the offer carries every candidate). */
  private gathered(pc: RtcPeerConnectionLike): Promise<void> {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      function done(): void {
        clearTimeout(timer);
        pc.onicegatheringstatechange = null;
        resolve();
      }
      this.wake = done;
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === "complete") done();
      };
    });
  }

  private connectionState(state: string): void {
    if (state === "failed" || state === "closed") {
      this.end({ reason: `the peer connection ${state}` });
    } else if (state === "disconnected") {
      this.disconnectedTimer ??= setTimeout(
        () => this.end({ reason: `the peer connection stayed disconnected for ${DISCONNECTED_GRACE_MS} ms` }),
        DISCONNECTED_GRACE_MS,
      );
    } else {
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
    }
  }

  /**
   * Ends the peer once and tells the client. Unless the hub ended it, the peer is hung up
   * first (WHIP-style) and closed here once the hub has answered, so the hub frees it on
   * the `DELETE` rather than on noticing the close.
   */
  private end(close: TransportClose, hangUp = true): void {
    if (this.ended) return;
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
    if (pc) pc.onconnectionstatechange = null;
    const release = () => {
      try {
        channel?.close();
        pc?.close();
      } catch {
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
    } else {
      release();
    }
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers?.onclose(close);
  }

  /** `DELETE` on the peer's `Location`, so the hub frees it now rather than when ICE times out. */
  private async hangUp(location: string): Promise<void> {
    try {
      const response = await this.fetch(location, { method: "DELETE", headers: { authorization: `Bearer ${this.token}` } });
      await response.body?.cancel();
    } catch {
      // The hub is unreachable: it frees the peer when ICE consent fails.
    }
  }
}

/** The hub's refusal as a `DraftlineError`: its error body (docs/protocol.md section 7), else the status's code. */
async function refusal(response: Response, what: string): Promise<DraftlineError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.code === "string" && typeof body.message === "string") {
      return DraftlineError.fromBody(body as ErrorBody);
    }
  } catch {
    // Not the hub's error body (a proxy's page, say): the status says enough.
  }
  return new DraftlineError(codeOfStatus(response.status), `${what}: HTTP ${response.status}`);
}

/** The wire code of an HTTP status, as the hub pairs them (docs/protocol.md section 7). */
function codeOfStatus(status: number): ErrorCode {
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
