// The client's API against a real hub: connect, configure, tool calls and their errors,
// subscriptions, project views, decisions, transcripts, the tool catalogue and close.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { DraftlineClient, DraftlineError } from "../dist/index.js";
import { client, closeClients, comparable, settledSnapshot, startHub, track, waitFor } from "./hub.mjs";

describe("DraftlineClient against a hub", { timeout: 120_000 }, () => {
  let hub;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    closeClients();
    await hub?.dispose();
  });

  it("connects, says its state and gets a session", async () => {
    const token = await hub.token("ann");
    const c = track(new DraftlineClient({ url: hub.url, token, client: { name: "t", version: "1" }, WebSocket }));
    const states = [];
    c.on("state", (s) => states.push(s));
    let welcomed;
    c.on("welcome", (w) => (welcomed = w));
    await c.connect();
    assert.deepEqual(states, ["connecting", "connected"]);
    assert.equal(c.state, "connected");
    assert.match(c.sessionId, /^[0-9a-f-]{36}$/);
    assert.equal(welcomed.session_id, c.sessionId);
    assert.equal(c.session.mode, "selection");
    assert.equal(c.session.client.name, "t");
    await c.ping();
    c.close();
    assert.equal(c.state, "disconnected");
    assert.deepEqual(states, ["connecting", "connected", "disconnected"]);
    await assert.rejects(c.ping(), (e) => e instanceof DraftlineError && e.code === "closed");
  });

  it("resumes a session by id", async () => {
    const first = await client(hub, "bea");
    const id = first.sessionId;
    await first.configure({ mode: "intake" });
    first.close();
    const again = await client(hub, "bea", { sessionId: id });
    assert.equal(again.sessionId, id);
    assert.equal(again.session.mode, "intake");
    again.close();
  });

  it("rejects connect with the hub's code when the token is bad", async () => {
    const c = track(new DraftlineClient({ url: hub.url, token: "not-a-token", client: { name: "t", version: "1" }, WebSocket }));
    await assert.rejects(c.connect(), (e) => e instanceof DraftlineError && e.code === "unauthorized");
    assert.equal(c.state, "disconnected");
  });

  it("configures the session and calls tools typed by name", async () => {
    const c = await client(hub, "cal");
    const created = await c.callTool("create_project", { name: "Memoir" });
    assert.ok("project" in created);
    const projectId = created.project.id;
    const assigned = await c.callTool("assign_project_to_session", { project_id: projectId });
    assert.equal(assigned.session.project_id, projectId);
    const session = await c.configure({ mode: "intake" });
    assert.equal(session.mode, "intake");
    assert.equal(c.session.mode, "intake");
    const synced = await c.callTool("sync_blueprint_field", { field: "audience", value: "My kids" });
    assert.ok("gaps_left" in synced);
    assert.equal(synced.value, "My kids");
    const gaps = await c.callTool("get_blueprint_gaps", {});
    assert.ok(gaps.gaps.every((g) => g.field !== "audience"));
    const note = await c.callTool("create_note", { body: "Grew up by the sea", tags: ["childhood"] });
    assert.ok("note" in note);
    assert.deepEqual(note.note.tags, ["childhood"]);
    c.close();
  });

  it("rejects bad calls with the server's error code and details", async () => {
    const c = await client(hub, "dan");
    await assert.rejects(c.callTool("create_project", { name: "" }), (e) => {
      assert.ok(e instanceof DraftlineError);
      assert.equal(e.code, "invalid_arguments");
      assert.equal(e.details.field, "name");
      return true;
    });
    await assert.rejects(c.callToolRaw("no_such_tool", {}), (e) => e.code === "unknown_tool");
    await assert.rejects(c.callTool("create_note", { body: "x" }), (e) => e.code === "tool_not_allowed");
    await assert.rejects(
      c.callTool("assign_project_to_session", { project_id: "00000000-0000-0000-0000-000000000000" }),
      (e) => e.code === "not_found",
    );
    // Arguments as the JSON text a realtime model emits.
    await assert.rejects(c.callToolRaw("create_project", '{"name": 5}'), (e) => e.code === "invalid_arguments");
    await assert.rejects(c.configure({ mode: "dancing" }), (e) => e.code === "bad_request");
    c.close();
  });

  it("subscribes to a topic and gets each event once with its position", async () => {
    const c = await client(hub, "eve");
    const { project } = await c.callTool("create_project", { name: "Letters" });
    await c.callTool("assign_project_to_session", { project_id: project.id });
    await c.configure({ mode: "update" });
    const events = [];
    const sub = c.subscribe(`project:${project.id}`, {
      onEvent: (event, position) => events.push({ kind: event.kind, offset: position.offset }),
    });
    assert.equal(sub.state, "subscribing");
    await waitFor(() => sub.state === "subscribed", 5000, "subscribed");
    const start = sub.position.offset;
    const { todo } = await c.callTool("create_todo", { title: "Call mum", priority: "high" });
    await c.callTool("update_todo_status", { todo_id: todo.id, status: "done" });
    await waitFor(() => events.length >= 4, 5000, "events");
    assert.deepEqual(
      events.map((e) => e.kind),
      ["todo.created", "operation.created", "todo.updated", "operation.created"],
    );
    assert.deepEqual(
      events.map((e) => e.offset),
      [start + 1, start + 2, start + 3, start + 4],
    );
    assert.deepEqual(sub.position.offset, start + 4);
    assert.throws(() => c.subscribe(`project:${project.id}`), /already subscribed/);
    await sub.unsubscribe();
    assert.equal(sub.state, "unsubscribed");
    await c.callTool("delete_todo", { todo_id: todo.id });
    await c.ping();
    assert.equal(events.length, 4, "no events after unsubscribe");
    c.close();
  });

  it("ends a subscription the hub refuses", async () => {
    const c = await client(hub, "fay");
    let error;
    const sub = c.subscribe("project:00000000-0000-0000-0000-000000000000", { onError: (e) => (error = e) });
    await waitFor(() => sub.state === "unsubscribed", 5000, "refusal");
    assert.equal(error.code, "not_found");
    c.close();
  });

  it("watches a project: snapshot plus events equals a fresh snapshot", async () => {
    const c = await client(hub, "gil");
    const { project } = await c.callTool("create_project", { name: "Family book" });
    await c.callTool("assign_project_to_session", { project_id: project.id });
    await c.configure({ mode: "update" });
    await c.callTool("create_note", { body: "before the watch" });

    const changes = [];
    const view = c.watchProject(project.id, { onChange: (s) => changes.push(s.position.offset) });
    const first = await view.ready;
    assert.equal(first.project.name, "Family book");
    assert.equal(first.project.role, "owner");
    assert.equal(first.notes.length, 1);

    const other = await client(hub, "gil");
    await other.callTool("assign_project_to_session", { project_id: project.id });
    await other.configure({ mode: "update" });
    const { note } = await other.callTool("create_note", { body: "second" });
    await other.callTool("update_note", { note_id: note.id, body: "second, edited" });
    const a = await other.callTool("create_todo", { title: "A", priority: "low" });
    const b = await other.callTool("create_todo", { title: "B", priority: "high" });
    await other.callTool("update_todo", { todo_id: a.todo.id, priority: "high" });
    await other.callTool("delete_todo", { todo_id: b.todo.id });
    await other.callTool("update_project", { description: "For the grandchildren" });
    await other.appendTranscript([{ item_id: "t1", role: "user", text: "I was born in 1950" }]);
    await other.configure({ mode: "intake" });
    await other.callTool("record_transcript_pointer", { item_id: "t1", label: "birth" });
    await other.callTool("sync_blueprint_field", { field: "voice", value: "warm" });
    await other.configure({ mode: "update" });
    const doc = await other.callTool("get_document", {});
    await other.callTool("apply_document_edits", { base_version: doc.document.version, markdown: "# Book\n\n## Start\n\nHello" });
    // A chat message and its reply: a job that starts and completes.
    await other.sendChat(project.id, "What should we write next?");
    await waitFor(() => view.state.chat.length === 2 && view.state.jobs.length === 0, 20_000, "the chat reply");
    other.close();

    const fresh = await settledSnapshot(c, view, project.id);
    assert.deepEqual(comparable(view.state), comparable(fresh));
    assert.equal(view.state.document.markdown, "# Book\n\n## Start\n\nHello");
    assert.deepEqual(view.state.todos.map((t) => t.title), ["A"]);
    assert.equal(view.state.transcript_pointers[0].label, "birth");
    assert.equal(view.state.project.description, "For the grandchildren");
    assert.ok(changes.length > 5);
    await view.close();
    c.close();
  });

  it("decides pending operations", async () => {
    const c = await client(hub, "hal");
    const { project } = await c.callTool("create_project", { name: "Ops" });
    await c.callTool("assign_project_to_session", { project_id: project.id });
    await c.configure({ mode: "update", auto_accept: false });
    const view = c.watchProject(project.id);
    await view.ready;
    const first = await c.callTool("create_todo", { title: "Pending one" });
    const second = await c.callTool("create_note", { body: "Pending two" });
    assert.ok("operation_id" in first && "operation_id" in second);
    assert.equal(first.status, "pending_approval");
    await waitFor(() => view.state.operations.length === 2, 5000, "pending operations in the view");
    const decided = await c.decide([first.operation_id], "approve", { [first.operation_id]: { title: "Approved one" } });
    assert.equal(decided.completed, 1);
    assert.equal(decided.total, 1);
    assert.equal(decided.operations[0].status, "completed");
    const rejected = await c.decide([second.operation_id], "reject");
    assert.equal(rejected.operations[0].status, "rejected");
    await assert.rejects(c.decide([second.operation_id], "approve"), (e) => e.code === "conflict");
    await waitFor(() => view.state.operations.length === 0 && view.state.todos.length === 1, 5000, "decisions in the view");
    assert.equal(view.state.todos[0].title, "Approved one");
    assert.equal(view.state.notes.length, 0);
    const fresh = await settledSnapshot(c, view, project.id);
    assert.deepEqual(comparable(view.state), comparable(fresh));
    c.close();
  });

  it("appends transcript items once", async () => {
    const c = await client(hub, "ivy");
    const items = [
      { item_id: "a", role: "user", text: "Hello", at: new Date() },
      { item_id: "b", role: "assistant", text: "Hi" },
    ];
    assert.deepEqual(await c.appendTranscript(items), { appended: 2 });
    assert.deepEqual(await c.appendTranscript(items), { appended: 0 });
    await assert.rejects(c.appendTranscript([{ item_id: "", role: "user", text: "x" }]), (e) => e.code === "bad_request" || e.code === "invalid_arguments");
    c.close();
  });

  it("lists a mode's tools as function definitions", async () => {
    const c = await client(hub, "jay");
    const intake = await c.tools("intake");
    const names = intake.map((t) => t.name);
    assert.ok(names.includes("sync_blueprint_field"));
    assert.ok(!names.includes("apply_document_edits"));
    assert.equal(intake[0].type, "function");
    assert.equal(intake[0].parameters.type, "object");
    const all = await c.tools();
    assert.ok(all.length > intake.length);
    c.close();
  });
});
