export type ApplyDocumentEditsArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * The document version the edit was made on; a newer current version is a
     * conflict.
     */
    base_version: number;
    /**
     * The whole new document, in Markdown.
     */
    markdown: string;
    /**
     * A one-paragraph summary of the document as it now stands.
     */
    summary?: string | null;
};
export type AssignProjectArgs = {
    /**
     * The project this session works on from now on.
     */
    project_id: ProjectId;
};
export type AssignedOut = {
    project: Project;
    session: Session;
    /**
     * What earlier conversations learned about the person and the project, newest
     * first and bounded, so a new session starts from it.
     */
    memory: Array<MemoryEntry>;
};
/**
 * A fresh token for the same user, sent before the connection's token expires: the
 * connection then lives until the new token's `exp` (docs/protocol.md section 1.2).
 */
export type AuthRefresh = {
    id: RequestId;
    token: string;
};
/**
 * Operations decided together by one `operation.decide`.
 */
export type BatchId = string;
/**
 * One blueprint field. The declaration order is the importance order used by
 * `get_blueprint_gaps`.
 */
export type BlueprintField = "summary" | "audience" | "voice" | "outline" | "integrity_ideals" | "people_bonds" | "goals_momentum" | "meaning_identity" | "reality_understanding" | "trust_safeguards" | "opportunity_freedom" | "power_resources" | "harmony_integration";
export type ChatMessage = {
    id: MessageId;
    project_id: ProjectId;
    role: ChatRole;
    author_id: UserId | null;
    text: string;
    job_id: JobId | null;
    created_at: string;
};
export type ChatRole = "user" | "assistant";
export type ChatSend = {
    id: RequestId;
    project_id: ProjectId;
    text: string;
};
/**
 * What a client says about itself in `hello`.
 */
export type ClientInfo = {
    name: string;
    version: string;
};
/**
 * Every message a client may send, tagged by `type`. Each variant's fields are a
 * struct of their own that rejects unknown fields.
 */
export type ClientMessage = {
    "type": "hello";
} & Hello | {
    "type": "session.configure";
} & SessionConfigure | {
    "type": "tool.call";
} & ToolCall | {
    "type": "transcript.append";
} & TranscriptAppend | {
    "type": "subscribe";
} & Subscribe | {
    "type": "unsubscribe";
} & Unsubscribe | {
    "type": "snapshot";
} & Snapshot | {
    "type": "operation.decide";
} & OperationDecide | {
    "type": "chat.send";
} & ChatSend | {
    "type": "ping";
} & Ping | {
    "type": "auth.refresh";
} & AuthRefresh;
/**
 * One WebSocket (or data channel) connection of a session.
 */
export type ConnectionId = string;
export type CreateNoteArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    body: string;
    tags?: Array<string> | null;
    /**
     * When the note saves a forecast: its scenario (kept as a `scenario:<name>` tag).
     */
    scenario?: Scenario | null;
};
export type CreateProjectArgs = {
    /**
     * A short name for the project, as the person says it.
     */
    name: string;
    /**
     * What the project is about, in a sentence or two.
     */
    description?: string | null;
};
export type CreateTodoArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    title: string;
    details?: string | null;
    /**
     * Defaults to medium.
     */
    priority?: Priority | null;
};
/**
 * The result of `operation.decide`.
 */
export type Decided = {
    batch_id: BatchId;
    /**
     * The decided operations in the order they ran, as they now stand.
     */
    operations: Array<Operation>;
    /**
     * How many were approved and completed (or rejected, for a rejection).
     */
    completed: number;
    total: number;
    /**
     * "N of M completed" (or rejected).
     */
    message: string;
};
export type Decision = "approve" | "reject";
export type DeleteTodoArgs = {
    /**
     * The todo, by the id its tool answered. Defaults to the todo this session is
     * focused on.
     */
    todo_id?: TodoId | null;
};
export type Document = {
    id: DocumentId;
    project_id: ProjectId;
    markdown: string;
    sections: Array<Section>;
    summary: string;
    /**
     * 0 for the empty document every project starts with.
     */
    version: number;
    updated_at: string;
};
/**
 * The document of a project (one per project).
 */
