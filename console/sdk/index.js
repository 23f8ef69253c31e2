// The public surface of `@draftline/client`.
export * from "./generated/protocol.js";
export { DraftlineClient } from "./client.js";
export { SUBPROTOCOL } from "./websocket.js";
export { CHANNEL_LABEL } from "./webrtc.js";
export { DraftlineError } from "./errors.js";
export { Subscription } from "./subscription.js";
export { ProjectView } from "./watch.js";
export { toolProgressMessage } from "./progress.js";
//# sourceMappingURL=index.js.map