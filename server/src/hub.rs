//! The hub's shared state: storage, Redis, configuration, token keys, this node's
//! connections, and the shutdown signal every task listens to.

use crate::auth::Auth;
use crate::config::Config;
use crate::fanout::{Fanout, FanoutConfig};
use crate::presence::Presences;
use protocol::ProjectId;
use protocol::UserId;
use protocol::event::Event;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    /// This node's topic subscribers.
    pub fanout: Fanout,
    /// This node's sessions present in projects.
    pub presence: Presences,
    /// Enqueue and dispatch of jobs, and the admin actions on them.
    pub queue: store::queue::Queue,
    pub auth: Auth,
    pub node_id: String,
    pub connections: Connections,
    /// Live WebRTC peers (`crate::rtc`).
    pub rtc: crate::rtc::Peers,
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
    ) -> Self {
        let node_id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let auth = Auth::new(&config.jwt_secret);
        let connections = Connections::new(config.max_connections_per_user);
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
            },
        );
        let presence = Presences::new(topics.clone(), config.presence_ttl());
        Self(Arc::new(Inner {
            config,
            store,
            redis,
            redis_client,
            topics,
            fanout,
            presence,
            queue,
            auth,
            node_id,
            connections,
            rtc: crate::rtc::Peers::default(),
            shutdown,
            tasks: TaskTracker::new(),
        }))
    }
}

impl Hub {
    /// Publishes events of a change on the project's topic, after its transaction
    /// committed. Postgres already holds the change: a publish that fails is logged and
    /// counted, and the caller's answer stands (clients resync with `snapshot`).
    ///
    /// A `tool.progress` for a session's job also goes to that session's topic.
    pub async fn publish(&self, project: ProjectId, events: &[Event]) {
        for (kind, published) in self.topics.publish_project(project, events).await {
            if published {
                metrics::counter!(crate::metrics::EVENTS_PUBLISHED, "kind" => kind).increment(1);
            } else {
                metrics::counter!(crate::metrics::EVENTS_LOST).increment(1);
            }
        }
    }
}

/// Open connections on this node, counted per user for the per-user limit.
#[derive(Debug)]
pub struct Connections {
    per_user: Mutex<HashMap<UserId, usize>>,
    total: AtomicUsize,
    max_per_user: usize,
}

/// Holds one connection's place; gives it back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot<'a> {
    connections: &'a Connections,
    user: UserId,
}

impl Connections {
    fn new(max_per_user: usize) -> Self {
        Self {
            per_user: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            max_per_user,
        }
    }

    /// A place for one more connection of `user`, or `None` at the limit.
    pub fn acquire(&self, user: &UserId) -> Option<ConnectionSlot<'_>> {
        let mut map = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(user.clone()).or_insert(0);
        if *count >= self.max_per_user {
            return None;
        }
        *count += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        Some(ConnectionSlot {
            connections: self,
            user: user.clone(),
        })
    }

    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        let mut map = self
            .connections
            .per_user
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.user);
            }
        }
        self.connections.total.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_limit_frees_on_drop() {
        let c = Connections::new(2);
        let alice = UserId::from("alice");
        let a = c.acquire(&alice);
        let b = c.acquire(&alice);
        assert!(a.is_some() && b.is_some());
        assert!(c.acquire(&alice).is_none());
        assert!(c.acquire(&UserId::from("bob")).is_some());
        drop(a);
        assert!(c.acquire(&alice).is_some());
        drop(b);
        assert_eq!(c.total(), 0);
    }
}