export type DocumentId = string;
export type DocumentOut = {
    document: Document;
};
export type DocumentUpdated = {
    project_id: ProjectId;
    document_id: DocumentId;
    version: number;
    summary: string;
    sections: Array<Section>;
    source: Source;
    conflicts?: Array<string> | null;
};
export type DraftDelta = {
    job_id: JobId;
    seq: number;
    text: string;
};
/**
 * How a draft request was answered: it made a new job (`queued`), joined the one
 * waiting (`merged`), or repeated a recent one at no higher urgency (`throttled`).
 */
export type DraftOutcome = "queued" | "merged" | "throttled";
/**
 * What `queue_draft_update` answers: the job that will write the draft, and whether
 * the request made it (`queued`), joined a waiting one (`merged`) or repeated a recent
 * one (`throttled`).
 */
export type DraftQueuedOut = {
    job_id: JobId;
    status: DraftOutcome;
};
/**
 * What an operation changes.
 */
export type Entity = "project" | "operation" | "memory" | "blueprint" | "note" | "todo" | "transcript_pointer" | "document" | "job";
/**
 * `{code, message, retry_after_ms?, details?}`: what every failure looks like on the wire.
 */
export type ErrorBody = {
    code: ErrorCode;
    message: string;
    retry_after_ms?: number | null;
    details?: JsonValue | null;
};
/**
 * The wire error codes. Each has one HTTP status for the HTTP API.
 */
export type ErrorCode = "bad_request" | "unauthorized" | "forbidden" | "not_found" | "invalid_arguments" | "unknown_tool" | "tool_not_allowed" | "conflict" | "rate_limited" | "unavailable" | "internal";
/**
 * One event, tagged by `kind`.
 */
export type Event = {
    "kind": "job.status";
} & JobStatusEvent | {
    "kind": "tool.progress";
} & ToolProgress | {
    "kind": "draft.delta";
} & DraftDelta | {
    "kind": "document.updated";
} & DocumentUpdated | {
    "kind": "operation.created";
    operation: Operation;
} | {
    "kind": "operation.updated";
    operation: Operation;
} | {
    "kind": "project.updated";
    project: Project;
} | {
    "kind": "note.created";
    note: Note;
} | {
    "kind": "note.updated";
    note: Note;
} | {
    "kind": "memory.created";
    entry: MemoryEntry;
} | {
    "kind": "memory.deleted";
    entry: MemoryEntry;
} | {
    "kind": "note.deleted";
    note: Note;
} | {
    "kind": "todo.created";
    todo: Todo;
} | {
    "kind": "todo.updated";
    todo: Todo;
} | {
    "kind": "todo.deleted";
    todo: Todo;
} | {
    "kind": "transcript.pointer";
    pointer: TranscriptPointer;
} | {
    "kind": "session.phase";
} & SessionPhase | {
    "kind": "chat.delta";
    message_id: MessageId;
    seq: number;
    text: string;
} | {
    "kind": "chat.message";
    message: ChatMessage;
} | {
    "kind": "presence.joined";
} & Presence | {
    "kind": "presence.left";
} & Presence;
/**
 * One event as delivered on a topic.
 */
export type EventMessage = {
    topic: string;
    epoch: string;
    offset: number;
    event: Event;
};
export type FieldSyncedOut = {
    field: BlueprintField;
    value: string;
    gaps_left: number;
};
/**
 * What `focus_todo` answers: the todo in focus with its context (`null` and empty
 * lists once the session moved on).
 */
export type FocusOut = {
    todo: Todo | null;
    /**
     * The project's notes tagged with the todo or mentioning its title, newest first.
     */
    notes: Array<Note>;
    /**
     * Recent transcript items mentioning its title, oldest first.
     */
    transcript: Array<TranscriptItem>;
};
export type FocusTodoArgs = {
    /**
     * The todo of this session's project to work on; leave it out to move on from
     * the current one.
     */
    todo_id?: TodoId | null;
};
export type ForgetMemoryArgs = {
    /**
     * The entry, by the id remember or list_memory answered.
     */
    memory_id: MemoryId;
};
/**
 * `{type: "function", name, description, parameters}`, as the OpenAI Realtime API takes
 * tools in `session.update`.
 */
