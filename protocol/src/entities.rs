//! The entities tools answer with and events carry: projects, sessions, notes, todos,
//! documents, transcript items and pointers, operations, jobs and chat messages.

use crate::ErrorBody;
use crate::blueprint::Blueprint;
use crate::ids::*;
use crate::mode::Mode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Active,
    Paused,
    Completed,
    Archived,
}

/// A user's role in a project. Owners and editors change it; viewers only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

impl Role {
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    pub id: ProjectId,
    pub owner_id: UserId,
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    /// The committed blueprint.
    pub blueprint: Blueprint,
    /// The blueprint being filled during intake.
    pub blueprint_draft: Blueprint,
    /// 0 until the first `commit_blueprint`.
    pub blueprint_version: i32,
    /// The caller's role, when the project is read for a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// What a client says about itself in `hello`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

/// Where a conversation stands: gathering what the person has to say, clarifying what
/// is unclear, finalizing (only what the document cannot do without), completed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Gathering,
    Clarifying,
    Finalizing,
    Completed,
}

/// Session metadata kept with the session: where the conversation stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionMetadata {
    /// The phase of the conversation, set by `set_session_phase`; a new session starts
    /// `gathering`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Blueprint fields this session has filled, in the order it filled them.
    #[serde(default)]
    pub dimensions_covered: Vec<crate::blueprint::BlueprintField>,
    /// Blueprint fields the conversation still has to come back to, in the order to
    /// ask them; filling one (`sync_blueprint_field`) takes it off.
    #[serde(default)]
    pub dimensions_open: Vec<crate::blueprint::BlueprintField>,
    /// The todo the session is focused on (`focus_todo`, or `session.configure` with
    /// `todo_id`): the todo tools default to it and may not name another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo_id: Option<TodoId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub project_id: Option<ProjectId>,
    pub mode: Mode,
    pub auto_accept: bool,
    pub metadata: SessionMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    pub id: NoteId,
    pub project_id: ProjectId,
    pub body: String,
    pub tags: Vec<String>,
    pub author_id: UserId,
    pub session_id: Option<SessionId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    Open,
    InProgress,
    Done,
    Blocked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Todo {
    pub id: TodoId,
    pub project_id: ProjectId,
    pub title: String,
    pub details: String,
    pub status: TodoStatus,
    pub priority: Priority,
    pub session_id: Option<SessionId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A heading of the document: `key` is stable for the same heading path and is what
/// per-section merges match on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    pub key: String,
    pub title: String,
    pub level: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document {
    pub id: DocumentId,
    pub project_id: ProjectId,
    pub markdown: String,
    pub sections: Vec<Section>,
    pub summary: String,
    /// 0 for the empty document every project starts with.
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// Where a document version came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentVersion {
    pub document_id: DocumentId,
    pub version: i32,
    pub summary: String,
    pub sections: Vec<Section>,
    pub source: Source,
    /// Present when one version is read; left out of the history list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TranscriptRole {
    User,
    Assistant,
    System,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TranscriptItem {
    pub session_id: SessionId,
    pub seq: i64,
    pub item_id: String,
    pub role: TranscriptRole,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TranscriptPointer {
    pub id: PointerId,
    pub session_id: SessionId,
    pub project_id: ProjectId,
    pub item_id: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Create,
    Update,
    Delete,
}

/// What an operation changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Project,
    /// A rollback waiting for approval changes an operation; once it runs it is
    /// recorded as the change it made to the operation's entity.
    Operation,
    Memory,
    Blueprint,
    Note,
    Todo,
    TranscriptPointer,
    Document,
    Job,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    Pending,
    Executing,
    Completed,
    Failed,
    Rejected,
    /// Completed, then undone by a rollback (`rolled_back_by` says whose).
    RolledBack,
}

/// The status as the wire spells it (its serde name), for messages.
impl std::fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => write!(f, "{self:?}"),
        }
    }
}

