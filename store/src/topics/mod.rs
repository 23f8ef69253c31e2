//! Topics in Redis (ARCHITECTURE.md "store/", docs/protocol.md section 5): each topic has a history
//! (a capped stream of `event` frames), a meta hash `{epoch, offset}` and a channel.
//! Publishing numbers an event, stores it and PUBLISHes it in one Lua script; a
//! subscriber reads what it missed from the history by offset. Everything here can be
//! lost: a topic whose meta hash is gone starts a new epoch, and clients resync.

mod lua;
pub mod presence;

use lua::SCRIPTS;
use protocol::client::Position;
use protocol::event::Event;
use protocol::frames::{EventFrameParts, event_frame_parts};
use protocol::{ErrorBody, ErrorCode};
use redis::aio::ConnectionManager;
use std::time::Duration;

/// How much history a topic keeps (docs/protocol.md section 5.3: at least the last 1,000
/// events or 10 minutes, whichever is more) and how long a silent topic lives.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub min_events: u64,
    pub min_age: Duration,
    /// A topic with no event for this long is dropped whole; its next subscriber with a
    /// position gets `recovered: false` (docs/protocol.md section 5.3). Bounds Redis memory by
    /// the active topics instead of every topic ever used.
    pub idle_ttl: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            min_events: 1_000,
            min_age: Duration::from_secs(600),
            idle_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("encode: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("unexpected reply: {0}")]
    Reply(String),
}

impl From<BusError> for ErrorBody {
    fn from(e: BusError) -> Self {
        tracing::warn!(error = %e, "event bus unavailable");
        ErrorBody::new(
            ErrorCode::Unavailable,
            "the event bus is unavailable, try again",
        )
    }
}

/// One stored event: its offset, kind and whole `event` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub offset: u64,
    pub kind: String,
    pub frame: String,
}

/// What a subscriber with a position gets back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    /// The topic's position now.
    pub position: Position,
    /// Whether `events` are every event after the given position.
    pub recovered: bool,
    pub events: Vec<Stored>,
}

/// A live publication as received on a topic's channel: `"{offset} {epoch} {kind}\n{frame}"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live<'a> {
    pub offset: u64,
    pub epoch: &'a str,
    pub kind: &'a str,
    pub frame: &'a str,
}

impl<'a> Live<'a> {
    pub fn parse(payload: &'a str) -> Option<Self> {
        let (header, frame) = payload.split_once('\n')?;
        let mut parts = header.splitn(3, ' ');
        let offset = parts.next()?.parse().ok()?;
        let epoch = parts.next()?;
        let kind = parts.next()?;
        Some(Live {
            offset,
            epoch,
            kind,
            frame,
        })
    }
}

/// Publishes to and reads from topics. Cheap to clone.
#[derive(Clone)]
pub struct Topics {
    redis: ConnectionManager,
    prefix: String,
    retention: Retention,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .finish()
    }
}

/// Events published by this process, by `kind` (hub and worker alike).
pub const EVENTS_PUBLISHED: &str = "draftline_events_published_total";

/// Counts one event that reached its topic.
fn count_published(kind: &str) {
    metrics::counter!(EVENTS_PUBLISHED, "kind" => kind.to_owned()).increment(1);
}

