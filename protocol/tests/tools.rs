//! The tool catalogue against docs/protocol.md section 8: the mode table, every tool's
//! argument schema (as the assistant's model reads it) and the argument parser's errors.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use garde::Validate;
use protocol::tools::args::*;
use protocol::tools::{ToolName, parse_args, tools_for};
use protocol::{ErrorCode, Mode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const PROJECT: &str = "00000000-0000-0000-0000-000000000001";
const NOTE: &str = "00000000-0000-0000-0000-000000000007";
const TODO: &str = "00000000-0000-0000-0000-000000000008";

/// Named in docs/protocol.md but intentionally not in the catalogue yet: it joins it with the
/// drafting pipeline that answers it (see `ToolName`'s doc). The tests below check
/// everything else and fail once it is added, so the table here gets updated too.
const NOT_IN_CATALOGUE_YET: [&str; 0] = [];

/// The mode table of docs/protocol.md section 8.2, copied by hand.
fn documented_modes() -> Vec<(Mode, Vec<&'static str>)> {
    let read_only = vec![
        "get_project",
        "list_notes",
        "list_todos",
        "get_document",
        "get_blueprint_gaps",
        "suggest_operations",
        "get_session_phase",
        "set_session_phase",
        "list_memory",
        "propose_recovery",
    ];
    vec![
        (
            Mode::Selection,
            vec![
                "list_projects",
                "create_project",
                "assign_project_to_session",
            ],
        ),
        (
            Mode::Intake,
            vec![
                "get_project",
                "sync_blueprint_field",
                "get_blueprint_gaps",
                "commit_blueprint",
                "create_note",
                "create_todo",
                "update_todo_status",
                "record_transcript_pointer",
                "rollback_operation",
                "get_session_phase",
                "set_session_phase",
                "remember",
                "list_memory",
                "forget_memory",
                "focus_todo",
                "propose_recovery",
            ],
        ),
        (
            Mode::Ghostwriting,
            vec![
                "get_project",
                "get_document",
                "create_note",
                "update_todo_status",
                "record_transcript_pointer",
                "queue_draft_update",
                "get_draft_status",
                "rollback_operation",
                "get_session_phase",
                "set_session_phase",
                "remember",
                "list_memory",
                "forget_memory",
                "focus_todo",
                "propose_recovery",
            ],
        ),
        (
            Mode::Update,
            vec![
                "get_project",
                "update_project",
                "create_note",
                "update_note",
                "create_todo",
                "update_todo",
                "update_todo_status",
                "delete_todo",
                "get_document",
                "apply_document_edits",
                "rollback_operation",
                "get_session_phase",
                "set_session_phase",
                "remember",
                "list_memory",
                "forget_memory",
                "focus_todo",
                "propose_recovery",
            ],
        ),
        (Mode::Audit, read_only.clone()),
        (Mode::Forecast, read_only),
    ]
}

/// "`list_projects` and `assign_project_to_session` are available in every mode."
const IN_EVERY_MODE: [&str; 2] = ["list_projects", "assign_project_to_session"];

/// The tool argument table of docs/protocol.md section 8.4: (tool, required, optional).
/// `update_todo`'s "fields" are the todo's editable fields.
fn documented_arguments() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        ("list_projects", vec![], vec!["status"]),
        ("create_project", vec!["name"], vec!["description"]),
        ("assign_project_to_session", vec!["project_id"], vec![]),
        ("get_project", vec![], vec!["project_id"]),
        (
            "update_project",
            vec![],
            vec!["project_id", "name", "description", "status"],
        ),
        (
            "sync_blueprint_field",
            vec!["field", "value"],
            vec!["project_id"],
        ),
        ("get_blueprint_gaps", vec![], vec!["project_id"]),
        ("commit_blueprint", vec![], vec!["project_id"]),
        (
            "create_note",
            vec!["body"],
            vec!["project_id", "tags", "scenario"],
        ),
        ("update_note", vec!["note_id"], vec!["body", "tags"]),
        ("list_notes", vec![], vec!["project_id"]),
        (
            "create_todo",
            vec!["title"],
            vec!["project_id", "details", "priority"],
        ),
        // `todo_id` defaults to the todo in focus (`focus_todo`).
        (
            "update_todo",
            vec![],
            vec!["todo_id", "title", "details", "priority", "status"],
        ),
        ("update_todo_status", vec!["status"], vec!["todo_id"]),
        ("delete_todo", vec![], vec!["todo_id"]),
        ("list_todos", vec![], vec!["project_id", "status"]),
        ("record_transcript_pointer", vec!["item_id"], vec!["label"]),
        ("get_document", vec![], vec!["project_id"]),
        (
            "apply_document_edits",
            vec!["base_version", "markdown"],
            vec!["project_id", "summary"],
        ),
        (
            "queue_draft_update",
            vec!["urgency"],
            vec![
                "project_id",
                "summary",
                "message_pointers",
                "transcript_anchors",
            ],
        ),
        ("get_draft_status", vec![], vec!["project_id", "job_id"]),
        ("rollback_operation", vec!["operation_id"], vec![]),
        ("suggest_operations", vec!["operations"], vec!["project_id"]),
        ("get_session_phase", vec![], vec![]),
        (
            "set_session_phase",
            vec![],
            vec!["phase", "dimensions_covered", "dimensions_open"],
        ),
        (
            "remember",
            vec!["kind", "body"],
            vec!["project_id", "source"],
        ),
        ("list_memory", vec![], vec!["project_id", "kind"]),
        ("forget_memory", vec!["memory_id"], vec![]),
        ("focus_todo", vec![], vec!["todo_id"]),
        (
            "propose_recovery",
            vec!["operation_id"],
            vec!["arguments", "reason"],
        ),
    ]
}