/// A change made (or proposed) by a tool call (docs/protocol.md section 8.7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    pub id: OperationId,
    pub session_id: SessionId,
    /// Absent only for a `create_project` not yet executed.
    pub project_id: Option<ProjectId>,
    /// Set when the operation was decided together with others by one
    /// `operation.decide`.
    pub batch_id: Option<BatchId>,
    /// Position among the session's operations (1, 2, 3, ...); approvals run in this
    /// order.
    pub seq: i64,
    pub tool: String,
    pub kind: OperationKind,
    pub entity: Entity,
    /// Known once the entity exists.
    pub entity_id: Option<String>,
    /// The tool's arguments (after any edits made when approving).
    pub data: serde_json::Value,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub status: OperationStatus,
    pub error: Option<ErrorBody>,
    /// The user who approved or rejected it; `null` while pending and for changes
    /// applied at once.
    #[serde(default)]
    pub decided_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// On a `rolled_back` operation: the user whose rollback undid it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<UserId>,
    /// On a rollback (`rollback_operation`): the operation it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<OperationId>,
    /// Proposed by `suggest_operations`: it runs only when a person approves it,
    /// whatever the proposing session's `auto_accept`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suggestion: bool,
    /// Why a suggestion was made, for whoever decides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// On a corrected operation (`propose_recovery`): the failed operation it recovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovers: Option<OperationId>,
}

/// What a memory entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// How the person likes things done.
    Preference,
    /// Something true of the person or the project.
    Fact,
    /// Something the person decided.
    Decision,
}

/// Where a memory entry was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemorySourceKind {
    /// An item of the session's transcript (its `item_id`).
    TranscriptItem,
    Note,
    Operation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemorySource {
    pub kind: MemorySourceKind,
    /// The transcript item's id, or the note's or operation's.
    // 1 to `MAX_NAME` (200) characters, not blank: checked with the tool's arguments.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, pattern = r"\S")
    )]
    pub id: String,
}

/// Something the assistant learned about a person and a project, kept across sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryEntry {
    pub id: MemoryId,
    pub project_id: ProjectId,
    /// The person it was learned from.
    pub user_id: UserId,
    pub kind: MemoryKind,
    pub body: String,
    pub source: Option<MemorySource>,
    pub session_id: Option<SessionId>,
    pub created_at: DateTime<Utc>,
}

/// A forecast's scenario, saved with a forecast note (as its `scenario:<name>` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Optimistic,
    Realistic,
    Pessimistic,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optimistic => "optimistic",
            Self::Realistic => "realistic",
            Self::Pessimistic => "pessimistic",
        }
    }

    /// The tag a note saving this scenario carries.
    pub fn tag(self) -> String {
        format!("scenario:{}", self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Retrying,
    Completed,
    Failed,
    Cancelled,
}

/// A durable background job, as clients and admins see it (the lease token stays
/// internal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub queue: String,
    pub project_id: Option<ProjectId>,
    pub session_id: Option<SessionId>,
    /// `queued`, `running`, `completed`, `failed` or `cancelled` (`retrying` is an event:
    /// the job is `queued` again with a later `run_after`).
    pub status: JobStatus,
    pub priority: i32,
    pub payload: serde_json::Value,
    pub idempotency_key: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub usage: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub generated_summary: Option<String>,
    pub error: Option<String>,
}

/// One line of a job's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobEvent {
    pub id: i64,
    pub job_id: JobId,
    /// `status`, `log`, `usage` or `artifact`.
    pub kind: String,
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
}

impl Urgency {
    /// The job priority that goes with the urgency.
    pub fn priority(self) -> i32 {
        match self {
            Urgency::Low => -1,
            Urgency::Normal => 0,
            Urgency::High => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    pub id: MessageId,
    pub project_id: ProjectId,
    pub role: ChatRole,
    pub author_id: Option<UserId>,
    pub text: String,
    pub job_id: Option<JobId>,
    pub created_at: DateTime<Utc>,
}
