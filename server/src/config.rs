//! The hub's configuration: one struct, read once at start from flags and `DRAFTLINE_*`
//! environment variables (by clap; nothing else reads the environment).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// `Debug` is written by hand so the JWT secret and the passwords in the database and
/// Redis URLs never reach a log.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// Postgres connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Prefix of every Redis key, so several installs (or tests) share one Redis.
    #[arg(long, env = "DRAFTLINE_REDIS_PREFIX", default_value = "dl:")]
    pub redis_prefix: String,

    /// Secret that signs and verifies HS256 tokens.
    #[arg(long, env = "DRAFTLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,

    /// Address the HTTP and WebSocket server listens on.
    #[arg(long, env = "DRAFTLINE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// This node's id, reported in `welcome`; random when not given.
    #[arg(long, env = "DRAFTLINE_NODE_ID")]
    pub node_id: Option<String>,

    /// Postgres pool size. Tool calls hold a connection for a few milliseconds, so a
    /// small pool serves many sessions.
    #[arg(long, env = "DRAFTLINE_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,

    /// Requests doing work in Postgres (tool calls, snapshots, decisions, the HTTP API's
    /// reads and writes) that a node runs at once; as many more may wait for a place
    /// (`DRAFTLINE_REQUEST_WAIT_MS`), and any beyond are refused with `unavailable` and
    /// `retry_after_ms`, not run. Default: the Postgres pool's size. More in flight only
    /// wait for a connection, and on a busy database each call then takes longer.
    #[arg(long, env = "DRAFTLINE_REQUESTS_IN_FLIGHT")]
    pub requests_in_flight: Option<usize>,

    /// Longest a request waits for a place among those in flight before it is refused
    /// (`unavailable`, `retry_after_ms` of the same), so a node offered more than its
    /// database can do answers what it takes at its usual pace.
    #[arg(long, env = "DRAFTLINE_REQUEST_WAIT_MS", default_value_t = 100)]
    pub request_wait_ms: u64,

    /// Largest WebSocket message accepted; larger ones close the connection with 1009.
    #[arg(long, env = "DRAFTLINE_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Time a new connection has to send `hello` (docs/protocol.md section 1.2: 10 s).
    #[arg(long, env = "DRAFTLINE_HELLO_TIMEOUT_MS", default_value_t = 10_000)]
    pub hello_timeout_ms: u64,

    /// Interval of the server's WebSocket pings; a connection silent for three
    /// intervals is dropped as dead.
    #[arg(long, env = "DRAFTLINE_HEARTBEAT_MS", default_value_t = 20_000)]
    pub heartbeat_ms: u64,

    /// Messages queued for one connection before it is closed as a slow consumer (4008).
    /// 1,024 covers a burst of every event of a busy project for several seconds.
    #[arg(long, env = "DRAFTLINE_OUTBOUND_MESSAGES", default_value_t = 1024)]
    pub outbound_messages: usize,

    /// Bytes queued for one connection before it is closed as a slow consumer (4008).
    #[arg(long, env = "DRAFTLINE_OUTBOUND_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub outbound_bytes: usize,

    /// Sustained requests per second one user may make on this node: WebSocket
    /// messages, HTTP requests and SSE streams opened, all connections together.
    #[arg(long, env = "DRAFTLINE_MESSAGES_PER_SECOND", default_value_t = 50)]
    pub messages_per_second: u32,

    /// Burst of requests above the sustained rate.
    #[arg(long, env = "DRAFTLINE_MESSAGE_BURST", default_value_t = 100)]
    pub message_burst: u32,

    /// Jobs that cost money (`chat.send`, `POST .../chat`, `queue_draft_update`) one
    /// user may ask for per minute on this node, as a burst that refills evenly. 20 is a
    /// person talking fast; an assistant looping on a tool hits it within seconds.
    #[arg(long, env = "DRAFTLINE_JOBS_PER_MINUTE", default_value_t = 20)]
    pub jobs_per_minute: u32,

    /// Connections from one source address that may be waiting for their `hello` at
    /// once on this node (refused with 429 beyond). Behind a proxy every client shares
    /// its address: raise it there.
    #[arg(
        long,
        env = "DRAFTLINE_MAX_HANDSHAKES_PER_ADDRESS",
        default_value_t = 16
    )]
    pub max_handshakes_per_address: usize,

    /// Rate-limited messages in a row after which the connection is closed with 4029.
    #[arg(long, env = "DRAFTLINE_RATE_LIMIT_STRIKES", default_value_t = 20)]
    pub rate_limit_strikes: u32,

    /// Open connections (WebSocket and SSE) one user may have over every node (4009 or
    /// 429 beyond).
    #[arg(long, env = "DRAFTLINE_MAX_CONNECTIONS_PER_USER", default_value_t = 32)]
    pub max_connections_per_user: usize,

    /// Topics one connection may subscribe to.
    #[arg(long, env = "DRAFTLINE_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub max_subscriptions: usize,

    /// Events a topic's history keeps at least (docs/protocol.md section 5.3: 1,000).
    #[arg(long, env = "DRAFTLINE_TOPIC_HISTORY_EVENTS", default_value_t = 1_000)]
    pub topic_history_events: u64,

    /// Seconds of events a topic's history keeps at least (docs/protocol.md section 5.3: 10 min).
    #[arg(long, env = "DRAFTLINE_TOPIC_HISTORY_SECS", default_value_t = 600)]
    pub topic_history_secs: u64,

    /// Hours a topic without events lives in Redis before it is dropped whole.
    #[arg(long, env = "DRAFTLINE_TOPIC_IDLE_HOURS", default_value_t = 168)]
    pub topic_idle_hours: u64,

    /// Most events one `subscribe` recovers; a client further behind takes a snapshot.
    #[arg(long, env = "DRAFTLINE_MAX_RECOVER", default_value_t = 10_000)]
    pub max_recover: u64,

    /// Publications the node's Redis subscriber connection holds for the fan-out before
    /// dropping them and reading them back from history: 16,384 frames of a few hundred
    /// bytes are a few MiB, and over ten seconds of the busiest project benchmarked
    /// (1,000 events/s, BENCHMARKS.md).
    #[arg(long, env = "DRAFTLINE_LISTENER_BACKLOG", default_value_t = 16_384)]
    pub listener_backlog: usize,

    /// Threads of the runtime that delivers events (the node's event listener and the
    /// connections' writers); 0 delivers on the main runtime. Apart, a tool call's reads
    /// and queries do not queue behind the writes a burst of events wakes. Default: one
    /// per core.
    #[arg(long, env = "DRAFTLINE_DELIVERY_THREADS")]
    pub delivery_threads: Option<usize>,

    /// How long a session stays present without its node refreshing it (a dead node's
    /// sessions leave within this).
    #[arg(long, env = "DRAFTLINE_PRESENCE_TTL_MS", default_value_t = 30_000)]
    pub presence_ttl_ms: u64,

    /// How often the outbox relay's leader publishes events left behind by a failed
    /// publish (a change made while Redis was down reaches clients within about this
    /// long after Redis is back).
    #[arg(long, env = "DRAFTLINE_OUTBOX_RELAY_MS", default_value_t = 500)]
    pub outbox_relay_ms: u64,

    /// Interval of the SSE keep-alive comment (docs/protocol.md section 6: every 15 s).
    #[arg(long, env = "DRAFTLINE_SSE_KEEPALIVE_MS", default_value_t = 15_000)]
    pub sse_keepalive_ms: u64,

    /// Time the hub keeps trying to hand a closing client its close frame (4008, 1012,
    /// ...) when the client is not reading: long enough for a client that fell behind to
    /// drain its socket and read why, short enough not to hold a dead peer.
    #[arg(long, env = "DRAFTLINE_CLOSE_GRACE_MS", default_value_t = 5_000)]
    pub close_grace_ms: u64,

    /// Time connections get to close after SIGTERM before the process exits anyway.
    #[arg(long, env = "DRAFTLINE_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,

    /// Local addresses the WebRTC peers' UDP sockets bind (comma separated). `0.0.0.0`
    /// means every interface but loopback and link-local; the default serves only this
    /// machine.
    #[arg(
        long,
        env = "DRAFTLINE_RTC_UDP_BIND",
        value_delimiter = ',',
        default_value = "127.0.0.1"
    )]
    pub rtc_udp_bind: Vec<IpAddr>,

    /// UDP ports of WebRTC peers, `FIRST-LAST` (one port per peer connection, so the range
    /// caps the node's concurrent peers), or `0` for any free port.
    #[arg(long, env = "DRAFTLINE_RTC_UDP_PORTS", default_value = "0")]
    pub rtc_udp_ports: PortRange,

    /// Public addresses announced as host candidates in place of the bound ones (1:1 NAT,
    /// e.g. a cloud instance's public IP); comma separated, none by default.
    #[arg(long, env = "DRAFTLINE_RTC_PUBLIC_IPS", value_delimiter = ',')]
    pub rtc_public_ips: Vec<IpAddr>,

    /// ICE server URLs handed to clients by `GET /v1/rtc/config` (`stun:` or `turn:`,
    /// comma separated). The hub itself does not use them: it answers with host candidates.
    #[arg(long, env = "DRAFTLINE_RTC_ICE_SERVERS", value_delimiter = ',')]
    pub rtc_ice_servers: Vec<String>,

    /// Username for the `turn:` servers of `DRAFTLINE_RTC_ICE_SERVERS`.
    #[arg(long, env = "DRAFTLINE_RTC_ICE_USERNAME")]
    pub rtc_ice_username: Option<String>,

    /// Credential for the `turn:` servers of `DRAFTLINE_RTC_ICE_SERVERS`.
    #[arg(long, env = "DRAFTLINE_RTC_ICE_CREDENTIAL", hide_env_values = true)]
    pub rtc_ice_credential: Option<String>,

    /// Time an answered offer has to open its `draftline` data channel before the peer
    /// is dropped.
    #[arg(long, env = "DRAFTLINE_RTC_OPEN_TIMEOUT_MS", default_value_t = 15_000)]
    pub rtc_open_timeout_ms: u64,
}