export type FunctionDef = {
    type: string;
    name: string;
    description: string;
    parameters: JsonValue;
};
/**
 * A missing blueprint field, as `get_blueprint_gaps` lists it.
 */
export type Gap = {
    field: BlueprintField;
    priority: GapPriority;
    question: string;
};
/**
 * How urgently a missing field should be asked about.
 */
export type GapPriority = "high" | "medium" | "low";
/**
 * The missing fields, and the one to ask next as the session's phase picks it (`null`
 * once the conversation is completed, or when finalizing finds nothing essential
 * missing).
 */
export type GapsOut = {
    gaps: Array<Gap>;
    phase: Phase;
    next: Gap | null;
};
export type GetDraftStatusArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * Defaults to the project's latest draft job.
     */
    job_id?: JobId | null;
};
export type GetSessionPhaseArgs = Record<symbol, never>;
export type Hello = {
    id: RequestId;
    token?: string | null;
    client: ClientInfo;
    /**
     * Resume this session (it must be the caller's).
     */
    session_id?: SessionId | null;
};
/**
 * A durable background job, as clients and admins see it (the lease token stays
 * internal).
 */
export type Job = {
    id: JobId;
    kind: string;
    queue: string;
    project_id: ProjectId | null;
    session_id: SessionId | null;
    /**
     * `queued`, `running`, `completed`, `failed` or `cancelled` (`retrying` is an event:
     * the job is `queued` again with a later `run_after`).
     */
    status: JobStatus;
    priority: number;
    payload: JsonValue;
    idempotency_key: string | null;
    attempts: number;
    max_attempts: number;
    run_after: string;
    lease_owner: string | null;
    lease_expires_at: string | null;
    created_at: string;
    started_at: string | null;
    completed_at: string | null;
    duration_ms: number | null;
    usage: JsonValue | null;
    result: JsonValue | null;
    generated_summary: string | null;
    error: string | null;
};
/**
 * A durable background job.
 */
export type JobId = string;
export type JobOut = {
    job: Job;
};
export type JobStatus = "queued" | "running" | "retrying" | "completed" | "failed" | "cancelled";
export type JobStatusEvent = {
    job_id: JobId;
    job_kind: string;
    project_id: ProjectId;
    status: JobStatus;
    attempt: number;
    at: string;
};
export type JsonValue = number | string | boolean | Array<JsonValue> | {
    [key in string]: JsonValue;
} | null;
/**
 * The limits a connection runs under, announced in `welcome`.
 */
export type Limits = {
    max_frame_bytes: number;
    max_subscriptions: number;
    /**
     * Messages the server queues for a client that is not reading before it closes
     * the connection with 4008.
     */
    max_queued_messages: number;
    max_queued_bytes: number;
    /**
     * Sustained client messages per second, and the burst above it.
     */
    messages_per_second: number;
    message_burst: number;
    max_connections_per_user: number;
};
export type ListMemoryArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * Only entries of this kind.
     */
    kind?: MemoryKind | null;
};
export type ListProjectsArgs = {
    /**
     * Only projects with this status.
     */
    status?: ProjectStatus | null;
};
export type ListTodosArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * Only todos with this status.
     */
    status?: TodoStatus | null;
};
/**
 * Something the assistant learned about a person and a project, kept across sessions.
 */
export type MemoryEntry = {
    id: MemoryId;
    project_id: ProjectId;
    /**
     * The person it was learned from.
     */
    user_id: UserId;
    kind: MemoryKind;
    body: string;
    source: MemorySource | null;
    session_id: SessionId | null;
    created_at: string;
};
/**
 * A memory entry: something learned about a person and a project.
 */
export type MemoryId = string;
/**
 * What a memory entry records.
 */
export type MemoryKind = "preference" | "fact" | "decision";
/**
 * Memory entries, newest first.
 */
