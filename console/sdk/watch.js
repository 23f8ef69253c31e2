// A live view of a project: a position-first snapshot, then every event after its
// position folded in once, with a fresh snapshot whenever events were lost.
import { DraftlineError } from "./errors.js";
// As many as the hub's snapshot holds (server: `list_notes`, `list_todos` and
// `SNAPSHOT_CHAT_MESSAGES`), so a folded state stays equal to a fresh snapshot.
const MAX_NOTES = 1000;
const MAX_TODOS = 1000;
const MAX_CHAT = 100;
export class ProjectView {
    projectId;
    /** Undefined until the first snapshot arrived. */
    state;
    /** Resolves with the first state. */
    ready;
    subscription;
    /** How many snapshots the view has taken (the first, then one per resync). */
    snapshots = 0;
    host;
    options;
    /** Events that arrived while a snapshot was on its way. */
    buffer = [];
    syncing = false;
    syncAttempt = 0;
    resolveReady;
    rejectReady;
    /** @internal Made by `DraftlineClient.watchProject`. */
    constructor(host, projectId, options) {
        this.host = host;
        this.projectId = projectId;
        this.options = options;
        this.ready = new Promise((resolve, reject) => {
            this.resolveReady = resolve;
            this.rejectReady = reject;
        });
        // Unobserved, a failed `ready` must not crash the process; `onError` reports it.
        this.ready.catch(() => undefined);
        this.subscription = host.subscribe(`project:${projectId}`, {
            onSubscribed: (reply) => {
                // Without a recovery (the first subscribe, too far behind, a new epoch) or
                // with a snapshot that never arrived, the state is rebuilt.
                if (!reply.recovered || this.syncing || !this.state)
                    void this.resync();
            },
            onEvent: (event, position) => this.event(event, position),
            onError: (error) => {
                this.rejectReady(error);
                this.options.onError?.(error);
            },
        });
    }
    get position() {
        return this.state?.position;
    }
    /** Stops watching. */
    async close() {
        this.syncAttempt++;
        await this.subscription.unsubscribe();
    }
    event(event, position) {
        // Every event is told once, in offset order, as the subscription delivers it: a
        // snapshot taken meanwhile may already hold its change (the state skips it then),
        // but a reader of the events (a log, streamed draft text) must not lose it.
        this.options.onEvent?.(event, position);
        if (this.syncing || !this.state) {
            this.buffer.push({ event, position });
            return;
        }
        this.apply(event, position);
    }
    async resync() {
        const attempt = ++this.syncAttempt;
        this.syncing = true;
        let snapshot;
        try {
            snapshot = await this.host.snapshot(this.projectId);
        }
        catch (error) {
            if (attempt !== this.syncAttempt || this.subscription.state === "unsubscribed")
                return;
            const e = error instanceof DraftlineError ? error : new DraftlineError("internal", String(error));
            // A dropped connection resubscribes, and `onSubscribed` resyncs then.
            if (e.code === "disconnected")
                return;
            // No reply in time while the subscription is live: ask again (a suspended one
            // resyncs when it is subscribed again).
            if (e.code === "timeout") {
                if (this.subscription.state === "subscribed")
                    void this.resync();
                return;
            }
            this.rejectReady(e);
            this.options.onError?.(e);
            return;
        }
        if (attempt !== this.syncAttempt)
            return;
        this.snapshots++;
        this.state = {
            position: snapshot.position,
            project: snapshot.project,
            document: snapshot.document,
            jobs: snapshot.jobs,
            operations: snapshot.operations,
            presence: snapshot.presence,
            notes: snapshot.notes,
            todos: snapshot.todos,
            transcript_pointers: snapshot.transcript_pointers,
            chat: snapshot.chat,
        };
        this.syncing = false;
        const buffered = this.buffer;
        this.buffer = [];
        this.resolveReady(this.state);
        this.options.onChange?.(this.state);
        for (const { event, position } of buffered) {
            if (this.syncing) {
                this.buffer.push({ event, position });
            }
            else {
                this.apply(event, position);
            }
        }
    }
    apply(event, position) {
        const state = this.state;
        if (!state)
            return;
        const at = state.position;
        if (position.epoch === at.epoch && position.offset <= at.offset)
            return; // in the snapshot already
        // An event of another epoch came before the snapshot, which holds its change; a
        // new epoch after it resets the subscription, and the view resyncs then.
        if (position.epoch !== at.epoch)
            return;
        state.position = position;
        const outcome = fold(state, event);
        if (outcome === "resync") {
            void this.resync();
            return;
        }
        if (outcome === "changed")
            this.options.onChange?.(state);
    }
}
/**
 * Folds one event into the state. Each fold sets what the event says (idempotent), so
 * an event whose change the snapshot already held leaves the state as it was. Changes
 * an event does not carry in full (a document's Markdown, a job's row) answer `resync`.
 */
