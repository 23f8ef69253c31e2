//! The hub's shared state: storage, Redis, configuration, token keys, this node's
//! connections, and the shutdown signal every task listens to.

use crate::auth::Auth;
use crate::config::Config;
use crate::connections::Connections;
use crate::fanout::{Fanout, FanoutConfig};
use crate::limits::Limits;
use crate::presence::Presences;
use crate::revocation::Revocations;
use protocol::ProjectId;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cheap to clone; one per node.
#[derive(Clone, Debug)]
pub struct Hub(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub redis: redis::aio::ConnectionManager,
    /// For connections of their own (the node's event subscriber).
    pub redis_client: redis::Client,
    /// Topic history and publishing in Redis.
    pub topics: store::topics::Topics,
    /// The events of committed changes, published from Postgres.
    pub outbox: store::outbox::Outbox,
    /// This node's topic subscribers.
    pub fanout: Fanout,
    /// This node's sessions present in projects.
    pub presence: Presences,
    /// Enqueue and dispatch of jobs, and the admin actions on them.
    pub queue: store::queue::Queue,
    pub auth: Auth,
    pub node_id: String,
    /// Open connections per user, counted over every node.
    pub connections: Connections,
    /// Per-user rates and quotas, and handshakes per address.
    pub limits: Arc<Limits>,
    /// The node's places for requests that work in Postgres.
    pub admission: crate::admission::Admission,
    /// The node's places for opening sessions (`hello`).
    pub openings: crate::admission::Admission,
    /// This node's holders of access, told when a user loses it.
    pub revocations: Revocations,
    /// Live WebRTC peers (`crate::rtc`).
    pub rtc: crate::rtc::Peers,
    /// Where the event listener and the connections' writers run.
    pub delivery: crate::delivery::Delivery,
    /// Cancelled on SIGTERM: stop accepting, close connections with 1012.
    pub shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub tasks: TaskTracker,
}

impl std::ops::Deref for Hub {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Hub {
    pub fn new(
        config: Config,
        store: Store,
        redis_client: redis::Client,
        redis: redis::aio::ConnectionManager,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let node_id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let auth = Auth::new(&config.jwt_secret);
        let connections = Connections::new(
            config.max_connections_per_user,
            store::connections::ConnectionCounts::new(
                redis.clone(),
                config.redis_prefix.clone(),
                node_id.clone(),
                config.connection_count_ttl(),
            ),
        );
        let limits = Arc::new(Limits::new(
            config.messages_per_second,
            config.message_burst,
            config.jobs_per_minute,
            config.max_handshakes_per_address,
        ));
        let revocations = Revocations::new(redis.clone(), &config.redis_prefix);
        let dispatch = store::dispatch::Dispatch::new(redis.clone(), config.redis_prefix.clone());
        let queue = store::queue::Queue::new(store.clone(), dispatch);
        let topics = store::topics::Topics::new(
            redis.clone(),
            config.redis_prefix.clone(),
            config.retention(),
        );
        let fanout = Fanout::new(
            topics.clone(),
            FanoutConfig {
                max_pending: config.outbound_messages,
                subscribe_timeout: config.subscribe_timeout(),
                max_recover: config.max_recover,
                listener_backlog: config.listener_backlog,
            },
        );
        let presence = Presences::new(topics.clone(), config.presence_ttl());
        let outbox = store::outbox::Outbox::new(store.clone(), topics.clone());
        let delivery = crate::delivery::Delivery::new(config.delivery_threads)?;
        let admission = config.admission();
        let openings = config.openings();
        Ok(Self(Arc::new(Inner {
            config,
            store,
            redis,
            redis_client,
            topics,
            outbox,
            fanout,
            presence,
            queue,
            auth,
            node_id,
            connections,
            limits,
            admission,
            openings,
            revocations,
            rtc: crate::rtc::Peers::default(),
            delivery,
            shutdown,
            tasks: TaskTracker::new(),
        })))
    }
}

/// How long a tool call waits for its change's events to reach Redis after commit. The
/// change is committed and its events are in the outbox either way; past this the relay
/// publishes them, and the caller is answered instead of waiting on a Redis outage (the
/// connection manager's own timeouts, 500 ms per command, usually end it sooner).
const FLUSH_DEADLINE: Duration = Duration::from_secs(1);

impl Hub {
    /// Publishes an event of a session without a project on the session's topic alone
    /// (no project, so no project's order to keep: it needs no outbox).
    pub async fn publish_session(
        &self,
        session: protocol::SessionId,
        event: &protocol::event::Event,
    ) {
        let topic = protocol::event::session_topic(session);
        if let Err(e) = self.topics.publish(&topic, event).await {
            tracing::warn!(%session, kind = event.kind(), error = %e, "event not published");
            metrics::counter!(crate::metrics::EVENTS_LOST).increment(1);
        }
    }

    /// Publishes the outbox rows of `project` after a change committed (the fast path).
    /// Postgres already holds the change and its events: a publish that fails or takes
    /// too long is logged and counted, the rows stay for the relay, and the caller's
    /// answer stands.
    pub async fn flush(&self, project: Option<ProjectId>) {
        let Some(project) = project else {
            return;
        };
        match tokio::time::timeout(FLUSH_DEADLINE, self.outbox.flush(project)).await {
            // Published rows were counted as they reached Redis.
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                metrics::counter!(crate::metrics::EVENTS_LOST).increment(1);
                tracing::warn!(%project, error = %e, "events left in the outbox for the relay");
            }
            Err(_) => {
                metrics::counter!(crate::metrics::EVENTS_LOST).increment(1);
                tracing::warn!(%project, "publishing timed out; events left in the outbox for the relay");
            }
        }
    }
}
