//! Golden JSON for every wire message of docs/protocol.md sections 3 to 5: what clients send,
//! what the server answers and publishes, and the frames the server must refuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use protocol::blueprint::{Blueprint, BlueprintField};
use protocol::client::{
    AuthRefresh, ChatSend, Decision, DecodeError, Hello, OperationDecide, Ping, Position,
    SessionConfigure, Snapshot, Subscribe, ToolCall, TranscriptAppend, TranscriptItemInput,
    Unsubscribe,
};
use protocol::entities::*;
use protocol::event::{
    DocumentUpdated, DraftDelta, Event, JobStatusEvent, Presence, SessionPhase, ToolProgress,
};
use protocol::server::{Decided, EventMessage, Limits, OkData, ToolResult};
use protocol::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

// Fixed ids and times, so the golden JSON can be written out literally.
const PROJECT: &str = "00000000-0000-0000-0000-000000000001";
const SESSION: &str = "00000000-0000-0000-0000-000000000002";
const CONNECTION: &str = "00000000-0000-0000-0000-000000000003";
const DOCUMENT: &str = "00000000-0000-0000-0000-000000000004";
const OPERATION: &str = "00000000-0000-0000-0000-000000000005";
const OPERATION_2: &str = "00000000-0000-0000-0000-000000000006";
const NOTE: &str = "00000000-0000-0000-0000-000000000007";
const TODO: &str = "00000000-0000-0000-0000-000000000008";
const JOB: &str = "00000000-0000-0000-0000-000000000009";
const MESSAGE: &str = "00000000-0000-0000-0000-00000000000a";
const POINTER: &str = "00000000-0000-0000-0000-00000000000b";
const BATCH: &str = "00000000-0000-0000-0000-00000000000c";
const T0: &str = "2024-05-01T12:00:00Z";
const T1: &str = "2024-05-01T12:00:05Z";

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    T0.parse().unwrap()
}

fn t1() -> DateTime<Utc> {
    T1.parse().unwrap()
}

/// A client frame decodes to `expected`, and `expected` serializes back to the same JSON.
#[track_caller]
fn client_golden(frame: Value, expected: ClientMessage) {
    let decoded = match ClientMessage::decode(&frame.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("{frame} did not decode: {e}"),
    };
    assert_eq!(decoded, expected);
    assert_eq!(serde_json::to_value(&decoded).unwrap(), frame);
}

/// A server message serializes to exactly `expected` and reads back equal, both from the
/// JSON value and from the text `to_json` sends.
#[track_caller]
fn server_golden(message: ServerMessage, expected: Value) {
    assert_eq!(serde_json::to_value(&message).unwrap(), expected);
    let back: ServerMessage = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(back, message);
    let text = message.to_json();
    let back: ServerMessage = serde_json::from_str(&text).unwrap();
    assert_eq!(back, message);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
}

