//! This node's side of the topics: which local subscribers (WebSocket connections, SSE
//! streams) listen to which topic, and the delivery of each publication to all of them.
//! The node holds one Redis subscriber connection ([`listener`]) and subscribes to a
//! topic's channel while the topic has local subscribers. A publication is parsed once
//! per node and its frame shared by every subscriber; delivery never waits: a
//! subscriber whose queue is full is dropped (and disconnected with 4008).
//!
//! A new subscriber first buffers live publications, then reads the history (or the
//! position) from Redis, then, under the registry lock, gets its reply and the buffered
//! publications past what the history held. From then on it is given only publications
//! past its start, whichever way they come (buffered, live, recovered after a gap): the
//! node's listener may still hold publications Redis numbered before the subscriber's
//! start was read. No gap and no duplicate, even while events are published during the
//! subscribe.

pub mod listener;

use axum::extract::ws::Utf8Bytes;
use protocol::client::Position;
use protocol::event::Topic;
use protocol::{ErrorBody, ErrorCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::topics::{Stored, Topics};
use tokio::sync::{Notify, oneshot};

/// One event as this node received it.
#[derive(Debug)]
pub struct Publication {
    pub epoch: Arc<str>,
    pub offset: u64,
    pub kind: String,
    /// The whole `event` frame, shared by every subscriber.
    pub frame: Utf8Bytes,
}

impl Publication {
    pub fn from_stored(epoch: &Arc<str>, stored: Stored) -> Arc<Self> {
        Arc::new(Self {
            epoch: epoch.clone(),
            offset: stored.offset,
            kind: stored.kind,
            frame: stored.frame.into(),
        })
    }
}

/// Where a subscriber's publications go.
pub trait Sink: Send + Sync {
    /// Queues one publication without waiting; `false` when the subscriber is gone or
    /// too far behind (it has been told to go), and it is dropped.
    fn deliver(&self, publication: &Arc<Publication>) -> bool;
}

/// What a new subscriber starts from.
#[derive(Debug)]
pub struct Start {
    /// The topic's position when the history was read.
    pub position: Position,
    /// Whether `events` are every event after the position asked for.
    pub recovered: bool,
    pub events: Vec<Stored>,
}

struct Sub {
    sink: Arc<dyn Sink>,
    /// Live publications that arrived while the history was being read.
    pending: Option<Vec<Arc<Publication>>>,
    /// Where this subscriber started (its reply's position), until a publication past it
    /// was delivered. The node's listener can still hold publications Redis numbered
    /// before the subscriber read its start: they reach the registry after the
    /// subscriber left its buffering phase, and must not be delivered to it again.
    floor: Option<(Arc<str>, u64)>,
}

impl Sub {
    /// Queues `publication` unless this subscriber's start already covers it; `false`
    /// when the subscriber must be dropped.
    fn offer(&mut self, publication: &Arc<Publication>) -> bool {
        if let Some((epoch, offset)) = &self.floor {
            if **epoch == *publication.epoch && publication.offset <= *offset {
                return true;
            }
            self.floor = None;
        }
        self.sink.deliver(publication)
    }
}

#[derive(Default)]
struct TopicState {
    subs: HashMap<u64, Sub>,
    /// Whether the node's Redis connection is subscribed to the channel.
    active: bool,
    /// Subscribers waiting for `active`.
    waiters: Vec<oneshot::Sender<()>>,
    /// The last publication delivered: publications at or below it are duplicates,
    /// above it + 1 reveal a gap to fill from the history.
    last: Option<(Arc<str>, u64)>,
}

/// Limits of the fan-out.
#[derive(Clone, Copy, Debug)]
pub struct FanoutConfig {
    /// Live publications buffered for one subscriber while its history is read.
    pub max_pending: usize,
    /// Longest a subscribe waits for the node's channel subscription.
    pub subscribe_timeout: Duration,
    /// Most events one recovery replays; further behind, the client takes a snapshot.
    pub max_recover: u64,
    /// Publications the node's Redis connection may hold for the listener; beyond it
    /// they are dropped and read back from the topics' history.
    pub listener_backlog: usize,
}

struct Inner {
    topics: Mutex<HashMap<Topic, TopicState>>,
    /// Woken when the set of topics with subscribers changes.
    changed: Notify,
    bus: Topics,
    next_id: AtomicU64,
    config: FanoutConfig,
    /// Publications the listener's connection dropped because its backlog was full
    /// (each read back from history afterwards).
    dropped: AtomicU64,
}

/// The node's subscriber registry. Cheap to clone.
#[derive(Clone)]
pub struct Fanout(Arc<Inner>);

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("topics", &self.lock().len())
            .finish()
    }
}

