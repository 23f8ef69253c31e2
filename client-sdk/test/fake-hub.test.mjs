// The client's connection rules against a scripted hub: which close codes reconnect,
// a silent hub, the hub's pings, requests refused unrun (`rate_limited`, `unavailable`
// with `retry_after_ms`, a subscribe among them), a subscribe or snapshot left unanswered,
// a revoked subscription and `auth.refresh`.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { DraftlineClient } from "../dist/index.js";
import { sleep, waitFor } from "./hub.mjs";

const SESSION = "0190f3a0-0000-7000-8000-000000000001";

/**
 * A WebSocket server that welcomes every hello (but the first `refuse.hellos`, answered
 * `unavailable` with `refuse.retry_after_ms` if any, then closed as the hub closes it:
 * 1013 with a wait, else 1011) and hands
 * other messages to `script`.
 */
async function fakeHub(script = () => undefined, welcome = {}, refuse = { hellos: 0 }) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "draftline.v1" });
  await new Promise((resolve) => wss.once("listening", resolve));
  const connections = [];
  wss.on("connection", (ws) => {
    const conn = { ws, messages: [], pongs: 0, send: (m) => ws.send(JSON.stringify(m)) };
    connections.push(conn);
    ws.on("pong", () => conn.pongs++);
    ws.on("message", (data) => {
      const message = JSON.parse(String(data));
      message.receivedAt = Date.now();
      conn.messages.push(message);
      if (message.type === "hello" && refuse.hellos > 0) {
        refuse.hellos--;
        const { retry_after_ms } = refuse;
        conn.send({ type: "error", re: message.id, code: "unavailable", message: "not now", retry_after_ms });
        ws.close(retry_after_ms === undefined ? 1011 : 1013, "refused");
        return;
      }
      if (message.type === "hello") {
        conn.send({
          type: "welcome",
          re: message.id,
          protocol: 1,
          session_id: message.session_id ?? SESSION,
          connection_id: "0190f3a0-0000-7000-8000-0000000000c1",
          node_id: "fake",
          heartbeat_ms: 20_000,
          limits: {},
          session: { id: message.session_id ?? SESSION, user_id: "u", project_id: null, mode: "selection", auto_accept: true, metadata: { dimensions_covered: [] }, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" },
          ...welcome,
        });
        return;
      }
      script(conn, message);
    });
  });
  const { port } = wss.address();
  return {
    url: `ws://127.0.0.1:${port}/v1/ws`,
    connections,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(resolve));
    },
  };
}

function newClient(url, options = {}) {
  return new DraftlineClient({
    url,
    token: "t",
    client: { name: "t", version: "1" },
    WebSocket,
    reconnect: { minDelayMs: 20, maxDelayMs: 100 },
    ...options,
  });
}