export type MemoryListOut = {
    memory: Array<MemoryEntry>;
};
export type MemoryOut = {
    entry: MemoryEntry;
};
export type MemorySource = {
    kind: MemorySourceKind;
    /**
     * The transcript item's id, or the note's or operation's.
     */
    id: string;
};
/**
 * Where a memory entry was learned.
 */
export type MemorySourceKind = "transcript_item" | "note" | "operation";
/**
 * A chat message of a project.
 */
export type MessageId = string;
export type Mode = "selection" | "intake" | "ghostwriting" | "update" | "audit" | "forecast";
export type Note = {
    id: NoteId;
    project_id: ProjectId;
    body: string;
    tags: Array<string>;
    author_id: UserId;
    session_id: SessionId | null;
    created_at: string;
    updated_at: string;
};
/**
 * A note of a project.
 */
export type NoteId = string;
export type NoteOut = {
    note: Note;
};
export type NotesOut = {
    notes: Array<Note>;
};
/**
 * What `ok` carries, by request.
 */
export type OkData = {
    session: Session;
} | {
    appended: number;
} | {
    message_id: MessageId;
    job_id: JobId;
} | Decided | {
    expires_at: string;
};
/**
 * A change made (or proposed) by a tool call (docs/protocol.md section 8.7).
 */
export type Operation = {
    id: OperationId;
    session_id: SessionId;
    /**
     * Absent only for a `create_project` not yet executed.
     */
    project_id: ProjectId | null;
    /**
     * Set when the operation was decided together with others by one
     * `operation.decide`.
     */
    batch_id: BatchId | null;
    /**
     * Position among the session's operations (1, 2, 3, ...); approvals run in this
     * order.
     */
    seq: number;
    tool: string;
    kind: OperationKind;
    entity: Entity;
    /**
     * Known once the entity exists.
     */
    entity_id: string | null;
    /**
     * The tool's arguments (after any edits made when approving).
     */
    data: JsonValue;
    before: JsonValue | null;
    after: JsonValue | null;
    status: OperationStatus;
    error: ErrorBody | null;
    /**
     * The user who approved or rejected it; `null` while pending and for changes
     * applied at once.
     */
    decided_by: UserId | null;
    created_at: string;
    executed_at: string | null;
    duration_ms: number | null;
    /**
     * On a `rolled_back` operation: the user whose rollback undid it.
     */
    rolled_back_by?: UserId | null;
    /**
     * On a rollback (`rollback_operation`): the operation it undoes.
     */
    rollback_of?: OperationId | null;
    /**
     * Proposed by `suggest_operations`: it runs only when a person approves it,
     * whatever the proposing session's `auto_accept`.
     */
    suggestion?: boolean;
    /**
     * Why a suggestion was made, for whoever decides it.
     */
    reason?: string | null;
    /**
     * On a corrected operation (`propose_recovery`): the failed operation it recovers.
     */
    recovers?: OperationId | null;
};
export type OperationDecide = {
    id: RequestId;
    operation_ids: Array<OperationId>;
    decision: Decision;
    /**
     * Per operation, a JSON merge patch (RFC 7396) over its `data` applied before it
     * runs; approve only.
     */
    edits?: {
        [key in OperationId]: JsonValue;
    } | null;
};
/**
 * A recorded change (an operation), pending approval or done.
 */
export type OperationId = string;
export type OperationKind = "create" | "update" | "delete";
export type OperationStatus = "pending" | "executing" | "completed" | "failed" | "rejected" | "rolled_back";
/**
 * What a changing tool answers in a session with `auto_accept: false`.
 */
export type PendingOut = {
    status: PendingStatus;
    operation_id: OperationId;
    operation: Operation;
};
/**
 * The status of a change recorded for a person to decide: always `pending_approval`.
 */
export type PendingStatus = "pending_approval";
/**
 * Where a conversation stands: gathering what the person has to say, clarifying what
 * is unclear, finalizing (only what the document cannot do without), completed.
 */
export type Phase = "gathering" | "clarifying" | "finalizing" | "completed";
/**
 * Where the session's conversation stands (`get_session_phase`, `set_session_phase`).
 */
