//! Golden JSON of every event kind (docs/protocol.md section 5) inside its `event` message.

use super::*;

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