fn names(tools: impl IntoIterator<Item = ToolName>) -> BTreeSet<&'static str> {
    tools.into_iter().map(ToolName::as_str).collect()
}

// ---------------------------------------------------------------------------------------
// The catalogue and the mode table.

#[test]
fn the_catalogue_is_the_documented_tools() {
    let documented: BTreeSet<&str> = documented_arguments()
        .into_iter()
        .map(|(tool, _, _)| tool)
        .filter(|tool| !NOT_IN_CATALOGUE_YET.contains(tool))
        .collect();
    assert_eq!(names(ToolName::ALL), documented);
    for tool in NOT_IN_CATALOGUE_YET {
        assert_eq!(ToolName::parse(tool), None, "{tool} joined the catalogue");
    }
}

#[test]
fn each_mode_allows_exactly_the_documented_tools() {
    for (mode, documented) in documented_modes() {
        let expected: BTreeSet<&str> = documented
            .into_iter()
            .chain(IN_EVERY_MODE)
            .filter(|tool| !NOT_IN_CATALOGUE_YET.contains(tool))
            .collect();
        assert_eq!(names(tools_for(mode)), expected, "mode {mode}");
        for tool in ToolName::ALL {
            assert_eq!(
                tool.allowed_in(mode),
                expected.contains(tool.as_str()),
                "{tool} in {mode}"
            );
        }
    }
}

#[test]
fn the_documented_table_covers_every_mode() {
    let modes: Vec<Mode> = documented_modes().into_iter().map(|(m, _)| m).collect();
    assert_eq!(modes, Mode::ALL);
}

#[test]
fn list_projects_and_assign_project_to_session_are_in_every_mode() {
    for mode in Mode::ALL {
        assert!(ToolName::ListProjects.allowed_in(mode), "{mode}");
        assert!(ToolName::AssignProjectToSession.allowed_in(mode), "{mode}");
        let allowed = names(tools_for(mode));
        assert!(allowed.contains("list_projects"), "{mode}");
        assert!(allowed.contains("assign_project_to_session"), "{mode}");
    }
}

#[test]
fn tools_for_keeps_catalogue_order() {
    for mode in Mode::ALL {
        let listed: Vec<ToolName> = tools_for(mode).collect();
        let in_order: Vec<ToolName> = ToolName::ALL
            .into_iter()
            .filter(|t| listed.contains(t))
            .collect();
        assert_eq!(listed, in_order, "{mode}");
    }
}

