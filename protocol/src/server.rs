//! Server-to-client messages (docs/protocol.md section 4).

use crate::client::Position;
use crate::entities::*;
use crate::error::{ErrorBody, ErrorCode};
use crate::event::Event;
use crate::ids::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many of a project's newest chat messages a `snapshot` carries (the default page
/// of `GET /v1/projects/{id}/chat`); a client that folds `chat.message` events keeps as
/// many.
pub const SNAPSHOT_CHAT_MESSAGES: i64 = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type")]
pub enum ServerMessage {
    #[serde(rename = "welcome")]
    Welcome {
        re: RequestId,
        protocol: u32,
        session_id: SessionId,
        connection_id: ConnectionId,
        node_id: String,
        heartbeat_ms: u64,
        limits: Limits,
        /// The session as it stands (new, or resumed).
        session: Session,
    },
    #[serde(rename = "ok")]
    Ok {
        re: RequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<OkData>,
    },
    #[serde(rename = "tool.result")]
    ToolResult {
        re: RequestId,
        call_id: String,
        #[serde(flatten)]
        result: ToolResult,
    },
    #[serde(rename = "subscribed")]
    Subscribed {
        re: RequestId,
        topic: String,
        epoch: String,
        offset: u64,
        recovered: bool,
        publications: Vec<EventMessage>,
    },
    #[serde(rename = "event")]
    Event(EventMessage),
    #[serde(rename = "snapshot")]
    Snapshot {
        re: RequestId,
        position: Position,
        project: Project,
        document: Document,
        /// The project's jobs that have not finished.
        jobs: Vec<Job>,
        operations: Vec<Operation>,
        /// The sessions present in the project (docs/protocol.md section 5.6).
        #[serde(default)]
        presence: Vec<crate::event::Presence>,
        /// The project's notes, newest first (at most 1,000, as `list_notes`).
        #[serde(default)]
        notes: Vec<Note>,
        /// The project's todos in `list_todos` order (at most 1,000).
        #[serde(default)]
        todos: Vec<Todo>,
        /// The project's transcript pointers, oldest first.
        #[serde(default)]
        transcript_pointers: Vec<TranscriptPointer>,
        /// The newest [`SNAPSHOT_CHAT_MESSAGES`] chat messages, oldest first.
        #[serde(default)]
        chat: Vec<ChatMessage>,
    },
    #[serde(rename = "pong")]
    Pong { re: RequestId },
    #[serde(rename = "error")]
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<RequestId>,
        #[serde(flatten)]
        error: ErrorBody,
    },
}

impl ServerMessage {
    /// Every wire `type` the server sends, in declaration order (for documentation and
    /// tooling; the unit test below keeps it complete).
    pub const TYPES: [&'static str; 8] = [
        "welcome",
        "ok",
        "tool.result",
        "subscribed",
        "event",
        "snapshot",
        "pong",
        "error",
    ];

    pub fn error(re: Option<RequestId>, error: ErrorBody) -> Self {
        Self::Error { re, error }
    }

    pub fn bad_request(re: Option<RequestId>, message: impl Into<String>) -> Self {
        Self::error(re, ErrorBody::new(ErrorCode::BadRequest, message))
    }

    /// The JSON text of the message. Serializing these types cannot fail (string keys,
    /// no non-finite floats), so a failure is reported as an internal error frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"encode: {e}"}}"#)
        })
    }
}

/// `tool.result`'s outcome: `ok: true, output` or `ok: false, error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum ToolResult {
    Ok {
        #[cfg_attr(feature = "ts", ts(type = "true"))]
        ok: True,
        output: serde_json::Value,
    },
    Err {
        #[cfg_attr(feature = "ts", ts(type = "false"))]
        ok: False,
        error: ErrorBody,
    },
}

impl ToolResult {
    pub fn ok(output: serde_json::Value) -> Self {
        Self::Ok { ok: True, output }
    }

    pub fn err(error: ErrorBody) -> Self {
        Self::Err { ok: False, error }
    }
}

/// The JSON literal `true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct True;
/// The JSON literal `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct False;

macro_rules! bool_literal {
    ($t:ident, $v:literal) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bool($v)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if bool::deserialize(d)? == $v {
                    Ok($t)
                } else {
                    Err(serde::de::Error::custom(concat!("expected ", $v)))
                }
            }
        }
    };
}
bool_literal!(True, true);
bool_literal!(False, false);

/// What `ok` carries, by request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum OkData {
    /// `session.configure`.
    Session { session: Session },
    /// `transcript.append`: how many items were new (repeats of a known `item_id` are
    /// not appended again).
    Appended { appended: u64 },
    /// `chat.send`: the message sent and the job writing the reply.
    ChatSent {
        message_id: MessageId,
        job_id: JobId,
    },
    /// `operation.decide`.
    Decided(Decided),
    /// `auth.refresh`: when the connection's new token expires (RFC 3339).
    Refreshed { expires_at: DateTime<Utc> },
}

/// The result of `operation.decide`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Decided {
    pub batch_id: BatchId,
    /// The decided operations in the order they ran, as they now stand.
    pub operations: Vec<Operation>,
    /// How many were approved and completed (or rejected, for a rejection).
    pub completed: u64,
    pub total: u64,
    /// "N of M completed" (or rejected).
    pub message: String,
}

/// One event as delivered on a topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventMessage {
    pub topic: String,
    pub epoch: String,
    pub offset: u64,
    pub event: Event,
}

/// The limits a connection runs under, announced in `welcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_subscriptions: usize,
    /// Messages the server queues for a client that is not reading before it closes
    /// the connection with 4008.
    pub max_queued_messages: usize,
    pub max_queued_bytes: usize,
    /// Sustained client messages per second, and the burst above it.
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub max_connections_per_user: usize,
}

#[cfg(test)]
mod tests {
    use super::ServerMessage;

    #[test]
    fn types_names_every_variant() {
        assert_eq!(
            crate::serde_variants::<ServerMessage>("type"),
            ServerMessage::TYPES
        );
    }
}
