//! Client-to-server messages (docs/protocol.md section 3), parsed once at the edge.

use crate::entities::{ClientInfo, TranscriptRole};
use crate::ids::*;
use crate::mode::Mode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every message a client may send, tagged by `type`. Each variant's fields are a
/// struct of their own that rejects unknown fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type")]
pub enum ClientMessage {
    #[serde(rename = "hello")]
    Hello(Hello),
    #[serde(rename = "session.configure")]
    SessionConfigure(SessionConfigure),
    #[serde(rename = "tool.call")]
    ToolCall(ToolCall),
    #[serde(rename = "transcript.append")]
    TranscriptAppend(TranscriptAppend),
    #[serde(rename = "subscribe")]
    Subscribe(Subscribe),
    #[serde(rename = "unsubscribe")]
    Unsubscribe(Unsubscribe),
    #[serde(rename = "snapshot")]
    Snapshot(Snapshot),
    #[serde(rename = "operation.decide")]
    OperationDecide(OperationDecide),
    #[serde(rename = "chat.send")]
    ChatSend(ChatSend),
    #[serde(rename = "ping")]
    Ping(Ping),
    #[serde(rename = "auth.refresh")]
    AuthRefresh(AuthRefresh),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub client: ClientInfo,
    /// Resume this session (it must be the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SessionConfigure {
    pub id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept: Option<bool>,
    /// Focuses the session on a todo of its project (`focus_todo` moves on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo_id: Option<TodoId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub id: RequestId,
    pub call_id: String,
    pub name: String,
    /// An object, or a JSON string holding one (as the OpenAI Realtime API emits).
    #[serde(default = "empty_object")]
    pub arguments: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TranscriptAppend {
    pub id: RequestId,
    pub items: Vec<TranscriptItemInput>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    pub id: RequestId,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Position>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    pub id: RequestId,
    pub topic: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub id: RequestId,
    pub project_id: ProjectId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct OperationDecide {
    pub id: RequestId,
    pub operation_ids: Vec<OperationId>,
    pub decision: Decision,
    /// Per operation, a JSON merge patch (RFC 7396) over its `data` applied before it
    /// runs; approve only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edits: Option<BTreeMap<OperationId, serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ChatSend {
    pub id: RequestId,
    pub project_id: ProjectId,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub id: RequestId,
}

/// A fresh token for the same user, sent before the connection's token expires: the
/// connection then lives until the new token's `exp` (docs/protocol.md section 1.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AuthRefresh {
    pub id: RequestId,
    pub token: String,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl ClientMessage {
    /// Every wire `type` a client may send, in declaration order (for documentation and
    /// tooling; the unit test below keeps it complete).
    pub const TYPES: [&'static str; 11] = [
        "hello",
        "session.configure",
        "tool.call",
        "transcript.append",
        "subscribe",
        "unsubscribe",
        "snapshot",
        "operation.decide",
        "chat.send",
        "ping",
        "auth.refresh",
    ];

    /// The request id every client message carries.
    pub fn id(&self) -> &RequestId {
        match self {
            Self::Hello(m) => &m.id,
            Self::SessionConfigure(m) => &m.id,
            Self::ToolCall(m) => &m.id,
            Self::TranscriptAppend(m) => &m.id,
            Self::Subscribe(m) => &m.id,
            Self::Unsubscribe(m) => &m.id,
            Self::Snapshot(m) => &m.id,
            Self::OperationDecide(m) => &m.id,
            Self::ChatSend(m) => &m.id,
            Self::Ping(m) => &m.id,
            Self::AuthRefresh(m) => &m.id,
        }
    }

    /// The wire `type`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::SessionConfigure(_) => "session.configure",
            Self::ToolCall(_) => "tool.call",
            Self::TranscriptAppend(_) => "transcript.append",
            Self::Subscribe(_) => "subscribe",
            Self::Unsubscribe(_) => "unsubscribe",
            Self::Snapshot(_) => "snapshot",
            Self::OperationDecide(_) => "operation.decide",
            Self::ChatSend(_) => "chat.send",
            Self::Ping(_) => "ping",
            Self::AuthRefresh(_) => "auth.refresh",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TranscriptItemInput {
    pub item_id: String,
    pub role: TranscriptRole,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A position in a topic's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub epoch: String,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// Parses one text frame. Errors name the field at fault (`client.name: ...`).
    pub fn decode(frame: &str) -> Result<Self, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_str(frame).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let serde_json::Value::Object(mut fields) = value else {
            return Err(DecodeError::Malformed("a message is a JSON object".into()));
        };
        let id = fields.get("id").and_then(RequestId::from_json);
        let kind = match fields.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => {
                return Err(DecodeError::Invalid {
                    id,
                    message: "type: missing or not a string".into(),
                });
            }
        };
        // A tool call's arguments are the tool's to refuse (a failed `tool.result` the
        // model can act on); the rest of every message is refused here.
        let arguments = (kind == "tool.call")
            .then(|| fields.remove("arguments"))
            .flatten();
        if let Some(path) = crate::error::nul_in(&fields) {
            return Err(DecodeError::Invalid {
                id,
                message: format!("{path}: {}", crate::error::NUL_PROBLEM),
            });
        }
        if let Some(arguments) = arguments {
            fields.insert("arguments".into(), arguments);
        }
        let rest = serde_json::Value::Object(fields);
        // The variant is chosen by `type` first, so field errors keep their path (a
        // tagged enum would read the whole frame into a buffer and lose it).
        let parsed = match kind.as_str() {
            "hello" => fields_of(rest).map(Self::Hello),
            "session.configure" => fields_of(rest).map(Self::SessionConfigure),
            "tool.call" => fields_of(rest).map(Self::ToolCall),
            "transcript.append" => fields_of(rest).map(Self::TranscriptAppend),
            "subscribe" => fields_of(rest).map(Self::Subscribe),
            "unsubscribe" => fields_of(rest).map(Self::Unsubscribe),
            "snapshot" => fields_of(rest).map(Self::Snapshot),
            "operation.decide" => fields_of(rest).map(Self::OperationDecide),
            "chat.send" => fields_of(rest).map(Self::ChatSend),
            "ping" => fields_of(rest).map(Self::Ping),
            "auth.refresh" => fields_of(rest).map(Self::AuthRefresh),
            other => Err(format!("type: unknown message type `{other}`")),
        };
        parsed.map_err(|message| DecodeError::Invalid { id, message })
    }
}

fn fields_of<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        crate::error::field_problem(&path, &e.into_inner().to_string()).1
    })
}

#[cfg(test)]
mod tests {
    use super::ClientMessage;

    #[test]
    fn types_names_every_variant() {
        assert_eq!(
            crate::serde_variants::<ClientMessage>("type"),
            ClientMessage::TYPES
        );
        for kind in ClientMessage::TYPES {
            let decoded = ClientMessage::decode(&format!(r#"{{"type":"{kind}","id":1}}"#));
            let message = decoded.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!message.starts_with("type:"), "{kind}: {message}");
        }
    }
}
