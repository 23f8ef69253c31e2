//! Losing access takes effect at once, on every node. The node that removes a member
//! publishes a control message on the Redis channel `{prefix}control`; every node
//! (itself included) listens on a connection of its own and hands the message to its
//! local holders of that user's access: WebSocket connections (which drop the project's
//! subscription with a `forbidden` error, take the project out of their session and
//! leave presence) and SSE streams of the project (which send `event: error` and end).
//! Each holder confirms the loss in Postgres first, so a member removed and added back
//! at once keeps the new membership.
//!
//! Pub/sub forgets what was published while a node was not listening, so after every
//! reconnect each holder re-checks its access in Postgres: a revocation missed then still
//! takes effect, only later.

use protocol::{ProjectId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Pause before reconnecting, doubling up to the cap (as the event listener does).
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Control messages one holder may have unread. They are rare (one per membership
/// change); a holder with 16 unread is stuck, and is ended instead of sent more.
const HOLDER_QUEUE: usize = 16;

/// What goes over the control channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Message {
    /// `user_id` is no longer a member of `project_id`.
    Revoked {
        user_id: UserId,
        project_id: ProjectId,
    },
}

/// What a holder is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// The user lost access to this project.
    Revoked(ProjectId),
    /// Control messages may have been missed: check access again.
    Recheck,
}

/// A holder's unread control messages. A deque behind a lock rather than a channel: a
/// channel allocates its first block when it is made, and most holders never get a
/// message (an idle connection would carry the block for its whole life).
#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Control>>,
    ready: Notify,
}

/// What a holder reads its control messages from.
pub struct Controls(Arc<Mailbox>);

impl std::fmt::Debug for Controls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controls").finish_non_exhaustive()
    }
}

impl Controls {
    /// The next control message; waits for one (a holder is told until it unregisters).
    pub async fn recv(&mut self) -> Option<Control> {
        loop {
            // A message put between the check and the wait leaves its permit in `ready`.
            let next = self
                .0
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            if next.is_some() {
                return next;
            }
            self.0.ready.notified().await;
        }
    }
}

struct Holder {
    mailbox: Arc<Mailbox>,
    /// Cancelled when the holder cannot be told (its queue is full): it must end.
    ended: CancellationToken,
}

impl Holder {
    /// Queues `control`; a holder with [`HOLDER_QUEUE`] unread is stuck and is ended.
    fn tell(&self, control: Control) {
        let mut queue = self.mailbox.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.len() >= HOLDER_QUEUE {
            self.ended.cancel();
            return;
        }
        queue.push_back(control);
        drop(queue);
        self.mailbox.ready.notify_one();
    }
}

#[derive(Default)]
struct Registry {
    by_user: HashMap<UserId, HashMap<u64, Holder>>,
}

struct Inner {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    redis: redis::aio::ConnectionManager,
    channel: String,
}

/// The node's holders of access, by user. Cheap to clone.
#[derive(Clone)]
pub struct Revocations(Arc<Inner>);

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("channel", &self.0.channel)
            .finish()
    }
}

/// A holder's place in the registry; dropping it unregisters.
pub struct Registration {
    inner: Arc<Inner>,
    user: UserId,
    id: u64,
    ended: CancellationToken,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("user", &self.user)
            .field("id", &self.id)
            .finish()
    }
}

