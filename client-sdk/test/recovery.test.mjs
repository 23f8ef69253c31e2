// Reconnects against a real hub: a restart mid-run (1012), a token the restarted hub
// refuses (4001 and getToken), and getToken failing.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { DraftlineClient } from "../dist/index.js";
import { client, closeClients, comparable, settledSnapshot, startHub, track, waitFor } from "./hub.mjs";

describe("reconnecting to a restarted hub", { timeout: 120_000 }, () => {
  let hub;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    closeClients();
    await hub?.dispose();
  });

  it("resumes the session and the view misses no event and applies none twice", async () => {
    const watcher = await client(hub, "kim");
    const writer = await client(hub, "kim");
    const { project } = await writer.callTool("create_project", { name: "Restarts" });
    await writer.callTool("assign_project_to_session", { project_id: project.id });
    await writer.configure({ mode: "update" });

    const offsets = [];
    const view = watcher.watchProject(project.id, { onEvent: (_, position) => offsets.push(position.offset) });
    const start = (await view.ready).position.offset;
    const session = watcher.sessionId;
    const states = [];
    watcher.on("state", (s) => states.push(s));

    for (let i = 0; i < 5; i++) await writer.callTool("create_note", { body: `before ${i}` });
    const restarting = hub.restart();
    await waitFor(() => writer.state !== "connected", 10_000, "the writer to see the restart");
    // A call made while disconnected waits for the connection and then runs once.
    const during = writer.callTool("create_note", { body: "during" });
    await restarting;
    await during;
    for (let i = 0; i < 5; i++) await writer.callTool("create_todo", { title: `after ${i}` });

    const fresh = await settledSnapshot(watcher, view, project.id);
    assert.deepEqual(comparable(view.state), comparable(fresh));
    assert.equal(watcher.sessionId, session, "the same session resumed");
    assert.deepEqual(states.slice(0, 1), ["disconnected"]);
    assert.equal(states.at(-1), "connected");
    const expected = [];
    for (let o = start + 1; o <= fresh.position.offset; o++) expected.push(o);
    assert.deepEqual(offsets, expected, "every offset once, in order");
    assert.equal(view.snapshots, 1, "recovered from the history, no second snapshot");
    assert.equal(view.state.notes.filter((n) => n.body === "during").length, 1);
    assert.equal(view.state.todos.length, 5);
    watcher.close();
    writer.close();
  });

  it("asks getToken again after 4001, and stops when getToken throws", async () => {
    let failing = false;
    let asked = 0;
    const c = track(new DraftlineClient({
      url: hub.url,
      getToken: async () => {
        asked++;
        if (failing) throw new Error("signed out");
        return hub.token("lee");
      },
      client: { name: "t", version: "1" },
      WebSocket,
      reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    }));
    await c.connect();
    const session = c.sessionId;
    assert.equal(asked, 1);

    const original = hub.env.DRAFTLINE_JWT_SECRET;
    // The restarted hub signs with another secret: the old token is refused (4001).
    await hub.restart({ DRAFTLINE_JWT_SECRET: "another-test-secret-not-for-production-987654" });
    await waitFor(() => c.state === "connected" && asked === 2, 15_000, "a reconnect with a new token");
    assert.equal(c.sessionId, session);

    failing = true;
    const errors = [];
    c.on("error", (e) => errors.push(e));
    await hub.restart({ DRAFTLINE_JWT_SECRET: original });
    await waitFor(() => errors.length > 0, 15_000, "the client to give up");
    assert.equal(errors[0].code, "unauthorized");
    assert.match(errors[0].message, /signed out/);
    assert.equal(c.state, "disconnected");
    await assert.rejects(c.ping(), (e) => e.code === "disconnected" || e.code === "timeout" || e.code === "closed" || e.code === "unauthorized");
    c.close();
  });
});
