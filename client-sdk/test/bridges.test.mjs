// The bridges against fake model peers that speak the OpenAI Realtime and Gemini Live
// event sequences, with tool calls answered by a real hub; each test checks the exact
// events the bridge sends back.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { attachGeminiLive } from "../dist/bridges/gemini-live.js";
import { attachOpenAIRealtime } from "../dist/bridges/openai-realtime.js";
import { client, closeClients, sleep, startHub, waitFor } from "./hub.mjs";

/** A model peer: records what the bridge sends; `emit` sends the peer's events. */
async function fakePeer({ binary = false } = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  const received = [];
  let socket;
  wss.on("connection", (ws) => {
    socket = ws;
    ws.on("message", (data) => received.push(JSON.parse(String(data))));
  });
  const transport = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
  await new Promise((resolve) => transport.once("open", resolve));
  await waitFor(() => socket, 2000, "the peer's side");
  return {
    transport,
    received,
    emit(...events) {
      for (const event of events) {
        const text = JSON.stringify(event);
        // Gemini Live sends its JSON in binary frames.
        socket.send(binary ? Buffer.from(text) : text);
      }
    },
    async close() {
      transport.terminate();
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/** A client in `mode` on a fresh project. */
async function assistant(hub, user, mode) {
  const c = await client(hub, user);
  const { project } = await c.callTool("create_project", { name: `${user}'s book` });
  await c.callTool("assign_project_to_session", { project_id: project.id });
  await c.configure({ mode });
  return { c, project };
}

const fnCall = (responseId, callId, name, args) => [
  { type: "response.output_item.added", response_id: responseId, output_index: 0, item: { id: `item_${callId}`, type: "function_call", call_id: callId, name, arguments: "" } },
  { type: "response.function_call_arguments.delta", response_id: responseId, item_id: `item_${callId}`, call_id: callId, delta: args },
  { type: "response.function_call_arguments.done", response_id: responseId, item_id: `item_${callId}`, output_index: 0, call_id: callId, name, arguments: args },
];

describe("bridges", { timeout: 120_000 }, () => {
  let hub;
  let peer;
  let bridge;
  let c;
  const others = [];
  before(async () => {
    hub = await startHub({ DRAFTLINE_COMPOSE_DELAY_MS: "20" });
  });
  afterEach(async () => {
    bridge?.close();
    c?.close();
    for (const o of others.splice(0)) o.close();
    await peer?.close();
  });
  after(async () => {
    closeClients();
    await hub?.dispose();
  });

  describe("openai-realtime", () => {
    it("offers the mode's tools, and again when the mode changes", async () => {
      ({ c } = await assistant(hub, "oa1", "selection"));
      peer = await fakePeer();
      bridge = attachOpenAIRealtime(c, peer.transport, { mode: "ghostwriting", session: { instructions: "Be brief." } });
      await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "session.update");
      const [update] = peer.received;
      assert.equal(update.type, "session.update");
      assert.equal(update.session.type, "realtime");
      assert.equal(update.session.instructions, "Be brief.");
      assert.equal(update.session.tool_choice, "auto");
      const expected = (await c.tools("ghostwriting")).map((t) => t.name);
      assert.deepEqual(update.session.tools.map((t) => t.name), expected);
      assert.ok(update.session.tools.every((t) => t.type === "function" && t.parameters.type === "object"));

      await c.configure({ mode: "update" });
      await waitFor(() => peer.received.length === 2, 2000, "a second session.update");
      assert.deepEqual(
        peer.received[1].session.tools.map((t) => t.name),
        (await c.tools("update")).map((t) => t.name),
      );
    });

    it("answers two calls of one response after it is done, with one response.create", async () => {
      ({ c } = await assistant(hub, "oa2", "ghostwriting"));
      peer = await fakePeer();
      bridge = attachOpenAIRealtime(c, peer.transport, { narrate: false });
      await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "session.update");
      peer.received.length = 0;

      peer.emit(
        { type: "response.created", response: { id: "r1", status: "in_progress" } },
        ...fnCall("r1", "call_1", "create_note", '{"body":"one"}'),
        ...fnCall("r1", "call_2", "create_note", '{"body":""}'),
      );
      await sleep(300); // both hub calls are done by now, but r1 is in flight
      assert.deepEqual(peer.received, [], "nothing while the response is in flight");
      peer.emit({ type: "response.done", response: { id: "r1", status: "completed" } });
      await waitFor(() => peer.received.length === 3, 5000, "the outputs");
      const [first, second, create] = peer.received;
      assert.equal(first.type, "conversation.item.create");
      assert.equal(first.item.type, "function_call_output");
      assert.equal(first.item.call_id, "call_1");
      assert.equal(JSON.parse(first.item.output).note.body, "one");
      assert.equal(second.item.call_id, "call_2");
      assert.equal(JSON.parse(second.item.output).error.code, "invalid_arguments");
      assert.deepEqual(create, { type: "response.create", event_id: "draftline_1" });
      await sleep(100);
      assert.equal(peer.received.length, 3);
    });

    it("holds outputs through an interrupted response until the person's turn is answered", async () => {
      ({ c } = await assistant(hub, "oa3", "ghostwriting"));
      peer = await fakePeer();
      bridge = attachOpenAIRealtime(c, peer.transport, { narrate: false });
      await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "session.update");
      peer.received.length = 0;

      peer.emit(
        { type: "response.created", response: { id: "r1", status: "in_progress" } },
        ...fnCall("r1", "call_3", "get_document", "{}"),
        // The person starts talking: the app cancels, the API ends r1 as cancelled.
        { type: "input_audio_buffer.speech_started", audio_start_ms: 1000, item_id: "u1" },
        { type: "response.done", response: { id: "r1", status: "cancelled", status_details: { type: "cancelled", reason: "turn_detected" } } },
      );
      await sleep(300);
      assert.deepEqual(peer.received, [], "never over the person");
      peer.emit(
        { type: "input_audio_buffer.speech_stopped", audio_end_ms: 2000, item_id: "u1" },
        { type: "input_audio_buffer.committed", item_id: "u1" },
        { type: "response.created", response: { id: "r2", status: "in_progress" } },
      );
      await sleep(100);
      assert.deepEqual(peer.received, [], "nor during the answer to the person");
      peer.emit({ type: "response.done", response: { id: "r2", status: "completed" } });
      await waitFor(() => peer.received.length === 2, 5000, "the output");
      assert.equal(peer.received[0].item.call_id, "call_3");
      assert.equal(JSON.parse(peer.received[0].item.output).document.version, 0);
      assert.deepEqual(peer.received[1], { type: "response.create", event_id: "draftline_1" });
    });

    it("sends response.create again when the API refused it for an active response", async () => {
      ({ c } = await assistant(hub, "oa5", "ghostwriting"));
      peer = await fakePeer();
      bridge = attachOpenAIRealtime(c, peer.transport, { narrate: false });
      await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "session.update");
      peer.received.length = 0;

      peer.emit(
        { type: "response.created", response: { id: "r1" } },
        ...fnCall("r1", "call_5", "get_project", "{}"),
        { type: "response.done", response: { id: "r1", status: "completed" } },
      );
      await waitFor(() => peer.received.length === 2, 5000, "the output");
      assert.deepEqual(peer.received[1], { type: "response.create", event_id: "draftline_1" });
      // The person's turn started a response first: the API refuses ours.
      peer.emit(
        { type: "response.created", response: { id: "r2" } },
        {
          type: "error",
          event_id: "event_9",
          error: {
            type: "invalid_request_error",
            code: "conversation_already_has_active_response",
            message: "Conversation already has an active response",
            event_id: "draftline_1",
          },
        },
      );
      await sleep(200);
      assert.equal(peer.received.length, 2, "nothing while r2 is in flight");
      peer.emit({ type: "response.done", response: { id: "r2", status: "completed" } });
      await waitFor(() => peer.received.length === 3, 5000, "the response.create again");
      assert.deepEqual(peer.received[2], { type: "response.create", event_id: "draftline_2" });
    });

    it("narrates a draft's progress when the model is idle", async () => {
      let project;
      ({ c, project } = await assistant(hub, "oa4", "ghostwriting"));
      const observer = await client(hub, "oa4");
      others.push(observer);
      const progress = [];
      observer.subscribe(`project:${project.id}`, {
        onEvent: (e) => e.kind === "tool.progress" && progress.push(e),
      });
      peer = await fakePeer();
      bridge = attachOpenAIRealtime(c, peer.transport);
      await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "session.update");
      peer.received.length = 0;

      peer.emit(
        { type: "response.created", response: { id: "r1" } },
        ...fnCall("r1", "call_q", "queue_draft_update", '{"urgency":"high","summary":"first chapter"}'),
        { type: "response.done", response: { id: "r1", status: "completed" } },
      );
      const created = () => peer.received.some((m) => m.type === "response.create");
      await waitFor(created, 3000, "the call's output");
      const first = peer.received.splice(0);
      assert.equal(first[0].item.call_id, "call_q");
      assert.equal(JSON.parse(first[0].item.output).status, "queued");
      assert.deepEqual(first.at(-1), { type: "response.create", event_id: "draftline_1" });
      // The model answers (r2) while the draft runs: narration waits for it.
      peer.emit({ type: "response.created", response: { id: "r2" } });
      await waitFor(() => progress.some((p) => p.status === "completed" || p.status === "failed"), 15_000, "the draft");
      await sleep(200);
      assert.deepEqual(peer.received, [], "nothing while r2 is in flight");
      peer.emit({ type: "response.done", response: { id: "r2", status: "completed" } });
      // Each response.create is answered as the API would; narration that reached the
      // bridge after one goes out after that response.
      const narratedSoFar = () => progress.filter((p) => p.narration).length;
      const items = first.slice(1, -1);
      for (let n = 2; items.length < narratedSoFar(); n++) {
        await waitFor(created, 5000, "the narration");
        const batch = peer.received.splice(0);
        assert.deepEqual(batch.at(-1), { type: "response.create", event_id: `draftline_${n}` });
        items.push(...batch.slice(0, -1));
        peer.emit({ type: "response.created", response: { id: `r${n + 1}` } }, { type: "response.done", response: { id: `r${n + 1}` } });
      }

      const narrated = progress.filter((p) => p.narration);
      assert.ok(narrated.length >= 1);
      assert.equal(items.length, narrated.length);
      items.forEach((item, i) => {
        assert.equal(item.type, "conversation.item.create");
        assert.equal(item.item.type, "message");
        assert.equal(item.item.role, "system");
        const [text] = item.item.content.map((part) => part.text);
        const { kind: _kind, ...payload } = narrated[i];
        assert.equal(text, `TOOL_PROGRESS::${JSON.stringify(payload)}\n${narrated[i].narration}`);
      });
    });
  });

  describe("gemini-live", () => {
    it("declares the tools in setup, long jobs NON_BLOCKING", async () => {
      ({ c } = await assistant(hub, "gl1", "selection"));
      peer = await fakePeer({ binary: true });
      bridge = attachGeminiLive(c, peer.transport, { mode: "ghostwriting", setup: { model: "models/gemini-live" } });
      const declarations = await bridge.ready;
      await waitFor(() => peer.received.length === 1, 2000, "setup");
      const { setup } = peer.received[0];
      assert.equal(setup.model, "models/gemini-live");
      assert.deepEqual(setup.tools, [{ functionDeclarations: declarations }]);
      const tools = await c.tools("ghostwriting");
      assert.deepEqual(declarations.map((d) => d.name), tools.map((t) => t.name));
      for (const d of declarations) {
        assert.equal(d.parametersJsonSchema.type, "object");
        assert.equal(d.behavior, d.name === "queue_draft_update" ? "NON_BLOCKING" : undefined);
      }
    });

    it("answers two calls of one toolCall in one toolResponse", async () => {
      ({ c } = await assistant(hub, "gl2", "ghostwriting"));
      peer = await fakePeer({ binary: true });
      bridge = attachGeminiLive(c, peer.transport);
      await bridge.ready;
      peer.emit({
        toolCall: {
          functionCalls: [
            { id: "g1", name: "create_note", args: { body: "from gemini" } },
            { id: "g2", name: "get_project", args: {} },
          ],
        },
      });
      await waitFor(() => peer.received.length === 1, 3000, "the toolResponse");
      const [{ toolResponse }] = peer.received;
      assert.equal(toolResponse.functionResponses.length, 2);
      const [one, two] = toolResponse.functionResponses;
      assert.deepEqual(Object.keys(one).sort(), ["id", "name", "response"]);
      assert.equal(one.id, "g1");
      assert.equal(one.name, "create_note");
      assert.equal(one.response.output.note.body, "from gemini");
      assert.equal(two.id, "g2");
      assert.equal(two.response.output.project.id, c.session.project_id);
    });

    it("drops the answer to a call cancelled by an interruption", async () => {
      ({ c } = await assistant(hub, "gl3", "ghostwriting"));
      peer = await fakePeer({ binary: true });
      bridge = attachGeminiLive(c, peer.transport);
      await bridge.ready;
      peer.emit(
        { toolCall: { functionCalls: [{ id: "g3", name: "get_document", args: {} }] } },
        { serverContent: { interrupted: true } },
        { toolCallCancellation: { ids: ["g3"] } },
      );
      await sleep(300);
      assert.deepEqual(peer.received, []);
      peer.emit({ toolCall: { functionCalls: [{ id: "g4", name: "get_document", args: {} }] } });
      await waitFor(() => peer.received.length === 1, 3000, "the next answer");
      assert.deepEqual(peer.received[0].toolResponse.functionResponses.map((r) => r.id), ["g4"]);
    });

    it("answers a long job at once, then sends its progress WHEN_IDLE until willContinue is false", async () => {
      ({ c } = await assistant(hub, "gl4", "ghostwriting"));
      peer = await fakePeer({ binary: true });
      bridge = attachGeminiLive(c, peer.transport);
      await bridge.ready;
      peer.emit({ toolCall: { functionCalls: [{ id: "g5", name: "queue_draft_update", args: { urgency: "high" } }] } });
      await waitFor(
        () => peer.received.at(-1)?.toolResponse.functionResponses[0].willContinue === false,
        15_000,
        "the final response",
      );
      const responses = peer.received.map((m) => {
        assert.equal(m.toolResponse.functionResponses.length, 1);
        return m.toolResponse.functionResponses[0];
      });
      const [ack, ...updates] = responses;
      assert.equal(ack.id, "g5");
      assert.equal(ack.name, "queue_draft_update");
      assert.equal(ack.willContinue, true);
      assert.equal(ack.scheduling, "WHEN_IDLE");
      assert.equal(ack.response.output.status, "queued");
      assert.ok(updates.length >= 1);
      for (const u of updates) {
        assert.equal(u.id, "g5");
        assert.equal(u.scheduling, "WHEN_IDLE");
        assert.equal(u.response.output.job_id, ack.response.output.job_id);
      }
      assert.ok(updates.slice(0, -1).every((u) => u.willContinue === true));
      const last = updates.at(-1);
      assert.equal(last.willContinue, false);
      assert.ok(["completed", "failed"].includes(last.response.output.status));
    });
  });
});
