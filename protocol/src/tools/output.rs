//! Tool outputs: one entity under its name, a list under the plural (docs/protocol.md
//! section 8.4).

use crate::blueprint::{BlueprintField, Gap};
use crate::entities::*;
use crate::ids::{JobId, OperationId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectOut {
    pub project: Project,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectsOut {
    pub projects: Vec<Project>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssignedOut {
    pub project: Project,
    pub session: Session,
    /// What earlier conversations learned about the person and the project, newest
    /// first and bounded, so a new session starts from it.
    pub memory: Vec<MemoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldSyncedOut {
    pub field: BlueprintField,
    pub value: String,
    pub gaps_left: usize,
}

/// The missing fields, and the one to ask next as the session's phase picks it (`null`
/// once the conversation is completed, or when finalizing finds nothing essential
/// missing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GapsOut {
    pub gaps: Vec<Gap>,
    pub phase: Phase,
    pub next: Option<Gap>,
}

/// Where the session's conversation stands (`get_session_phase`, `set_session_phase`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseOut {
    pub phase: Phase,
    pub dimensions_covered: Vec<BlueprintField>,
    pub dimensions_open: Vec<BlueprintField>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteOut {
    pub note: Note,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotesOut {
    pub notes: Vec<Note>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TodoOut {
    pub todo: Todo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TodosOut {
    pub todos: Vec<Todo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointerOut {
    pub pointer: TranscriptPointer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentOut {
    pub document: Document,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobOut {
    pub job: Job,
}

/// The status of a change recorded for a person to decide: always `pending_approval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    PendingApproval,
}

/// What a changing tool answers in a session with `auto_accept: false`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingOut {
    pub status: PendingStatus,
    pub operation_id: OperationId,
    pub operation: Operation,
}

/// What `queue_draft_update` answers: the job that will write the draft, and whether
/// the request made it (`queued`), joined a waiting one (`merged`) or repeated a recent
/// one (`throttled`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DraftQueuedOut {
    pub job_id: JobId,
    pub status: DraftOutcome,
}

/// How a draft request was answered: it made a new job (`queued`), joined the one
/// waiting (`merged`), or repeated a recent one at no higher urgency (`throttled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DraftOutcome {
    Queued,
    Merged,
    Throttled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryOut {
    pub entry: MemoryEntry,
}

/// Memory entries, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryListOut {
    pub memory: Vec<MemoryEntry>,
}

/// What `focus_todo` answers: the todo in focus with its context (`null` and empty
/// lists once the session moved on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FocusOut {
    pub todo: Option<Todo>,
    /// The project's notes tagged with the todo or mentioning its title, newest first.
    pub notes: Vec<Note>,
    /// Recent transcript items mentioning its title, oldest first.
    pub transcript: Vec<TranscriptItem>,
}

/// What `rollback_operation` answers: the operation it undid (now `rolled_back`), and
/// the entity as the rollback left it (for a rolled-back creation, as it was removed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolledBackOut {
    pub rolled_back: Operation,
    pub entity: serde_json::Value,
}

/// What `suggest_operations` answers: the proposals, each a pending operation marked
/// `suggestion`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestedOut {
    pub status: PendingStatus,
    pub operations: Vec<Operation>,
}
