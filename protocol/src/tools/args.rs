//! Tool argument types, one per tool (docs/protocol.md section 8.4). Each rejects unknown
//! fields; doc comments become the JSON Schema descriptions the assistant reads, and the
//! `garde` rules become both the schema's limits and the checks run on every call.

use crate::blueprint::BlueprintField;
use crate::entities::{
    MemoryKind, MemorySource, Phase, Priority, ProjectStatus, Scenario, TodoStatus, Urgency,
};
use crate::ids::*;
use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Text limits in characters (as JSON Schema counts them). They keep one call inside the
/// 64 KiB frame limit for text in most scripts, except
/// the document, which is also written over HTTP.
pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 20_000;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG: usize = 64;
pub const MAX_DOCUMENT: usize = 1 << 20;
pub const MAX_POINTERS: usize = 200;
/// A memory entry is a sentence or two; longer belongs in a note.
pub const MAX_MEMORY: usize = 2_000;
/// Most proposals one `suggest_operations` makes: a review's worth, and well inside
/// what a person decides at once (`operation.decide` takes 100).
pub const MAX_SUGGESTIONS: usize = 20;

/// The project a tool works on, given or defaulted to the session's.
pub trait ToolArgs {
    fn project_id(&self) -> Option<ProjectId> {
        None
    }
}

macro_rules! project_scoped {
    ($($t:ty),* $(,)?) => {
        $(impl ToolArgs for $t {
            fn project_id(&self) -> Option<ProjectId> {
                self.project_id
            }
        })*
    };
}

macro_rules! unscoped {
    ($($t:ty),* $(,)?) => {
        $(impl ToolArgs for $t {})*
    };
}

fn not_blank(value: &str, _: &()) -> garde::Result {
    if value.trim().is_empty() {
        Err(garde::Error::new("must not be blank"))
    } else {
        Ok(())
    }
}

/// Each of `items` within `1..=max` characters, and at most `count` of them. `garde`'s
/// `inner` on an `Option<Vec<_>>` reaches the vector, not its items, hence this.
fn each_within(items: &Option<Vec<String>>, count: usize, max: usize) -> garde::Result {
    let Some(items) = items else { return Ok(()) };
    if items.len() > count {
        return Err(garde::Error::new(format!("at most {count} items")));
    }
    match items
        .iter()
        .position(|t| t.is_empty() || t.chars().count() > max)
    {
        Some(i) => Err(garde::Error::new(format!(
            "item {i} must be 1 to {max} characters"
        ))),
        None => Ok(()),
    }
}

fn valid_tags(tags: &Option<Vec<String>>, _: &()) -> garde::Result {
    each_within(tags, MAX_TAGS, MAX_TAG)
}

fn valid_pointers(items: &Option<Vec<String>>, _: &()) -> garde::Result {
    each_within(items, MAX_POINTERS, MAX_NAME)
}

fn not_blank_opt(value: &Option<String>, ctx: &()) -> garde::Result {
    value.as_deref().map_or(Ok(()), |v| not_blank(v, ctx))
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ListProjectsArgs {
    /// Only projects with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub status: Option<ProjectStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreateProjectArgs {
    /// A short name for the project, as the person says it.
    #[garde(length(chars, min = 1, max = MAX_NAME), custom(not_blank))]
    pub name: String,
    /// What the project is about, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AssignProjectArgs {
    /// The project this session works on from now on.
    #[garde(skip)]
    pub project_id: ProjectId,
}

// Arguments of the tools that take only the project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, min = 1, max = MAX_NAME), custom(not_blank_opt))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub status: Option<ProjectStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SyncBlueprintFieldArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// The blueprint field to fill.
    #[garde(skip)]
    pub field: BlueprintField,
    /// What the person said for it, in their words, condensed. An empty value clears
    /// the field.
    #[garde(length(chars, max = MAX_TEXT))]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreateNoteArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    #[garde(length(chars, min = 1, max = MAX_TEXT), custom(not_blank))]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(valid_tags))]
    #[schemars(length(max = MAX_TAGS), inner(length(min = 1, max = MAX_TAG)))]
    pub tags: Option<Vec<String>>,
    /// When the note saves a forecast: its scenario (kept as a `scenario:<name>` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub scenario: Option<Scenario>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UpdateNoteArgs {
    /// The note to change.
    #[garde(skip)]
    pub note_id: NoteId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, min = 1, max = MAX_TEXT), custom(not_blank_opt))]
    pub body: Option<String>,
    /// Replaces the note's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(valid_tags))]
    #[schemars(length(max = MAX_TAGS), inner(length(min = 1, max = MAX_TAG)))]
    pub tags: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreateTodoArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    #[garde(length(chars, min = 1, max = MAX_NAME), custom(not_blank))]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub details: Option<String>,
    /// Defaults to medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub priority: Option<Priority>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UpdateTodoArgs {
    /// The todo, by the id its tool answered. Defaults to the todo this session is
    /// focused on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub todo_id: Option<TodoId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, min = 1, max = MAX_NAME), custom(not_blank_opt))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub status: Option<TodoStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UpdateTodoStatusArgs {
    /// The todo, by the id its tool answered. Defaults to the todo this session is
    /// focused on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub todo_id: Option<TodoId>,
    #[garde(skip)]
    pub status: TodoStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DeleteTodoArgs {
    /// The todo, by the id its tool answered. Defaults to the todo this session is
    /// focused on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub todo_id: Option<TodoId>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ListTodosArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// Only todos with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub status: Option<TodoStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RecordTranscriptPointerArgs {
    /// The transcript item (as sent in `transcript.append`) worth coming back to.
    #[garde(length(chars, min = 1, max = MAX_NAME))]
    pub item_id: String,
    /// Why it matters, in a few words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_NAME))]
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ApplyDocumentEditsArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// The document version the edit was made on; a newer current version is a
    /// conflict.
    #[garde(range(min = 0))]
    pub base_version: i32,
    /// The whole new document, in Markdown.
    #[garde(length(chars, max = MAX_DOCUMENT))]
    pub markdown: String,
    /// A one-paragraph summary of the document as it now stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub summary: Option<String>,
}

