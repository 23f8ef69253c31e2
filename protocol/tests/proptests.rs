//! Bad input at volume: property tests of the client message decoder and of every
//! tool's argument parser. Whatever arrives, neither panics, and every error that is
//! not "this is not JSON" names the field at fault.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use garde::Validate;
use proptest::prelude::*;
use protocol::client::{ClientMessage, DecodeError};
use protocol::tools::args::*;
use protocol::tools::parse_args;
use protocol::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Field names the decoder and the tools know, so generated objects reach past the
/// first unknown field into type and validation errors; plus whatever `\w{1,12}` gives.
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "id",
    "token",
    "client",
    "name",
    "version",
    "session_id",
    "mode",
    "auto_accept",
    "call_id",
    "arguments",
    "items",
    "text",
    "at",
    "role",
    "topic",
    "since",
    "epoch",
    "offset",
    "project_id",
    "operation_ids",
    "decision",
    "edits",
    "description",
    "status",
    "field",
    "value",
    "body",
    "tags",
    "note_id",
    "todo_id",
    "title",
    "details",
    "priority",
    "due",
    "base_version",
    "section",
    "content",
    "urgency",
    "summary",
    "message_pointers",
    "transcript_anchors",
    "job_id",
    "session",
    "item_id",
    "from",
    "to",
    "limit",
];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_FIELDS).prop_map(str::to_owned),
        1 => "\\w{1,12}",
    ]
}

/// Any JSON value, nested a few levels, with strings that are sometimes ids, sometimes
/// huge, sometimes odd Unicode.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("00000000-0000-0000-0000-000000000001".into())),
        Just(Value::String("x".repeat(70_000))),
        prop::sample::select(vec![
            "intake",
            "selection",
            "high",
            "approve",
            "done",
            "user"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object with known and unknown fields.
fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(field_name(), json_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

/// A frame as a client might send it: a message type (known or not) over any fields.
fn frame() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        4 => prop::sample::select(ClientMessage::TYPES.to_vec()).prop_map(Value::from),
        1 => json_value(),
    ];
    (kind, json_object()).prop_map(|(kind, mut fields)| {
        fields.insert("type".into(), kind);
        Value::Object(fields).to_string()
    })
}

/// An error message that starts with the field at fault: `name: problem`, where `name`
/// is a path like `client.name`, `items[2].text` or `arguments`, or one of the frame's
/// own keys (an unknown field is named as sent, whatever its characters).
fn names_a_field(message: &str, frame: &str) -> bool {
    let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(frame)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if keys.iter().any(|k| {
        [": ", ".", "["]
            .iter()
            .any(|sep| message.starts_with(&format!("{k}{sep}")))
    }) {
        return true;
    }
    let Some((field, problem)) = message.split_once(": ") else {
        return false;
    };
    !field.is_empty()
        && !problem.is_empty()
        && field
            .chars()
            .all(|c| c.is_alphanumeric() || "_.[]-".contains(c))
}

/// `parse_args` of `T` on `raw` either succeeds or names a field, in `details.field`
/// and at the start of the message.
fn parses_or_names_a_field<T>(raw: Value) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Validate<Context = ()>,
{
    let Err(error): Result<T, ErrorBody> = parse_args::<T>(raw.clone()) else {
        return Ok(());
    };
    prop_assert_eq!(
        error.code,
        ErrorCode::InvalidArguments,
        "{}: {}",
        raw,
        error
    );
    let field = error
        .details
        .as_ref()
        .and_then(|d| d.get("field"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(field) = field else {
        return Err(TestCaseError::fail(format!(
            "{raw}: no details.field in {error}"
        )));
    };
    prop_assert!(!field.is_empty(), "{}: {}", raw, error);
    prop_assert!(
        error.message.starts_with(&format!("{field}: ")),
        "{}: {}",
        raw,
        error.message
    );
    Ok(())
}

/// Runs `check` for the argument type of every tool of the catalogue.
fn for_every_tool(raw: &Value) -> Result<(), TestCaseError> {
    parses_or_names_a_field::<ListProjectsArgs>(raw.clone())?;
    parses_or_names_a_field::<CreateProjectArgs>(raw.clone())?;
    parses_or_names_a_field::<AssignProjectArgs>(raw.clone())?;
    parses_or_names_a_field::<ProjectArgs>(raw.clone())?;
    parses_or_names_a_field::<UpdateProjectArgs>(raw.clone())?;
    parses_or_names_a_field::<SyncBlueprintFieldArgs>(raw.clone())?;
    parses_or_names_a_field::<CreateNoteArgs>(raw.clone())?;
    parses_or_names_a_field::<UpdateNoteArgs>(raw.clone())?;
    parses_or_names_a_field::<CreateTodoArgs>(raw.clone())?;
    parses_or_names_a_field::<UpdateTodoArgs>(raw.clone())?;
    parses_or_names_a_field::<UpdateTodoStatusArgs>(raw.clone())?;
    parses_or_names_a_field::<DeleteTodoArgs>(raw.clone())?;
    parses_or_names_a_field::<ListTodosArgs>(raw.clone())?;
    parses_or_names_a_field::<RecordTranscriptPointerArgs>(raw.clone())?;
    parses_or_names_a_field::<ApplyDocumentEditsArgs>(raw.clone())?;
    parses_or_names_a_field::<QueueDraftUpdateArgs>(raw.clone())?;
    parses_or_names_a_field::<GetDraftStatusArgs>(raw.clone())?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any text at all: an error or a message, never a panic.
    #[test]
    fn any_text_decodes_or_is_refused(text in ".{0,200}") {
        let _ = ClientMessage::decode(&text);
    }

    /// Frames shaped like messages: a message, or an error naming the field at fault.
    #[test]
    fn a_message_shaped_frame_decodes_or_names_a_field(frame in frame()) {
        match ClientMessage::decode(&frame) {
            Ok(_) => {}
            Err(DecodeError::Malformed(m)) => {
                return Err(TestCaseError::fail(format!("valid JSON called malformed: {m}")));
            }
            Err(DecodeError::Invalid { message, .. }) => {
                prop_assert!(names_a_field(&message, &frame), "{} -> {}", frame, message);
            }
        }
    }

    /// Every tool's arguments, as an object: parsed, or an error naming the field.
    #[test]
    fn tool_arguments_parse_or_name_a_field(raw in json_object()) {
        for_every_tool(&Value::Object(raw))?;
    }

    /// Every tool's arguments as anything else a client might send (a JSON string of an
    /// object, a number, an array, text that is not JSON).
    #[test]
    fn tool_arguments_of_any_shape_parse_or_name_a_field(raw in prop_oneof![
        json_value(),
        json_object().prop_map(|o| Value::String(Value::Object(o).to_string())),
        ".{0,60}".prop_map(Value::String),
    ]) {
        for_every_tool(&raw)?;
    }
}