/// A subscriber's place; leaving it (drop) unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    fanout: Fanout,
    topic: Topic,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.fanout.remove(self.topic, self.id);
        metrics::gauge!(crate::metrics::SUBSCRIBERS).decrement(1.0);
    }
}

impl Fanout {
    pub fn new(bus: Topics, config: FanoutConfig) -> Self {
        Self(Arc::new(Inner {
            topics: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            bus,
            next_id: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            config,
        }))
    }

    pub fn bus(&self) -> &Topics {
        &self.0.bus
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Topic, TopicState>> {
        self.0.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Topics with local subscribers.
    pub fn topics(&self) -> Vec<Topic> {
        self.lock().keys().copied().collect()
    }

    /// Local subscribers over all topics.
    pub fn subscribers(&self) -> usize {
        self.lock().values().map(|s| s.subs.len()).sum()
    }

    /// Subscribes `sink` to `topic`: from `since` when given (recovering what it missed
    /// when the history still holds it), else from now. `start` runs under the registry
    /// lock with where the subscriber starts, and sends its first message (the
    /// `subscribed` reply, an SSE reset); live publications follow it.
    pub async fn subscribe(
        &self,
        topic: Topic,
        sink: Arc<dyn Sink>,
        since: Option<&Position>,
        start: impl FnOnce(&Start),
    ) -> Result<Subscription, ErrorBody> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let waiter = {
            let mut topics = self.lock();
            let state = topics.entry(topic).or_default();
            state.subs.insert(
                id,
                Sub {
                    sink,
                    pending: Some(Vec::new()),
                    floor: None,
                },
            );
            if state.active {
                None
            } else {
                let (tx, rx) = oneshot::channel();
                state.waiters.push(tx);
                Some(rx)
            }
        };
        // From here on, dropping `subscription` undoes the registration.
        metrics::gauge!(crate::metrics::SUBSCRIBERS).increment(1.0);
        let subscription = Subscription {
            fanout: self.clone(),
            topic,
            id,
        };
        // Nothing is subscribed when this fails: the client may simply try again.
        let refused = |body: ErrorBody| body.with_retry_after_ms(retry_after_ms(id));
        if let Some(waiter) = waiter {
            self.0.changed.notify_one();
            match tokio::time::timeout(self.0.config.subscribe_timeout, waiter).await {
                Ok(Ok(())) => {}
                _ => {
                    return Err(refused(ErrorBody::new(
                        ErrorCode::Unavailable,
                        "the event bus is unavailable, try again",
                    )));
                }
            }
        }
        let started = match since {
            Some(since) => {
                let history = self
                    .0
                    .bus
                    .since(&topic.to_string(), since, self.0.config.max_recover)
                    .await
                    .map_err(|e| refused(e.into()))?;
                Start {
                    position: history.position,
                    recovered: history.recovered,
                    events: history.events,
                }
            }
            None => Start {
                position: self
                    .0
                    .bus
                    .position(&topic.to_string())
                    .await
                    .map_err(|e| refused(e.into()))?,
                recovered: false,
                events: Vec::new(),
            },
        };
        let mut topics = self.lock();
        let Some(sub) = topics.get_mut(&topic).and_then(|s| s.subs.get_mut(&id)) else {
            // Dropped meanwhile (its queue overflowed while buffering).
            return Err(refused(ErrorBody::new(
                ErrorCode::Unavailable,
                "subscriber dropped",
            )));
        };
        start(&started);
        let top = &started.position;
        sub.floor = Some((Arc::from(top.epoch.as_str()), top.offset));
        let buffered = sub.pending.take().unwrap_or_default();
        let mut alive = true;
        for publication in buffered {
            if !sub.offer(&publication) {
                alive = false;
                break;
            }
        }
        if !alive && let Some(state) = topics.get_mut(&topic) {
            state.subs.remove(&id);
        }
        drop(topics);
        Ok(subscription)
    }

    fn remove(&self, topic: Topic, id: u64) {
        let mut topics = self.lock();
        let Some(state) = topics.get_mut(&topic) else {
            return;
        };
        state.subs.remove(&id);
        if state.subs.is_empty() {
            topics.remove(&topic);
            drop(topics);
            self.0.changed.notify_one();
        }
    }

    /// Delivers one live publication to the topic's local subscribers, unless it is a
    /// duplicate. Answers the gap before it, `Some(last delivered)`, when publications
    /// are missing in between (the caller fills it from the history first).
    pub fn deliver(&self, topic: Topic, publication: Arc<Publication>) -> Delivery {
        let mut topics = self.lock();
        let Some(state) = topics.get_mut(&topic) else {
            return Delivery::NoSubscribers;
        };
        if let Some((epoch, last)) = &state.last
            && **epoch == *publication.epoch
        {
            if publication.offset <= *last {
                return Delivery::Duplicate;
            }
            if publication.offset > *last + 1 {
                return Delivery::Gap(Position {
                    epoch: epoch.to_string(),
                    offset: *last,
                });
            }
        }
        self.deliver_locked(state, publication);
        if state.subs.is_empty() {
            topics.remove(&topic);
            drop(topics);
            self.0.changed.notify_one();
        }
        Delivery::Delivered
    }

    /// Delivers publications recovered from the history (after a gap or a reconnect),
    /// skipping any already delivered.
    pub fn deliver_recovered(&self, topic: Topic, publications: Vec<Arc<Publication>>) {
        let mut topics = self.lock();
        let Some(state) = topics.get_mut(&topic) else {
            return;
        };
        for publication in publications {
            let seen = state.last.as_ref().is_some_and(|(epoch, last)| {
                **epoch == *publication.epoch && publication.offset <= *last
            });
            if !seen {
                self.deliver_locked(state, publication);
            }
        }
    }

    fn deliver_locked(&self, state: &mut TopicState, publication: Arc<Publication>) {
        let max_pending = self.0.config.max_pending;
        state.subs.retain(|_, sub| match &mut sub.pending {
            Some(buffer) if buffer.len() < max_pending => {
                buffer.push(publication.clone());
                true
            }
            // Too much arrived while the history was read: the subscriber is as slow as
            // one that stopped reading.
            Some(_) => false,
            None => sub.offer(&publication),
        });
        metrics::counter!(crate::metrics::EVENTS_DELIVERED).increment(state.subs.len() as u64);
        state.last = Some((publication.epoch.clone(), publication.offset));
    }

    /// Drops the topic's last position: the next publication is delivered whatever its
    /// offset.
    pub fn forget(&self, topic: Topic) {
        if let Some(state) = self.lock().get_mut(&topic) {
            state.last = None;
        }
    }

    /// The last position delivered on each topic that has one (for catching up after
    /// the node's Redis connection was lost).
    pub fn positions(&self) -> Vec<(Topic, Position)> {
        self.lock()
            .iter()
            .filter_map(|(topic, state)| {
                let (epoch, offset) = state.last.as_ref()?;
                Some((
                    *topic,
                    Position {
                        epoch: epoch.to_string(),
                        offset: *offset,
                    },
                ))
            })
            .collect()
    }

    /// Topics that want the channel subscribed, and channels no longer wanted, given
    /// the set the connection has.
    fn plan(&self, subscribed: &std::collections::HashSet<Topic>) -> Plan {
        let mut topics = self.lock();
        let mut plan = Plan::default();
        for (topic, state) in topics.iter_mut() {
            if state.active {
                continue;
            }
            if subscribed.contains(topic) {
                state.active = true;
                for waiter in state.waiters.drain(..) {
                    let _ = waiter.send(());
                }
            } else {
                plan.subscribe.push(*topic);
            }
        }
        plan.unsubscribe = subscribed
            .iter()
            .filter(|t| !topics.contains_key(*t))
            .copied()
            .collect();
        plan
    }

    /// Marks topics as subscribed on the connection and wakes their waiters.
    fn activate(&self, subscribed: &[Topic]) {
        let mut topics = self.lock();
        for topic in subscribed {
            if let Some(state) = topics.get_mut(topic) {
                state.active = true;
                for waiter in state.waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
        }
    }

    /// The connection was lost: new subscribers wait for the next one.
    fn deactivate_all(&self) {
        for state in self.lock().values_mut() {
            state.active = false;
        }
    }

    async fn changed(&self) {
        self.0.changed.notified().await
    }
}

/// How long a subscriber the event bus failed waits before it subscribes again: 0.5 to
/// 1.5 s, spread by its number, so a crowd refused together (the node's Redis
/// subscription slow under load) does not come back together.
fn retry_after_ms(id: u64) -> u64 {
    500 + id.wrapping_mul(2_654_435_761) % 1_000
}

/// What the listener must change on its connection.
#[derive(Debug, Default)]
struct Plan {
    subscribe: Vec<Topic>,
    unsubscribe: Vec<Topic>,
}

/// What became of a live publication.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    Duplicate,
    NoSubscribers,
    /// Publications after this position are missing.
    Gap(Position),
}

#[cfg(test)]
mod tests;
