//! Frames the server refuses, each with the field its `bad_request` names.

use super::*;

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
