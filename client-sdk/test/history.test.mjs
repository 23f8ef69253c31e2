// Network loss against a hub that replays at most 8 missed events: a short outage is
// recovered from the history, a longer one falls back to a snapshot.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client, closeClients, comparable, proxy, settledSnapshot, startHub, waitFor } from "./hub.mjs";

describe("recovery after a network loss", { timeout: 120_000 }, () => {
  let hub;
  let net;
  before(async () => {
    hub = await startHub({ DRAFTLINE_MAX_RECOVER: "8" });
    net = await proxy(hub.port);
  });
  after(async () => {
    closeClients();
    await net?.close();
    await hub?.dispose();
  });

  it("replays a short gap and snapshots after a long one", async () => {
    const writer = await client(hub, "max");
    const { project } = await writer.callTool("create_project", { name: "Outages" });
    await writer.callTool("assign_project_to_session", { project_id: project.id });
    await writer.configure({ mode: "update" });

    // The watcher reaches the hub through the proxy, which can drop its connection.
    const watcher = await client(hub, "max", { url: net.url });
    const session = watcher.sessionId;
    const offsets = [];
    const view = watcher.watchProject(project.id, { onEvent: (_, position) => offsets.push(position.offset) });
    await view.ready;
    const resets = [];
    const listener = await client(hub, "max", { url: net.url });
    const sub = listener.subscribe(`project:${project.id}`, { onReset: (position) => resets.push(position) });
    // A reset needs a position to fall behind from: the subscription's first reply.
    await waitFor(() => sub.state === "subscribed", 5000, "the listener's subscription");

    // Short: 3 notes are 6 events, within the 8 the hub replays.
    net.cut();
    await waitFor(() => watcher.state !== "connected", 5000, "the cut");
    for (let i = 0; i < 3; i++) await writer.callTool("create_note", { body: `short ${i}` });
    net.up();
    let fresh = await settledSnapshot(watcher, view, project.id);
    assert.deepEqual(comparable(view.state), comparable(fresh));
    assert.equal(view.snapshots, 1, "replayed, not reloaded");
    assert.equal(resets.length, 0);
    assert.equal(watcher.sessionId, session);
    const caughtUp = fresh.position.offset;
    await waitFor(() => sub.state === "subscribed" && sub.position.offset === caughtUp, 5000, "the listener to replay the gap");

    // Long: 8 notes are 16 events, more than the hub replays.
    net.cut();
    await waitFor(() => watcher.state !== "connected", 5000, "the cut");
    for (let i = 0; i < 8; i++) await writer.callTool("create_note", { body: `long ${i}` });
    net.up();
    await waitFor(() => view.snapshots === 2, 10_000, "a fresh snapshot");
    fresh = await settledSnapshot(watcher, view, project.id);
    assert.deepEqual(comparable(view.state), comparable(fresh));
    assert.equal(view.state.notes.length, 11);
    await waitFor(() => resets.length === 1, 5000, "the listener's reset");
    assert.deepEqual(resets[0], fresh.position);
    assert.equal(watcher.sessionId, session, "the same session after both outages");
    // Offsets the view folded: contiguous up to the first cut's end, none repeated.
    assert.equal(new Set(offsets).size, offsets.length);

    watcher.close();
    listener.close();
    writer.close();
  });
});
