//! The tool catalogue: every tool's name, description, argument type and schema, whether
//! it changes data, and the modes that allow it. The mode table and `GET /v1/tools` are
//! derived from here.

pub mod args;
pub mod output;

use crate::error::ErrorBody;
use crate::mode::Mode;
use args::*;
use garde::Validate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Every tool the hub answers.
///
/// `queue_draft_update` has its argument type in [`args`] but joins the catalogue with
/// the drafting pipeline that answers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    ListProjects,
    CreateProject,
    AssignProjectToSession,
    GetProject,
    UpdateProject,
    SyncBlueprintField,
    GetBlueprintGaps,
    CommitBlueprint,
    CreateNote,
    UpdateNote,
    ListNotes,
    CreateTodo,
    UpdateTodo,
    UpdateTodoStatus,
    DeleteTodo,
    ListTodos,
    RecordTranscriptPointer,
    GetDocument,
    ApplyDocumentEdits,
    QueueDraftUpdate,
    GetDraftStatus,
    RollbackOperation,
    SuggestOperations,
    GetSessionPhase,
    SetSessionPhase,
    Remember,
    ListMemory,
    ForgetMemory,
    FocusTodo,
    ProposeRecovery,
}

use Mode::{Audit, Forecast, Ghostwriting, Intake, Selection, Update};

/// What the catalogue knows of a tool.
#[derive(Clone, Copy, Debug)]
pub struct ToolSpec {
    pub name: ToolName,
    pub description: &'static str,
    /// The modes whose sessions may call it.
    pub modes: &'static [Mode],
    /// Whether a call changes data (and so is recorded as an operation).
    pub changes: bool,
}

const ALL_MODES: &[Mode] = &Mode::ALL;
/// The modes of a conversation about a project (all but choosing one).
const CONVERSATION_MODES: &[Mode] = &[Intake, Ghostwriting, Update, Audit, Forecast];