export type PhaseOut = {
    phase: Phase;
    dimensions_covered: Array<BlueprintField>;
    dimensions_open: Array<BlueprintField>;
};
export type Ping = {
    id: RequestId;
};
/**
 * A transcript pointer: a labelled reference to a transcript item.
 */
export type PointerId = string;
export type PointerOut = {
    pointer: TranscriptPointer;
};
/**
 * A position in a topic's history.
 */
export type Position = {
    epoch: string;
    offset: number;
};
export type Presence = {
    session_id: SessionId;
    user_id: UserId;
    client: ClientInfo | null;
};
export type Priority = "low" | "medium" | "high";
export type Project = {
    id: ProjectId;
    owner_id: UserId;
    name: string;
    description: string;
    status: ProjectStatus;
    /**
     * The committed blueprint.
     */
    blueprint: {
        [key in BlueprintField]?: string;
    };
    /**
     * The blueprint being filled during intake.
     */
    blueprint_draft: {
        [key in BlueprintField]?: string;
    };
    /**
     * 0 until the first `commit_blueprint`.
     */
    blueprint_version: number;
    /**
     * The caller's role, when the project is read for a user.
     */
    role?: Role | null;
    created_at: string;
    updated_at: string;
};
export type ProjectArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
};
/**
 * A project: one document being co-written, with its blueprint, notes and todos.
 */
export type ProjectId = string;
export type ProjectOut = {
    project: Project;
};
export type ProjectStatus = "active" | "paused" | "completed" | "archived";
export type ProjectsOut = {
    projects: Array<Project>;
};
export type ProposeRecoveryArgs = {
    /**
     * The failed operation to correct.
     */
    operation_id: OperationId;
    /**
     * Changes to its arguments (a JSON merge patch: a key replaces, `null` removes);
     * leave it out to propose it again as it was.
     */
    arguments?: {
        [key in string]: JsonValue;
    } | null;
    /**
     * What was corrected, in a sentence the person reads before deciding.
     */
    reason?: string | null;
};
export type QueueDraftUpdateArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    urgency: Urgency;
    /**
     * What the update should cover.
     */
    summary?: string | null;
    /**
     * Transcript items the draft should draw on.
     */
    message_pointers?: Array<string> | null;
    transcript_anchors?: Array<TranscriptAnchor> | null;
};
export type RecordTranscriptPointerArgs = {
    /**
     * The transcript item (as sent in `transcript.append`) worth coming back to.
     */
    item_id: string;
    /**
     * Why it matters, in a few words.
     */
    label?: string | null;
};
export type RememberArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    kind: MemoryKind;
    /**
     * What to remember, in a sentence.
     */
    body: string;
    /**
     * Where it was said or decided: a transcript item of this session, a note or an
     * operation of the project.
     */
    source?: MemorySource | null;
};
/**
 * The `id` a client puts on a request and the server echoes as `re`: a string or an
 * integer, chosen by the client.
 */
export type RequestId = number | string;
/**
 * A user's role in a project. Owners and editors change it; viewers only read.
 */
export type Role = "owner" | "editor" | "viewer";
export type RollbackOperationArgs = {
    /**
     * The completed operation to undo, by the id its tool or event answered.
     */
    operation_id: OperationId;
};
/**
 * What `rollback_operation` answers: the operation it undid (now `rolled_back`), and
 * the entity as the rollback left it (for a rolled-back creation, as it was removed).
 */
export type RolledBackOut = {
    rolled_back: Operation;
    entity: JsonValue;
};
/**
 * A forecast's scenario, saved with a forecast note (as its `scenario:<name>` tag).
 */
export type Scenario = "optimistic" | "realistic" | "pessimistic";
/**
 * A heading of the document: `key` is stable for the same heading path and is what
 * per-section merges match on.
 */