/// A fresh epoch: random, hex (it is spliced into frames unescaped).
fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Topics {
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>, retention: Retention) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            retention,
        }
    }

    /// The channel a topic's events are PUBLISHed on.
    pub fn channel(&self, topic: &str) -> String {
        format!("{}topic:{topic}", self.prefix)
    }

    /// The topic a channel belongs to.
    pub fn topic_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(&self.prefix)?.strip_prefix("topic:")
    }

    /// The keys of a topic, sharing the hash tag `{topic}`: meta, log, times.
    fn keys(&self, topic: &str) -> [String; 3] {
        let base = format!("{}topic:{{{topic}}}", self.prefix);
        [
            format!("{base}:meta"),
            format!("{base}:log"),
            format!("{base}:times"),
        ]
    }

    fn ttl_ms(&self) -> u64 {
        millis(self.retention.idle_ttl)
    }

    /// Appends `event` to `topic` and publishes it; answers its position. Every path that
    /// puts an event on a topic (this, [`Topics::publish_project`], the outbox through
    /// [`Topics::publish_once`]) counts it in [`EVENTS_PUBLISHED`], hub and worker alike.
    pub async fn publish(&self, topic: &str, event: &Event) -> Result<Position, BusError> {
        let parts = event_frame_parts(topic, event)?;
        let mut invocation = SCRIPTS.publish.prepare_invoke();
        for key in self.keys(topic) {
            invocation.key(key);
        }
        self.publish_args(&mut invocation, topic, &parts);
        let (epoch, offset): (String, u64) =
            invocation.invoke_async(&mut self.redis.clone()).await?;
        count_published(parts.kind);
        Ok(Position { epoch, offset })
    }

    /// Publishes one outbox row on its topic unless the topic already took it (the
    /// meta hash records the last row applied per project); answers the row's position
    /// when this call published it, `None` when the topic had already taken it.
    pub async fn publish_once(
        &self,
        topic: &str,
        project: protocol::ProjectId,
        row_id: i64,
        (kind, head, tail): (&str, &str, &str),
    ) -> Result<Option<Position>, BusError> {
        let mut invocation = SCRIPTS.publish_once.prepare_invoke();
        for key in self.keys(topic) {
            invocation.key(key);
        }
        invocation
            .arg(new_epoch())
            .arg(head)
            .arg(tail)
            .arg(kind)
            .arg(self.channel(topic))
            .arg(self.retention.min_events)
            .arg(millis(self.retention.min_age))
            .arg(self.ttl_ms())
            .arg(format!("ob:{project}"))
            .arg(row_id);
        let (epoch, offset, published): (Option<String>, Option<u64>, i64) =
            invocation.invoke_async(&mut self.redis.clone()).await?;
        if published != 1 {
            return Ok(None);
        }
        match (epoch, offset) {
            (Some(epoch), Some(offset)) => {
                count_published(kind);
                Ok(Some(Position { epoch, offset }))
            }
            _ => Err(BusError::Reply(
                "the publish script answered no position".into(),
            )),
        }
    }

    /// The eight arguments every appending script starts with.
    fn publish_args(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        topic: &str,
        parts: &EventFrameParts,
    ) {
        invocation
            .arg(new_epoch())
            .arg(&parts.head)
            .arg(&parts.tail)
            .arg(parts.kind)
            .arg(self.channel(topic))
            .arg(self.retention.min_events)
            .arg(millis(self.retention.min_age))
            .arg(self.ttl_ms());
    }

    /// Publishes events on `project`'s topic directly, in order: previews that are not
    /// changes (`job.status` and `tool.progress` running, a failed draft's progress);
    /// the events of changes go through [`crate::outbox`] instead. An event that also
    /// belongs on a session's topic ([`Event::session_copy`]) goes there too. A failed
    /// publish is logged, never returned (clients resync with `snapshot`). Answers each
    /// event's kind and whether its project publish succeeded.
    pub async fn publish_project(
        &self,
        project: protocol::ProjectId,
        events: &[Event],
    ) -> Vec<(&'static str, bool)> {
        let topic = protocol::event::project_topic(project);
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            let session = event.session_copy();
            if let Some(session) = session
                && let Err(e) = self
                    .publish(&protocol::event::session_topic(session), event)
                    .await
            {
                tracing::warn!(%session, kind = event.kind(), error = %e, "event not published to the session");
            }
            let published = self.publish(&topic, event).await;
            if let Err(e) = &published {
                tracing::warn!(%project, kind = event.kind(), error = %e, "event not published");
            }
            outcomes.push((event.kind(), published.is_ok()));
        }
        outcomes
    }

    /// The topic's current position (starting an epoch when it has none), for
    /// `snapshot`: read before the state, so a client continuing from it misses nothing.
    pub async fn position(&self, topic: &str) -> Result<Position, BusError> {
        let mut invocation = SCRIPTS.position.prepare_invoke();
        for key in self.keys(topic) {
            invocation.key(key);
        }
        invocation.arg(new_epoch()).arg(self.ttl_ms());
        let (epoch, offset): (String, u64) =
            invocation.invoke_async(&mut self.redis.clone()).await?;
        Ok(Position { epoch, offset })
    }

    /// Every event after `since`, when the history still holds them all (at most `max`).
    pub async fn since(
        &self,
        topic: &str,
        since: &Position,
        max: u64,
    ) -> Result<History, BusError> {
        let mut invocation = SCRIPTS.since.prepare_invoke();
        for key in self.keys(topic) {
            invocation.key(key);
        }
        invocation
            .arg(new_epoch())
            .arg(self.ttl_ms())
            .arg(&since.epoch)
            .arg(since.offset)
            .arg(max);
        let reply: Vec<redis::Value> = invocation.invoke_async(&mut self.redis.clone()).await?;
        parse_history(since.offset, reply)
    }
}

fn text(value: &redis::Value) -> Result<String, BusError> {
    redis::from_redis_value_ref(value).map_err(|e| BusError::Reply(e.to_string()))
}

fn parse_history(since: u64, reply: Vec<redis::Value>) -> Result<History, BusError> {
    let [epoch, top, recovered, rest @ ..] = reply.as_slice() else {
        return Err(BusError::Reply("short history reply".into()));
    };
    let epoch = text(epoch)?;
    let top: u64 = redis::from_redis_value_ref(top).map_err(|e| BusError::Reply(e.to_string()))?;
    let recovered: i64 =
        redis::from_redis_value_ref(recovered).map_err(|e| BusError::Reply(e.to_string()))?;
    let mut events = Vec::with_capacity(rest.len() / 2);
    for (i, pair) in rest.chunks_exact(2).enumerate() {
        events.push(Stored {
            offset: since + 1 + i as u64,
            kind: text(&pair[0])?,
            frame: text(&pair[1])?,
        });
    }
    Ok(History {
        position: Position { epoch, offset: top },
        recovered: recovered == 1,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_payloads_parse() {
        let live = Live::parse("12 ab34 note.created\n{\"type\":\"event\"}").unwrap_or_else(|| {
            panic!("no parse");
        });
        assert_eq!(live.offset, 12);
        assert_eq!(live.epoch, "ab34");
        assert_eq!(live.kind, "note.created");
        assert_eq!(live.frame, "{\"type\":\"event\"}");
        assert!(Live::parse("12 ab34").is_none());
        assert!(Live::parse("x ab34 k\n{}").is_none());
    }
}
