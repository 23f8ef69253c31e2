//! Malformed client frames of many shapes and what the hub must answer to each
//! (docs/protocol.md sections 2 and 4): an `error` naming the field at fault, a failed
//! `tool.result`, or the documented close. Shared by `loadtest malformed` and the
//! hub's integration test (`server/tests/hub/malformed.rs` includes this file), so the
//! flood and the test check the same promises.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the hub has to answer one frame before the shape counts as unanswered.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The close code of a frame over `DRAFTLINE_MAX_FRAME_BYTES` (docs/protocol.md 4.3).
pub const TOO_BIG: u16 = 1009;

/// What goes on the wire.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    /// A text frame whose payload is not UTF-8 (tungstenite's `Message::Text` cannot
    /// carry one, so it goes as a raw frame).
    BadUtf8(Vec<u8>),
}

/// What the hub must answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// An `error` with `bad_request` whose message starts with `field` (the field at
    /// fault) or, with no field, contains `hint`.
    Error {
        field: Option<&'static str>,
        hint: &'static str,
    },
    /// A failed `tool.result` with this code naming `field` when there is one.
    ToolError {
        code: &'static str,
        field: Option<&'static str>,
    },
    /// A reply of this type (a well-formed frame among the malformed, like a repeated id).
    Reply(&'static str),
    /// The connection is closed, with this code when there is one to expect (a frame
    /// that is not UTF-8 ends the WebSocket itself, without a code to rely on).
    Close(Option<u16>),
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub name: &'static str,
    pub frame: Outgoing,
    pub expect: Expect,
}

/// What the hub did.
#[derive(Debug)]
pub enum Answer {
    Message(Value),
    Closed(Option<u16>),
    /// Nothing within [`ANSWER_WAIT`].
    Silent,
}

/// How many shapes [`shape`] cycles through.
pub const SHAPES: usize = 26;

fn text(value: Value) -> Outgoing {
    Outgoing::Text(value.to_string())
}

fn error(field: &'static str) -> Expect {
    Expect::Error {
        field: Some(field),
        hint: "",
    }
}

