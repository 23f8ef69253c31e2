//! WebSocket close codes (docs/protocol.md section 4.3).

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
/// The node is at capacity: nothing was opened; connect again after the `error`'s
/// `retry_after_ms`.
pub const TRY_AGAIN_LATER: u16 = 1013;
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

/// Every close code the server sends, with what it means, in numeric order.
pub const ALL: [(u16, &str); 12] = [
    (
        NORMAL,
        "Normal closure (a client's; the server does not close with it).",
    ),
    (
        GOING_AWAY,
        "The peer went away: nothing received for three heartbeat intervals.",
    ),
    (
        POLICY,
        "Policy violation: no `hello` first or in time, or the session could not be opened.",
    ),
    (TOO_BIG, "A message over the frame size limit."),
    (
        INTERNAL,
        "An internal error (e.g. storage unavailable during `hello`).",
    ),
    (RESTART, "The server is restarting: reconnect and resume."),
    (
        TRY_AGAIN_LATER,
        "Try again later: the node was at capacity and opened no session; connect again after the `error`'s `retry_after_ms`.",
    ),
    (UNAUTHORIZED, "No valid token."),
    (
        FORBIDDEN,
        "The token is valid but may not do this (e.g. resume another user's session).",
    ),
    (
        SLOW_CONSUMER,
        "The client did not read its messages fast enough: reconnect and resume.",
    ),
    (
        TOO_MANY_CONNECTIONS,
        "Too many connections for this user on this node.",
    ),
    (RATE_LIMITED, "Rate limit exceeded repeatedly."),
];

#[cfg(test)]
mod tests {
    #[test]
    fn all_is_in_order_without_repeats() {
        assert!(super::ALL.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