export type Section = {
    key: string;
    title: string;
    level: number;
};
export type ServerMessage = {
    "type": "welcome";
    re: RequestId;
    protocol: number;
    session_id: SessionId;
    connection_id: ConnectionId;
    node_id: string;
    heartbeat_ms: number;
    limits: Limits;
    /**
     * The session as it stands (new, or resumed).
     */
    session: Session;
} | {
    "type": "ok";
    re: RequestId;
    data?: OkData | null;
} | {
    "type": "tool.result";
    re: RequestId;
    call_id: string;
} & ({
    ok: true;
    output: JsonValue;
} | {
    ok: false;
    error: ErrorBody;
}) | {
    "type": "subscribed";
    re: RequestId;
    topic: string;
    epoch: string;
    offset: number;
    recovered: boolean;
    publications: Array<EventMessage>;
} | {
    "type": "event";
} & EventMessage | {
    "type": "snapshot";
    re: RequestId;
    position: Position;
    project: Project;
    document: Document;
    /**
     * The project's jobs that have not finished.
     */
    jobs: Array<Job>;
    operations: Array<Operation>;
    /**
     * The sessions present in the project (docs/protocol.md section 5.6).
     */
    presence: Array<Presence>;
    /**
     * The project's notes, newest first (at most 1,000, as `list_notes`).
     */
    notes: Array<Note>;
    /**
     * The project's todos in `list_todos` order (at most 1,000).
     */
    todos: Array<Todo>;
    /**
     * The project's transcript pointers, oldest first.
     */
    transcript_pointers: Array<TranscriptPointer>;
    /**
     * The newest [`SNAPSHOT_CHAT_MESSAGES`] chat messages, oldest first.
     */
    chat: Array<ChatMessage>;
} | {
    "type": "pong";
    re: RequestId;
} | {
    "type": "error";
    re?: RequestId | null;
    code: ErrorCode;
    message: string;
    retry_after_ms?: number | null;
    details?: JsonValue | null;
};
export type Session = {
    id: SessionId;
    user_id: UserId;
    project_id: ProjectId | null;
    mode: Mode;
    auto_accept: boolean;
    metadata: SessionMetadata;
    client?: ClientInfo | null;
    created_at: string;
    updated_at: string;
};
export type SessionConfigure = {
    id: RequestId;
    mode?: Mode | null;
    project_id?: ProjectId | null;
    auto_accept?: boolean | null;
    /**
     * Focuses the session on a todo of its project (`focus_todo` moves on).
     */
    todo_id?: TodoId | null;
};
/**
 * An assistant session: one conversation, resumable across connections.
 */
export type SessionId = string;
/**
 * Session metadata kept with the session: where the conversation stands.
 */
export type SessionMetadata = {
    /**
     * The phase of the conversation, set by `set_session_phase`; a new session starts
     * `gathering`.
     */
    phase?: Phase | null;
    /**
     * Blueprint fields this session has filled, in the order it filled them.
     */
    dimensions_covered: Array<BlueprintField>;
    /**
     * Blueprint fields the conversation still has to come back to, in the order to
     * ask them; filling one (`sync_blueprint_field`) takes it off.
     */
    dimensions_open: Array<BlueprintField>;
    /**
     * The todo the session is focused on (`focus_todo`, or `session.configure` with
     * `todo_id`): the todo tools default to it and may not name another.
     */
    todo_id?: TodoId | null;
};
/**
 * Where a session's conversation stands.
 */
export type SessionPhase = {
    session_id: SessionId;
    project_id: ProjectId | null;
    phase: Phase;
    dimensions_covered: Array<BlueprintField>;
    dimensions_open: Array<BlueprintField>;
};
export type SetSessionPhaseArgs = {
    /**
     * The phase the conversation moves to.
     */
    phase?: Phase | null;
    /**
     * Replaces the fields this conversation has covered.
     */
    dimensions_covered?: Array<BlueprintField> | null;
    /**
     * Replaces the fields to come back to, in the order to ask them.
     */
    dimensions_open?: Array<BlueprintField> | null;
};
export type Snapshot = {
    id: RequestId;
    project_id: ProjectId;
};
/**
 * Where a document version came from.
 */
export type Source = {
    job_id?: JobId | null;
    session_id?: SessionId | null;
};
export type Subscribe = {
    id: RequestId;
    topic: string;
    since?: Position | null;
};
export type SuggestOperationsArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * The changes to propose, in the order they would run.
     */
    operations: Array<SuggestedOperation>;
};
/**
 * One proposed change.
 */
