//! Events published on topics (docs/protocol.md section 5.4): the `event.kind` payloads.

use crate::entities::*;
use crate::ids::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `project:{id}` topic name.
pub fn project_topic(id: ProjectId) -> String {
    format!("project:{id}")
}

/// The `session:{id}` topic name.
pub fn session_topic(id: SessionId) -> String {
    format!("session:{id}")
}

/// A parsed topic name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Project(ProjectId),
    Session(SessionId),
}

impl Topic {
    pub fn parse(s: &str) -> Option<Topic> {
        let (kind, id) = s.split_once(':')?;
        match kind {
            "project" => id.parse().ok().map(Topic::Project),
            "session" => id.parse().ok().map(Topic::Session),
            _ => None,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topic::Project(id) => write!(f, "project:{id}"),
            Topic::Session(id) => write!(f, "session:{id}"),
        }
    }
}

/// One event, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind")]
pub enum Event {
    #[serde(rename = "job.status")]
    JobStatus(JobStatusEvent),
    #[serde(rename = "tool.progress")]
    ToolProgress(ToolProgress),
    #[serde(rename = "draft.delta")]
    DraftDelta(DraftDelta),
    #[serde(rename = "document.updated")]
    DocumentUpdated(DocumentUpdated),
    #[serde(rename = "operation.created")]
    OperationCreated { operation: Operation },
    #[serde(rename = "operation.updated")]
    OperationUpdated { operation: Operation },
    #[serde(rename = "project.updated")]
    ProjectUpdated { project: Project },
    #[serde(rename = "note.created")]
    NoteCreated { note: Note },
    #[serde(rename = "note.updated")]
    NoteUpdated { note: Note },
    #[serde(rename = "memory.created")]
    MemoryCreated { entry: MemoryEntry },
    #[serde(rename = "memory.deleted")]
    MemoryDeleted { entry: MemoryEntry },
    /// A rollback of `create_note` removes the note.
    #[serde(rename = "note.deleted")]
    NoteDeleted { note: Note },
    #[serde(rename = "todo.created")]
    TodoCreated { todo: Todo },
    #[serde(rename = "todo.updated")]
    TodoUpdated { todo: Todo },
    /// `delete_todo` removes the row, which `todo.updated`
    /// cannot say (docs/protocol.md section 5.4).
    #[serde(rename = "todo.deleted")]
    TodoDeleted { todo: Todo },
    #[serde(rename = "transcript.pointer")]
    TranscriptPointer { pointer: TranscriptPointer },
    /// A session's phase or dimensions changed (`set_session_phase`, or a field filled):
    /// on the session's topic and its project's.
    #[serde(rename = "session.phase")]
    SessionPhase(SessionPhase),
    #[serde(rename = "chat.delta")]
    ChatDelta {
        message_id: MessageId,
        seq: u64,
        text: String,
    },
    #[serde(rename = "chat.message")]
    ChatMessage { message: ChatMessage },
    #[serde(rename = "presence.joined")]
    PresenceJoined(Presence),
    #[serde(rename = "presence.left")]
    PresenceLeft(Presence),
}

impl Event {
    /// The session whose topic also carries this event besides the project's, so an
    /// assistant can follow its own work without the project's other traffic: the
    /// progress of its jobs, its phase, and its changes that failed (to propose a
    /// correction with `propose_recovery`).
    pub fn session_copy(&self) -> Option<SessionId> {
        match self {
            Event::ToolProgress(progress) => progress.session_id,
            Event::SessionPhase(phase) => Some(phase.session_id),
            Event::OperationCreated { operation } | Event::OperationUpdated { operation }
                if operation.status == OperationStatus::Failed =>
            {
                Some(operation.session_id)
            }
            _ => None,
        }
    }

    /// Every `kind`, in declaration order (for documentation and tooling; the unit test
    /// below keeps it complete).
    pub const KINDS: [&'static str; 21] = [
        "job.status",
        "tool.progress",
        "draft.delta",
        "document.updated",
        "operation.created",
        "operation.updated",
        "project.updated",
        "note.created",
        "note.updated",
        "memory.created",
        "memory.deleted",
        "note.deleted",
        "todo.created",
        "todo.updated",
        "todo.deleted",
        "transcript.pointer",
        "session.phase",
        "chat.delta",
        "chat.message",
        "presence.joined",
        "presence.left",
    ];

    /// The `kind` tag, as serialized.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::JobStatus(_) => "job.status",
            Event::ToolProgress(_) => "tool.progress",
            Event::DraftDelta(_) => "draft.delta",
            Event::DocumentUpdated(_) => "document.updated",
            Event::OperationCreated { .. } => "operation.created",
            Event::OperationUpdated { .. } => "operation.updated",
            Event::ProjectUpdated { .. } => "project.updated",
            Event::NoteCreated { .. } => "note.created",
            Event::NoteUpdated { .. } => "note.updated",
            Event::NoteDeleted { .. } => "note.deleted",
            Event::MemoryCreated { .. } => "memory.created",
            Event::MemoryDeleted { .. } => "memory.deleted",
            Event::TodoCreated { .. } => "todo.created",
            Event::TodoUpdated { .. } => "todo.updated",
            Event::TodoDeleted { .. } => "todo.deleted",
            Event::TranscriptPointer { .. } => "transcript.pointer",
            Event::SessionPhase(_) => "session.phase",
            Event::ChatDelta { .. } => "chat.delta",
            Event::ChatMessage { .. } => "chat.message",
            Event::PresenceJoined(_) => "presence.joined",
            Event::PresenceLeft(_) => "presence.left",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobStatusEvent {
    pub job_id: JobId,
    pub job_kind: String,
    pub project_id: ProjectId,
    pub status: JobStatus,
    pub attempt: i32,
    pub at: DateTime<Utc>,
}

impl JobStatusEvent {
    /// The `job.status` event of `job` on `project`, now: the one place it is built.
    pub fn of(job: &Job, project: ProjectId, status: JobStatus) -> Event {
        Event::JobStatus(JobStatusEvent {
            job_id: job.id,
            job_kind: job.kind.clone(),
            project_id: project,
            status,
            attempt: job.attempts,
            at: Utc::now(),
        })
    }
}

/// Where a session's conversation stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionPhase {
    pub session_id: SessionId,
    pub project_id: Option<ProjectId>,
    pub phase: Phase,
    pub dimensions_covered: Vec<crate::blueprint::BlueprintField>,
    pub dimensions_open: Vec<crate::blueprint::BlueprintField>,
}

impl SessionPhase {
    /// The event of a session as it now stands.
    pub fn of(session: &Session) -> Self {
        Self {
            session_id: session.id,
            project_id: session.project_id,
            phase: session.metadata.phase.unwrap_or_default(),
            dimensions_covered: session.metadata.dimensions_covered.clone(),
            dimensions_open: session.metadata.dimensions_open.clone(),
        }
    }
}

/// The TOOL_PROGRESS message an assistant can narrate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ToolProgress {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub session_id: Option<SessionId>,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<String>>,
    /// One sentence an assistant can say aloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DraftDelta {
    pub job_id: JobId,
    pub seq: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentUpdated {
    pub project_id: ProjectId,
    pub document_id: DocumentId,
    pub version: i32,
    pub summary: String,
    pub sections: Vec<Section>,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Presence {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub client: Option<ClientInfo>,
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn kinds_names_every_variant() {
        assert_eq!(crate::serde_variants::<Event>("kind"), Event::KINDS);
    }
}
