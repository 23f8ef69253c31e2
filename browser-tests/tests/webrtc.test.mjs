// The SDK over a WebRTC data channel in Chromium against a real hub: signalling with
// loopback candidates only, tool calls, an event caused by a WebSocket client from Node,
// and a hang-up from the hub's side that the page rides out, reconnecting over WebRTC
// and recovering its subscription without missing the event published meanwhile.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { client, launchBrowser, startHub, waitFor } from "../harness.js";

/** The `a=candidate` lines of an SDP. */
function candidates(sdp) {
  return sdp.split("\r\n").filter((line) => line.startsWith("a=candidate"));
}

/**
 * The offer as a client bound to 127.0.0.1 would make it (the hub's own tests bind theirs
 * so). Chromium offers host candidates of every interface but never of loopback; without
 * them the hub learns the page's 127.0.0.1 from its connectivity checks, as it does for
 * Chromium's usual `.local` candidates (docs/protocol.md section 1.3).
 */
function loopbackOnly(sdp) {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate") || line.includes(" 127.0.0.1 "))
    .map((line) => (line.startsWith("c=IN IP4 ") ? "c=IN IP4 127.0.0.1" : line))
    .filter((line) => !line.startsWith("c=IN IP6 "))
    .join("\r\n");
}

/** `DELETE` on a peer's `Location`, as its user. */
function hangUp(hub, location, token) {
  return fetch(new URL(location, hub.httpUrl), { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
}

/**
 * A page of the test's own on the hub's origin (it loads the SDK the console serves, and
 * signalling is same-origin) with a client of `transport: "webrtc"` connected. Every
 * offer passes through `exchanges`: the page's candidates are cut to loopback, the
 * answer is recorded, and while `gate.hold` is set the next offer waits for it;
 * `signalling` lists every signalling request as "METHOD path status". Tokens come from
 * `getToken` on the Node side; with `once`, the first is the client's only token.
 */
async function openPage(browser, hub, getToken, { once = false } = {}) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.route(`${hub.httpUrl}webrtc-test`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>webrtc</title>" }),
  );
  const exchanges = [];
  const signalling = [];
  page.on("response", (response) => {
    const path = new URL(response.url()).pathname.replace(/[0-9a-f-]{36}$/, "{id}");
    if (path.startsWith("/v1/rtc/")) signalling.push(`${response.request().method()} ${path} ${response.status()}`);
  });
  const gate = { hold: undefined };
  await page.route(`${hub.httpUrl}v1/rtc/offer`, async (route) => {
    const offer = loopbackOnly(route.request().postData() ?? "");
    await gate.hold;
    const response = await route.fetch({ postData: offer });
    const answer = await response.text();
    exchanges.push({ offer, answer, status: response.status(), location: response.headers()["location"] });
    await route.fulfill({ response, body: answer });
  });
  await page.exposeFunction("draftlineToken", getToken);
  await page.goto(`${hub.httpUrl}webrtc-test`);
  await page.evaluate(async ({ httpUrl, once }) => {
    const { DraftlineClient } = await import("/console/sdk/index.js");
    const peers = [];
    // The browser's own class, recorded so the test can read the selected candidates.
    class RecordedPeerConnection extends RTCPeerConnection {
      constructor(configuration) {
        super(configuration);
        peers.push(this);
      }
    }
    const c = new DraftlineClient({
      transport: "webrtc",
      httpUrl,
      ...(once ? { token: await window.draftlineToken() } : { getToken: () => window.draftlineToken() }),
      client: { name: "browser-webrtc", version: "1" },
      RTCPeerConnection: RecordedPeerConnection,
      reconnect: { minDelayMs: 50, maxDelayMs: 400 },
      requestTimeoutMs: 10_000,
    });
    const states = [];
    const errors = [];
    c.on("state", (s) => states.push(s));
    c.on("error", (e) => errors.push({ code: e.code, message: e.message }));
    window.rtc = { c, peers, states, errors, events: [] };
    await c.connect();
  }, { httpUrl: hub.httpUrl, once });
  return { page, errors, exchanges, signalling, gate };
}

describe("the SDK over WebRTC", () => {
  /** @type {import("playwright-core").Browser} */
  let browser;
  let hub;
  before(async () => {
    // Peers bind and announce 127.0.0.1 only (the default, said here so the test does not
    // depend on it; no DRAFTLINE_RTC_PUBLIC_IPS). Two connections per user, so that two
    // answered peers hold a user's place.
    hub = await startHub({ DRAFTLINE_RTC_UDP_BIND: "127.0.0.1", DRAFTLINE_MAX_CONNECTIONS_PER_USER: "2" });
    browser = await launchBrowser(["--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"]);
  });
  after(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  test("calls tools, receives events, and recovers its subscription after a hang-up", async () => {
    const token = await hub.token("ann");
    const { page, errors, exchanges, gate } = await openPage(browser, hub, () => token);
    assert.equal(exchanges.length, 1);
    assert.equal(exchanges[0].status, 201);
    assert.match(exchanges[0].location, /^\/v1\/rtc\/sessions\/[0-9a-f-]{36}$/);

    // Tool calls over the data channel.
    const { projectId, sessionId, listed } = await page.evaluate(async () => {
      const { c, events } = window.rtc;
      const { project } = await c.callTool("create_project", { name: "Over WebRTC" });
      await c.callTool("assign_project_to_session", { project_id: project.id });
      await c.configure({ mode: "update" });
      await c.callTool("create_note", { body: "Written from the browser" });
      await c.configure({ mode: "audit" });
      const listed = await c.callTool("list_notes", {});
      const sub = c.subscribe(`project:${project.id}`, {
        onEvent: (event, position) => events.push({ kind: event.kind, offset: position.offset, body: event.note?.body }),
      });
      window.rtc.sub = sub;
      while (sub.state !== "subscribed") await new Promise((r) => setTimeout(r, 20));
      return { projectId: project.id, sessionId: c.sessionId, listed };
    });
    assert.deepEqual(listed.notes.map((n) => n.body), ["Written from the browser"]);

    // A change made by a WebSocket client reaches the page as an event.
    const ws = await client(hub, "ann");
    await ws.callTool("assign_project_to_session", { project_id: projectId });
    await ws.configure({ mode: "update" });
    await ws.callTool("create_note", { body: "Written over a WebSocket" });
    const bodies = () => page.evaluate(() => window.rtc.events.filter((e) => e.kind === "note.created").map((e) => e.body));
    await waitFor(async () => (await bodies()).includes("Written over a WebSocket"), 10_000, "the event in the page");

    // The hub hangs up the peer; the next offer waits until a change is made meanwhile.
    let release;
    gate.hold = new Promise((resolve) => (release = resolve));
    assert.equal((await hangUp(hub, exchanges[0].location, token)).status, 204);
    await page.waitForFunction(() => window.rtc.c.state !== "connected");
    await ws.callTool("create_note", { body: "Written while the page was away" });
    release();
    await page.waitForFunction(() => window.rtc.c.state === "connected", undefined, { timeout: 15_000 });
    await waitFor(async () => (await bodies()).includes("Written while the page was away"), 10_000, "the missed event");

    const after = await page.evaluate(() => ({
      sessionId: window.rtc.c.sessionId,
      states: window.rtc.states,
      events: window.rtc.events,
      position: window.rtc.sub.position,
    }));
    assert.equal(after.sessionId, sessionId, "the session resumed");
    assert.deepEqual(after.states, ["connecting", "connected", "disconnected", "connecting", "connected"]);
    assert.equal(exchanges.length, 2, "one new offer");
    assert.notEqual(exchanges[1].location, exchanges[0].location);
    assert.deepEqual(
      after.events.filter((e) => e.kind === "note.created").map((e) => e.body),
      ["Written over a WebSocket", "Written while the page was away"],
    );
    // Every offset of the topic once, in order, across the reconnect.
    const offsets = after.events.map((e) => e.offset);
    const first = offsets[0];
    assert.deepEqual(offsets, offsets.map((_, i) => first + i));
    assert.equal(after.position.offset, offsets.at(-1));

    // Loopback only, both ways: what the hub saw offered, what it answered, and the pair
    // the page's ICE agent chose.
    for (const { offer, answer } of exchanges) {
      assert.ok(candidates(offer).every((c) => c.includes(" 127.0.0.1 ")), offer);
      assert.ok(!/c=IN IP[46] (?!127\.0\.0\.1)/.test(offer), offer);
      const answered = candidates(answer);
      assert.ok(answered.length > 0, answer);
      assert.ok(answered.every((c) => c.split(" ")[4] === "127.0.0.1"), answer);
    }
    const pair = await page.evaluate(async () => {
      const stats = await window.rtc.peers.at(-1).getStats();
      for (const s of stats.values()) {
        if (s.type === "transport" && s.selectedCandidatePairId) {
          const chosen = stats.get(s.selectedCandidatePairId);
          return [stats.get(chosen.localCandidateId).address, stats.get(chosen.remoteCandidateId).address];
        }
      }
      return undefined;
    });
    assert.deepEqual(pair, ["127.0.0.1", "127.0.0.1"]);

    // close() hangs up, and the hub no longer knows the peer.
    const hungUp = page.waitForResponse(
      (r) => r.request().method() === "DELETE" && new URL(r.url()).pathname === exchanges[1].location,
    );
    await page.evaluate(() => window.rtc.c.close());
    assert.equal((await hungUp).status(), 204);
    assert.equal((await hangUp(hub, exchanges[1].location, token)).status, 404);
    assert.deepEqual(errors, []);
    ws.close();
    await page.close();
  });

  test("rides out refused offers: 401 asks getToken again, 429 waits and tries again", async () => {
    const token = await hub.token("cid");
    // Tokens handed to the page, in order; a valid one when none is queued.
    const queued = [];
    let asked = 0;
    const { page, errors, exchanges, signalling, gate } = await openPage(browser, hub, () => {
      asked += 1;
      return queued.shift() ?? token;
    });
    const sessionId = await page.evaluate(() => window.rtc.c.sessionId);

    // While the page is away, its next token is one the hub refuses, and two answered
    // peers that never open hold both of the user's places.
    let release;
    gate.hold = new Promise((resolve) => (release = resolve));
    queued.push("not-a-token");
    assert.equal((await hangUp(hub, exchanges[0].location, token)).status, 204);
    await page.waitForFunction(() => window.rtc.c.state !== "connected");
    const holders = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(new URL("v1/rtc/offer", hub.httpUrl), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/sdp" },
        body: exchanges[0].offer,
      });
      assert.equal(res.status, 201);
      holders.push(res.headers.get("location"));
    }
    release();
    await waitFor(() => exchanges.some((e) => e.status === 429), 15_000, "an offer refused for the user's peers");
    assert.equal((await hangUp(hub, holders[0], token)).status, 204);
    await page.waitForFunction(() => window.rtc.c.state === "connected", undefined, { timeout: 15_000 });

    // The refused token fails the first request of the attempt (the ICE servers); the
    // fresh one is refused for the user's peers until one is hung up.
    const attempts = signalling.slice(2).join(", ");
    assert.match(
      attempts,
      /^GET \/v1\/rtc\/config 401, (GET \/v1\/rtc\/config 200, POST \/v1\/rtc\/offer 429, )+GET \/v1\/rtc\/config 200, POST \/v1\/rtc\/offer 201$/,
    );
    assert.deepEqual(signalling.slice(0, 2), ["GET /v1/rtc/config 200", "POST /v1/rtc/offer 201"]);
    // A token from getToken for every attempt.
    assert.equal(asked, signalling.filter((r) => r.startsWith("GET /v1/rtc/config")).length);
    const after = await page.evaluate(async () => {
      await window.rtc.c.ping();
      return { sessionId: window.rtc.c.sessionId, states: window.rtc.states };
    });
    assert.equal(after.sessionId, sessionId, "the session resumed");
    assert.equal(after.states.filter((s) => s === "connected").length, 2, "stopped at no refusal");
    assert.deepEqual(errors, []);
    await page.evaluate(() => window.rtc.c.close());
    await hangUp(hub, holders[1], token);
    await page.close();
  });

  test("stops when the hub ends the connection at the token's expiry, told only by the error before it", async () => {
    // No getToken: nothing refreshes the token, and a data channel closes without a code.
    const token = await hub.token("dee", ["--ttl", "3"]);
    const { page, errors, signalling } = await openPage(browser, hub, () => token, { once: true });
    await page.waitForFunction(() => window.rtc.c.state === "disconnected", undefined, { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await page.evaluate(() => ({ states: window.rtc.states, errors: window.rtc.errors }));
    assert.deepEqual(after.states, ["connecting", "connected", "disconnected"], "no reconnect");
    assert.ok(after.errors.length > 0 && after.errors.every((e) => e.code === "unauthorized"), JSON.stringify(after.errors));
    assert.match(after.errors.at(-1).message, /token expired/);
    assert.deepEqual(signalling, ["GET /v1/rtc/config 200", "POST /v1/rtc/offer 201"]);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
