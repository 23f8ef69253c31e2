//! The per-user connection limit over every node: this node's tally of open connections
//! (WebSocket and SSE) per user, mirrored into Redis ([`store::connections`]) where each
//! node's share is summed. A place is taken in Redis before the connection is served and
//! given back when it closes; a task refreshes this node's shares so they outlive it by
//! at most their expiry. A refresh writes the tally it read, so a connection opened or
//! closed during one can be miscounted in Redis until the next (a third of the expiry).

use protocol::UserId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use store::connections::ConnectionCounts;
use tokio_util::sync::CancellationToken;

/// Open connections on this node, counted per user for the per-user limit. Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Connections(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    per_user: Mutex<HashMap<UserId, usize>>,
    total: AtomicUsize,
    max_per_user: usize,
    counts: ConnectionCounts,
}

/// Holds one connection's place; gives it back when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    inner: Arc<Inner>,
    user: UserId,
}

impl Connections {
    pub fn new(max_per_user: usize, counts: ConnectionCounts) -> Self {
        Self(Arc::new(Inner {
            per_user: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            max_per_user,
            counts,
        }))
    }

    fn local(&self, user: &UserId) -> usize {
        self.0.lock().get(user).copied().unwrap_or(0)
    }

    /// A place for one more connection of `user`, or `None` at the limit over every
    /// node. When Redis cannot answer, the limit holds on this node alone: a hub whose
    /// Redis blinks keeps accepting its users rather than locking everyone out.
    pub async fn acquire(&self, user: &UserId) -> Option<ConnectionSlot> {
        if self.local(user) >= self.0.max_per_user {
            return None;
        }
        match self.0.counts.acquire(&user.0, self.0.max_per_user).await {
            Ok((true, _)) => {}
            Ok((false, total)) => {
                tracing::debug!(%user, total, "connection limit reached over the nodes");
                return None;
            }
            Err(e) => {
                tracing::warn!(%user, error = %e, "connection counts unavailable; limiting on this node only");
            }
        }
        let mut map = self.0.lock();
        let count = map.entry(user.clone()).or_insert(0);
        // Checked again: connections of this user may have been accepted meanwhile.
        if *count >= self.0.max_per_user {
            drop(map);
            self.sync_later(user.clone());
            return None;
        }
        *count += 1;
        drop(map);
        self.0.total.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        Some(ConnectionSlot {
            inner: self.0.clone(),
            user: user.clone(),
        })
    }

    pub fn total(&self) -> usize {
        self.0.total.load(Ordering::Relaxed)
    }

    /// Writes this node's tally of `user` to Redis in the background.
    fn sync_later(&self, user: UserId) {
        sync_later(&self.0, user);
    }

    /// Refreshes this node's shares every third of their expiry until `shutdown`; then
    /// removes them (the connections are closing).
    pub async fn run(self, shutdown: CancellationToken) {
        let ttl = self.0.counts_ttl();
        let mut tick = tokio::time::interval(ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let users: Vec<(UserId, usize)> =
                self.0.lock().iter().map(|(u, c)| (u.clone(), *c)).collect();
            for (user, count) in users {
                if let Err(e) = self.0.counts.set(&user.0, count).await {
                    tracing::warn!(%user, error = %e, "connection count refresh failed");
                }
            }
        }
        let users: Vec<UserId> = self.0.lock().keys().cloned().collect();
        for user in users {
            if let Err(e) = self.0.counts.set(&user.0, 0).await {
                tracing::debug!(%user, error = %e, "connection count not cleared; it expires");
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, usize>> {
        self.per_user.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counts_ttl(&self) -> std::time::Duration {
        self.counts.ttl()
    }
}

/// Writes the node's current tally of `user` (read when the write happens, so the
/// last write wins with the latest count) on a task of its own: a slot is given back
/// in `Drop`, which cannot wait.
fn sync_later(inner: &Arc<Inner>, user: UserId) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let inner = inner.clone();
    runtime.spawn(async move {
        let count = inner.lock().get(&user).copied().unwrap_or(0);
        if let Err(e) = inner.counts.set(&user.0, count).await {
            tracing::warn!(%user, error = %e, "connection count not released; it expires");
        }
    });
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        {
            let mut map = self.inner.lock();
            if let Some(count) = map.get_mut(&self.user) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&self.user);
                }
            }
        }
        self.inner.total.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
        sync_later(&self.inner, self.user.clone());
    }
}