impl ToolName {
    pub const ALL: [ToolName; 30] = [
        ToolName::ListProjects,
        ToolName::CreateProject,
        ToolName::AssignProjectToSession,
        ToolName::GetProject,
        ToolName::UpdateProject,
        ToolName::SyncBlueprintField,
        ToolName::GetBlueprintGaps,
        ToolName::CommitBlueprint,
        ToolName::CreateNote,
        ToolName::UpdateNote,
        ToolName::ListNotes,
        ToolName::CreateTodo,
        ToolName::UpdateTodo,
        ToolName::UpdateTodoStatus,
        ToolName::DeleteTodo,
        ToolName::ListTodos,
        ToolName::RecordTranscriptPointer,
        ToolName::GetDocument,
        ToolName::ApplyDocumentEdits,
        ToolName::QueueDraftUpdate,
        ToolName::GetDraftStatus,
        ToolName::RollbackOperation,
        ToolName::SuggestOperations,
        ToolName::GetSessionPhase,
        ToolName::SetSessionPhase,
        ToolName::Remember,
        ToolName::ListMemory,
        ToolName::ForgetMemory,
        ToolName::FocusTodo,
        ToolName::ProposeRecovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListProjects => "list_projects",
            Self::CreateProject => "create_project",
            Self::AssignProjectToSession => "assign_project_to_session",
            Self::GetProject => "get_project",
            Self::UpdateProject => "update_project",
            Self::SyncBlueprintField => "sync_blueprint_field",
            Self::GetBlueprintGaps => "get_blueprint_gaps",
            Self::CommitBlueprint => "commit_blueprint",
            Self::CreateNote => "create_note",
            Self::UpdateNote => "update_note",
            Self::ListNotes => "list_notes",
            Self::CreateTodo => "create_todo",
            Self::UpdateTodo => "update_todo",
            Self::UpdateTodoStatus => "update_todo_status",
            Self::DeleteTodo => "delete_todo",
            Self::ListTodos => "list_todos",
            Self::RecordTranscriptPointer => "record_transcript_pointer",
            Self::GetDocument => "get_document",
            Self::ApplyDocumentEdits => "apply_document_edits",
            Self::QueueDraftUpdate => "queue_draft_update",
            Self::GetDraftStatus => "get_draft_status",
            Self::RollbackOperation => "rollback_operation",
            Self::SuggestOperations => "suggest_operations",
            Self::GetSessionPhase => "get_session_phase",
            Self::SetSessionPhase => "set_session_phase",
            Self::Remember => "remember",
            Self::ListMemory => "list_memory",
            Self::ForgetMemory => "forget_memory",
            Self::FocusTodo => "focus_todo",
            Self::ProposeRecovery => "propose_recovery",
        }
    }

    pub fn parse(name: &str) -> Option<ToolName> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn spec(self) -> ToolSpec {
        let (description, modes, changes): (&str, &[Mode], bool) = match self {
            Self::ListProjects => (
                "List the projects the person owns or is a member of.",
                ALL_MODES,
                false,
            ),
            Self::CreateProject => (
                "Create a new project for the person. Call assign_project_to_session next to work on it.",
                &[Selection],
                true,
            ),
            Self::AssignProjectToSession => (
                "Make this conversation work on the given project; later calls may leave project_id out.",
                ALL_MODES,
                false,
            ),
            Self::GetProject => (
                "Read the project with its committed and draft blueprint.",
                &[Intake, Ghostwriting, Update, Audit, Forecast],
                false,
            ),
            Self::UpdateProject => (
                "Change the project's name, description or status.",
                &[Update],
                true,
            ),
            Self::SyncBlueprintField => (
                "Save what the person said for one blueprint field into the draft blueprint. Answers how many fields are still missing.",
                &[Intake],
                true,
            ),
            Self::GetBlueprintGaps => (
                "List the blueprint fields still missing, most important first, each with a question to ask.",
                &[Intake, Audit, Forecast],
                false,
            ),
            Self::CommitBlueprint => (
                "Make the draft blueprint the project's committed blueprint (a new version).",
                &[Intake],
                true,
            ),
            Self::CreateNote => (
                "Write down something worth keeping that does not fit a blueprint field.",
                &[Intake, Ghostwriting, Update],
                true,
            ),
            Self::UpdateNote => ("Change a note's text or tags.", &[Update], true),
            Self::ListNotes => (
                "List the project's notes, newest first.",
                &[Audit, Forecast],
                false,
            ),
            Self::CreateTodo => (
                "Add a follow-up task to the project.",
                &[Intake, Update],
                true,
            ),
            Self::UpdateTodo => (
                "Change a todo's title, details, priority or status.",
                &[Update],
                true,
            ),
            Self::UpdateTodoStatus => (
                "Mark a todo open, in progress, done or blocked.",
                &[Intake, Ghostwriting, Update],
                true,
            ),
            Self::DeleteTodo => ("Delete a todo.", &[Update], true),
            Self::ListTodos => (
                "List the project's todos, most important first.",
                &[Audit, Forecast],
                false,
            ),
            Self::RecordTranscriptPointer => (
                "Mark a moment of the conversation (a transcript item) as worth drawing on later.",
                &[Intake, Ghostwriting],
                true,
            ),
            Self::GetDocument => (
                "Read the project's document: Markdown, sections, summary and version.",
                &[Ghostwriting, Update, Audit, Forecast],
                false,
            ),
            Self::ApplyDocumentEdits => (
                "Replace the document's Markdown, based on the version you read; answers conflict when it changed since.",
                &[Update],
                true,
            ),
            Self::QueueDraftUpdate => (
                "Ask for the document to be redrafted in the background from what the conversation has covered; answers at once with the job. Progress arrives as TOOL_PROGRESS messages you can narrate.",
                &[Ghostwriting],
                false,
            ),
            Self::GetDraftStatus => (
                "Where the document's background draft stands: queued, running, completed or failed, with its summary. Without job_id, the latest draft.",
                &[Ghostwriting],
                false,
            ),
            Self::RollbackOperation => (
                "Undo a completed change to a todo or note: a creation is deleted, an update restored, a deletion re-created. Answers conflict when the entity changed since.",
                &[Intake, Ghostwriting, Update],
                true,
            ),
            Self::SuggestOperations => (
                "Propose changes for a person to approve: each is a changing tool with its arguments and why. Nothing changes now; every proposal waits for a person's approval. Save a forecast as a create_note proposal with its scenario.",
                &[Audit, Forecast],
                false,
            ),
            Self::GetSessionPhase => (
                "Where this conversation stands: its phase (gathering, clarifying, finalizing, completed) and the blueprint fields covered and still open.",
                CONVERSATION_MODES,
                false,
            ),
            Self::SetSessionPhase => (
                "Move this conversation to another phase, or say which blueprint fields it covered or must come back to. Every client of the project sees it; get_blueprint_gaps picks its next question from it.",
                CONVERSATION_MODES,
                false,
            ),
            Self::Remember => (
                "Keep something learned about the person or the project for later sessions, drafts and chat replies: a preference, a fact or a decision, with where it was said.",
                &[Intake, Ghostwriting, Update],
                true,
            ),
            Self::ListMemory => (
                "What was learned about the person and the project in earlier conversations, newest first.",
                CONVERSATION_MODES,
                false,
            ),
            Self::ForgetMemory => (
                "Forget a memory entry the person says is wrong or no longer wanted.",
                &[Intake, Ghostwriting, Update],
                true,
            ),
            Self::FocusTodo => (
                "Work on one todo: the todo tools then default to it and stay on it, notes are tagged with it, and you get its context (notes and recent conversation mentioning it). Without todo_id, move on.",
                &[Intake, Ghostwriting, Update],
                false,
            ),
            Self::ProposeRecovery => (
                "After an approved change failed (its error tells why), propose it again corrected: arguments change only what must change. It waits for a person's approval.",
                CONVERSATION_MODES,
                false,
            ),
        };
        ToolSpec {
            name: self,
            description,
            modes,
            changes,
        }
    }

    pub fn allowed_in(self, mode: Mode) -> bool {
        self.spec().modes.contains(&mode)
    }

    /// The JSON Schema of the tool's arguments.
    pub fn schema(self) -> serde_json::Value {
        match self {
            Self::ListProjects => schema_of::<ListProjectsArgs>(),
            Self::CreateProject => schema_of::<CreateProjectArgs>(),
            Self::AssignProjectToSession => schema_of::<AssignProjectArgs>(),
            Self::GetProject
            | Self::GetBlueprintGaps
            | Self::CommitBlueprint
            | Self::ListNotes
            | Self::GetDocument => schema_of::<ProjectArgs>(),
            Self::UpdateProject => schema_of::<UpdateProjectArgs>(),
            Self::SyncBlueprintField => schema_of::<SyncBlueprintFieldArgs>(),
            Self::CreateNote => schema_of::<CreateNoteArgs>(),
            Self::UpdateNote => schema_of::<UpdateNoteArgs>(),
            Self::CreateTodo => schema_of::<CreateTodoArgs>(),
            Self::UpdateTodo => schema_of::<UpdateTodoArgs>(),
            Self::UpdateTodoStatus => schema_of::<UpdateTodoStatusArgs>(),
            Self::DeleteTodo => schema_of::<DeleteTodoArgs>(),
            Self::ListTodos => schema_of::<ListTodosArgs>(),
            Self::RecordTranscriptPointer => schema_of::<RecordTranscriptPointerArgs>(),
            Self::ApplyDocumentEdits => schema_of::<ApplyDocumentEditsArgs>(),
            Self::QueueDraftUpdate => schema_of::<QueueDraftUpdateArgs>(),
            Self::GetDraftStatus => schema_of::<GetDraftStatusArgs>(),
            Self::RollbackOperation => schema_of::<RollbackOperationArgs>(),
            Self::SuggestOperations => schema_of::<SuggestOperationsArgs>(),
            Self::GetSessionPhase => schema_of::<GetSessionPhaseArgs>(),
            Self::SetSessionPhase => schema_of::<SetSessionPhaseArgs>(),
            Self::Remember => schema_of::<RememberArgs>(),
            Self::ListMemory => schema_of::<ListMemoryArgs>(),
            Self::ForgetMemory => schema_of::<ForgetMemoryArgs>(),
            Self::FocusTodo => schema_of::<FocusTodoArgs>(),
            Self::ProposeRecovery => schema_of::<ProposeRecoveryArgs>(),
        }
    }

    /// The tool as an OpenAI Realtime function definition.
    pub fn function(self) -> FunctionDef {
        let spec = self.spec();
        FunctionDef {
            kind: "function".into(),
            name: self.as_str().into(),
            description: spec.description.into(),
            parameters: self.schema(),
        }
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tools a session in `mode` may call, in catalogue order.
pub fn tools_for(mode: Mode) -> impl Iterator<Item = ToolName> {
    ToolName::ALL
        .into_iter()
        .filter(move |t| t.allowed_in(mode))
}

/// `{type: "function", name, description, parameters}`, as the OpenAI Realtime API takes
/// tools in `session.update`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionDef {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// The argument schema of `T`: inlined (no `$defs`), without the `$schema` and `title`
/// keys, and with optional fields as plain optional properties (not `null`-able), which
/// is the shape function-calling models follow best.
pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
        obj.remove("$schema");
        // The tool's description says what it is for; the argument type's doc does not.
        obj.remove("description");
        obj.entry("properties")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    tidy(&mut schema);
    schema
}