#[test]
fn read_only_modes_offer_no_tool_that_changes_data() {
    for mode in [Mode::Audit, Mode::Forecast] {
        for tool in tools_for(mode) {
            assert!(!tool.spec().changes, "{tool} changes data but is in {mode}");
        }
    }
}

#[test]
fn tools_that_create_update_or_delete_are_recorded_as_operations() {
    for tool in ToolName::ALL {
        let name = tool.as_str();
        let reads = name.starts_with("get_") || name.starts_with("list_");
        if reads {
            assert!(!tool.spec().changes, "{name} only reads");
        }
        if [
            "create_", "update_", "delete_", "sync_", "commit_", "apply_", "record_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        {
            assert!(tool.spec().changes, "{name} changes data");
        }
    }
}

#[test]
fn tool_names_round_trip() {
    for tool in ToolName::ALL {
        assert_eq!(ToolName::parse(tool.as_str()), Some(tool));
        assert_eq!(tool.to_string(), tool.as_str());
        assert_eq!(tool.spec().name, tool);
        // The serde name is the wire name too.
        assert_eq!(serde_json::to_value(tool).unwrap(), json!(tool.as_str()));
        assert_eq!(
            serde_json::from_value::<ToolName>(json!(tool.as_str())).unwrap(),
            tool
        );
    }
    assert_eq!(ToolName::parse("List_Projects"), None);
    assert_eq!(ToolName::parse(""), None);
    let distinct: BTreeSet<&str> = names(ToolName::ALL);
    assert_eq!(distinct.len(), ToolName::ALL.len());
}

// ---------------------------------------------------------------------------------------
// Schemas.

/// Calls `check` on every schema inside `schema` (itself included), with its path.
fn each_schema(schema: &Value, path: &str, check: &mut impl FnMut(&str, &Map<String, Value>)) {
    let Some(obj) = schema.as_object() else {
        panic!("{path}: a schema is an object, got {schema}");
    };
    check(path, obj);
    for (key, value) in obj {
        match key.as_str() {
            // Maps of property name to schema: the names are data, not keywords.
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    each_schema(sub, &format!("{path}.{key}.{name}"), check);
                }
            }
            "items" | "additionalProperties" | "not" | "contains" if value.is_object() => {
                each_schema(value, &format!("{path}.{key}"), check);
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    each_schema(sub, &format!("{path}.{key}[{i}]"), check);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_schema_is_a_closed_object_schema() {
    for tool in ToolName::ALL {
        let schema = tool.schema();
        assert_eq!(schema["type"], "object", "{tool}");
        assert_eq!(schema["additionalProperties"], false, "{tool}");
        let properties = schema["properties"].as_object();
        assert!(properties.is_some(), "{tool}: properties is an object");
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            assert!(
                properties.unwrap().contains_key(name),
                "{tool}: required {name} is not a property"
            );
        }
    }
}

#[test]
fn schemas_carry_no_meta_keys_references_or_null() {
    for tool in ToolName::ALL {
        each_schema(&tool.schema(), tool.as_str(), &mut |path, schema| {
            for key in ["$schema", "title", "$defs", "definitions", "$ref", "$id"] {
                assert!(!schema.contains_key(key), "{path} has {key}");
            }
            match schema.get("type") {
                Some(Value::String(t)) => assert_ne!(t, "null", "{path}"),
                Some(Value::Array(types)) => {
                    assert!(!types.contains(&json!("null")), "{path}: {types:?}")
                }
                Some(other) => panic!("{path}: type is {other}"),
                None => {}
            }
            if let Some(values) = schema.get("enum") {
                let values = values.as_array().unwrap();
                assert!(!values.is_empty(), "{path}: empty enum");
                assert!(values.iter().all(|v| !v.is_null()), "{path}: {values:?}");
            }
            if let Some(value) = schema.get("const") {
                assert!(!value.is_null(), "{path}: const null");
            }
            assert!(!schema.contains_key("nullable"), "{path}");
        });
    }
}

#[test]
fn schemas_have_the_documented_required_and_optional_arguments() {
    for (name, required, optional) in documented_arguments() {
        let Some(tool) = ToolName::parse(name) else {
            assert!(NOT_IN_CATALOGUE_YET.contains(&name), "{name} is missing");
            continue;
        };
        let schema = tool.schema();
        let properties: BTreeSet<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let listed: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap())
            .collect();
        let required: BTreeSet<&str> = required.into_iter().collect();
        let all: BTreeSet<&str> = required.iter().copied().chain(optional).collect();
        assert_eq!(properties, all, "{name}: properties");
        assert_eq!(listed, required, "{name}: required");
    }
}

