// The seam between the client's protocol code (`client.ts`) and what carries its
// messages: a WebSocket (`websocket.ts`) or a WebRTC data channel (`webrtc.ts`).

import type { DraftlineError } from "./errors.js";

/** How a transport ended. */
export interface TransportClose {
  /**
   * The WebSocket close code (docs/protocol.md section 4.3). A data channel has none: the
   * client then reads the reason from `error`, or from the `error` message the hub sent
   * before closing (section 1.3).
   */
  code?: number;
  reason: string;
  /** Why it could not open: the hub's refusal of the offer, or no usable implementation. */
  error?: DraftlineError;
}

export interface TransportHandlers {
  /** Text can be sent (the client sends `hello`). */
  onopen(): void;
  /** One JSON message from the hub. */
  onmessage(text: string): void;
  /** Proof that the hub is there with nothing to read (the WebSocket's pings). */
  onalive(): void;
  /** The transport ended on its own or the hub's side; called once, never after `close`. */
  onclose(close: TransportClose): void;
}

/** One connection attempt's carrier of text messages; it never parses or answers a message. */
export interface Transport {
  /** Starts connecting with `token`; every outcome is told through `handlers`. */
  open(token: string, handlers: TransportHandlers): void;
  /** Sends one message; only after `onopen`. */
  send(text: string): void;
  /** Ends the transport from this side; no handler is called afterwards. `abort`: the hub is gone, skip the goodbye. */
  close(abort?: boolean): void;
}

/** The text of a message; the hub sends text only, which arrives as strings. */
export function textOf(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return undefined;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
