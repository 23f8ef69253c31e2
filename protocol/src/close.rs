//! WebSocket close codes (PROTOCOL.md section 4).

/// Normal closure.
pub const NORMAL: u16 = 1000;
/// The peer went away (heartbeat timeout).
pub const GOING_AWAY: u16 = 1001;
/// Policy violation, e.g. no `hello` first or in time.
pub const POLICY: u16 = 1008;
/// A frame over the size limit.
pub const TOO_BIG: u16 = 1009;
/// An internal error.
pub const INTERNAL: u16 = 1011;
/// The server is restarting: reconnect and resume.
pub const RESTART: u16 = 1012;
/// No valid token.
pub const UNAUTHORIZED: u16 = 4001;
/// The token is valid but may not do this (e.g. resume another user's session).
pub const FORBIDDEN: u16 = 4003;
/// The client did not read its messages fast enough: reconnect and resume.
pub const SLOW_CONSUMER: u16 = 4008;
/// Too many connections for this user.
pub const TOO_MANY_CONNECTIONS: u16 = 4009;
/// Rate limit exceeded repeatedly.
pub const RATE_LIMITED: u16 = 4029;