#[test]
fn schema_enums_are_the_documented_values() {
    let project_status = json!(["active", "paused", "completed", "archived"]);
    let todo_status = json!(["open", "in_progress", "done", "blocked"]);
    let priority = json!(["low", "medium", "high"]);
    let blueprint_fields = json!([
        "summary",
        "audience",
        "voice",
        "outline",
        "integrity_ideals",
        "people_bonds",
        "goals_momentum",
        "meaning_identity",
        "reality_understanding",
        "trust_safeguards",
        "opportunity_freedom",
        "power_resources",
        "harmony_integration",
    ]);
    let cases = [
        (ToolName::ListProjects, "status", &project_status),
        (ToolName::UpdateProject, "status", &project_status),
        (ToolName::SyncBlueprintField, "field", &blueprint_fields),
        (ToolName::CreateTodo, "priority", &priority),
        (ToolName::UpdateTodo, "priority", &priority),
        (ToolName::UpdateTodo, "status", &todo_status),
        (ToolName::UpdateTodoStatus, "status", &todo_status),
        (ToolName::ListTodos, "status", &todo_status),
    ];
    for (tool, property, values) in cases {
        let schema = &tool.schema()["properties"][property];
        assert_eq!(&schema["enum"], values, "{tool}.{property}");
        assert_eq!(schema["type"], "string", "{tool}.{property}");
    }
}

#[test]
fn function_definitions_are_openai_realtime_tools() {
    for tool in ToolName::ALL {
        let function = serde_json::to_value(tool.function()).unwrap();
        let keys: BTreeSet<&str> = function
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["type", "name", "description", "parameters"]),
            "{tool}"
        );
        assert_eq!(function["type"], "function");
        assert_eq!(function["name"], tool.as_str());
        assert!(!function["description"].as_str().unwrap().is_empty());
        assert_eq!(function["parameters"], tool.schema());
    }
}

#[test]
fn function_definitions_snapshot() {
    insta::assert_json_snapshot!("functions", ToolName::ALL.map(|t| t.function()));
}

// ---------------------------------------------------------------------------------------
// Parsing arguments.

/// The error `parse_args` gives for `raw`: always `invalid_arguments`, with the field in
/// `details.field` and at the start of the message. Answers the field.
#[track_caller]
fn invalid<T>(raw: Value) -> String
where
    T: DeserializeOwned + Validate<Context = ()> + std::fmt::Debug,
{
    let error = match parse_args::<T>(raw.clone()) {
        Ok(args) => panic!("{raw} was accepted as {args:?}"),
        Err(error) => error,
    };
    assert_eq!(error.code, ErrorCode::InvalidArguments, "{raw}: {error}");
    let details = error.details.as_ref().expect("details");
    let keys: Vec<&String> = details.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["field"], "{raw}: {details}");
    let field = details["field"].as_str().unwrap().to_owned();
    assert!(
        error.message.starts_with(&format!("{field}: ")),
        "{raw}: {}",
        error.message
    );
    field
}

#[test]
fn arguments_as_an_object() {
    let args: CreateProjectArgs =
        parse_args(json!({"name": "Memoir", "description": "Stories from the farm"})).unwrap();
    assert_eq!(
        args,
        CreateProjectArgs {
            name: "Memoir".into(),
            description: Some("Stories from the farm".into()),
        }
    );
    let args: UpdateTodoStatusArgs =
        parse_args(json!({"todo_id": TODO, "status": "in_progress"})).unwrap();
    assert_eq!(args.todo_id.map(|t| t.to_string()), Some(TODO.into()));
    assert_eq!(args.status, protocol::entities::TodoStatus::InProgress);
}

