// The public surface of `@draftline/client`.

export * from "./generated/protocol.js";
export { DraftlineClient } from "./client.js";
export type {
  ConfigureOptions,
  ConnectionState,
  DraftlineClientOptions,
  ToolArgs,
  ToolOutput,
  TranscriptItem,
  Welcome,
} from "./client.js";
export { SUBPROTOCOL } from "./websocket.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.js";
export { CHANNEL_LABEL } from "./webrtc.js";
export type { IceServer, RtcDataChannelLike, RtcPeerConnectionConstructor, RtcPeerConnectionLike } from "./webrtc.js";
export { DraftlineError } from "./errors.js";
export type { ClientErrorCode } from "./errors.js";
export { Subscription } from "./subscription.js";
export type { SubscribeOptions, Subscribed, SubscriptionState } from "./subscription.js";
export { ProjectView } from "./watch.js";
export type { ProjectSnapshot, ProjectState, WatchOptions } from "./watch.js";
export { toolProgressMessage } from "./progress.js";
