//! Newtype ids, so a job id can't be passed where a project id belongs, and the request id
//! a client chooses for each request.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            schemars::JsonSchema,
        )]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so ids sort roughly by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A project: one document being co-written, with its blueprint, notes and todos.
    ProjectId
);
uuid_id!(
    /// An assistant session: one conversation, resumable across connections.
    SessionId
);
uuid_id!(
    /// One WebSocket (or data channel) connection of a session.
    ConnectionId
);
uuid_id!(
    /// A note of a project.
    NoteId
);
uuid_id!(
    /// A todo of a project.
    TodoId
);
uuid_id!(
    /// The document of a project (one per project).
    DocumentId
);
uuid_id!(
    /// A recorded change (an operation), pending approval or done.
    OperationId
);
uuid_id!(
    /// Operations decided together by one `operation.decide`.
    BatchId
);
uuid_id!(
    /// A durable background job.
    JobId
);
uuid_id!(
    /// A transcript pointer: a labelled reference to a transcript item.
    PointerId
);
uuid_id!(
    /// A chat message of a project.
    MessageId
);
uuid_id!(
    /// A memory entry: something learned about a person and a project.
    MemoryId
);

/// A user id: the `sub` claim of the caller's token.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for UserId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// The `id` a client puts on a request and the server echoes as `re`: a string or an
/// integer, chosen by the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RequestId {
    Int(i64),
    Str(String),
}

impl RequestId {
    /// Reads a request id from a frame that failed to parse as a whole, so the error reply
    /// can still carry `re`.
    pub fn from_raw(frame: &serde_json::Value) -> Option<Self> {
        frame.get("id").and_then(Self::from_json)
    }

    /// The request id a JSON value holds, if it is a string or an integer.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(s) => Some(Self::Str(s.clone())),
            serde_json::Value::Number(n) => n.as_i64().map(Self::Int),
            _ => None,
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Str(s) => f.write_str(s),
        }
    }
}