/// A transcript item a draft should draw on, with the words that matter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TranscriptAnchor {
    #[garde(length(chars, min = 1, max = MAX_NAME))]
    pub item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub quote: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct QueueDraftUpdateArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    #[garde(skip)]
    pub urgency: Urgency,
    /// What the update should cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub summary: Option<String>,
    /// Transcript items the draft should draw on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(valid_pointers))]
    #[schemars(length(max = MAX_POINTERS), inner(length(min = 1, max = MAX_NAME)))]
    pub message_pointers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(max = MAX_POINTERS), dive)]
    pub transcript_anchors: Option<Vec<TranscriptAnchor>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct GetDraftStatusArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// Defaults to the project's latest draft job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub job_id: Option<JobId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RollbackOperationArgs {
    /// The completed operation to undo, by the id its tool or event answered.
    #[garde(skip)]
    pub operation_id: OperationId,
}

/// One proposed change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SuggestedOperation {
    /// A tool that changes data (create_note, create_todo, update_todo,
    /// update_todo_status, delete_todo, update_note, update_project,
    /// rollback_operation, ...), whatever this session's mode allows.
    #[garde(length(chars, min = 1, max = MAX_NAME))]
    pub tool: String,
    /// That tool's arguments, as it takes them.
    #[garde(skip)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// Why, in a sentence the person reads before deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SuggestOperationsArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// The changes to propose, in the order they would run.
    #[garde(length(min = 1, max = MAX_SUGGESTIONS), dive)]
    pub operations: Vec<SuggestedOperation>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct GetSessionPhaseArgs {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SetSessionPhaseArgs {
    /// The phase the conversation moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub phase: Option<Phase>,
    /// Replaces the fields this conversation has covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(max = BlueprintField::ALL.len()))]
    pub dimensions_covered: Option<Vec<BlueprintField>>,
    /// Replaces the fields to come back to, in the order to ask them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(max = BlueprintField::ALL.len()))]
    pub dimensions_open: Option<Vec<BlueprintField>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RememberArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    #[garde(skip)]
    pub kind: MemoryKind,
    /// What to remember, in a sentence.
    #[garde(length(chars, min = 1, max = MAX_MEMORY), custom(not_blank))]
    pub body: String,
    /// Where it was said or decided: a transcript item of this session, a note or an
    /// operation of the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(valid_source))]
    pub source: Option<MemorySource>,
}

fn valid_source(source: &Option<MemorySource>, _: &()) -> garde::Result {
    match source {
        Some(s) if s.id.trim().is_empty() || s.id.chars().count() > MAX_NAME => Err(
            garde::Error::new(format!("id must be 1 to {MAX_NAME} characters")),
        ),
        _ => Ok(()),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ListMemoryArgs {
    /// Defaults to the session's project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub project_id: Option<ProjectId>,
    /// Only entries of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub kind: Option<MemoryKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ForgetMemoryArgs {
    /// The entry, by the id remember or list_memory answered.
    #[garde(skip)]
    pub memory_id: MemoryId,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FocusTodoArgs {
    /// The todo of this session's project to work on; leave it out to move on from
    /// the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub todo_id: Option<TodoId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ProposeRecoveryArgs {
    /// The failed operation to correct.
    #[garde(skip)]
    pub operation_id: OperationId,
    /// Changes to its arguments (a JSON merge patch: a key replaces, `null` removes);
    /// leave it out to propose it again as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(skip)]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
    /// What was corrected, in a sentence the person reads before deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(length(chars, max = MAX_TEXT))]
    pub reason: Option<String>,
}

project_scoped!(
    ProjectArgs,
    UpdateProjectArgs,
    SyncBlueprintFieldArgs,
    CreateNoteArgs,
    CreateTodoArgs,
    ListTodosArgs,
    ApplyDocumentEditsArgs,
    QueueDraftUpdateArgs,
    GetDraftStatusArgs,
    SuggestOperationsArgs,
    RememberArgs,
    ListMemoryArgs,
);
unscoped!(
    ListProjectsArgs,
    CreateProjectArgs,
    UpdateNoteArgs,
    UpdateTodoArgs,
    UpdateTodoStatusArgs,
    DeleteTodoArgs,
    RecordTranscriptPointerArgs,
    RollbackOperationArgs,
    GetSessionPhaseArgs,
    SetSessionPhaseArgs,
    ForgetMemoryArgs,
    FocusTodoArgs,
    ProposeRecoveryArgs,
);

impl ToolArgs for AssignProjectArgs {
    fn project_id(&self) -> Option<ProjectId> {
        Some(self.project_id)
    }
}
