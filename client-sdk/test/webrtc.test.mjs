// The WebRTC transport's signalling against a real hub, without WebRTC: Node has no
// RTCPeerConnection, so a stand-in offers what Chromium offers (an SDP Chromium made, its
// candidate moved to 127.0.0.1) and never connects. What is checked is real: the hub's
// refusals mapped to the client's errors, the ICE servers of `GET /v1/rtc/config`, the
// offer answered and hung up on `close()`, and the per-user peer limit. The data channel
// itself is exercised in Chromium (browser-tests/tests/webrtc.test.mjs).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DraftlineClient, DraftlineError } from "../dist/index.js";
import { closeClients, startHub, track, waitFor } from "./hub.mjs";

const CHROMIUM_OFFER = [
  "v=0",
  "o=- 7348367180720587903 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0",
  "a=extmap-allow-mixed",
  "a=msid-semantic: WMS",
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
  "c=IN IP4 127.0.0.1",
  "a=candidate:789749166 1 udp 2113937151 127.0.0.1 9 typ host generation 0 network-cost 999",
  "a=ice-ufrag:Xh0t",
  "a=ice-pwd:i9lg5stqDrWEC7ZlkV//XKsu",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 E4:35:3D:28:26:FD:A7:E8:94:F2:71:C2:7F:40:69:8D:8E:49:2A:FA:52:6D:BF:F7:64:1C:E2:1A:26:9D:99:5A",
  "a=setup:actpass",
  "a=mid:0",
  "a=sctp-port:5000",
  "a=max-message-size:262144",
  "",
].join("\r\n");

const AUDIO_ONLY_OFFER = [
  "v=0",
  "o=- 1 1 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 127.0.0.1",
  "a=rtpmap:111 opus/48000/2",
  "",
].join("\r\n");

/** A peer connection that offers `sdp`, completes gathering at once and never connects. */
function fakePeerConnection(sdp) {
  const made = [];
  class FakePeerConnection {
    constructor(configuration) {
      this.configuration = configuration;
      this.connectionState = "new";
      this.iceGatheringState = "new";
      this.localDescription = null;
      this.remoteDescription = null;
      this.onconnectionstatechange = null;
      this.onicegatheringstatechange = null;
      this.channels = [];
      made.push(this);
    }
    createDataChannel(label) {
      const channel = { label, readyState: "connecting", onopen: null, onmessage: null, onclose: null };
      channel.send = () => {
        throw new Error("not open");
      };
      channel.close = () => (channel.readyState = "closed");
      this.channels.push(channel);
      return channel;
    }
    async createOffer() {
      return { type: "offer", sdp };
    }
    async setLocalDescription(description) {
      this.localDescription = description;
      this.iceGatheringState = "gathering";
      setTimeout(() => {
        this.iceGatheringState = "complete";
        this.onicegatheringstatechange?.();
      }, 5);
    }
    async setRemoteDescription(description) {
      this.remoteDescription = description;
    }
    close() {
      this.connectionState = "closed";
    }
  }
  return { FakePeerConnection, made };
}

/** `fetch` that records each request's method, path and status. */
function recordingFetch() {
  const requests = [];
  const recorded = async (input, init = {}) => {
    const entry = { method: init.method ?? "GET", path: new URL(String(input)).pathname, headers: init.headers };
    requests.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    return response;
  };
  return { fetch: recorded, requests };
}