function fold(state, event) {
    switch (event.kind) {
        case "project.updated":
            // Events carry the project without the caller's role.
            state.project = state.project.role ? { ...event.project, role: state.project.role } : { ...event.project };
            return "changed";
        case "document.updated":
            return event.version === state.document.version ? "unchanged" : "resync";
        case "job.status": {
            const finished = event.status === "completed" || event.status === "failed" || event.status === "cancelled";
            if (!finished)
                return "resync";
            const before = state.jobs.length;
            state.jobs = state.jobs.filter((job) => job.id !== event.job_id);
            return state.jobs.length === before ? "unchanged" : "changed";
        }
        case "operation.created":
        case "operation.updated": {
            const others = state.operations.filter((op) => op.id !== event.operation.id);
            if (event.operation.status !== "pending" && others.length === state.operations.length) {
                return "unchanged"; // applied at once: its change has an event of its own
            }
            state.operations = event.operation.status === "pending" ? sortOperations([...others, event.operation]) : others;
            return "changed";
        }
        case "note.created":
        case "note.updated":
            state.notes = sortNotes(upsert(state.notes, event.note)).slice(0, MAX_NOTES);
            return "changed";
        case "note.deleted":
            state.notes = state.notes.filter((note) => note.id !== event.note.id);
            return "changed";
        case "todo.created":
        case "todo.updated":
            state.todos = sortTodos(upsert(state.todos, event.todo)).slice(0, MAX_TODOS);
            return "changed";
        case "todo.deleted":
            state.todos = state.todos.filter((todo) => todo.id !== event.todo.id);
            return "changed";
        case "transcript.pointer":
            state.transcript_pointers = byCreation(upsert(state.transcript_pointers, event.pointer));
            return "changed";
        case "chat.message":
            state.chat = byCreation(upsert(state.chat, event.message)).slice(-MAX_CHAT);
            return "changed";
        case "presence.joined":
            state.presence = [...state.presence.filter((p) => p.session_id !== event.session_id), presenceOf(event)];
            return "changed";
        case "presence.left":
            state.presence = state.presence.filter((p) => p.session_id !== event.session_id);
            return "changed";
        case "tool.progress":
        case "draft.delta":
        case "chat.delta":
            // Previews and narration: not part of the stored state.
            return "unchanged";
        case "memory.created":
        case "memory.deleted":
        case "session.phase":
            // A snapshot holds neither memory nor sessions: readers take them from the events
            // (`onEvent`) or the memory tools.
            return "unchanged";
    }
}
function presenceOf(event) {
    return { session_id: event.session_id, user_id: event.user_id, client: event.client };
}
function upsert(items, item) {
    return [...items.filter((x) => x.id !== item.id), item];
}
/**
 * A timestamp as a sortable string: the hub writes RFC 3339 UTC with 0 to 9 fractional
 * digits, so the fraction is padded before comparing.
 */
function timeKey(at) {
    const match = /^(.*:\d\d)(?:\.(\d+))?(.*)$/.exec(at);
    if (!match)
        return at;
    return `${match[1]}.${(match[2] ?? "").padEnd(9, "0")}${match[3]}`;
}
function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
// The orders of the hub's queries, so a folded list equals the snapshot's.
function byCreation(items) {
    return items.sort((a, b) => compare(timeKey(a.created_at), timeKey(b.created_at)) || compare(a.id, b.id));
}
function sortNotes(notes) {
    return notes.sort((a, b) => compare(timeKey(b.created_at), timeKey(a.created_at)) || compare(b.id, a.id));
}
const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };
function sortTodos(todos) {
    return todos.sort((a, b) => compare(a.status === "done" ? 1 : 0, b.status === "done" ? 1 : 0) ||
        compare(PRIORITY_RANK[a.priority], PRIORITY_RANK[b.priority]) ||
        compare(timeKey(a.created_at), timeKey(b.created_at)) ||
        compare(a.id, b.id));
}
function sortOperations(operations) {
    return operations.sort((a, b) => compare(timeKey(a.created_at), timeKey(b.created_at)) || compare(a.seq, b.seq) || compare(a.id, b.id));
}
//# sourceMappingURL=watch.js.map