#[test]
fn arguments_as_a_json_string() {
    let args: CreateProjectArgs = parse_args(json!("{\"name\":\"Memoir\"}")).unwrap();
    assert_eq!(
        args,
        CreateProjectArgs {
            name: "Memoir".into(),
            description: None,
        }
    );
    let args: ProjectArgs =
        parse_args(json!(format!(" {{\"project_id\": \"{PROJECT}\"}} "))).unwrap();
    assert_eq!(args.project_id.unwrap().to_string(), PROJECT);
}

#[test]
fn arguments_as_an_empty_string_or_null_are_no_arguments() {
    for raw in [json!(""), json!("   "), json!(null), json!({})] {
        let args: ListProjectsArgs = parse_args(raw.clone()).unwrap();
        assert_eq!(args, ListProjectsArgs::default(), "{raw}");
        let args: ProjectArgs = parse_args(raw.clone()).unwrap();
        assert_eq!(args, ProjectArgs::default(), "{raw}");
    }
    // No arguments still lacks a required one.
    assert_eq!(invalid::<CreateProjectArgs>(json!("")), "name");
    assert_eq!(invalid::<CreateProjectArgs>(json!(null)), "name");
}

#[test]
fn arguments_that_are_not_an_object_are_rejected() {
    for raw in [
        json!([]),
        json!([{"name": "x"}]),
        json!(5),
        json!(true),
        json!(1.5),
    ] {
        assert_eq!(invalid::<ListProjectsArgs>(raw), "arguments");
    }
}

#[test]
fn a_json_string_not_holding_an_object_is_rejected() {
    for raw in [
        json!("[]"),
        json!("5"),
        json!("\"name\""),
        json!("null"),
        json!("not json"),
        json!("{\"name\":"),
    ] {
        assert_eq!(invalid::<CreateProjectArgs>(raw), "arguments");
    }
}

#[test]
fn unknown_fields_are_rejected() {
    assert_eq!(
        invalid::<CreateProjectArgs>(json!({"name": "Memoir", "colour": "red"})),
        "colour"
    );
    assert_eq!(invalid::<ListProjectsArgs>(json!({"limit": 5})), "limit");
    assert_eq!(
        invalid::<ProjectArgs>(json!("{\"project\":\"x\"}")),
        "project"
    );
    assert_eq!(
        invalid::<UpdateTodoStatusArgs>(json!({"todo_id": TODO, "status": "done", "note": ""})),
        "note"
    );
}

#[test]
fn unknown_fields_in_nested_objects_are_rejected() {
    assert_eq!(
        invalid::<QueueDraftUpdateArgs>(json!({
            "urgency": "low",
            "transcript_anchors": [{"item_id": "i1"}, {"item_id": "i2", "speaker": "me"}],
        })),
        "transcript_anchors[1].speaker"
    );
}

