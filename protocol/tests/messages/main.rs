//! Golden JSON for every wire message of docs/protocol.md sections 3 to 5: what clients send,
//! what the server answers and publishes, and the frames the server must refuse.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
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

mod client;
mod events;
mod refused;
mod server;
