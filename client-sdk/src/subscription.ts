// One topic subscription: delivers its events once and in offset order, resubscribes from
// its last position after a gap or a reconnect, and says when events were lost.

import type { Event, EventMessage, Position, ServerMessage } from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";

export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";

/** The server's `subscribed` reply. */
export type Subscribed = Extract<ServerMessage, { type: "subscribed" }>;

export interface SubscribeOptions {
  /** Start after this position (the last event seen); without it, from now on. */
  since?: Position;
  /** Each event once, in offset order, with its position. */
  onEvent?(event: Event, position: Position, message: EventMessage): void;
  /** Every `subscribed` reply: the first, and each after a reconnect or a gap. */
  onSubscribed?(reply: Subscribed): void;
  /**
   * The topic could not be replayed from the last position (`recovered: false`: too
   * far behind, or a new epoch): events were missed. Reload the state (`snapshot`) and
   * continue; `position` is where the subscription now stands.
   */
  onReset?(position: Position): void;
  /** The subscription ended on the server's word (refused, or access revoked). */
  onError?(error: DraftlineError): void;
}

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  readonly connected: boolean;
  subscribeRequest(topic: string, since: Position | undefined): Promise<Subscribed>;
  unsubscribeRequest(topic: string): Promise<void>;
  forget(subscription: Subscription): void;
}

export class Subscription {
  readonly topic: string;
  state: SubscriptionState = "subscribing";
  /** The last event delivered (or the topic's position when subscribed without `since`). */
  position: Position | undefined;
  private readonly options: SubscribeOptions;
  private readonly host: SubscriptionHost;
  /** Numbers subscribe requests, so the reply to a superseded one is ignored. */
  private attempt = 0;

  /** @internal Made by `DraftlineClient.subscribe`. */
  constructor(host: SubscriptionHost, topic: string, options: SubscribeOptions) {
    this.host = host;
    this.topic = topic;
    this.options = options;
    this.position = options.since;
  }

  /** Stops the subscription; its callbacks are not called again. */
  async unsubscribe(): Promise<void> {
    if (this.state === "unsubscribed") return;
    this.state = "unsubscribed";
    this.attempt++;
    this.host.forget(this);
    if (this.host.connected) {
      await this.host.unsubscribeRequest(this.topic).catch(() => undefined);
    }
  }

  /** @internal (Re)subscribes from the last position: on creation, after each welcome, after a gap. */
  start(): void {
    if (this.state === "unsubscribed" || !this.host.connected) return;
    this.state = "subscribing";
    const attempt = ++this.attempt;
    this.host.subscribeRequest(this.topic, this.position).then(
      (reply) => {
        if (attempt === this.attempt && this.state !== "unsubscribed") this.subscribed(reply);
      },
      (error: unknown) => {
        if (attempt !== this.attempt || this.state === "unsubscribed") return;
        const e = error instanceof DraftlineError ? error : new DraftlineError("internal", String(error));
        // A dropped connection resubscribes on its own after the next welcome.
        if (e.code === "disconnected") return;
        // No reply in time on a live connection: ask again (subscribing again replaces
        // the subscription, and the late reply to this attempt is ignored).
        if (e.code === "timeout") {
          if (this.host.connected) this.start();
          return;
        }
        this.end(e);
      },
    );
  }

  /** @internal The server ended the subscription (e.g. access revoked). */
  end(error: DraftlineError): void {
    if (this.state === "unsubscribed") return;
    this.state = "unsubscribed";
    this.attempt++;
    this.host.forget(this);
    this.options.onError?.(error);
  }

  /** @internal Marks the subscription as waiting for the connection to come back. */
  suspend(): void {
    if (this.state === "subscribed") this.state = "subscribing";
  }

  /** @internal A live event, or one replayed in a `subscribed` reply. */
  deliver(message: EventMessage): void {
    if (this.state === "unsubscribed") return;
    const at = this.position;
    if (at && message.epoch === at.epoch) {
      if (message.offset <= at.offset) return; // seen already
      if (message.offset > at.offset + 1) {
        // A gap: replay from the last position (the reply holds what was missed).
        if (this.state === "subscribed") this.start();
        return;
      }
    } else if (at) {
      // A new epoch: the topic's history was lost. Subscribing from the old position
      // answers `recovered: false`, which resets the position.
      if (this.state === "subscribed") this.start();
      return;
    }
    this.position = { epoch: message.epoch, offset: message.offset };
    this.options.onEvent?.(message.event, this.position, message);
  }

  private subscribed(reply: Subscribed): void {
    const had = this.position;
    this.state = "subscribed";
    if (reply.recovered) {
      for (const message of reply.publications) this.deliver(message);
      this.options.onSubscribed?.(reply);
      return;
    }
    this.position = { epoch: reply.epoch, offset: reply.offset };
    this.options.onSubscribed?.(reply);
    if (had) this.options.onReset?.(this.position);
  }
}