impl Registration {
    /// Resolves when the holder could not be told of a revocation and must end.
    pub async fn ended(&self) {
        self.ended.cancelled().await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = self.inner.lock();
        if let Some(holders) = registry.by_user.get_mut(&self.user) {
            holders.remove(&self.id);
            if holders.is_empty() {
                registry.by_user.remove(&self.user);
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Revocations {
    pub fn new(redis: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self(Arc::new(Inner {
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            redis,
            channel: format!("{prefix}control"),
        }))
    }

    /// Registers a holder of `user`'s access; it reads what it is told from the receiver.
    pub fn register(&self, user: &UserId) -> (Registration, Controls) {
        let mailbox = Arc::new(Mailbox::default());
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let ended = CancellationToken::new();
        self.0
            .lock()
            .by_user
            .entry(user.clone())
            .or_default()
            .insert(
                id,
                Holder {
                    mailbox: mailbox.clone(),
                    ended: ended.clone(),
                },
            );
        let registration = Registration {
            inner: self.0.clone(),
            user: user.clone(),
            id,
            ended,
        };
        (registration, Controls(mailbox))
    }

    /// Tells every node that `user` lost access to `project` (after the change
    /// committed). When Redis cannot take it, this node applies it at once and the
    /// others find out when they re-check (after their control connection comes back)
    /// or when the user next touches the project.
    pub async fn revoke(&self, user: &UserId, project: ProjectId) {
        metrics::counter!(crate::metrics::ACCESS_REVOKED).increment(1);
        let message = Message::Revoked {
            user_id: user.clone(),
            project_id: project,
        };
        let payload = match serde_json::to_string(&message) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "control message not encoded");
                return self.apply(&message);
            }
        };
        let published: Result<u64, _> = redis::cmd("PUBLISH")
            .arg(&self.0.channel)
            .arg(payload)
            .query_async(&mut self.0.redis.clone())
            .await;
        if let Err(e) = published {
            tracing::warn!(%user, %project, error = %e, "revocation not published; applied on this node only");
            self.apply(&message);
        }
    }

    /// Tells this node's holders of the message's user.
    fn apply(&self, message: &Message) {
        let Message::Revoked {
            user_id,
            project_id,
        } = message;
        self.tell(Some(user_id), Control::Revoked(*project_id));
    }

    /// Tells the holders of `user` (or every holder); one that cannot be told is ended.
    fn tell(&self, user: Option<&UserId>, control: Control) {
        let registry = self.0.lock();
        let holders: Vec<&Holder> = match user {
            Some(user) => registry
                .by_user
                .get(user)
                .map(|h| h.values().collect())
                .unwrap_or_default(),
            None => registry.by_user.values().flat_map(|h| h.values()).collect(),
        };
        for holder in holders {
            holder.tell(control);
        }
    }

    /// Listens on the control channel until `shutdown`, on a connection of its own: the
    /// event listener's connection waits on history reads and topic (un)subscribes, and
    /// a revocation must not queue behind those; it also recovers differently after a
    /// reconnect (re-checking access, not replaying history).
    pub async fn run(self, client: redis::Client, shutdown: CancellationToken) {
        let mut pause = RECONNECT_FIRST;
        let mut reconnected = false;
        loop {
            let connected = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = client.get_async_pubsub() => c,
            };
            match connected {
                Ok(mut pubsub) => match pubsub.subscribe(&self.0.channel).await {
                    Ok(()) => {
                        pause = RECONNECT_FIRST;
                        if reconnected {
                            tracing::info!("control listener reconnected; re-checking access");
                            self.tell(None, Control::Recheck);
                        }
                        if !self.listen(pubsub, &shutdown).await {
                            return;
                        }
                        tracing::warn!("control listener connection lost");
                    }
                    Err(e) => tracing::warn!(error = %e, "control channel not subscribed"),
                },
                Err(e) => tracing::warn!(error = %e, "control listener cannot connect"),
            }
            reconnected = true;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(RECONNECT_MAX);
        }
    }

    /// Serves one connection; `true` when it was lost, `false` on shutdown.
    async fn listen(&self, mut pubsub: redis::aio::PubSub, shutdown: &CancellationToken) -> bool {
        use futures_util::StreamExt;
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return false,
                message = messages.next() => message,
            };
            let Some(message) = message else {
                return true;
            };
            let payload = message.get_payload_bytes();
            match serde_json::from_slice::<Message>(payload) {
                Ok(control) => {
                    tracing::info!(?control, "access revoked");
                    self.apply(&control);
                }
                Err(e) => tracing::warn!(error = %e, "unreadable control message"),
            }
        }
    }
}

/// Whether `user` is a member of `project` again by the time a revocation arrives (the
/// owner removed them and added them back at once): the newer membership stands. When
/// Postgres cannot say, the revocation does.
pub async fn still_member(hub: &crate::Hub, user: &UserId, project: ProjectId) -> bool {
    let access = crate::access::topic(hub, user, protocol::event::Topic::Project(project)).await;
    if access.is_ok() {
        tracing::info!(%user, %project, "revocation outdated: a member again");
    }
    access.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_have_a_stable_shape() {
        let message = Message::Revoked {
            user_id: UserId::from("bob"),
            project_id: ProjectId::from(uuid::Uuid::nil()),
        };
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"type": "revoked", "user_id": "bob", "project_id": "00000000-0000-0000-0000-000000000000"})
        );
    }

    #[tokio::test]
    async fn a_holder_reads_what_it_is_told_and_one_that_stops_reading_is_ended() {
        let mailbox = Arc::new(Mailbox::default());
        let holder = Holder {
            mailbox: mailbox.clone(),
            ended: CancellationToken::new(),
        };
        let mut controls = Controls(mailbox);
        let waiting = tokio::spawn(async move { controls.recv().await.map(|c| (c, controls)) });
        tokio::task::yield_now().await;
        holder.tell(Control::Recheck);
        let (first, mut controls) = waiting.await.expect("joined").expect("woken");
        assert_eq!(first, Control::Recheck);
        let project = ProjectId::from(uuid::Uuid::nil());
        for _ in 0..HOLDER_QUEUE {
            holder.tell(Control::Revoked(project));
        }
        assert!(!holder.ended.is_cancelled());
        holder.tell(Control::Recheck);
        assert!(
            holder.ended.is_cancelled(),
            "one past the queue ends the holder"
        );
        assert_eq!(controls.recv().await, Some(Control::Revoked(project)));
    }
}