/// A frame the server must refuse; answers the id the error carries for `re`.
#[track_caller]
fn rejected(frame: &str) -> (Option<RequestId>, String) {
    match ClientMessage::decode(frame) {
        Ok(m) => panic!("{frame} decoded as {m:?}"),
        Err(DecodeError::Malformed(m)) => (None, m),
        Err(DecodeError::Invalid { id, message }) => (id, message),
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures: each entity with its JSON.

fn client_info() -> ClientInfo {
    ClientInfo {
        name: "voice-app".into(),
        version: "2.3.0".into(),
    }
}

fn project() -> Project {
    let mut blueprint = Blueprint::new();
    blueprint.insert(BlueprintField::Summary, "A family memoir".into());
    let mut draft = blueprint.clone();
    draft.insert(BlueprintField::Audience, "my grandchildren".into());
    Project {
        id: id(PROJECT),
        owner_id: "user-1".into(),
        name: "Memoir".into(),
        description: "Stories from the farm".into(),
        status: ProjectStatus::Active,
        blueprint,
        blueprint_draft: draft,
        blueprint_version: 1,
        role: Some(Role::Owner),
        created_at: t0(),
        updated_at: t1(),
    }
}

fn project_json() -> Value {
    json!({
        "id": PROJECT,
        "owner_id": "user-1",
        "name": "Memoir",
        "description": "Stories from the farm",
        "status": "active",
        "blueprint": {"summary": "A family memoir"},
        "blueprint_draft": {"summary": "A family memoir", "audience": "my grandchildren"},
        "blueprint_version": 1,
        "role": "owner",
        "created_at": T0,
        "updated_at": T1,
    })
}

/// A session working on a project.
fn session() -> Session {
    Session {
        id: id(SESSION),
        user_id: "user-1".into(),
        project_id: Some(id(PROJECT)),
        mode: Mode::Intake,
        auto_accept: false,
        metadata: SessionMetadata {
            phase: Some(Phase::Clarifying),
            dimensions_covered: vec![BlueprintField::Summary, BlueprintField::Audience],
            dimensions_open: vec![BlueprintField::Voice],
            todo_id: Some(id(TODO)),
        },
        client: Some(client_info()),
        created_at: t0(),
        updated_at: t1(),
    }
}

fn session_json() -> Value {
    json!({
        "id": SESSION,
        "user_id": "user-1",
        "project_id": PROJECT,
        "mode": "intake",
        "auto_accept": false,
        "metadata": {
            "phase": "clarifying",
            "dimensions_covered": ["summary", "audience"],
            "dimensions_open": ["voice"],
            "todo_id": TODO,
        },
        "client": {"name": "voice-app", "version": "2.3.0"},
        "created_at": T0,
        "updated_at": T1,
    })
}

/// A session as it starts: mode `selection`, `auto_accept: true`, no project.
fn new_session() -> Session {
    Session {
        id: id(SESSION),
        user_id: "user-1".into(),
        project_id: None,
        mode: Mode::Selection,
        auto_accept: true,
        metadata: SessionMetadata::default(),
        client: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn new_session_json() -> Value {
    json!({
        "id": SESSION,
        "user_id": "user-1",
        "project_id": null,
        "mode": "selection",
        "auto_accept": true,
        "metadata": {"dimensions_covered": [], "dimensions_open": []},
        "created_at": T0,
        "updated_at": T0,
    })
}

fn sections() -> Vec<Section> {
    vec![
        Section {
            key: "childhood".into(),
            title: "Childhood".into(),
            level: 1,
        },
        Section {
            key: "childhood/the-barn".into(),
            title: "The barn".into(),
            level: 2,
        },
    ]
}

fn sections_json() -> Value {
    json!([
        {"key": "childhood", "title": "Childhood", "level": 1},
        {"key": "childhood/the-barn", "title": "The barn", "level": 2},
    ])
}

fn document() -> Document {
    Document {
        id: id(DOCUMENT),
        project_id: id(PROJECT),
        markdown: "# Childhood\n\n## The barn\n".into(),
        sections: sections(),
        summary: "Growing up on the farm.".into(),
        version: 3,
        updated_at: t1(),
    }
}

fn document_json() -> Value {
    json!({
        "id": DOCUMENT,
        "project_id": PROJECT,
        "markdown": "# Childhood\n\n## The barn\n",
        "sections": sections_json(),
        "summary": "Growing up on the farm.",
        "version": 3,
        "updated_at": T1,
    })
}

/// An operation waiting for approval: the optional fields are `null`.
fn pending_operation() -> Operation {
    Operation {
        id: id(OPERATION),
        session_id: id(SESSION),
        project_id: Some(id(PROJECT)),
        batch_id: None,
        seq: 1,
        tool: "create_note".into(),
        kind: OperationKind::Create,
        entity: Entity::Note,
        entity_id: None,
        data: json!({"body": "Grandpa's tractor"}),
        before: None,
        after: None,
        status: OperationStatus::Pending,
        error: None,
        decided_by: None,
        created_at: t0(),
        executed_at: None,
        duration_ms: None,
        rolled_back_by: None,
        rollback_of: None,
        suggestion: false,
        reason: None,
        recovers: None,
    }
}

fn pending_operation_json() -> Value {
    json!({
        "id": OPERATION,
        "session_id": SESSION,
        "project_id": PROJECT,
        "batch_id": null,
        "seq": 1,
        "tool": "create_note",
        "kind": "create",
        "entity": "note",
        "entity_id": null,
        "data": {"body": "Grandpa's tractor"},
        "before": null,
        "after": null,
        "status": "pending",
        "error": null,
        "decided_by": null,
        "created_at": T0,
        "executed_at": null,
        "duration_ms": null,
    })
}

/// An operation that ran, in a batch, with every field set.
fn completed_operation() -> Operation {
    Operation {
        id: id(OPERATION_2),
        session_id: id(SESSION),
        project_id: Some(id(PROJECT)),
        batch_id: Some(id(BATCH)),
        seq: 2,
        tool: "update_todo_status".into(),
        kind: OperationKind::Update,
        entity: Entity::Todo,
        entity_id: Some(TODO.into()),
        data: json!({"todo_id": TODO, "status": "done"}),
        before: Some(json!({"status": "open"})),
        after: Some(json!({"status": "done"})),
        status: OperationStatus::Completed,
        error: None,
        decided_by: Some(UserId("alice".into())),
        created_at: t0(),
        executed_at: Some(t1()),
        duration_ms: Some(12),
        rolled_back_by: None,
        rollback_of: None,
        suggestion: false,
        reason: None,
        recovers: None,
    }
}

fn completed_operation_json() -> Value {
    json!({
        "id": OPERATION_2,
        "session_id": SESSION,
        "project_id": PROJECT,
        "batch_id": BATCH,
        "seq": 2,
        "tool": "update_todo_status",
        "kind": "update",
        "entity": "todo",
        "entity_id": TODO,
        "data": {"todo_id": TODO, "status": "done"},
        "before": {"status": "open"},
        "after": {"status": "done"},
        "status": "completed",
        "error": null,
        "decided_by": "alice",
        "created_at": T0,
        "executed_at": T1,
        "duration_ms": 12,
    })
}

/// A completed operation undone by a rollback names who rolled it back; the rollback
/// names what it undid. Both fields are left out when empty.
fn rolled_back_operation() -> Operation {
    Operation {
        status: OperationStatus::RolledBack,
        rolled_back_by: Some(UserId("bob".into())),
        ..completed_operation()
    }
}

fn rolled_back_operation_json() -> Value {
    let mut json = completed_operation_json();
    json["status"] = json!("rolled_back");
    json["rolled_back_by"] = json!("bob");
    json
}

fn rollback_operation() -> Operation {
    Operation {
        id: id(OPERATION),
        seq: 3,
        tool: "rollback_operation".into(),
        data: json!({"operation_id": OPERATION_2}),
        before: Some(json!({"status": "done"})),
        after: Some(json!({"status": "open"})),
        decided_by: None,
        batch_id: None,
        rollback_of: Some(id(OPERATION_2)),
        ..completed_operation()
    }
}

fn rollback_operation_json() -> Value {
    let mut json = completed_operation_json();
    json["id"] = json!(OPERATION);
    json["seq"] = json!(3);
    json["tool"] = json!("rollback_operation");
    json["data"] = json!({"operation_id": OPERATION_2});
    json["before"] = json!({"status": "done"});
    json["after"] = json!({"status": "open"});
    json["decided_by"] = json!(null);
    json["batch_id"] = json!(null);
    json["rollback_of"] = json!(OPERATION_2);
    json
}

/// A suggestion is marked, with its reason; plain operations leave both out.
fn suggested_operation() -> Operation {
    Operation {
        suggestion: true,
        reason: Some("The beds dry out".into()),
        ..pending_operation()
    }
}

fn suggested_operation_json() -> Value {
    let mut json = pending_operation_json();
    json["suggestion"] = json!(true);
    json["reason"] = json!("The beds dry out");
    json
}

/// A correction of a failed operation names it.
fn recovery_operation() -> Operation {
    Operation {
        recovers: Some(id(OPERATION_2)),
        ..pending_operation()
    }
}

fn recovery_operation_json() -> Value {
    let mut json = pending_operation_json();
    json["recovers"] = json!(OPERATION_2);
    json
}

/// A failed operation carries its error body.
fn failed_operation() -> Operation {
    Operation {
        status: OperationStatus::Failed,
        error: Some(ErrorBody::new(ErrorCode::NotFound, "no such todo")),
        executed_at: Some(t1()),
        ..pending_operation()
    }
}

fn failed_operation_json() -> Value {
    let mut json = pending_operation_json();
    json["status"] = json!("failed");
    json["error"] = json!({"code": "not_found", "message": "no such todo"});
    json["executed_at"] = json!(T1);
    json
}

fn note() -> Note {
    Note {
        id: id(NOTE),
        project_id: id(PROJECT),
        body: "Grandpa's tractor was red.".into(),
        tags: vec!["farm".into(), "grandpa".into()],
        author_id: "user-1".into(),
        session_id: Some(id(SESSION)),
        created_at: t0(),
        updated_at: t1(),
    }
}

fn note_json() -> Value {
    json!({
        "id": NOTE,
        "project_id": PROJECT,
        "body": "Grandpa's tractor was red.",
        "tags": ["farm", "grandpa"],
        "author_id": "user-1",
        "session_id": SESSION,
        "created_at": T0,
        "updated_at": T1,
    })
}

fn todo() -> Todo {
    Todo {
        id: id(TODO),
        project_id: id(PROJECT),
        title: "Find the wedding photos".into(),
        details: String::new(),
        status: TodoStatus::InProgress,
        priority: Priority::High,
        session_id: None,
        created_at: t0(),
        updated_at: t1(),
    }
}

fn todo_json() -> Value {
    json!({
        "id": TODO,
        "project_id": PROJECT,
        "title": "Find the wedding photos",
        "details": "",
        "status": "in_progress",
        "priority": "high",
        "session_id": null,
        "created_at": T0,
        "updated_at": T1,
    })
}

fn pointer() -> TranscriptPointer {
    TranscriptPointer {
        id: id(POINTER),
        session_id: id(SESSION),
        project_id: id(PROJECT),
        item_id: "item_42".into(),
        label: Some("the flood of 1962".into()),
        created_at: t0(),
    }
}

fn pointer_json() -> Value {
    json!({
        "id": POINTER,
        "session_id": SESSION,
        "project_id": PROJECT,
        "item_id": "item_42",
        "label": "the flood of 1962",
        "created_at": T0,
    })
}

fn chat_message() -> ChatMessage {
    ChatMessage {
        id: id(MESSAGE),
        project_id: id(PROJECT),
        role: ChatRole::Assistant,
        author_id: None,
        text: "Here is a tighter opening.".into(),
        job_id: Some(id(JOB)),
        created_at: t1(),
    }
}

fn chat_message_json() -> Value {
    json!({
        "id": MESSAGE,
        "project_id": PROJECT,
        "role": "assistant",
        "author_id": null,
        "text": "Here is a tighter opening.",
        "job_id": JOB,
        "created_at": T1,
    })
}

fn limits() -> Limits {
    Limits {
        max_frame_bytes: 65_536,
        max_subscriptions: 16,
        max_queued_messages: 1_024,
        max_queued_bytes: 4_194_304,
        messages_per_second: 20,
        message_burst: 40,
        max_connections_per_user: 8,
    }
}

fn limits_json() -> Value {
    json!({
        "max_frame_bytes": 65_536,
        "max_subscriptions": 16,
        "max_queued_messages": 1_024,
        "max_queued_bytes": 4_194_304,
        "messages_per_second": 20,
        "message_burst": 40,
        "max_connections_per_user": 8,
    })
}

// ---------------------------------------------------------------------------------------
// Client to server (section 3).

#[test]
fn hello_with_every_field() {
    client_golden(
        json!({
            "type": "hello",
            "id": 1,
            "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            "client": {"name": "voice-app", "version": "2.3.0"},
            "session_id": SESSION,
        }),
        ClientMessage::Hello(Hello {
            id: RequestId::Int(1),
            token: Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".into()),
            client: client_info(),
            session_id: Some(id(SESSION)),
        }),
    );
}

#[test]
fn hello_with_only_the_client() {
    client_golden(
        json!({"type": "hello", "id": "h1", "client": {"name": "sdk", "version": "0.1.0"}}),
        ClientMessage::Hello(Hello {
            id: RequestId::Str("h1".into()),
            token: None,
            client: ClientInfo {
                name: "sdk".into(),
                version: "0.1.0".into(),
            },
            session_id: None,
        }),
    );
}

#[test]
fn session_configure_with_every_field_and_with_none() {
    client_golden(
        json!({
            "type": "session.configure",
            "id": 2,
            "mode": "ghostwriting",
            "project_id": PROJECT,
            "auto_accept": false,
            "todo_id": TODO,
        }),
        ClientMessage::SessionConfigure(SessionConfigure {
            id: RequestId::Int(2),
            mode: Some(Mode::Ghostwriting),
            project_id: Some(id(PROJECT)),
            auto_accept: Some(false),
            todo_id: Some(id(TODO)),
        }),
    );
    client_golden(
        json!({"type": "session.configure", "id": 3}),
        ClientMessage::SessionConfigure(SessionConfigure {
            id: RequestId::Int(3),
            mode: None,
            project_id: None,
            auto_accept: None,
            todo_id: None,
        }),
    );
}

#[test]
fn every_mode_has_its_wire_name() {
    let names: Vec<Value> = Mode::ALL
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "selection",
            "intake",
            "ghostwriting",
            "update",
            "audit",
            "forecast"
        ]
    );
    for mode in Mode::ALL {
        assert_eq!(Mode::parse(mode.as_str()), Some(mode));
    }
}

#[test]
fn tool_call_with_object_arguments() {
    client_golden(
        json!({
            "type": "tool.call",
            "id": 4,
            "call_id": "call_abc",
            "name": "create_note",
            "arguments": {"body": "Grandpa's tractor", "tags": ["farm"]},
        }),
        ClientMessage::ToolCall(ToolCall {
            id: RequestId::Int(4),
            call_id: "call_abc".into(),
            name: "create_note".into(),
            arguments: json!({"body": "Grandpa's tractor", "tags": ["farm"]}),
        }),
    );
}

#[test]
fn tool_call_with_string_arguments_as_the_realtime_api_sends_them() {
    client_golden(
        json!({
            "type": "tool.call",
            "id": "t5",
            "call_id": "call_def",
            "name": "list_projects",
            "arguments": "{\"status\":\"active\"}",
        }),
        ClientMessage::ToolCall(ToolCall {
            id: RequestId::Str("t5".into()),
            call_id: "call_def".into(),
            name: "list_projects".into(),
            arguments: Value::String("{\"status\":\"active\"}".into()),
        }),
    );
}

#[test]
fn tool_call_without_arguments_reads_an_empty_object() {
    let message = ClientMessage::decode(
        r#"{"type":"tool.call","id":6,"call_id":"c","name":"list_projects"}"#,
    )
    .unwrap();
    assert_eq!(
        message,
        ClientMessage::ToolCall(ToolCall {
            id: RequestId::Int(6),
            call_id: "c".into(),
            name: "list_projects".into(),
            arguments: json!({}),
        })
    );
}

#[test]
fn transcript_append() {
    client_golden(
        json!({
            "type": "transcript.append",
            "id": 7,
            "items": [
                {"item_id": "item_1", "role": "user", "text": "It was 1962.", "at": T0},
                {"item_id": "item_2", "role": "assistant", "text": "Tell me more.", "at": T1},
                {"item_id": "item_3", "role": "system", "text": "TOOL_PROGRESS::{}", "at": T1},
            ],
        }),
        ClientMessage::TranscriptAppend(TranscriptAppend {
            id: RequestId::Int(7),
            items: vec![
                TranscriptItemInput {
                    item_id: "item_1".into(),
                    role: TranscriptRole::User,
                    text: "It was 1962.".into(),
                    at: t0(),
                },
                TranscriptItemInput {
                    item_id: "item_2".into(),
                    role: TranscriptRole::Assistant,
                    text: "Tell me more.".into(),
                    at: t1(),
                },
                TranscriptItemInput {
                    item_id: "item_3".into(),
                    role: TranscriptRole::System,
                    text: "TOOL_PROGRESS::{}".into(),
                    at: t1(),
                },
            ],
        }),
    );
}

#[test]
fn subscribe_with_and_without_since() {
    let topic = format!("project:{PROJECT}");
    client_golden(
        json!({
            "type": "subscribe",
            "id": 8,
            "topic": topic,
            "since": {"epoch": "e-1f3a", "offset": 41},
        }),
        ClientMessage::Subscribe(Subscribe {
            id: RequestId::Int(8),
            topic: topic.clone(),
            since: Some(Position {
                epoch: "e-1f3a".into(),
                offset: 41,
            }),
        }),
    );
    client_golden(
        json!({"type": "subscribe", "id": 9, "topic": topic}),
        ClientMessage::Subscribe(Subscribe {
            id: RequestId::Int(9),
            topic,
            since: None,
        }),
    );
}

#[test]
fn unsubscribe() {
    client_golden(
        json!({"type": "unsubscribe", "id": 10, "topic": format!("session:{SESSION}")}),
        ClientMessage::Unsubscribe(Unsubscribe {
            id: RequestId::Int(10),
            topic: format!("session:{SESSION}"),
        }),
    );
}

#[test]
fn snapshot_request() {
    client_golden(
        json!({"type": "snapshot", "id": 11, "project_id": PROJECT}),
        ClientMessage::Snapshot(Snapshot {
            id: RequestId::Int(11),
            project_id: id(PROJECT),
        }),
    );
}

#[test]
fn operation_decide_approve_with_edits() {
    let mut edits = BTreeMap::new();
    edits.insert(id(OPERATION), json!({"body": "Grandpa's red tractor"}));
    client_golden(
        json!({
            "type": "operation.decide",
            "id": 12,
            "operation_ids": [OPERATION, OPERATION_2],
            "decision": "approve",
            "edits": {OPERATION: {"body": "Grandpa's red tractor"}},
        }),
        ClientMessage::OperationDecide(OperationDecide {
            id: RequestId::Int(12),
            operation_ids: vec![id(OPERATION), id(OPERATION_2)],
            decision: Decision::Approve,
            edits: Some(edits),
        }),
    );
}

#[test]
fn operation_decide_reject() {
    client_golden(
        json!({
            "type": "operation.decide",
            "id": 13,
            "operation_ids": [OPERATION],
            "decision": "reject",
        }),
        ClientMessage::OperationDecide(OperationDecide {
            id: RequestId::Int(13),
            operation_ids: vec![id(OPERATION)],
            decision: Decision::Reject,
            edits: None,
        }),
    );
}

#[test]
fn chat_send() {
    client_golden(
        json!({"type": "chat.send", "id": 14, "project_id": PROJECT, "text": "Shorter, please."}),
        ClientMessage::ChatSend(ChatSend {
            id: RequestId::Int(14),
            project_id: id(PROJECT),
            text: "Shorter, please.".into(),
        }),
    );
}

#[test]
fn ping() {
    client_golden(
        json!({"type": "ping", "id": 15}),
        ClientMessage::Ping(Ping {
            id: RequestId::Int(15),
        }),
    );
}

#[test]
fn auth_refresh() {
    client_golden(
        json!({"type": "auth.refresh", "id": 16, "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig"}),
        ClientMessage::AuthRefresh(AuthRefresh {
            id: RequestId::Int(16),
            token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
        }),
    );
    let (re, message) = rejected(r#"{"type": "auth.refresh", "id": 16}"#);
    assert_eq!(re, Some(RequestId::Int(16)));
    assert!(message.contains("token"), "{message}");
}

#[test]
fn kind_and_id_name_the_wire_type_and_request() {
    let frames = [
        (
            json!({"type": "hello", "id": 1, "client": {"name": "a", "version": "1"}}),
            "hello",
        ),
        (
            json!({"type": "session.configure", "id": 1}),
            "session.configure",
        ),
        (
            json!({"type": "tool.call", "id": 1, "call_id": "c", "name": "n", "arguments": {}}),
            "tool.call",
        ),
        (
            json!({"type": "transcript.append", "id": 1, "items": []}),
            "transcript.append",
        ),
        (
            json!({"type": "subscribe", "id": 1, "topic": "t"}),
            "subscribe",
        ),
        (
            json!({"type": "unsubscribe", "id": 1, "topic": "t"}),
            "unsubscribe",
        ),
        (
            json!({"type": "snapshot", "id": 1, "project_id": PROJECT}),
            "snapshot",
        ),
        (
            json!({"type": "operation.decide", "id": 1, "operation_ids": [], "decision": "reject"}),
            "operation.decide",
        ),
        (
            json!({"type": "chat.send", "id": 1, "project_id": PROJECT, "text": "x"}),
            "chat.send",
        ),
        (json!({"type": "ping", "id": 1}), "ping"),
        (
            json!({"type": "auth.refresh", "id": 1, "token": "t"}),
            "auth.refresh",
        ),
    ];
    for (frame, kind) in frames {
        let message = ClientMessage::decode(&frame.to_string()).unwrap();
        assert_eq!(message.kind(), kind);
        assert_eq!(message.id(), &RequestId::Int(1));
    }
}

// ---------------------------------------------------------------------------------------
// Request ids.

#[test]
fn integer_and_string_request_ids_round_trip() {
    for (raw, expected) in [
        (json!(0), RequestId::Int(0)),
        (json!(42), RequestId::Int(42)),
        (json!(-7), RequestId::Int(-7)),
        (json!(i64::MAX), RequestId::Int(i64::MAX)),
        (json!("42"), RequestId::Str("42".into())),
        (json!("req-7f"), RequestId::Str("req-7f".into())),
        (json!(""), RequestId::Str(String::new())),
    ] {
        // Into a request and back.
        client_golden(
            json!({"type": "ping", "id": raw}),
            ClientMessage::Ping(Ping {
                id: expected.clone(),
            }),
        );
        // And echoed unchanged as `re`.
        server_golden(
            ServerMessage::Pong {
                re: expected.clone(),
            },
            json!({"type": "pong", "re": raw}),
        );
        // The id of a frame that fails to parse is still read for the reply.
        assert_eq!(
            RequestId::from_raw(&json!({"id": raw, "type": 3})),
            Some(expected)
        );
    }
}

#[test]
fn a_string_id_that_looks_like_a_number_stays_a_string() {
    let message = ClientMessage::decode(r#"{"type":"ping","id":"7"}"#).unwrap();
    assert_eq!(message.id(), &RequestId::Str("7".into()));
    assert_eq!(
        serde_json::to_string(&ServerMessage::Pong {
            re: message.id().clone()
        })
        .unwrap(),
        r#"{"type":"pong","re":"7"}"#
    );
}

#[test]
fn ids_of_other_json_types_are_not_request_ids() {
    assert_eq!(RequestId::from_raw(&json!({"id": true})), None);
    assert_eq!(RequestId::from_raw(&json!({"id": null})), None);
    assert_eq!(RequestId::from_raw(&json!({"id": [1]})), None);
    assert_eq!(RequestId::from_raw(&json!({"id": 1.5})), None);
    assert_eq!(RequestId::from_raw(&json!({})), None);
    for id in ["true", "null", "1.5", "[1]", "{}"] {
        let (re, _) = rejected(&format!(r#"{{"type":"ping","id":{id}}}"#));
        assert_eq!(re, None, "id {id}");
    }
}

// ---------------------------------------------------------------------------------------
// Frames the server refuses (each becomes `bad_request`).

#[test]
fn malformed_json_is_rejected() {
    for frame in [r#"{"type":"ping","id":1"#, "", "ping", "{'type':'ping'}"] {
        assert!(
            matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed(_))),
            "{frame:?}"
        );
    }
}

#[test]
fn a_frame_that_is_not_an_object_is_rejected() {
    for frame in [
        r#"[{"type":"ping","id":1}]"#,
        r#""ping""#,
        "42",
        "null",
        "true",
    ] {
        assert!(
            matches!(ClientMessage::decode(frame), Err(DecodeError::Malformed(_))),
            "{frame:?}"
        );
    }
}

#[test]
fn a_frame_without_a_type_is_rejected_with_its_id() {
    let (re, message) = rejected(r#"{"id":3}"#);
    assert_eq!(re, Some(RequestId::Int(3)));
    assert!(message.contains("type"), "{message}");

    let (re, _) = rejected(r#"{"id":"x","type":7}"#);
    assert_eq!(re, Some(RequestId::Str("x".into())));

    let (re, _) = rejected(r#"{"type":null}"#);
    assert_eq!(re, None);
}

#[test]
fn an_unknown_type_is_rejected_with_its_id() {
    let (re, message) = rejected(r#"{"type":"shout","id":"a1"}"#);
    assert_eq!(re, Some(RequestId::Str("a1".into())));
    assert!(message.contains("shout"), "{message}");
    // Server message types are not client message types.
    let (re, _) = rejected(r#"{"type":"pong","id":2}"#);
    assert_eq!(re, Some(RequestId::Int(2)));
}

#[test]
fn an_unknown_top_level_field_is_rejected_with_its_id() {
    let (re, message) = rejected(r#"{"type":"ping","id":4,"extra":true}"#);
    assert_eq!(re, Some(RequestId::Int(4)));
    assert!(message.contains("extra"), "{message}");

    let (re, message) = rejected(&format!(
        r#"{{"type":"chat.send","id":"c","project_id":"{PROJECT}","text":"x","urgent":1}}"#
    ));
    assert_eq!(re, Some(RequestId::Str("c".into())));
    assert!(message.contains("urgent"), "{message}");
}

#[test]
fn an_unknown_nested_field_is_rejected_with_its_id() {
    let (re, message) =
        rejected(r#"{"type":"hello","id":5,"client":{"name":"a","version":"1","build":"x"}}"#);
    assert_eq!(re, Some(RequestId::Int(5)));
    assert!(message.contains("build"), "{message}");

    let (re, message) = rejected(
        r#"{"type":"subscribe","id":6,"topic":"t","since":{"epoch":"e","offset":1,"x":0}}"#,
    );
    assert_eq!(re, Some(RequestId::Int(6)));
    assert!(message.contains('x'), "{message}");

    let (re, message) = rejected(&format!(
        r#"{{"type":"transcript.append","id":7,"items":[{{"item_id":"i","role":"user","text":"t","at":"{T0}","speaker":"me"}}]}}"#
    ));
    assert_eq!(re, Some(RequestId::Int(7)));
    assert!(message.contains("speaker"), "{message}");
}

#[test]
fn a_field_of_the_wrong_type_is_rejected_with_its_id() {
    // The message does not always name the field: the tagged enum reads the frame as a
    // whole, so serde loses the path of a value of the wrong type.
    let frames = [
        r#"{"type":"subscribe","id":8,"topic":42}"#,
        r#"{"type":"session.configure","id":8,"auto_accept":"yes"}"#,
        r#"{"type":"session.configure","id":8,"mode":"dictation"}"#,
        r#"{"type":"session.configure","id":8,"project_id":"not-a-uuid"}"#,
        r#"{"type":"operation.decide","id":8,"operation_ids":[],"decision":"maybe"}"#,
        r#"{"type":"operation.decide","id":8,"operation_ids":["x"],"decision":"reject"}"#,
        r#"{"type":"hello","id":8,"client":"voice-app"}"#,
        r#"{"type":"hello","id":8,"client":{"name":"a","version":1}}"#,
        r#"{"type":"transcript.append","id":8,"items":{}}"#,
        r#"{"type":"transcript.append","id":8,"items":[{"item_id":"i","role":"narrator","text":"t","at":"2024-05-01T12:00:00Z"}]}"#,
        r#"{"type":"transcript.append","id":8,"items":[{"item_id":"i","role":"user","text":"t","at":"yesterday"}]}"#,
        r#"{"type":"subscribe","id":8,"topic":"t","since":{"epoch":"e","offset":-1}}"#,
        r#"{"type":"tool.call","id":8,"call_id":7,"name":"list_projects","arguments":{}}"#,
    ];
    for frame in frames {
        let (re, _) = rejected(frame);
        assert_eq!(re, Some(RequestId::Int(8)), "{frame}");
    }
}

#[test]
fn a_missing_required_field_is_rejected_with_its_id() {
    let cases = [
        (
            format!(r#"{{"type":"chat.send","id":9,"project_id":"{PROJECT}"}}"#),
            "text",
        ),
        (r#"{"type":"hello","id":9}"#.to_owned(), "client"),
        (
            r#"{"type":"hello","id":9,"client":{"name":"a"}}"#.to_owned(),
            "version",
        ),
        (
            r#"{"type":"tool.call","id":9,"name":"list_projects"}"#.to_owned(),
            "call_id",
        ),
        (r#"{"type":"subscribe","id":9}"#.to_owned(), "topic"),
        (r#"{"type":"snapshot","id":9}"#.to_owned(), "project_id"),
        (
            r#"{"type":"operation.decide","id":9,"operation_ids":[]}"#.to_owned(),
            "decision",
        ),
        (
            r#"{"type":"subscribe","id":9,"topic":"t","since":{"epoch":"e"}}"#.to_owned(),
            "offset",
        ),
    ];
    for (frame, field) in cases {
        let (re, message) = rejected(&frame);
        assert_eq!(re, Some(RequestId::Int(9)), "{frame}");
        assert!(message.contains(field), "{frame}: {message}");
    }
}

#[test]
fn a_request_without_an_id_is_rejected() {
    let (re, message) = rejected(r#"{"type":"ping"}"#);
    assert_eq!(re, None);
    assert!(message.contains("id"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Server to client (section 4).

#[test]
fn welcome() {
    server_golden(
        ServerMessage::Welcome {
            re: RequestId::Int(1),
            protocol: PROTOCOL_VERSION,
            session_id: id(SESSION),
            connection_id: id(CONNECTION),
            node_id: "node-a".into(),
            heartbeat_ms: 15_000,
            limits: limits(),
            session: new_session(),
        },
        json!({
            "type": "welcome",
            "re": 1,
            "protocol": 1,
            "session_id": SESSION,
            "connection_id": CONNECTION,
            "node_id": "node-a",
            "heartbeat_ms": 15_000,
            "limits": limits_json(),
            "session": new_session_json(),
        }),
    );
}

#[test]
fn ok_without_data() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Str("u1".into()),
            data: None,
        },
        json!({"type": "ok", "re": "u1"}),
    );
}

#[test]
fn ok_with_the_session_for_session_configure() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Int(2),
            data: Some(OkData::Session { session: session() }),
        },
        json!({"type": "ok", "re": 2, "data": {"session": session_json()}}),
    );
}

#[test]
fn ok_with_appended_for_transcript_append() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Int(7),
            data: Some(OkData::Appended { appended: 2 }),
        },
        json!({"type": "ok", "re": 7, "data": {"appended": 2}}),
    );
}

#[test]
fn ok_with_the_decided_operations_for_operation_decide() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Int(12),
            data: Some(OkData::Decided(Decided {
                batch_id: id(BATCH),
                operations: vec![completed_operation(), failed_operation()],
                completed: 1,
                total: 2,
                message: "1 of 2 completed".into(),
            })),
        },
        json!({
            "type": "ok",
            "re": 12,
            "data": {
                "batch_id": BATCH,
                "operations": [completed_operation_json(), failed_operation_json()],
                "completed": 1,
                "total": 2,
                "message": "1 of 2 completed",
            },
        }),
    );
}

#[test]
fn ok_with_the_message_and_job_for_chat_send() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Int(14),
            data: Some(OkData::ChatSent {
                message_id: id(MESSAGE),
                job_id: id(JOB),
            }),
        },
        json!({"type": "ok", "re": 14, "data": {"message_id": MESSAGE, "job_id": JOB}}),
    );
}

#[test]
fn ok_with_the_new_expiry_for_auth_refresh() {
    server_golden(
        ServerMessage::Ok {
            re: RequestId::Int(16),
            data: Some(OkData::Refreshed { expires_at: t1() }),
        },
        json!({"type": "ok", "re": 16, "data": {"expires_at": T1}}),
    );
}

#[test]
fn a_revoked_subscription_is_an_error_without_re_naming_the_topic() {
    let topic = format!("project:{PROJECT}");
    server_golden(
        ServerMessage::error(
            None,
            ErrorBody::new(
                ErrorCode::Forbidden,
                format!("access to {topic} was revoked"),
            )
            .with_details(json!({ "topic": topic })),
        ),
        json!({
            "type": "error",
            "code": "forbidden",
            "message": format!("access to project:{PROJECT} was revoked"),
            "details": {"topic": format!("project:{PROJECT}")},
        }),
    );
}

#[test]
fn tool_result_ok() {
    server_golden(
        ServerMessage::ToolResult {
            re: RequestId::Int(4),
            call_id: "call_abc".into(),
            result: ToolResult::ok(json!({"note": note_json()})),
        },
        json!({
            "type": "tool.result",
            "re": 4,
            "call_id": "call_abc",
            "ok": true,
            "output": {"note": note_json()},
        }),
    );
}

#[test]
fn tool_result_pending_approval() {
    server_golden(
        ServerMessage::ToolResult {
            re: RequestId::Int(4),
            call_id: "call_abc".into(),
            result: ToolResult::ok(json!({
                "status": "pending_approval",
                "operation_id": OPERATION,
                "operation": pending_operation_json(),
            })),
        },
        json!({
            "type": "tool.result",
            "re": 4,
            "call_id": "call_abc",
            "ok": true,
            "output": {
                "status": "pending_approval",
                "operation_id": OPERATION,
                "operation": pending_operation_json(),
            },
        }),
    );
}

#[test]
fn tool_result_error() {
    server_golden(
        ServerMessage::ToolResult {
            re: RequestId::Str("t5".into()),
            call_id: "call_def".into(),
            result: ToolResult::err(ErrorBody::invalid_field("name", "must not be blank")),
        },
        json!({
            "type": "tool.result",
            "re": "t5",
            "call_id": "call_def",
            "ok": false,
            "error": {
                "code": "invalid_arguments",
                "message": "name: must not be blank",
                "details": {"field": "name"},
            },
        }),
    );
    server_golden(
        ServerMessage::ToolResult {
            re: RequestId::Int(6),
            call_id: "call_ghi".into(),
            result: ToolResult::err(ErrorBody::new(
                ErrorCode::ToolNotAllowed,
                "create_project is not available in mode intake",
            )),
        },
        json!({
            "type": "tool.result",
            "re": 6,
            "call_id": "call_ghi",
            "ok": false,
            "error": {
                "code": "tool_not_allowed",
                "message": "create_project is not available in mode intake",
            },
        }),
    );
}

#[test]
fn tool_result_ok_flag_must_match_its_payload() {
    for bad in [
        json!({"type": "tool.result", "re": 1, "call_id": "c", "ok": false, "output": {}}),
        json!({"type": "tool.result", "re": 1, "call_id": "c", "ok": true,
               "error": {"code": "internal", "message": "x"}}),
        json!({"type": "tool.result", "re": 1, "call_id": "c", "output": {}}),
    ] {
        assert!(
            serde_json::from_value::<ServerMessage>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn subscribed_recovered_with_publications() {
    let topic = format!("project:{PROJECT}");
    server_golden(
        ServerMessage::Subscribed {
            re: RequestId::Int(8),
            topic: topic.clone(),
            epoch: "e-1f3a".into(),
            offset: 43,
            recovered: true,
            publications: vec![
                EventMessage {
                    topic: topic.clone(),
                    epoch: "e-1f3a".into(),
                    offset: 42,
                    event: Event::NoteCreated { note: note() },
                },
                EventMessage {
                    topic: topic.clone(),
                    epoch: "e-1f3a".into(),
                    offset: 43,
                    event: Event::TodoUpdated { todo: todo() },
                },
            ],
        },
        json!({
            "type": "subscribed",
            "re": 8,
            "topic": topic,
            "epoch": "e-1f3a",
            "offset": 43,
            "recovered": true,
            "publications": [
                {
                    "topic": topic,
                    "epoch": "e-1f3a",
                    "offset": 42,
                    "event": {"kind": "note.created", "note": note_json()},
                },
                {
                    "topic": topic,
                    "epoch": "e-1f3a",
                    "offset": 43,
                    "event": {"kind": "todo.updated", "todo": todo_json()},
                },
            ],
        }),
    );
}

#[test]
fn subscribed_not_recovered() {
    server_golden(
        ServerMessage::Subscribed {
            re: RequestId::Int(9),
            topic: format!("session:{SESSION}"),
            epoch: "e-77".into(),
            offset: 0,
            recovered: false,
            publications: vec![],
        },
        json!({
            "type": "subscribed",
            "re": 9,
            "topic": format!("session:{SESSION}"),
            "epoch": "e-77",
            "offset": 0,
            "recovered": false,
            "publications": [],
        }),
    );
}

fn running_job() -> Job {
    Job {
        id: id(JOB),
        kind: "draft.update".into(),
        queue: "default".into(),
        project_id: Some(id(PROJECT)),
        session_id: Some(id(SESSION)),
        status: JobStatus::Running,
        priority: 0,
        payload: json!({"urgency": "normal"}),
        idempotency_key: None,
        attempts: 1,
        max_attempts: 3,
        run_after: t0(),
        lease_owner: Some("worker-1".into()),
        lease_expires_at: Some(T1.parse().unwrap()),
        created_at: t0(),
        started_at: Some(t0()),
        completed_at: None,
        duration_ms: None,
        usage: None,
        result: None,
        generated_summary: None,
        error: None,
    }
}

fn running_job_json() -> Value {
    json!({
        "id": JOB, "kind": "draft.update", "queue": "default", "project_id": PROJECT,
        "session_id": SESSION, "status": "running", "priority": 0,
        "payload": {"urgency": "normal"}, "idempotency_key": null, "attempts": 1,
        "max_attempts": 3, "run_after": T0, "lease_owner": "worker-1", "lease_expires_at": T1,
        "created_at": T0, "started_at": T0, "completed_at": null, "duration_ms": null,
        "usage": null, "result": null, "generated_summary": null, "error": null,
    })
}

#[test]
fn snapshot_reply() {
    server_golden(
        ServerMessage::Snapshot {
            re: RequestId::Int(11),
            position: Position {
                epoch: "e-1f3a".into(),
                offset: 43,
            },
            project: project(),
            document: document(),
            jobs: vec![running_job()],
            operations: vec![pending_operation()],
            presence: vec![],
            notes: vec![note()],
            todos: vec![todo()],
            transcript_pointers: vec![pointer()],
            chat: vec![chat_message()],
        },
        json!({
            "type": "snapshot",
            "re": 11,
            "position": {"epoch": "e-1f3a", "offset": 43},
            "project": project_json(),
            "document": document_json(),
            "jobs": [running_job_json()],
            "operations": [pending_operation_json()],
            "presence": [],
            "notes": [note_json()],
            "todos": [todo_json()],
            "transcript_pointers": [pointer_json()],
            "chat": [chat_message_json()],
        }),
    );
}

#[test]
fn pong() {
    server_golden(
        ServerMessage::Pong {
            re: RequestId::Int(15),
        },
        json!({"type": "pong", "re": 15}),
    );
}

#[test]
fn error_with_re() {
    server_golden(
        ServerMessage::error(
            Some(RequestId::Int(4)),
            ErrorBody::new(ErrorCode::NotFound, "no such project"),
        ),
        json!({"type": "error", "re": 4, "code": "not_found", "message": "no such project"}),
    );
}

#[test]
fn error_without_re() {
    server_golden(
        ServerMessage::bad_request(None, "malformed JSON: EOF while parsing"),
        json!({
            "type": "error",
            "code": "bad_request",
            "message": "malformed JSON: EOF while parsing",
        }),
    );
}

#[test]
fn error_with_retry_after_ms() {
    server_golden(
        ServerMessage::error(
            Some(RequestId::Str("r9".into())),
            ErrorBody::new(ErrorCode::RateLimited, "slow down").with_retry_after_ms(1_500),
        ),
        json!({
            "type": "error",
            "re": "r9",
            "code": "rate_limited",
            "message": "slow down",
            "retry_after_ms": 1_500,
        }),
    );
}

#[test]
fn error_with_details() {
    server_golden(
        ServerMessage::error(
            Some(RequestId::Int(3)),
            ErrorBody::new(ErrorCode::Conflict, "document changed")
                .with_details(json!({"current_version": 4})),
        ),
        json!({
            "type": "error",
            "re": 3,
            "code": "conflict",
            "message": "document changed",
            "details": {"current_version": 4},
        }),
    );
}

#[test]
fn error_codes_are_the_ones_of_the_protocol() {
    let codes = [
        (ErrorCode::BadRequest, "bad_request", 400),
        (ErrorCode::Unauthorized, "unauthorized", 401),
        (ErrorCode::Forbidden, "forbidden", 403),
        (ErrorCode::NotFound, "not_found", 404),
        (ErrorCode::InvalidArguments, "invalid_arguments", 422),
        (ErrorCode::UnknownTool, "unknown_tool", 404),
        (ErrorCode::ToolNotAllowed, "tool_not_allowed", 403),
        (ErrorCode::Conflict, "conflict", 409),
        (ErrorCode::RateLimited, "rate_limited", 429),
        (ErrorCode::Unavailable, "unavailable", 503),
        (ErrorCode::Internal, "internal", 500),
    ];
    for (code, wire, status) in codes {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(wire));
        assert_eq!(
            serde_json::from_value::<ErrorCode>(json!(wire)).unwrap(),
            code
        );
        assert_eq!(code.as_str(), wire);
        assert_eq!(code.to_string(), wire);
        assert_eq!(code.http_status(), status, "{wire}");
    }
}

#[test]
fn close_codes_are_the_ones_of_the_protocol() {
    use protocol::close::*;
    assert_eq!(NORMAL, 1000);
    assert_eq!(POLICY, 1008);
    assert_eq!(TOO_BIG, 1009);
    assert_eq!(INTERNAL, 1011);
    assert_eq!(RESTART, 1012);
    assert_eq!(UNAUTHORIZED, 4001);
    assert_eq!(FORBIDDEN, 4003);
    assert_eq!(SLOW_CONSUMER, 4008);
    assert_eq!(TOO_MANY_CONNECTIONS, 4009);
    assert_eq!(RATE_LIMITED, 4029);
}

#[test]
fn server_messages_ignore_fields_they_do_not_know() {
    // Version 1 may add optional fields to server messages; clients must still read them.
    let message: ServerMessage =
        serde_json::from_value(json!({"type": "pong", "re": 1, "server_time": T0})).unwrap();
    assert_eq!(
        message,
        ServerMessage::Pong {
            re: RequestId::Int(1)
        }
    );
}

// ---------------------------------------------------------------------------------------
// Events (section 5), each inside an `event` message.

/// `event` wraps `payload` with its topic position; checks the whole message both ways.
#[track_caller]
fn event_golden(event: Event, payload: Value) {
    assert_eq!(
        payload["kind"],
        event.kind(),
        "Event::kind names the serialized tag"
    );
    let topic = format!("project:{PROJECT}");
    server_golden(
        ServerMessage::Event(EventMessage {
            topic: topic.clone(),
            epoch: "e-1f3a".into(),
            offset: 7,
            event,
        }),
        json!({
            "type": "event",
            "topic": topic,
            "epoch": "e-1f3a",
            "offset": 7,
            "event": payload,
        }),
    );
}

#[test]
fn event_job_status() {
    let statuses = [
        (JobStatus::Queued, "queued"),
        (JobStatus::Running, "running"),
        (JobStatus::Retrying, "retrying"),
        (JobStatus::Completed, "completed"),
        (JobStatus::Failed, "failed"),
        (JobStatus::Cancelled, "cancelled"),
    ];
    for (status, wire) in statuses {
        event_golden(
            Event::JobStatus(JobStatusEvent {
                job_id: id(JOB),
                job_kind: "draft_update".into(),
                project_id: id(PROJECT),
                status,
                attempt: 2,
                at: t1(),
            }),
            json!({
                "kind": "job.status",
                "job_id": JOB,
                "job_kind": "draft_update",
                "project_id": PROJECT,
                "status": wire,
                "attempt": 2,
                "at": T1,
            }),
        );
    }
}

#[test]
fn event_tool_progress_with_every_field() {
    event_golden(
        Event::ToolProgress(ToolProgress {
            job_id: id(JOB),
            project_id: id(PROJECT),
            session_id: Some(id(SESSION)),
            status: JobStatus::Completed,
            summary: Some("Drafted the barn chapter.".into()),
            error: None,
            sections: Some(vec!["childhood/the-barn".into()]),
            narration: Some("I've finished drafting the barn chapter.".into()),
        }),
        json!({
            "kind": "tool.progress",
            "job_id": JOB,
            "project_id": PROJECT,
            "session_id": SESSION,
            "status": "completed",
            "summary": "Drafted the barn chapter.",
            "sections": ["childhood/the-barn"],
            "narration": "I've finished drafting the barn chapter.",
        }),
    );
}

#[test]
fn event_tool_progress_failed_without_a_session() {
    event_golden(
        Event::ToolProgress(ToolProgress {
            job_id: id(JOB),
            project_id: id(PROJECT),
            session_id: None,
            status: JobStatus::Failed,
            summary: None,
            error: Some("the model did not answer".into()),
            sections: None,
            narration: None,
        }),
        json!({
            "kind": "tool.progress",
            "job_id": JOB,
            "project_id": PROJECT,
            "session_id": null,
            "status": "failed",
            "error": "the model did not answer",
        }),
    );
}

#[test]
fn event_draft_delta() {
    event_golden(
        Event::DraftDelta(DraftDelta {
            job_id: id(JOB),
            seq: 0,
            text: "The barn smelled of hay".into(),
        }),
        json!({"kind": "draft.delta", "job_id": JOB, "seq": 0, "text": "The barn smelled of hay"}),
    );
}

#[test]
fn event_document_updated() {
    event_golden(
        Event::DocumentUpdated(DocumentUpdated {
            project_id: id(PROJECT),
            document_id: id(DOCUMENT),
            version: 4,
            summary: "Growing up on the farm.".into(),
            sections: sections(),
            source: Source {
                job_id: Some(id(JOB)),
                session_id: Some(id(SESSION)),
            },
            conflicts: Some(vec!["childhood/the-barn".into()]),
        }),
        json!({
            "kind": "document.updated",
            "project_id": PROJECT,
            "document_id": DOCUMENT,
            "version": 4,
            "summary": "Growing up on the farm.",
            "sections": sections_json(),
            "source": {"job_id": JOB, "session_id": SESSION},
            "conflicts": ["childhood/the-barn"],
        }),
    );
    event_golden(
        Event::DocumentUpdated(DocumentUpdated {
            project_id: id(PROJECT),
            document_id: id(DOCUMENT),
            version: 5,
            summary: String::new(),
            sections: vec![],
            source: Source::default(),
            conflicts: None,
        }),
        json!({
            "kind": "document.updated",
            "project_id": PROJECT,
            "document_id": DOCUMENT,
            "version": 5,
            "summary": "",
            "sections": [],
            "source": {},
        }),
    );
}

#[test]
fn event_operation_created() {
    event_golden(
        Event::OperationCreated {
            operation: pending_operation(),
        },
        json!({"kind": "operation.created", "operation": pending_operation_json()}),
    );
    event_golden(
        Event::OperationCreated {
            operation: recovery_operation(),
        },
        json!({"kind": "operation.created", "operation": recovery_operation_json()}),
    );
    event_golden(
        Event::OperationCreated {
            operation: suggested_operation(),
        },
        json!({"kind": "operation.created", "operation": suggested_operation_json()}),
    );
}

#[test]
fn event_operation_updated() {
    event_golden(
        Event::OperationUpdated {
            operation: completed_operation(),
        },
        json!({"kind": "operation.updated", "operation": completed_operation_json()}),
    );
    event_golden(
        Event::OperationUpdated {
            operation: failed_operation(),
        },
        json!({"kind": "operation.updated", "operation": failed_operation_json()}),
    );
    event_golden(
        Event::OperationUpdated {
            operation: rolled_back_operation(),
        },
        json!({"kind": "operation.updated", "operation": rolled_back_operation_json()}),
    );
    event_golden(
        Event::OperationCreated {
            operation: rollback_operation(),
        },
        json!({"kind": "operation.created", "operation": rollback_operation_json()}),
    );
}

#[test]
fn event_project_updated() {
    event_golden(
        Event::ProjectUpdated { project: project() },
        json!({"kind": "project.updated", "project": project_json()}),
    );
}

#[test]
fn event_note_created_and_updated() {
    event_golden(
        Event::NoteCreated { note: note() },
        json!({"kind": "note.created", "note": note_json()}),
    );
    event_golden(
        Event::NoteUpdated { note: note() },
        json!({"kind": "note.updated", "note": note_json()}),
    );
    event_golden(
        Event::NoteDeleted { note: note() },
        json!({"kind": "note.deleted", "note": note_json()}),
    );
}

#[test]
fn event_todo_created_and_updated() {
    event_golden(
        Event::TodoCreated { todo: todo() },
        json!({"kind": "todo.created", "todo": todo_json()}),
    );
    event_golden(
        Event::TodoUpdated { todo: todo() },
        json!({"kind": "todo.updated", "todo": todo_json()}),
    );
    event_golden(
        Event::TodoDeleted { todo: todo() },
        json!({"kind": "todo.deleted", "todo": todo_json()}),
    );
}

fn memory_entry() -> MemoryEntry {
    MemoryEntry {
        id: id("00000000-0000-0000-0000-00000000000d"),
        project_id: id(PROJECT),
        user_id: "user-1".into(),
        kind: MemoryKind::Preference,
        body: "Prefers short sentences".into(),
        source: Some(MemorySource {
            kind: MemorySourceKind::TranscriptItem,
            id: "item-7".into(),
        }),
        session_id: Some(id(SESSION)),
        created_at: t0(),
    }
}

fn memory_entry_json() -> Value {
    json!({
        "id": "00000000-0000-0000-0000-00000000000d",
        "project_id": PROJECT,
        "user_id": "user-1",
        "kind": "preference",
        "body": "Prefers short sentences",
        "source": {"kind": "transcript_item", "id": "item-7"},
        "session_id": SESSION,
        "created_at": T0,
    })
}

#[test]
fn event_memory_created_and_deleted() {
    event_golden(
        Event::MemoryCreated {
            entry: memory_entry(),
        },
        json!({"kind": "memory.created", "entry": memory_entry_json()}),
    );
    // An entry a person stated over HTTP has no session; one without a source says so.
    let mut bare = memory_entry();
    bare.kind = MemoryKind::Decision;
    bare.source = None;
    bare.session_id = None;
    let mut bare_json = memory_entry_json();
    bare_json["kind"] = json!("decision");
    bare_json["source"] = json!(null);
    bare_json["session_id"] = json!(null);
    event_golden(
        Event::MemoryDeleted { entry: bare },
        json!({"kind": "memory.deleted", "entry": bare_json}),
    );
}

#[test]
fn event_session_phase() {
    event_golden(
        Event::SessionPhase(SessionPhase::of(&session())),
        json!({
            "kind": "session.phase",
            "session_id": SESSION,
            "project_id": PROJECT,
            "phase": "clarifying",
            "dimensions_covered": ["summary", "audience"],
            "dimensions_open": ["voice"],
        }),
    );
    // A session without a project, and one from before phases: `gathering`.
    let mut bare = session();
    bare.project_id = None;
    bare.metadata = SessionMetadata::default();
    event_golden(
        Event::SessionPhase(SessionPhase::of(&bare)),
        json!({
            "kind": "session.phase",
            "session_id": SESSION,
            "project_id": null,
            "phase": "gathering",
            "dimensions_covered": [],
            "dimensions_open": [],
        }),
    );
}

#[test]
fn event_transcript_pointer() {
    event_golden(
        Event::TranscriptPointer { pointer: pointer() },
        json!({"kind": "transcript.pointer", "pointer": pointer_json()}),
    );
}

#[test]
fn event_chat_delta() {
    event_golden(
        Event::ChatDelta {
            message_id: id(MESSAGE),
            seq: 3,
            text: "Here is".into(),
        },
        json!({"kind": "chat.delta", "message_id": MESSAGE, "seq": 3, "text": "Here is"}),
    );
}

#[test]
fn event_chat_message() {
    event_golden(
        Event::ChatMessage {
            message: chat_message(),
        },
        json!({"kind": "chat.message", "message": chat_message_json()}),
    );
}

#[test]
fn event_presence_joined_and_left() {
    event_golden(
        Event::PresenceJoined(Presence {
            session_id: id(SESSION),
            user_id: "user-1".into(),
            client: Some(client_info()),
        }),
        json!({
            "kind": "presence.joined",
            "session_id": SESSION,
            "user_id": "user-1",
            "client": {"name": "voice-app", "version": "2.3.0"},
        }),
    );
    event_golden(
        Event::PresenceLeft(Presence {
            session_id: id(SESSION),
            user_id: "user-1".into(),
            client: None,
        }),
        json!({
            "kind": "presence.left",
            "session_id": SESSION,
            "user_id": "user-1",
            "client": null,
        }),
    );
}

#[test]
fn an_unknown_event_kind_does_not_parse() {
    let bad = json!({
        "type": "event",
        "topic": "project:x",
        "epoch": "e",
        "offset": 1,
        "event": {"kind": "weather.changed"},
    });
    assert!(serde_json::from_value::<ServerMessage>(bad).is_err());
}

#[test]
fn topics_parse_and_print() {
    use protocol::event::{Topic, project_topic, session_topic};
    let project = format!("project:{PROJECT}");
    let session = format!("session:{SESSION}");
    assert_eq!(project_topic(id(PROJECT)), project);
    assert_eq!(session_topic(id(SESSION)), session);
    assert_eq!(Topic::parse(&project), Some(Topic::Project(id(PROJECT))));
    assert_eq!(Topic::parse(&session), Some(Topic::Session(id(SESSION))));
    assert_eq!(Topic::Project(id(PROJECT)).to_string(), project);
    for bad in ["project", "project:", "project:42", "user:abc", "", PROJECT] {
        assert_eq!(Topic::parse(bad), None, "{bad}");
    }
}

#[test]
fn decode_errors_name_the_field_at_fault() {
    let cases = [
        (
            r#"{"type":"session.configure","id":1,"auto_accept":"yes"}"#,
            "auto_accept: ",
        ),
        (
            r#"{"type":"hello","id":1,"client":{"name":"a"}}"#,
            "client.version: ",
        ),
        (
            r#"{"type":"hello","id":1,"client":{"name":"a","version":"1","os":"x"}}"#,
            "client.os: ",
        ),
        (
            r#"{"type":"transcript.append","id":1,"items":[{"item_id":"a","role":"bard","text":"","at":"2024-05-01T12:00:00Z"}]}"#,
            "items[0].role: ",
        ),
        (r#"{"type":"tool.call","id":1,"name":"x"}"#, "call_id: "),
        (r#"{"type":"ping","id":1,"extra":true}"#, "extra: "),
        (r#"{"type":"nope","id":1}"#, "type: "),
    ];
    for (frame, prefix) in cases {
        match ClientMessage::decode(frame) {
            Err(DecodeError::Invalid { id, message }) => {
                assert_eq!(id, Some(RequestId::Int(1)), "{frame}");
                assert!(message.starts_with(prefix), "{frame}: {message}");
            }
            other => panic!("{frame}: expected an invalid message, got {other:?}"),
        }
    }
}
