//! Golden JSON of every client message (docs/protocol.md section 3) and request ids.

use super::*;

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