describe("WebRTC signalling against a hub", { timeout: 120_000 }, () => {
  let hub;
  before(async () => {
    hub = await startHub({ DRAFTLINE_RTC_ICE_SERVERS: "stun:127.0.0.1:3478", DRAFTLINE_MAX_CONNECTIONS_PER_USER: "1" });
  });
  after(async () => {
    closeClients();
    await hub?.dispose();
  });

  function rtcClient(token, sdp = CHROMIUM_OFFER, options = {}) {
    const { FakePeerConnection, made } = fakePeerConnection(sdp);
    const { fetch, requests } = recordingFetch();
    const c = track(
      new DraftlineClient({
        transport: "webrtc",
        httpUrl: hub.httpUrl,
        token,
        client: { name: "rtc-test", version: "1" },
        RTCPeerConnection: FakePeerConnection,
        fetch,
        reconnect: { minDelayMs: 50, maxDelayMs: 400 },
        ...options,
      }),
    );
    return { c, made, requests };
  }

  it("rejects connect with unauthorized when the hub refuses the token, and does not retry", async () => {
    const asked = rtcClient("not-a-token");
    await assert.rejects(asked.c.connect(), (e) => e instanceof DraftlineError && e.code === "unauthorized");
    assert.deepEqual(asked.requests.map((r) => [r.method, r.path, r.status]), [["GET", "/v1/rtc/config", 401]]);
    assert.equal(asked.made.length, 0, "no peer before the ICE servers are known");

    const given = rtcClient("not-a-token", CHROMIUM_OFFER, { iceServers: [] });
    await assert.rejects(given.c.connect(), (e) => e instanceof DraftlineError && e.code === "unauthorized");
    assert.deepEqual(given.requests.map((r) => [r.method, r.path, r.status]), [["POST", "/v1/rtc/offer", 401]]);
    assert.equal(given.made[0].connectionState, "closed", "the refused peer is closed");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(given.requests.length, 1, "no retry");
    assert.equal(given.c.state, "disconnected");
  });

  it("rejects connect with invalid_arguments when the offer has no data channel", async () => {
    const { c, requests } = rtcClient(await hub.token("ann"), AUDIO_ONLY_OFFER);
    await assert.rejects(c.connect(), (e) => e.code === "invalid_arguments" && /data channel/.test(e.message));
    assert.deepEqual(requests.map((r) => [r.method, r.path, r.status]), [
      ["GET", "/v1/rtc/config", 200],
      ["POST", "/v1/rtc/offer", 422],
    ]);
  });

  it("offers with the hub's ICE servers, applies the answer, hangs up on close; a second peer is refused", async () => {
    const token = await hub.token("bea");
    const first = rtcClient(token);
    const connecting = first.c.connect();
    await waitFor(() => first.made[0]?.remoteDescription, 10_000, "the answer");
    const pc = first.made[0];
    assert.deepEqual(pc.configuration, { iceServers: [{ urls: ["stun:127.0.0.1:3478"] }] });
    assert.deepEqual(pc.channels.map((ch) => ch.label), ["draftline"]);
    const offer = first.requests.find((r) => r.method === "POST");
    assert.equal(offer.status, 201);
    assert.equal(offer.headers.authorization, `Bearer ${token}`);
    assert.equal(offer.headers["content-type"], "application/sdp");
    assert.equal(pc.remoteDescription.type, "answer");
    const answered = pc.remoteDescription.sdp.split("\r\n").filter((l) => l.startsWith("a=candidate"));
    assert.ok(answered.length > 0 && answered.every((l) => l.split(" ")[4] === "127.0.0.1"), pc.remoteDescription.sdp);

    // The user's one connection is held by the answered peer (DRAFTLINE_MAX_CONNECTIONS_PER_USER=1).
    const second = rtcClient(token);
    await assert.rejects(second.c.connect(), (e) => e.code === "rate_limited");

    first.c.close();
    await assert.rejects(connecting, (e) => e.code === "closed");
    await waitFor(() => first.requests.some((r) => r.method === "DELETE" && r.status !== undefined), 10_000, "the hang-up");
    const hangUp = first.requests.find((r) => r.method === "DELETE");
    assert.match(hangUp.path, /^\/v1\/rtc\/sessions\/[0-9a-f-]{36}$/);
    assert.equal(hangUp.status, 204);
    // Closed here once the hub has answered the hang-up.
    await waitFor(() => pc.connectionState === "closed", 5_000, "the peer closed");

    // The peer is freed: the user may offer again.
    const third = rtcClient(token);
    const again = third.c.connect();
    await waitFor(() => third.made[0]?.remoteDescription, 10_000, "an answer after the hang-up");
    third.c.close();
    await assert.rejects(again, (e) => e.code === "closed");
  });
});