/// Optional fields are left out rather than sent as `null`: drop the `null` alternatives
/// schemars gives `Option<T>` (in `type`, `enum` and `anyOf`), everywhere in the schema.
/// Descriptions come from wrapped doc comments: join their lines.
fn tidy(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(obj) = schema.as_object_mut() else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(tidy);
        }
        return;
    };
    if let Some(Value::String(text)) = obj.get_mut("description") {
        *text = text.replace('\n', " ");
    }
    if let Some(Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(alternatives)) = obj.get_mut("anyOf") {
        alternatives.retain(|a| a.get("type").is_none_or(|t| t != "null"));
        if alternatives.len() == 1
            && let Some(Value::Object(only)) = alternatives.pop()
        {
            obj.remove("anyOf");
            for (k, v) in only {
                obj.entry(k).or_insert(v);
            }
        }
    }
    for value in obj.values_mut() {
        tidy(value);
    }
}

/// Reads a tool's arguments: an object, or a JSON string holding one (the OpenAI
/// Realtime API sends them so), then checks the argument rules. Errors are
/// `invalid_arguments` naming the field.
pub fn parse_args<T: DeserializeOwned + Validate<Context = ()>>(
    raw: serde_json::Value,
) -> Result<T, ErrorBody> {
    let value = match raw {
        serde_json::Value::String(text) if text.trim().is_empty() => {
            serde_json::Value::Object(Default::default())
        }
        serde_json::Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            ErrorBody::invalid_field("arguments", format_args!("not a JSON object: {e}"))
        })?,
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        other => other,
    };
    if !value.is_object() {
        return Err(ErrorBody::invalid_field(
            "arguments",
            "must be a JSON object",
        ));
    }
    if let Some(path) = crate::error::nul_at(&value) {
        return Err(ErrorBody::invalid_field(&path, crate::error::NUL_PROBLEM));
    }
    let args: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let problem = e.into_inner().to_string();
        let (field, _) = crate::error::field_problem(&path, &problem);
        ErrorBody::invalid_field(&field, problem)
    })?;
    validate_args(&args)?;
    Ok(args)
}

/// Checks parsed arguments by their `garde` rules again (after the server filled some
/// in), naming the first failing field as [`parse_args`] does.
pub fn validate_args<T: Validate<Context = ()>>(args: &T) -> Result<(), ErrorBody> {
    args.validate().map_err(|report| {
        let (path, error) = report
            .iter()
            .next()
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .unwrap_or_else(|| ("arguments".into(), "invalid".into()));
        let field = if path.is_empty() {
            "arguments".into()
        } else {
            path
        };
        ErrorBody::invalid_field(&field, error)
    })
}
