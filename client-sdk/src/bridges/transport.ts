// What the bridges need of the realtime model's connection, and how they read its frames.

import type { DraftlineClient } from "../client.js";
import type { Session } from "../generated/protocol.js";

/**
 * A WebSocket to the model's API, or a WebRTC data channel (`oai-events`): anything
 * that sends text and emits `message` events.
 */
export interface RealtimeTransport {
  send(data: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  removeEventListener?(type: "message", listener: (event: { data: unknown }) => void): void;
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
