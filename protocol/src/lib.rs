//! Draftline's wire protocol, version 1: every message, event, error code, close code and
//! tool argument type, and the tool catalogue. The single source of truth for the wire;
//! no I/O and no async runtime here.

pub mod blueprint;
pub mod client;
pub mod close;
pub mod entities;
pub mod error;
pub mod event;
pub mod frames;
pub mod ids;
pub mod mode;
pub mod server;
pub mod tools;

pub use client::ClientMessage;
pub use error::{ErrorBody, ErrorCode};
pub use ids::*;
pub use mode::Mode;
pub use server::ServerMessage;

/// The protocol version carried in `welcome.protocol`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol a client asks for (docs/protocol.md section 1).
pub const SUBPROTOCOL: &str = "draftline.v1";

/// The variant names serde knows for an internally tagged enum, read from its error for
/// an unknown tag: the lists of message types and event kinds are checked against it.
#[cfg(test)]
pub(crate) fn serde_variants<T: serde::de::DeserializeOwned>(tag: &str) -> Vec<String> {
    let unknown = serde_json::json!({ tag: "\u{0}" });
    let error = serde_json::from_value::<T>(unknown)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    error
        .split("expected one of ")
        .nth(1)
        .unwrap_or_default()
        .split(", ")
        .map(|v| v.trim_matches('`').to_owned())
        .collect()
}