export type SuggestedOperation = {
    /**
     * A tool that changes data (create_note, create_todo, update_todo,
     * update_todo_status, delete_todo, update_note, update_project,
     * rollback_operation, ...), whatever this session's mode allows.
     */
    tool: string;
    /**
     * That tool's arguments, as it takes them.
     */
    arguments: {
        [key in string]: JsonValue;
    };
    /**
     * Why, in a sentence the person reads before deciding.
     */
    reason?: string | null;
};
/**
 * What `suggest_operations` answers: the proposals, each a pending operation marked
 * `suggestion`.
 */
export type SuggestedOut = {
    status: PendingStatus;
    operations: Array<Operation>;
};
export type SyncBlueprintFieldArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    /**
     * The blueprint field to fill.
     */
    field: BlueprintField;
    /**
     * What the person said for it, in their words, condensed. An empty value clears
     * the field.
     */
    value: string;
};
export type Todo = {
    id: TodoId;
    project_id: ProjectId;
    title: string;
    details: string;
    status: TodoStatus;
    priority: Priority;
    session_id: SessionId | null;
    created_at: string;
    updated_at: string;
};
/**
 * A todo of a project.
 */
export type TodoId = string;
export type TodoOut = {
    todo: Todo;
};
export type TodoStatus = "open" | "in_progress" | "done" | "blocked";
export type TodosOut = {
    todos: Array<Todo>;
};
export type ToolCall = {
    id: RequestId;
    call_id: string;
    name: string;
    /**
     * An object, or a JSON string holding one (as the OpenAI Realtime API emits).
     */
    arguments: JsonValue;
};
/**
 * Every tool the hub answers.
 *
 * `queue_draft_update` has its argument type in [`args`] but joins the catalogue with
 * the drafting pipeline that answers it.
 */
export type ToolName = "list_projects" | "create_project" | "assign_project_to_session" | "get_project" | "update_project" | "sync_blueprint_field" | "get_blueprint_gaps" | "commit_blueprint" | "create_note" | "update_note" | "list_notes" | "create_todo" | "update_todo" | "update_todo_status" | "delete_todo" | "list_todos" | "record_transcript_pointer" | "get_document" | "apply_document_edits" | "queue_draft_update" | "get_draft_status" | "rollback_operation" | "suggest_operations" | "get_session_phase" | "set_session_phase" | "remember" | "list_memory" | "forget_memory" | "focus_todo" | "propose_recovery";
/**
 * The TOOL_PROGRESS message an assistant can narrate.
 */
export type ToolProgress = {
    job_id: JobId;
    project_id: ProjectId;
    session_id: SessionId | null;
    status: JobStatus;
    summary?: string | null;
    error?: string | null;
    sections?: Array<string> | null;
    /**
     * One sentence an assistant can say aloud.
     */
    narration?: string | null;
};
/**
 * A transcript item a draft should draw on, with the words that matter.
 */
export type TranscriptAnchor = {
    item_id: string;
    quote?: string | null;
};
export type TranscriptAppend = {
    id: RequestId;
    items: Array<TranscriptItemInput>;
};
export type TranscriptItem = {
    session_id: SessionId;
    seq: number;
    item_id: string;
    role: TranscriptRole;
    text: string;
    at: string;
};
export type TranscriptItemInput = {
    item_id: string;
    role: TranscriptRole;
    text: string;
    at: string;
};
export type TranscriptPointer = {
    id: PointerId;
    session_id: SessionId;
    project_id: ProjectId;
    item_id: string;
    label: string | null;
    created_at: string;
};
export type TranscriptRole = "user" | "assistant" | "system";
export type Unsubscribe = {
    id: RequestId;
    topic: string;
};
export type UpdateNoteArgs = {
    /**
     * The note to change.
     */
    note_id: NoteId;
    body?: string | null;
    /**
     * Replaces the note's tags.
     */
    tags?: Array<string> | null;
};
export type UpdateProjectArgs = {
    /**
     * Defaults to the session's project.
     */
    project_id?: ProjectId | null;
    name?: string | null;
    description?: string | null;
    status?: ProjectStatus | null;
};
export type UpdateTodoArgs = {
    /**
     * The todo, by the id its tool answered. Defaults to the todo this session is
     * focused on.
     */
    todo_id?: TodoId | null;
    title?: string | null;
    details?: string | null;
    priority?: Priority | null;
    status?: TodoStatus | null;
};
export type UpdateTodoStatusArgs = {
    /**
     * The todo, by the id its tool answered. Defaults to the todo this session is
     * focused on.
     */
    todo_id?: TodoId | null;
    status: TodoStatus;
};
export type Urgency = "low" | "normal" | "high";
/**
 * A user id: the `sub` claim of the caller's token.
 */
