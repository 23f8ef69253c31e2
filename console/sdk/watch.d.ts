import type { ChatMessage, Document, Event, Job, Note, Operation, Position, Presence, Project, ProjectId, ServerMessage, Todo, TranscriptPointer } from "./generated/protocol.js";
import { DraftlineError } from "./errors.js";
import type { SubscribeOptions, Subscription } from "./subscription.js";
/** A `snapshot` reply without its envelope. */
export type ProjectSnapshot = Omit<Extract<ServerMessage, {
    type: "snapshot";
}>, "type" | "re">;
/**
 * Everything the project's events change, as of `position`: equal to what a `snapshot`
 * taken at that position answers.
 */
export interface ProjectState {
    position: Position;
    project: Project;
    document: Document;
    /** Jobs not finished. */
    jobs: Job[];
    /** Operations waiting for a decision. */
    operations: Operation[];
    presence: Presence[];
    notes: Note[];
    todos: Todo[];
    transcript_pointers: TranscriptPointer[];
    chat: ChatMessage[];
}
export interface WatchOptions {
    /** The state after each change (and after the first snapshot). */
    onChange?(state: ProjectState): void;
    /**
     * Each event of the project's topic, once, in offset order, as it arrives: also one
     * whose change a snapshot taken meanwhile already holds.
     */
    onEvent?(event: Event, position: Position): void;
    /** The view stopped: access was revoked or the subscription refused. */
    onError?(error: DraftlineError): void;
}
/** What a view needs from its client. */
export interface ViewHost {
    subscribe(topic: string, options: SubscribeOptions): Subscription;
    snapshot(projectId: ProjectId): Promise<ProjectSnapshot>;
}
export declare class ProjectView {
    readonly projectId: ProjectId;
    /** Undefined until the first snapshot arrived. */
    state: ProjectState | undefined;
    /** Resolves with the first state. */
    readonly ready: Promise<ProjectState>;
    readonly subscription: Subscription;
    /** How many snapshots the view has taken (the first, then one per resync). */
    snapshots: number;
    private readonly host;
    private readonly options;
    /** Events that arrived while a snapshot was on its way. */
    private buffer;
    private syncing;
    private syncAttempt;
    private resolveReady;
    private rejectReady;
    /** @internal Made by `DraftlineClient.watchProject`. */
    constructor(host: ViewHost, projectId: ProjectId, options: WatchOptions);
    get position(): Position | undefined;
    /** Stops watching. */
    close(): Promise<void>;
    private event;
    private resync;
    private apply;
}
//# sourceMappingURL=watch.d.ts.map