/** A token whose `exp` is `seconds` from now (unsigned: the fake hub does not check it). */
function tokenExpiringIn(seconds) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ sub: "u", exp: Math.floor(Date.now() / 1000) + seconds })}.sig`;
}

describe("connection rules against a scripted hub", { timeout: 120_000 }, () => {
  let hub;
  let c;
  afterEach(async () => {
    c?.close();
    await hub?.close();
  });

  it("reconnects after 1012, 4008 and a lost network, resuming the session; stops after 4003", async () => {
    hub = await fakeHub();
    c = newClient(hub.url);
    const errors = [];
    c.on("error", (e) => errors.push(e));
    await c.connect();
    for (const [i, drop] of [(ws) => ws.close(1012), (ws) => ws.close(4008), (ws) => ws.terminate()].entries()) {
      drop(hub.connections[i].ws);
      await waitFor(() => hub.connections.length === i + 2 && c.state === "connected", 5000, `reconnect ${i + 1}`);
      assert.equal(hub.connections[i + 1].messages[0].session_id, SESSION, "hello resumes the session");
    }
    hub.connections[3].ws.close(4003, "forbidden");
    await waitFor(() => errors.length === 1, 5000, "the client to stop");
    assert.equal(c.state, "disconnected");
    await sleep(300);
    assert.equal(hub.connections.length, 4, "no reconnect after 4003");
  });

  it("detects a silent hub and reconnects", async () => {
    hub = await fakeHub(() => undefined, { heartbeat_ms: 100 });
    c = newClient(hub.url);
    await c.connect();
    await waitFor(() => hub.connections.length === 2, 3000, "a reconnect");
    const pings = hub.connections[0].messages.filter((m) => m.type === "ping");
    assert.ok(pings.length >= 1, "the client pinged before giving up");
  });

  it("answers the hub's pings, which keep a quiet connection alive", async () => {
    hub = await fakeHub(() => undefined, { heartbeat_ms: 200 });
    c = newClient(hub.url);
    await c.connect();
    const ws = hub.connections[0].ws;
    const timer = setInterval(() => ws.ping(), 40);
    await sleep(1000);
    clearInterval(timer);
    assert.equal(hub.connections.length, 1, "no reconnect while the hub pings");
    assert.ok(hub.connections[0].pongs >= 10, `pongs: ${hub.connections[0].pongs}`);
  });

  for (const code of ["rate_limited", "unavailable"]) {
    it(`waits retry_after_ms after ${code}, then sends the request again`, async () => {
      let refused = false;
      hub = await fakeHub((conn, m) => {
        if (m.type !== "ping") return;
        if (!refused) {
          refused = true;
          conn.send({ type: "error", re: m.id, code, message: "not now", retry_after_ms: 300 });
          return;
        }
        conn.send({ type: "pong", re: m.id });
      });
      c = newClient(hub.url);
      await c.connect();
      const first = c.ping();
      await waitFor(() => refused, 2000, "the refusal");
      const second = c.ping();
      await Promise.all([first, second]);
      const pings = hub.connections[0].messages.filter((m) => m.type === "ping");
      assert.equal(pings.length, 3, "the refused ping is sent again");
      assert.equal(pings[1].id, pings[0].id, "the same request");
      assert.ok(pings[1].receivedAt - pings[0].receivedAt >= 280, "after the pause");
      assert.ok(pings[2].receivedAt - pings[0].receivedAt >= 280, "other requests wait too");
    });
  }

  it("says hello again after retry_after_ms when the first hello is refused at capacity", async () => {
    hub = await fakeHub(() => undefined, {}, { hellos: 2, retry_after_ms: 300 });
    c = newClient(hub.url);
    await c.connect();
    assert.equal(c.state, "connected");
    assert.equal(hub.connections.length, 3, "two refused, the third welcomed");
    const hellos = hub.connections.map((conn) => conn.messages[0]);
    assert.ok(hellos[1].receivedAt - hellos[0].receivedAt >= 280, "not before retry_after_ms");
    assert.ok(hellos[2].receivedAt - hellos[1].receivedAt >= 280, "not before retry_after_ms");
  });

  it("fails connect() when the first hello is refused without retry_after_ms", async () => {
    hub = await fakeHub(() => undefined, {}, { hellos: 1 });
    c = newClient(hub.url);
    await assert.rejects(c.connect(), (e) => e.code === "unavailable");
    await sleep(300);
    assert.equal(hub.connections.length, 1, "not tried again");
  });

  it("fails a request refused as unavailable without retry_after_ms", async () => {
    hub = await fakeHub((conn, m) => {
      if (m.type === "ping") conn.send({ type: "error", re: m.id, code: "unavailable", message: "storage unavailable" });
    });
    c = newClient(hub.url);
    await c.connect();
    await assert.rejects(c.ping(), (e) => e.code === "unavailable");
    const pings = hub.connections[0].messages.filter((m) => m.type === "ping");
    assert.equal(pings.length, 1, "not sent again");
  });

  it("subscribes again after retry_after_ms when the hub's event bus refuses a subscribe, while other requests go on", async () => {
    let refusals = 0;
    hub = await fakeHub((conn, m) => {
      if (m.type === "ping") conn.send({ type: "pong", re: m.id });
      if (m.type !== "subscribe") return;
      if (refusals < 2) {
        refusals++;
        conn.send({ type: "error", re: m.id, code: "unavailable", message: "the event bus is unavailable, try again", retry_after_ms: 300 });
        return;
      }
      conn.send({ type: "subscribed", re: m.id, topic: m.topic, epoch: "e1", offset: 7, recovered: false, publications: [] });
    });
    c = newClient(hub.url);
    await c.connect();
    const errors = [];
    const sub = c.subscribe("project:p1", { onError: (e) => errors.push(e) });
    await waitFor(() => refusals === 1, 2000, "the first refusal");
    await c.ping();
    await waitFor(() => sub.state === "subscribed", 3000, "subscribed");
    assert.deepEqual(errors, [], "a refusal the client may retry does not end the subscription");
    assert.deepEqual(sub.position, { epoch: "e1", offset: 7 });
    const messages = hub.connections[0].messages.filter((m) => m.type === "subscribe" || m.type === "ping");
    assert.deepEqual(
      messages.map((m) => m.type),
      ["subscribe", "ping", "subscribe", "subscribe"],
      "the ping is not held behind the refused subscribe",
    );
    const subscribes = messages.filter((m) => m.type === "subscribe");
    assert.ok(subscribes[1].receivedAt - subscribes[0].receivedAt >= 280, "not before retry_after_ms");
    assert.ok(subscribes[2].receivedAt - subscribes[1].receivedAt >= 280, "not before retry_after_ms");
  });

  it("asks again on the same connection when a subscribe or a view's snapshot gets no reply in time", async () => {
    const unanswered = { subscribe: 1, snapshot: 1 };
    hub = await fakeHub((conn, m) => {
      if (m.type === "subscribe") {
        if (unanswered.subscribe-- > 0) return;
        conn.send({ type: "subscribed", re: m.id, topic: m.topic, epoch: "e1", offset: 4, recovered: false, publications: [] });
      }
      if (m.type === "snapshot") {
        if (unanswered.snapshot-- > 0) return;
        conn.send({ type: "error", re: m.id, code: "not_found", message: "no such project" });
      }
    });
    c = newClient(hub.url, { requestTimeoutMs: 300 });
    await c.connect();
    const errors = [];
    const sub = c.subscribe("project:p1", { onError: (e) => errors.push(e) });
    await waitFor(() => sub.state === "subscribed", 3000, "subscribed after the unanswered attempt");
    assert.deepEqual(sub.position, { epoch: "e1", offset: 4 });
    assert.deepEqual(errors, [], "a timeout does not end the subscription");

    const view = c.watchProject("p2");
    await assert.rejects(view.ready, (e) => e.code === "not_found", "the second snapshot's answer reaches the view");
    const sent = hub.connections[0].messages.map((m) => m.type).filter((t) => t !== "hello" && t !== "ping");
    assert.deepEqual(sent, ["subscribe", "subscribe", "subscribe", "snapshot", "snapshot"]);
    assert.equal(hub.connections.length, 1, "no reconnect");
  });

  it("ends a subscription and a view whose access is revoked", async () => {
    hub = await fakeHub((conn, m) => {
      if (m.type === "subscribe") {
        conn.send({ type: "subscribed", re: m.id, topic: m.topic, epoch: "e1", offset: 3, recovered: false, publications: [] });
      }
      if (m.type === "snapshot") conn.send({ type: "error", re: m.id, code: "forbidden", message: "no access" });
    });
    c = newClient(hub.url);
    await c.connect();
    const errors = [];
    const sub = c.subscribe("project:p1", { onError: (e) => errors.push(e) });
    await waitFor(() => sub.state === "subscribed", 2000, "subscribed");
    assert.deepEqual(sub.position, { epoch: "e1", offset: 3 });
    hub.connections[0].send({ type: "error", code: "forbidden", message: "access revoked", details: { topic: "project:p1" } });
    await waitFor(() => sub.state === "unsubscribed", 2000, "the end");
    assert.equal(errors[0].code, "forbidden");
    assert.deepEqual(errors[0].details, { topic: "project:p1" });

    const viewErrors = [];
    const view = c.watchProject("p2", { onError: (e) => viewErrors.push(e) });
    await assert.rejects(view.ready, (e) => e.code === "forbidden");
    assert.equal(viewErrors.length, 1);
  });

  it("refreshes a token before it expires with auth.refresh", async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    hub = await fakeHub((conn, m) => {
      if (m.type === "auth.refresh") conn.send({ type: "ok", re: m.id, data: { expires_at: expiresAt } });
    });
    const tokens = [];
    c = newClient(hub.url, {
      token: undefined,
      getToken: () => {
        const token = tokenExpiringIn(tokens.length === 0 ? 2 : 3600);
        tokens.push(token);
        return token;
      },
    });
    await c.connect();
    // Refreshed at 80% of a 2 s lifetime.
    await waitFor(() => hub.connections[0].messages.some((m) => m.type === "auth.refresh"), 4000, "auth.refresh");
    const refresh = hub.connections[0].messages.find((m) => m.type === "auth.refresh");
    assert.equal(refresh.token, tokens[1]);
    assert.equal(await c.refreshToken(), expiresAt);
    assert.equal(hub.connections.length, 1);
  });
});