export type UserId = string;
/** Each tool's arguments and output. A tool that changes data answers `PendingOut` instead in a session with `auto_accept: false`. */
export type Tools = {
    list_projects: {
        args: ListProjectsArgs;
        output: ProjectsOut;
    };
    create_project: {
        args: CreateProjectArgs;
        output: ProjectOut | PendingOut;
    };
    assign_project_to_session: {
        args: AssignProjectArgs;
        output: AssignedOut;
    };
    get_project: {
        args: ProjectArgs;
        output: ProjectOut;
    };
    update_project: {
        args: UpdateProjectArgs;
        output: ProjectOut | PendingOut;
    };
    sync_blueprint_field: {
        args: SyncBlueprintFieldArgs;
        output: FieldSyncedOut | PendingOut;
    };
    get_blueprint_gaps: {
        args: ProjectArgs;
        output: GapsOut;
    };
    commit_blueprint: {
        args: ProjectArgs;
        output: ProjectOut | PendingOut;
    };
    create_note: {
        args: CreateNoteArgs;
        output: NoteOut | PendingOut;
    };
    update_note: {
        args: UpdateNoteArgs;
        output: NoteOut | PendingOut;
    };
    list_notes: {
        args: ProjectArgs;
        output: NotesOut;
    };
    create_todo: {
        args: CreateTodoArgs;
        output: TodoOut | PendingOut;
    };
    update_todo: {
        args: UpdateTodoArgs;
        output: TodoOut | PendingOut;
    };
    update_todo_status: {
        args: UpdateTodoStatusArgs;
        output: TodoOut | PendingOut;
    };
    delete_todo: {
        args: DeleteTodoArgs;
        output: TodoOut | PendingOut;
    };
    list_todos: {
        args: ListTodosArgs;
        output: TodosOut;
    };
    record_transcript_pointer: {
        args: RecordTranscriptPointerArgs;
        output: PointerOut | PendingOut;
    };
    get_document: {
        args: ProjectArgs;
        output: DocumentOut;
    };
    apply_document_edits: {
        args: ApplyDocumentEditsArgs;
        output: DocumentOut | PendingOut;
    };
    queue_draft_update: {
        args: QueueDraftUpdateArgs;
        output: DraftQueuedOut;
    };
    get_draft_status: {
        args: GetDraftStatusArgs;
        output: JobOut;
    };
    rollback_operation: {
        args: RollbackOperationArgs;
        output: RolledBackOut | PendingOut;
    };
    suggest_operations: {
        args: SuggestOperationsArgs;
        output: SuggestedOut;
    };
    get_session_phase: {
        args: GetSessionPhaseArgs;
        output: PhaseOut;
    };
    set_session_phase: {
        args: SetSessionPhaseArgs;
        output: PhaseOut;
    };
    remember: {
        args: RememberArgs;
        output: MemoryOut | PendingOut;
    };
    list_memory: {
        args: ListMemoryArgs;
        output: MemoryListOut;
    };
    forget_memory: {
        args: ForgetMemoryArgs;
        output: MemoryOut | PendingOut;
    };
    focus_todo: {
        args: FocusTodoArgs;
        output: FocusOut;
    };
    propose_recovery: {
        args: ProposeRecoveryArgs;
        output: PendingOut;
    };
};
//# sourceMappingURL=protocol.d.ts.map