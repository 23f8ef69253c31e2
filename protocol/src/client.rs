//! Client-to-server messages (PROTOCOL.md section 3), parsed once at the edge.

use crate::entities::{ClientInfo, TranscriptRole};
use crate::ids::*;
use crate::mode::Mode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every message a client may send. Unknown `type`s and unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ClientMessage {
    #[serde(rename = "hello")]
    Hello {
        id: RequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        client: ClientInfo,
        /// Resume this session (it must be the caller's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<SessionId>,
    },
    #[serde(rename = "session.configure")]
    SessionConfigure {
        id: RequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<Mode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_id: Option<ProjectId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auto_accept: Option<bool>,
    },
    #[serde(rename = "tool.call")]
    ToolCall {
        id: RequestId,
        call_id: String,
        name: String,
        /// An object, or a JSON string holding one (as the OpenAI Realtime API emits).
        #[serde(default = "empty_object")]
        arguments: serde_json::Value,
    },
    #[serde(rename = "transcript.append")]
    TranscriptAppend {
        id: RequestId,
        items: Vec<TranscriptItemInput>,
    },
    #[serde(rename = "subscribe")]
    Subscribe {
        id: RequestId,
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Position>,
    },
    #[serde(rename = "unsubscribe")]
    Unsubscribe { id: RequestId, topic: String },
    #[serde(rename = "snapshot")]
    Snapshot {
        id: RequestId,
        project_id: ProjectId,
    },
    #[serde(rename = "operation.decide")]
    OperationDecide {
        id: RequestId,
        operation_ids: Vec<OperationId>,
        decision: Decision,
        /// Per operation, a JSON merge patch (RFC 7396) over its `data` applied before it
        /// runs; approve only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edits: Option<BTreeMap<OperationId, serde_json::Value>>,
    },
    #[serde(rename = "chat.send")]
    ChatSend {
        id: RequestId,
        project_id: ProjectId,
        text: String,
    },
    #[serde(rename = "ping")]
    Ping { id: RequestId },
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl ClientMessage {
    /// The request id every client message carries.
    pub fn id(&self) -> &RequestId {
        match self {
            Self::Hello { id, .. }
            | Self::SessionConfigure { id, .. }
            | Self::ToolCall { id, .. }
            | Self::TranscriptAppend { id, .. }
            | Self::Subscribe { id, .. }
            | Self::Unsubscribe { id, .. }
            | Self::Snapshot { id, .. }
            | Self::OperationDecide { id, .. }
            | Self::ChatSend { id, .. }
            | Self::Ping { id } => id,
        }
    }

    /// The wire `type`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::SessionConfigure { .. } => "session.configure",
            Self::ToolCall { .. } => "tool.call",
            Self::TranscriptAppend { .. } => "transcript.append",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Snapshot { .. } => "snapshot",
            Self::OperationDecide { .. } => "operation.decide",
            Self::ChatSend { .. } => "chat.send",
            Self::Ping { .. } => "ping",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptItemInput {
    pub item_id: String,
    pub role: TranscriptRole,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A position in a topic's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub epoch: String,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// Why a frame could not be read as a client message. Each becomes `bad_request`.
#[derive(Debug)]
pub enum DecodeError {
    /// Not JSON at all, or not an object.
    Malformed(String),
    /// JSON, but not a valid message (unknown `type`, unknown or missing field, wrong
    /// type). `id` is what the frame carried, for the reply's `re`.
    Invalid {
        id: Option<RequestId>,
        message: String,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed JSON: {m}"),
            Self::Invalid { message, .. } => f.write_str(message),
        }
    }
}

impl ClientMessage {
    /// Parses one text frame. Errors say which field is at fault.
    pub fn decode(frame: &str) -> Result<Self, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_str(frame).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !value.is_object() {
            return Err(DecodeError::Malformed("a message is a JSON object".into()));
        }
        let id = RequestId::from_raw(&value);
        if value.get("type").and_then(|t| t.as_str()).is_none() {
            return Err(DecodeError::Invalid {
                id,
                message: "type: missing or not a string".into(),
            });
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            };
            DecodeError::Invalid { id, message }
        })
    }
}
