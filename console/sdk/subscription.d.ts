import type { Event, EventMessage, Position, ServerMessage } from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";
export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";
/** The server's `subscribed` reply. */
export type Subscribed = Extract<ServerMessage, {
    type: "subscribed";
}>;
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
export declare class Subscription {
    readonly topic: string;
    state: SubscriptionState;
    /** The last event delivered (or the topic's position when subscribed without `since`). */
    position: Position | undefined;
    private readonly options;
    private readonly host;
    /** Numbers subscribe requests, so the reply to a superseded one is ignored. */
    private attempt;
    /** @internal Made by `DraftlineClient.subscribe`. */
    constructor(host: SubscriptionHost, topic: string, options: SubscribeOptions);
    /** Stops the subscription; its callbacks are not called again. */
    unsubscribe(): Promise<void>;
    /** @internal (Re)subscribes from the last position: on creation, after each welcome, after a gap. */
    start(): void;
    /** @internal The server ended the subscription (e.g. access revoked). */
    end(error: DraftlineError): void;
    /** @internal Marks the subscription as waiting for the connection to come back. */
    suspend(): void;
    /** @internal A live event, or one replayed in a `subscribed` reply. */
    deliver(message: EventMessage): void;
    private subscribed;
}
//# sourceMappingURL=subscription.d.ts.map