/// An inclusive range of UDP ports; `0` alone means any free port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange { first: 0, last: 0 };

    /// How many ports the range holds (1 for `ANY`: one attempt at a free port).
    pub fn len(&self) -> u32 {
        u32::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port"))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let port = parse(s)?;
                (port, port)
            }
        };
        if first > last || (first == 0 && last != 0) {
            return Err(format!(
                "{s:?}: expected FIRST-LAST with 0 < FIRST <= LAST, or 0"
            ));
        }
        Ok(PortRange { first, last })
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_password(&self.database_url))
            .field("redis_url", &redact_password(&self.redis_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("jwt_secret", &"[redacted]")
            .field("bind", &self.bind)
            .field("node_id", &self.node_id)
            .field("db_max_connections", &self.db_max_connections)
            .field("requests_in_flight", &self.requests_in_flight)
            .field("request_wait_ms", &self.request_wait_ms)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("hello_timeout_ms", &self.hello_timeout_ms)
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field("outbound_messages", &self.outbound_messages)
            .field("outbound_bytes", &self.outbound_bytes)
            .field("messages_per_second", &self.messages_per_second)
            .field("message_burst", &self.message_burst)
            .field("rate_limit_strikes", &self.rate_limit_strikes)
            .field("max_connections_per_user", &self.max_connections_per_user)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("topic_history_events", &self.topic_history_events)
            .field("topic_history_secs", &self.topic_history_secs)
            .field("topic_idle_hours", &self.topic_idle_hours)
            .field("max_recover", &self.max_recover)
            .field("listener_backlog", &self.listener_backlog)
            .field("delivery_threads", &self.delivery_threads)
            .field("presence_ttl_ms", &self.presence_ttl_ms)
            .field("outbox_relay_ms", &self.outbox_relay_ms)
            .field("sse_keepalive_ms", &self.sse_keepalive_ms)
            .field("close_grace_ms", &self.close_grace_ms)
            .field("shutdown_timeout_ms", &self.shutdown_timeout_ms)
            .finish()
    }
}

