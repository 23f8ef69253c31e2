// Compile-time checks of the public types (`npm run typecheck`): tool calls are typed by
// tool name, and wrong names or arguments do not compile.

import NodeWebSocket from "ws";
import {
  DraftlineClient,
  type ProjectState,
  type RtcPeerConnectionConstructor,
  type Tools,
  type WebSocketConstructor,
} from "../src/index.js";
import { attachGeminiLive } from "../src/bridges/gemini-live.js";
import { attachOpenAIRealtime } from "../src/bridges/openai-realtime.js";

declare const client: DraftlineClient;

export async function typed(): Promise<void> {
  const out = await client.callTool("create_note", { body: "hello", tags: ["a"] });
  if ("note" in out) {
    const body: string = out.note.body;
    void body;
  }
  const gaps = await client.callTool("get_blueprint_gaps", {});
  const field: Tools["sync_blueprint_field"]["args"]["field"] = gaps.gaps[0]?.field ?? "summary";
  void field;
  // @ts-expect-error: not a tool
  await client.callTool("make_coffee", {});
  // @ts-expect-error: `body` is required
  await client.callTool("create_note", {});
  // @ts-expect-error: `urgency` takes low, normal or high
  await client.callTool("queue_draft_update", { urgency: "now" });
  const view = client.watchProject("p", { onChange: (state: ProjectState) => void state.notes.length });
  const offset: number | undefined = view.position?.offset;
  void offset;
  const transport = { send: (_: string) => undefined, addEventListener: () => undefined };
  attachOpenAIRealtime(client, transport, { mode: "ghostwriting" }).close();
  attachGeminiLive(client, transport, { mode: "ghostwriting" }).close();
}

// The transports and WebSocket classes the README names fit the types.
declare const channel: RTCDataChannel;
declare const browserSocket: WebSocket;
declare const nodeSocket: NodeWebSocket;
export function transports(): void {
  attachOpenAIRealtime(client, channel).close();
  attachOpenAIRealtime(client, browserSocket).close();
  attachGeminiLive(client, nodeSocket).close();
  const classes: WebSocketConstructor[] = [WebSocket, NodeWebSocket];
  void classes;
  // The browser's peer connection class fits the WebRTC transport's option.
  const peers: RtcPeerConnectionConstructor[] = [RTCPeerConnection];
  void new DraftlineClient({
    transport: "webrtc",
    httpUrl: "http://127.0.0.1:8080/",
    token: "t",
    client: { name: "t", version: "1" },
    RTCPeerConnection,
    iceServers: [{ urls: "stun:127.0.0.1:3478" }],
  });
  void peers;
}