/// Shape `i % SHAPES`, with request id `i` where it has one; `max_frame` is the hub's
/// frame limit (the huge shapes sit just under and just over it).
pub fn shape(i: usize, max_frame: usize) -> Shape {
    let id = i64::try_from(i).unwrap_or(i64::MAX);
    let (name, frame, expect) = match i % SHAPES {
        0 => (
            "text frame that is not UTF-8",
            Outgoing::BadUtf8(vec![b'{', 0xff, 0xfe, b'}']),
            Expect::Close(None),
        ),
        1 => (
            "binary frame",
            Outgoing::Binary(vec![0, 159, 146, 150]),
            Expect::Error {
                field: None,
                hint: "binary frames",
            },
        ),
        2 => (
            "truncated JSON",
            Outgoing::Text(format!(
                r#"{{"type":"tool.call","id":{id},"call_id":"c","name":"list_pro"#
            )),
            Expect::Error {
                field: None,
                hint: "malformed JSON",
            },
        ),
        3 => (
            "not an object",
            Outgoing::Text("[1,2,3]".into()),
            Expect::Error {
                field: None,
                hint: "JSON object",
            },
        ),
        4 => ("no type", text(json!({"id": id})), error("type")),
        5 => (
            "type not a string",
            text(json!({"type": 5, "id": id})),
            error("type"),
        ),
        6 => (
            "unknown message type",
            text(json!({"type": "tool.explode", "id": id})),
            error("type"),
        ),
        7 => (
            "id of the wrong type",
            text(json!({"type": "ping", "id": [id]})),
            error("id"),
        ),
        8 => (
            "call_id of the wrong type",
            text(json!({"type": "tool.call", "id": id, "call_id": 5, "name": "list_projects"})),
            error("call_id"),
        ),
        9 => (
            "tool name of the wrong type",
            text(json!({"type": "tool.call", "id": id, "call_id": "c", "name": {"n": 1}})),
            error("name"),
        ),
        10 => (
            "topic of the wrong type",
            text(json!({"type": "subscribe", "id": id, "topic": []})),
            error("topic"),
        ),
        11 => (
            "flag of the wrong type",
            text(json!({"type": "session.configure", "id": id, "auto_accept": "yes"})),
            error("auto_accept"),
        ),
        12 => (
            "items of the wrong type",
            text(json!({"type": "transcript.append", "id": id, "items": {"a": 1}})),
            error("items"),
        ),
        13 => (
            "unknown enum value deep inside",
            text(json!({"type": "transcript.append", "id": id, "items": [
                {"item_id": "a", "role": "robot", "text": "x", "at": "2024-05-01T12:00:00Z"}]})),
            error("items[0].role"),
        ),
        14 => (
            "unknown field",
            text(json!({"type": "ping", "id": id, "extra": true})),
            error("extra"),
        ),
        15 => (
            "huge string just under the frame limit",
            text(
                json!({"type": "ping", "id": id, "pad": "x".repeat(max_frame.saturating_sub(64))}),
            ),
            error("pad"),
        ),
        16 => (
            "huge string over the frame limit",
            text(json!({"type": "ping", "id": id, "pad": "x".repeat(max_frame + 1)})),
            Expect::Close(Some(TOO_BIG)),
        ),
        17 => (
            "deep nesting",
            Outgoing::Text(format!(
                r#"{{"type":"tool.call","id":{id},"call_id":"c","name":"list_projects","arguments":{}{}}}"#,
                "[".repeat(4096),
                "]".repeat(4096)
            )),
            Expect::Error {
                field: None,
                hint: "malformed JSON",
            },
        ),
        18 => (
            "unknown tool",
            text(json!({"type": "tool.call", "id": id, "call_id": "c", "name": "no_such_tool"})),
            Expect::ToolError {
                code: "unknown_tool",
                field: None,
            },
        ),
        19 => (
            "tool argument of the wrong type",
            text(
                json!({"type": "tool.call", "id": id, "call_id": "c", "name": "create_note",
                "arguments": {"body": 5}}),
            ),
            Expect::ToolError {
                code: "invalid_arguments",
                field: Some("body"),
            },
        ),
        20 => (
            "unknown tool argument",
            text(
                json!({"type": "tool.call", "id": id, "call_id": "c", "name": "create_note",
                "arguments": {"body": "b", "colour": "red"}}),
            ),
            Expect::ToolError {
                code: "invalid_arguments",
                field: Some("colour"),
            },
        ),
        21 => (
            "number out of range",
            text(json!({"type": "subscribe", "id": id, "topic": "project:x",
                "since": {"epoch": "e", "offset": -1}})),
            error("since.offset"),
        ),
        22 => (
            "id out of range",
            Outgoing::Text(r#"{"type":"ping","id":1e300}"#.into()),
            error("id"),
        ),
        23 => (
            "NUL character in a message field",
            text(json!({"type": "transcript.append", "id": id, "items": [
                {"item_id": "a", "role": "user", "text": "x\u{0}y", "at": "2024-05-01T12:00:00Z"}]})),
            error("items[0].text"),
        ),
        24 => (
            "NUL character in a tool argument",
            text(
                json!({"type": "tool.call", "id": id, "call_id": "c", "name": "create_note",
                "arguments": {"body": "b\u{0}"}}),
            ),
            Expect::ToolError {
                code: "invalid_arguments",
                field: Some("body"),
            },
        ),
        _ => (
            "duplicated keys and a reused id",
            Outgoing::Text(r#"{"type":"ping","id":7,"id":7}"#.into()),
            Expect::Reply("pong"),
        ),
    };
    Shape {
        name,
        frame,
        expect,
    }
}

/// Sends `shape` and reads the hub's answer to it (skipping `event`s and presence).
pub async fn exchange(ws: &mut Socket, shape: &Shape) -> Answer {
    let message = match &shape.frame {
        Outgoing::Text(text) => Message::text(text.clone()),
        Outgoing::Binary(bytes) => Message::binary(bytes.clone()),
        Outgoing::BadUtf8(bytes) => Message::Frame(RawFrame::message(
            bytes.clone(),
            OpCode::Data(Data::Text),
            true,
        )),
    };
    if ws.send(message).await.is_err() {
        return Answer::Closed(None);
    }
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let Ok(value) = serde_json::from_str::<Value>(&text) else {
                        return Answer::Message(Value::String(text.to_string()));
                    };
                    if value["type"] != "event" {
                        return Answer::Message(value);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Answer::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Answer::Closed(None),
            }
        }
    };
    tokio::time::timeout(ANSWER_WAIT, read)
        .await
        .unwrap_or(Answer::Silent)
}

/// Whether `answer` is what `shape` promises; the problem otherwise.
pub fn check(shape: &Shape, answer: &Answer) -> Result<(), String> {
    let fail = |why: String| Err(format!("{}: {why}", shape.name));
    match (&shape.expect, answer) {
        (Expect::Close(None), Answer::Closed(_)) => Ok(()),
        (Expect::Close(Some(code)), Answer::Closed(Some(got))) if code == got => Ok(()),
        (Expect::Error { field, hint }, Answer::Message(m)) => {
            let message = m["message"].as_str().unwrap_or_default();
            if m["type"] != "error" || m["code"] != "bad_request" {
                return fail(format!("expected a bad_request error, got {m}"));
            }
            match field {
                Some(field) if !message.starts_with(&format!("{field}:")) => {
                    fail(format!("the error does not name `{field}`: {message}"))
                }
                None if !message.contains(hint) => {
                    fail(format!("the error does not say `{hint}`: {message}"))
                }
                _ => Ok(()),
            }
        }
        (Expect::ToolError { code, field }, Answer::Message(m)) => {
            let message = m["error"]["message"].as_str().unwrap_or_default();
            if m["type"] != "tool.result" || m["ok"] != false || m["error"]["code"] != *code {
                return fail(format!("expected a failed tool.result ({code}), got {m}"));
            }
            match field {
                Some(field) if !message.contains(field) => {
                    fail(format!("the error does not name `{field}`: {message}"))
                }
                _ => Ok(()),
            }
        }
        (Expect::Reply(kind), Answer::Message(m)) if m["type"] == *kind => Ok(()),
        (expect, answer) => fail(format!("expected {expect:?}, got {answer:?}")),
    }
}