/// `url` with the password of its user info (`scheme://user:password@host`) hidden.
fn redact_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}{}:[redacted]{}",
            &url[..start],
            &authority[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

impl Config {
    /// A configuration with the defaults above, for tests and embedding.
    pub fn new(database_url: String, redis_url: String, jwt_secret: String) -> Self {
        Self {
            database_url,
            redis_url,
            redis_prefix: "dl:".into(),
            jwt_secret,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            node_id: None,
            db_max_connections: 20,
            requests_in_flight: None,
            request_wait_ms: 100,
            max_frame_bytes: 64 * 1024,
            hello_timeout_ms: 10_000,
            heartbeat_ms: 20_000,
            outbound_messages: 1024,
            outbound_bytes: 4 * 1024 * 1024,
            messages_per_second: 50,
            message_burst: 100,
            jobs_per_minute: 20,
            max_handshakes_per_address: 16,
            rate_limit_strikes: 20,
            max_connections_per_user: 32,
            max_subscriptions: 100,
            topic_history_events: 1_000,
            topic_history_secs: 600,
            topic_idle_hours: 168,
            max_recover: 10_000,
            listener_backlog: 16_384,
            delivery_threads: None,
            presence_ttl_ms: 30_000,
            outbox_relay_ms: 500,
            sse_keepalive_ms: 15_000,
            close_grace_ms: 5_000,
            shutdown_timeout_ms: 10_000,
            rtc_udp_bind: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            rtc_udp_ports: PortRange::ANY,
            rtc_public_ips: Vec::new(),
            rtc_ice_servers: Vec::new(),
            rtc_ice_username: None,
            rtc_ice_credential: None,
            rtc_open_timeout_ms: 15_000,
        }
    }

    pub fn hello_timeout(&self) -> Duration {
        Duration::from_millis(self.hello_timeout_ms)
    }

    /// Requests that work in Postgres running at once on a node: the setting, else the
    /// pool's size.
    fn requests_in_flight(&self) -> usize {
        self.requests_in_flight
            .unwrap_or(self.db_max_connections as usize)
    }

    /// The node's admission of database work ([`crate::admission`]).
    pub fn admission(&self) -> crate::admission::Admission {
        crate::admission::Admission::new(
            self.requests_in_flight(),
            Duration::from_millis(self.request_wait_ms),
        )
    }

    /// The node's line for the sessions `hello` opens ([`crate::admission::Admission::openings`]):
    /// a `hello` may wait its turn as long as a client has to send it.
    pub fn openings(&self) -> crate::admission::Admission {
        crate::admission::Admission::openings(self.requests_in_flight(), self.hello_timeout())
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(10))
    }

    pub fn close_grace(&self) -> Duration {
        Duration::from_millis(self.close_grace_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    pub fn retention(&self) -> store::topics::Retention {
        store::topics::Retention {
            min_events: self.topic_history_events,
            min_age: Duration::from_secs(self.topic_history_secs),
            idle_ttl: Duration::from_secs(self.topic_idle_hours.max(1) * 3600),
        }
    }

    /// How long a node's share of the per-user connection counts lives in Redis without
    /// a refresh: a dead node's connections stop counting within it. The presence
    /// expiry, so one setting says when a dead node's traces go.
    pub fn connection_count_ttl(&self) -> Duration {
        self.presence_ttl()
    }

    pub fn outbox_relay(&self) -> store::outbox::RelayConfig {
        store::outbox::RelayConfig {
            tick: Duration::from_millis(self.outbox_relay_ms.max(10)),
            ..store::outbox::RelayConfig::default()
        }
    }

    pub fn presence_ttl(&self) -> Duration {
        Duration::from_millis(self.presence_ttl_ms.max(300))
    }

    pub fn sse_keepalive(&self) -> Duration {
        Duration::from_millis(self.sse_keepalive_ms.max(10))
    }

    /// Longest a `subscribe` waits for the node's subscription to the topic's channel.
    pub fn subscribe_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    pub fn rtc_open_timeout(&self) -> Duration {
        Duration::from_millis(self.rtc_open_timeout_ms)
    }

    pub fn limits(&self) -> protocol::server::Limits {
        protocol::server::Limits {
            max_frame_bytes: self.max_frame_bytes,
            max_subscriptions: self.max_subscriptions,
            max_queued_messages: self.outbound_messages,
            max_queued_bytes: self.outbound_bytes,
            messages_per_second: self.messages_per_second,
            message_burst: self.message_burst,
            max_connections_per_user: self.max_connections_per_user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_jwt_secret() {
        let secret = "a-very-secret-signing-key-0123456789abcdef";
        let config = Config::new("postgres://db".into(), "redis://r".into(), secret.into());
        let shown = format!("{config:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("jwt_secret: \"[redacted]\""), "{shown}");
    }

    #[test]
    fn debug_redacts_url_passwords() {
        for (url, shown) in [
            (
                "postgres://app:hunter2@db:5432/draftline",
                "postgres://app:[redacted]@db:5432/draftline",
            ),
            (
                "redis://:hunter2@cache:6379/0",
                "redis://:[redacted]@cache:6379/0",
            ),
            ("postgres://app@db/draftline", "postgres://app@db/draftline"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_password(url), shown);
        }
    }
}
