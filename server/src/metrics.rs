//! Prometheus metrics: the process-wide recorder, rendered on `GET /metrics`. Metrics are
//! named `draftline_*` with their unit in the name; the hub records connections, client
//! messages and tool-call latency, the embedded worker its jobs.

use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Histogram buckets (seconds) for every `_seconds` metric: from a fast tool call
/// (~1 ms) to a slow model draft (minutes).
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
];

/// Open connections on this node: WebSocket connections and SSE streams.
pub const CONNECTIONS: &str = "draftline_connections";
/// Client messages by `type`.
pub const MESSAGES: &str = "draftline_ws_messages_total";
/// Tool calls by `tool` and `outcome` (`ok` or the error code).
pub const TOOL_CALL_SECONDS: &str = "draftline_tool_call_duration_seconds";

/// Requests refused by a per-user limit, by `limit` (`requests`, `jobs`,
/// `handshakes`).
pub const RATE_LIMITED: &str = "draftline_rate_limited_total";
/// Requests refused because the node had no place for them in time
/// ([`crate::admission`]), by `line` (`requests`, `openings`) and `bound` (`queue`: too
/// many waiting; `wait`: waited too long).
pub const REFUSED_AT_CAPACITY: &str = "draftline_refused_at_capacity_total";
/// Memberships removed, each announced to every node.
pub const ACCESS_REVOKED: &str = "draftline_access_revoked_total";
/// Connections and SSE streams ended because their token expired.
pub const TOKENS_EXPIRED: &str = "draftline_tokens_expired_total";

/// Publications handed to local subscribers' queues.
pub const EVENTS_DELIVERED: &str = "draftline_events_delivered_total";
/// Events published by this process, by `kind`.
/// Counted by `store::topics` as each event reaches Redis, hub and worker alike.
pub const EVENTS_PUBLISHED: &str = store::topics::EVENTS_PUBLISHED;
/// Events waiting in the outbox (committed, not yet in Redis), as the relay's leader
/// last counted them (up to its look, 10,000): above zero for long means Redis is
/// unreachable.
pub const OUTBOX_ROWS: &str = "draftline_outbox_rows";
/// Publishes of a project's outbox rows that failed or timed out (Redis unavailable);
/// the rows stay in the outbox and the relay publishes them later.
pub const EVENTS_LOST: &str = "draftline_events_publish_failures_total";
/// Times the node's Redis subscriber connection had more publications waiting than its
/// backlog holds; the listener then read every local topic back from its history.
pub const LISTENER_OVERFLOWS: &str = "draftline_listener_overflows_total";
/// Local subscribers (WebSocket and SSE) over all topics.
pub const SUBSCRIBERS: &str = "draftline_subscribers";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (later calls reuse it); `None` when another
/// recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .as_ref()
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text exposition",
        content_type = "text/plain", body = String)))]
pub async fn render() -> impl IntoResponse {
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
