//! Job dispatch through Redis: one stream per queue with the consumer group `workers`.
//! An entry carries only a job id; the worker claims the job in Postgres, so a
//! duplicate or stale entry is harmless, and a lost one is re-sent from Postgres by the
//! scheduler. Keys carry a hash tag per queue so a Redis Cluster keeps each stream whole.

use crate::jobs::lifecycle::Dispatchable;
use protocol::JobId;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// The consumer group every worker joins.
pub const GROUP: &str = "workers";

/// Entries kept per stream (approximately). Acknowledged entries are never read again;
/// the cap only bounds memory, far above any backlog a queue should hold.
const STREAM_MAXLEN: usize = 1_000_000;

/// Puts job ids on their queues' streams.
#[derive(Clone)]
pub struct Dispatch {
    redis: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// One stream entry read by a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub queue: String,
    pub entry_id: String,
    /// `None` for an entry that does not hold a job id (it is acknowledged and skipped).
    pub job: Option<JobId>,
}

impl Dispatch {
    pub fn new(redis: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
        }
    }

    /// The topics on the same Redis and key prefix (workers publish job events there).
    pub fn topics(&self, retention: crate::topics::Retention) -> crate::topics::Topics {
        crate::topics::Topics::new(self.redis.clone(), self.prefix.clone(), retention)
    }

    /// The stream of `queue`.
    pub fn stream_key(&self, queue: &str) -> String {
        format!("{}jobs:{{{queue}}}", self.prefix)
    }

    /// The hash where workers report themselves (`worker id → last seen, unix ms`).
    pub fn workers_key(&self) -> String {
        format!("{}workers", self.prefix)
    }

    /// XADDs each job on its queue's stream, in one round trip.
    pub async fn send(&self, jobs: &[Dispatchable]) -> Result<(), redis::RedisError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.cmd("XADD")
                .arg(self.stream_key(&job.queue))
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAXLEN)
                .arg("*")
                .arg("job")
                .arg(job.id.to_string())
                .ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async::<()>(&mut redis).await
    }

    /// Creates the queue's stream and consumer group if missing (reading from the start,
    /// so entries added before the group existed are not skipped).
    pub async fn ensure_group(&self, queue: &str) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let created: Result<(), _> = redis
            .xgroup_create_mkstream(self.stream_key(queue), GROUP, "0")
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Acknowledges entries of one queue.
    pub async fn ack(&self, queue: &str, entry_ids: &[String]) -> Result<(), redis::RedisError> {
        if entry_ids.is_empty() {
            return Ok(());
        }
        let mut redis = self.redis.clone();
        redis
            .xack::<_, _, _, ()>(self.stream_key(queue), GROUP, entry_ids)
            .await
    }

    /// Entries of the queue idle (read but not acknowledged) for at least `min_idle`:
    /// their reader died. Takes them over for `consumer`.
    pub async fn autoclaim(
        &self,
        queue: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Entry>, redis::RedisError> {
        let mut redis = self.redis.clone();
        let reply: StreamAutoClaimReply = redis
            .xautoclaim_options(
                self.stream_key(queue),
                GROUP,
                consumer,
                min_idle.as_millis() as u64,
                "0-0",
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok(reply.claimed.iter().map(|e| entry(queue, e)).collect())
    }

    /// Gives back what was delivered to `consumer` and never acknowledged (a read cut
    /// short by shutdown): re-sends those job ids for other workers, acknowledges the old
    /// entries and removes the consumer. Answers how many were handed back.
    pub async fn hand_back(&self, queue: &str, consumer: &str) -> Result<usize, redis::RedisError> {
        let key = self.stream_key(queue);
        let mut redis = self.redis.clone();
        let options = StreamReadOptions::default()
            .group(GROUP, consumer)
            .count(10_000);
        // Reading from id 0 (not `>`) answers this consumer's own pending entries.
        let reply: Option<StreamReadReply> = redis.xread_options(&[&key], &["0"], &options).await?;
        let pending: Vec<Entry> = reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .iter()
            .flat_map(|k| k.ids.iter().map(|e| entry(queue, e)))
            .collect();
        let jobs: Vec<Dispatchable> = pending
            .iter()
            .filter_map(|e| e.job)
            .map(|id| Dispatchable {
                id,
                queue: queue.to_owned(),
            })
            .collect();
        self.send(&jobs).await?;
        let ids: Vec<String> = pending.iter().map(|e| e.entry_id.clone()).collect();
        self.ack(queue, &ids).await?;
        redis::cmd("XGROUP")
            .arg("DELCONSUMER")
            .arg(&key)
            .arg(GROUP)
            .arg(consumer)
            .query_async::<()>(&mut redis)
            .await?;
        Ok(jobs.len())
    }

    /// Records that `worker` is alive (for admin stats).
    pub async fn report_worker(&self, worker: &str) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let now = chrono::Utc::now().timestamp_millis();
        redis
            .hset::<_, _, _, ()>(self.workers_key(), worker, now)
            .await
    }

    /// Forgets a worker that stopped.
    pub async fn forget_worker(&self, worker: &str) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        redis.hdel::<_, _, ()>(self.workers_key(), worker).await
    }

    /// Workers seen within `within`, with when they were last seen (unix ms).
    pub async fn workers(
        &self,
        within: Duration,
    ) -> Result<BTreeMap<String, i64>, redis::RedisError> {
        let mut redis = self.redis.clone();
        let all: BTreeMap<String, i64> = redis.hgetall(self.workers_key()).await?;
        let since = chrono::Utc::now().timestamp_millis() - within.as_millis() as i64;
        Ok(all.into_iter().filter(|(_, at)| *at >= since).collect())
    }

    /// Whether the queue's stream exists (it does not after Redis lost its data).
    pub async fn stream_exists(&self, queue: &str) -> Result<bool, redis::RedisError> {
        let mut redis = self.redis.clone();
        redis.exists(self.stream_key(queue)).await
    }
}

fn entry(queue: &str, e: &StreamId) -> Entry {
    let job = e
        .get::<String>("job")
        .and_then(|id| id.parse::<JobId>().ok());
    Entry {
        queue: queue.to_owned(),
        entry_id: e.id.clone(),
        job,
    }
}

/// Reads new entries for `consumer` from the queues' streams, waiting up to `block`.
/// Blocking ties up the connection, so it takes one of its own, not the shared manager.
pub async fn read(
    conn: &mut MultiplexedConnection,
    dispatch: &Dispatch,
    queues: &[String],
    consumer: &str,
    count: usize,
    block: Duration,
) -> Result<Vec<Entry>, redis::RedisError> {
    let keys: Vec<String> = queues.iter().map(|q| dispatch.stream_key(q)).collect();
    let ids: Vec<&str> = queues.iter().map(|_| ">").collect();
    let options = StreamReadOptions::default()
        .group(GROUP, consumer)
        .count(count)
        .block(block.as_millis() as usize);
    let reply: Option<StreamReadReply> = conn.xread_options(&keys, &ids, &options).await?;
    let mut entries = Vec::new();
    for stream in reply.map(|r| r.keys).unwrap_or_default() {
        let queue = queues
            .iter()
            .find(|q| dispatch.stream_key(q) == stream.key)
            .cloned()
            .unwrap_or_default();
        entries.extend(stream.ids.iter().map(|e| entry(&queue, e)));
    }
    Ok(entries)
}
