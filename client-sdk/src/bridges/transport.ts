// What the bridges need of the realtime model's connection, and how they read its frames.

import type { DraftlineClient } from "../client.js";
import type { Session } from "../generated/protocol.js";

/**
 * A WebSocket to the model's API, or a WebRTC data channel (`oai-events`): anything
 * that sends text and emits `message` events.
 */
export interface RealtimeTransport {
  /** 1 (`WebSocket.OPEN`) or `"open"` (a data channel) once it can send; sends wait till then. */
  readonly readyState?: number | string;
  send(data: string): void;
  // Events are typed loosely so a DOM WebSocket, a data channel and `ws` all fit;
  // `message` events carry `data`.
  addEventListener(type: "message" | "open", listener: (event: object) => void): void;
  removeEventListener?(type: "message" | "open", listener: (event: object) => void): void;
}

/**
 * A `send` for JSON messages that holds them until the transport is open: a bridge
 * attached to a data channel still being negotiated sends its set-up when it opens.
 */
export function sender(transport: RealtimeTransport): (message: Record<string, unknown>) => void {
  const isOpen = () => transport.readyState === undefined || transport.readyState === 1 || transport.readyState === "open";
  const waiting: string[] = [];
  if (!isOpen()) {
    transport.addEventListener("open", () => {
      for (const text of waiting.splice(0)) transport.send(text);
    });
  }
  return (message) => {
    const text = JSON.stringify(message);
    if (waiting.length === 0 && isOpen()) transport.send(text);
    else waiting.push(text);
  };
}

/** A JSON object from a frame; Gemini Live sends its JSON in binary frames. */
export async function readJson(data: unknown): Promise<Record<string, unknown> | undefined> {
  let text: string | undefined;
  if (typeof data === "string") text = data;
  else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) text = new TextDecoder().decode(data);
  else if (typeof Blob !== "undefined" && data instanceof Blob) text = await data.text();
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What a failed hub call looks like to a model: its code and message. */
export function errorOutput(error: unknown): { error: { code: string; message: string } } {
  const e = error as { code?: unknown; message?: unknown };
  return {
    error: {
      code: typeof e.code === "string" ? e.code : "internal",
      message: typeof e.message === "string" ? e.message : String(error),
    },
  };
}

/** The client's session: now, or once the hub welcomes it. */
export function sessionOf(client: DraftlineClient): Promise<Session> {
  if (client.session) return Promise.resolve(client.session);
  return new Promise((resolve) => {
    const off = client.on("session", (session) => {
      off();
      resolve(session);
    });
  });
}