#[test]
fn wrong_types_are_rejected() {
    assert_eq!(invalid::<CreateProjectArgs>(json!({"name": 5})), "name");
    assert_eq!(
        invalid::<CreateProjectArgs>(json!({"name": "x", "description": ["a"]})),
        "description"
    );
    assert_eq!(
        invalid::<ListProjectsArgs>(json!({"status": "deleted"})),
        "status"
    );
    assert_eq!(
        invalid::<ProjectArgs>(json!({"project_id": "nope"})),
        "project_id"
    );
    assert_eq!(
        invalid::<ProjectArgs>(json!({"project_id": 1})),
        "project_id"
    );
    assert_eq!(
        invalid::<CreateNoteArgs>(json!({"body": "x", "tags": "farm"})),
        "tags"
    );
    assert_eq!(
        invalid::<CreateNoteArgs>(json!({"body": "x", "tags": ["farm", 2]})),
        "tags[1]"
    );
    assert_eq!(
        invalid::<CreateTodoArgs>(json!({"title": "x", "priority": "urgent"})),
        "priority"
    );
    assert_eq!(
        invalid::<UpdateTodoStatusArgs>(json!({"todo_id": TODO, "status": "finished"})),
        "status"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(json!({"base_version": "3", "markdown": ""})),
        "base_version"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(json!({"base_version": 1.5, "markdown": ""})),
        "base_version"
    );
    // An unknown blueprint field is invalid_arguments (docs/protocol.md section 8.4).
    assert_eq!(
        invalid::<SyncBlueprintFieldArgs>(json!({"field": "colour", "value": "red"})),
        "field"
    );
    assert_eq!(
        invalid::<SyncBlueprintFieldArgs>(json!({"field": "voice", "value": 3})),
        "value"
    );
    assert_eq!(
        invalid::<QueueDraftUpdateArgs>(json!({"urgency": "asap"})),
        "urgency"
    );
}

#[test]
fn missing_fields_are_rejected() {
    assert_eq!(invalid::<CreateProjectArgs>(json!({})), "name");
    assert_eq!(
        invalid::<CreateProjectArgs>(json!({"description": "x"})),
        "name"
    );
    assert_eq!(invalid::<AssignProjectArgs>(json!({})), "project_id");
    assert_eq!(
        invalid::<SyncBlueprintFieldArgs>(json!({"field": "voice"})),
        "value"
    );
    assert_eq!(
        invalid::<SyncBlueprintFieldArgs>(json!({"value": "warm"})),
        "field"
    );
    assert_eq!(invalid::<CreateNoteArgs>(json!({"tags": []})), "body");
    assert_eq!(invalid::<UpdateNoteArgs>(json!({"body": "x"})), "note_id");
    assert_eq!(invalid::<CreateTodoArgs>(json!({})), "title");
    assert_eq!(
        invalid::<UpdateTodoStatusArgs>(json!({"todo_id": TODO})),
        "status"
    );
    assert_eq!(
        invalid::<DeleteTodoArgs>(json!({"todo_id": "not-a-uuid"})),
        "todo_id"
    );
    assert_eq!(
        invalid::<RecordTranscriptPointerArgs>(json!({"label": "x"})),
        "item_id"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(json!({"markdown": "# x"})),
        "base_version"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(json!({"base_version": 0})),
        "markdown"
    );
    assert_eq!(invalid::<QueueDraftUpdateArgs>(json!({})), "urgency");
    assert_eq!(
        invalid::<QueueDraftUpdateArgs>(json!({"urgency": "high", "transcript_anchors": [{}]})),
        "transcript_anchors[0].item_id"
    );
}

#[test]
fn blank_names_are_rejected() {
    for blank in ["", " ", "\t\n "] {
        assert_eq!(invalid::<CreateProjectArgs>(json!({"name": blank})), "name");
        assert_eq!(invalid::<UpdateProjectArgs>(json!({"name": blank})), "name");
        assert_eq!(invalid::<CreateNoteArgs>(json!({"body": blank})), "body");
        assert_eq!(
            invalid::<UpdateNoteArgs>(json!({"note_id": NOTE, "body": blank})),
            "body"
        );
        assert_eq!(invalid::<CreateTodoArgs>(json!({"title": blank})), "title");
        assert_eq!(
            invalid::<UpdateTodoArgs>(json!({"todo_id": TODO, "title": blank})),
            "title"
        );
    }
    assert_eq!(
        invalid::<RecordTranscriptPointerArgs>(json!({"item_id": ""})),
        "item_id"
    );
}

