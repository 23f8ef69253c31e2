//! Golden JSON of every server message (docs/protocol.md section 4).

use super::*;

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