#[test]
fn over_long_strings_are_rejected_and_the_limit_itself_is_accepted() {
    let at = |n: usize| "x".repeat(n);
    // Right at the limits: accepted.
    parse_args::<CreateProjectArgs>(json!({"name": at(MAX_NAME), "description": at(MAX_TEXT)}))
        .unwrap();
    parse_args::<ApplyDocumentEditsArgs>(json!({"base_version": 0, "markdown": at(MAX_DOCUMENT)}))
        .unwrap();

    assert_eq!(
        invalid::<CreateProjectArgs>(json!({"name": at(MAX_NAME + 1)})),
        "name"
    );
    assert_eq!(
        invalid::<CreateProjectArgs>(json!({"name": "x", "description": at(MAX_TEXT + 1)})),
        "description"
    );
    assert_eq!(
        invalid::<UpdateProjectArgs>(json!({"name": at(MAX_NAME + 1)})),
        "name"
    );
    assert_eq!(
        invalid::<SyncBlueprintFieldArgs>(json!({"field": "voice", "value": at(MAX_TEXT + 1)})),
        "value"
    );
    assert_eq!(
        invalid::<CreateNoteArgs>(json!({"body": at(MAX_TEXT + 1)})),
        "body"
    );
    assert_eq!(
        invalid::<CreateTodoArgs>(json!({"title": at(MAX_NAME + 1)})),
        "title"
    );
    assert_eq!(
        invalid::<UpdateTodoArgs>(json!({"todo_id": TODO, "details": at(MAX_TEXT + 1)})),
        "details"
    );
    assert_eq!(
        invalid::<RecordTranscriptPointerArgs>(json!({"item_id": at(MAX_NAME + 1)})),
        "item_id"
    );
    assert_eq!(
        invalid::<RecordTranscriptPointerArgs>(json!({"item_id": "i", "label": at(MAX_NAME + 1)})),
        "label"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(
            json!({"base_version": 0, "markdown": at(MAX_DOCUMENT + 1)})
        ),
        "markdown"
    );
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(
            json!({"base_version": 0, "markdown": "", "summary": at(MAX_TEXT + 1)})
        ),
        "summary"
    );
    assert_eq!(
        invalid::<QueueDraftUpdateArgs>(json!({
            "urgency": "low",
            "transcript_anchors": [{"item_id": "i", "quote": at(MAX_TEXT + 1)}],
        })),
        "transcript_anchors[0].quote"
    );
}

#[test]
fn a_negative_base_version_is_rejected() {
    assert_eq!(
        invalid::<ApplyDocumentEditsArgs>(json!({"base_version": -1, "markdown": ""})),
        "base_version"
    );
}

#[test]
fn bad_tags_are_rejected_and_the_limits_themselves_are_accepted() {
    let tag = "t".repeat(MAX_TAG);
    let most: Vec<String> = (0..MAX_TAGS)
        .map(|i| format!("{i}{}", &tag[1 + i / 10..]))
        .collect();
    let args: CreateNoteArgs = parse_args(json!({"body": "x", "tags": most})).unwrap();
    assert_eq!(args.tags.as_ref().map(Vec::len), Some(MAX_TAGS));

    let too_many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
    for tags in [
        json!([""]),
        json!(["farm", ""]),
        json!([format!("{tag}x")]),
        json!(too_many),
    ] {
        assert_eq!(
            invalid::<CreateNoteArgs>(json!({"body": "x", "tags": tags})),
            "tags"
        );
        assert_eq!(
            invalid::<UpdateNoteArgs>(json!({"note_id": NOTE, "tags": tags})),
            "tags"
        );
    }
    assert_eq!(
        invalid::<QueueDraftUpdateArgs>(json!({"urgency": "low", "message_pointers": [""]})),
        "message_pointers"
    );
}

#[test]
fn tool_args_name_their_project() {
    let project = PROJECT.parse().unwrap();
    let args: AssignProjectArgs = parse_args(json!({"project_id": PROJECT})).unwrap();
    assert_eq!(args.project_id(), Some(project));
    let args: CreateNoteArgs = parse_args(json!({"project_id": PROJECT, "body": "x"})).unwrap();
    assert_eq!(args.project_id(), Some(project));
    let args: CreateNoteArgs = parse_args(json!({"body": "x"})).unwrap();
    assert_eq!(args.project_id(), None);
    let args: UpdateNoteArgs = parse_args(json!({"note_id": NOTE})).unwrap();
    assert_eq!(args.project_id(), None);
}
