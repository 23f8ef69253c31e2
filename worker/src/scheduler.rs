//! The scheduler: one leader at a time (a Postgres advisory lock held on a connection of
//! its own; any worker process can be it, and another takes over when it dies). Each
//! tick it reclaims expired leases, dispatches due jobs that were never dispatched
//! (delayed, retried, released), and fires the cron table; every safety interval it
//! also re-dispatches due jobs that have waited too long (Redis may have lost them).

use crate::WorkerError;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use store::dispatch::Dispatch;
use store::jobs::lifecycle::{self, NewJob};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The advisory lock key of the scheduler's leadership ("draftsch" in ASCII).
const LEADER_LOCK: i64 = 0x6472_6166_7473_6368;

/// When a cron entry fires. Each firing belongs to a time bucket, and the bucket is in
/// the job's idempotency key, so two schedulers (or a restart) enqueue it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Once per interval, aligned to the Unix epoch.
    Every(Duration),
    /// Once a day, at or after this time (UTC).
    Daily { hour: u32, minute: u32 },
}

impl Schedule {
    /// The bucket `now` falls in.
    pub fn bucket(self, now: DateTime<Utc>) -> String {
        match self {
            Schedule::Every(every) => {
                let every = every.as_millis().max(1) as i64;
                (now.timestamp_millis().div_euclid(every)).to_string()
            }
            Schedule::Daily { hour, minute } => {
                let at = now.date_naive().and_hms_opt(hour, minute, 0);
                let day = match at {
                    Some(at) if now.naive_utc() >= at => now.date_naive(),
                    _ => now.date_naive() - chrono::Days::new(1),
                };
                day.to_string()
            }
        }
    }
}

/// One line of the cron table.
#[derive(Clone, Debug)]
pub struct CronEntry {
    pub name: String,
    pub kind: String,
    pub schedule: Schedule,
    pub payload: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// How often the leader sweeps (reclaim, dispatch, cron).
    pub tick: Duration,
    /// How often due jobs that have waited since their dispatch are re-sent (docs/protocol.md
    /// section 9.3, the every-30-s safety drain).
    pub safety_every: Duration,
    /// A dispatched job still queued after this long is presumed lost by Redis.
    pub stale: Duration,
    /// Most jobs each sweep moves per tick, so one tick stays short.
    pub cap: i64,
    /// Pauses before retries of reclaimed jobs.
    pub backoff: Vec<Duration>,
    /// How often a follower tries to become the leader.
    pub election_every: Duration,
    pub cron: Vec<CronEntry>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            safety_every: Duration::from_secs(30),
            stale: Duration::from_secs(30),
            cap: 1_000,
            backoff: vec![
                Duration::from_secs(2),
                Duration::from_secs(8),
                Duration::from_secs(30),
            ],
            election_every: Duration::from_secs(2),
            cron: vec![
                CronEntry {
                    name: "prune".into(),
                    kind: crate::handlers::prune::KIND.into(),
                    schedule: Schedule::Every(Duration::from_secs(3600)),
                    payload: serde_json::json!({}),
                },
                // Nightly, at a quiet hour in most of Europe and the Americas.
                CronEntry {
                    name: "transcript-check".into(),
                    kind: crate::handlers::transcript_check::KIND.into(),
                    schedule: Schedule::Daily { hour: 3, minute: 0 },
                    payload: serde_json::json!({}),
                },
            ],
        }
    }
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    store: Store,
    dispatch: Dispatch,
    config: SchedulerConfig,
    /// The bucket each cron entry last fired in (or found already fired), so a tick
    /// touches the database for an entry only when its bucket turns. The idempotency key
    /// still decides: this only saves the attempt.
    fired: Arc<Mutex<HashMap<String, String>>>,
    /// The (status, kind) pairs the depth gauge has reported, so one that empties is
    /// set back to zero instead of keeping its last value.
    reported: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
}

/// Queued and running jobs by `status` and `kind`, refreshed by the leading scheduler
/// every tick.
pub const QUEUE_DEPTH: &str = "draftline_job_queue_depth";

impl Scheduler {
    pub fn new(store: Store, dispatch: Dispatch, config: SchedulerConfig) -> Self {
        Self {
            store,
            dispatch,
            config,
            fired: Arc::default(),
            reported: Arc::default(),
        }
    }

    /// Takes part in the election until `shutdown`; leads while elected.
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("scheduler");
        async move {
            while !shutdown.is_cancelled() {
                if let Err(e) = self.lead(&shutdown).await {
                    tracing::warn!(error = %e, "scheduler lost its footing; re-electing");
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.config.election_every) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Waits to be elected, then sweeps until shutdown or an error.
    async fn lead(&self, shutdown: &CancellationToken) -> Result<(), WorkerError> {
        // Detached: the lock must die with its connection, never go back to the pool
        // held (a leader whose task ended would block every other scheduler).
        let mut lock = self.store.acquire().await?.detach();
        loop {
            let elected: bool = sqlx_try_lock(&mut lock).await?;
            if elected {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.election_every) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
        }
        tracing::info!("leading");
        let mut last_safety: Option<Instant> = None;
        let result = loop {
            if let Err(e) = self.tick(&mut last_safety).await {
                break Err(e);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = shutdown.cancelled() => break Ok(()),
            }
            // The lock lives as long as its connection: if that is gone, so is the lead.
            if let Err(e) = store::jobs::lifecycle::still_connected(&mut lock).await {
                break Err(e.into());
            }
        };
        let _ = store::jobs::lifecycle::unlock(&mut lock, LEADER_LOCK).await;
        result
    }

    fn report_depth(&self, depth: &[store::jobs::Depth]) {
        let Ok(mut reported) = self.reported.lock() else {
            return;
        };
        let now: std::collections::HashSet<(String, String)> = depth
            .iter()
            .map(|d| (d.status.clone(), d.kind.clone()))
            .collect();
        for (status, kind) in reported.difference(&now) {
            metrics::gauge!(QUEUE_DEPTH, "status" => status.clone(), "kind" => kind.clone())
                .set(0.0);
        }
        for d in depth {
            metrics::gauge!(QUEUE_DEPTH, "status" => d.status.clone(), "kind" => d.kind.clone())
                .set(d.count as f64);
        }
        reported.extend(now);
    }

    /// One sweep.
    pub async fn tick(&self, last_safety: &mut Option<Instant>) -> Result<(), WorkerError> {
        let cap = self.config.cap;
        let mut conn = self.store.acquire().await?;
        let reclaimed = lifecycle::reclaim_expired(&mut conn, &self.config.backoff, cap).await?;
        metrics::counter!("draftline_jobs_reclaimed_total").increment(reclaimed.len() as u64);
        for job in &reclaimed {
            tracing::warn!(job_id = %job.id, kind = %job.kind, status = ?job.status, "reclaimed an expired lease");
        }

        let mut due = lifecycle::due(&mut conn, None, cap).await?;
        let safety_due = last_safety.is_none_or(|at| at.elapsed() >= self.config.safety_every);
        if safety_due {
            *last_safety = Some(Instant::now());
            let stale = lifecycle::due(&mut conn, Some(self.config.stale), cap).await?;
            if !stale.is_empty() {
                tracing::info!(
                    jobs = stale.len(),
                    "re-dispatching jobs that waited past their dispatch"
                );
            }
            due.extend(stale);
        }
        let depth = store::jobs::active_depth(&mut conn).await?;
        self.report_depth(&depth);

        let now = Utc::now();
        for entry in &self.config.cron {
            let bucket = entry.schedule.bucket(now);
            let seen = self
                .fired
                .lock()
                .map(|fired| fired.get(&entry.name) == Some(&bucket))
                .unwrap_or(false);
            if seen {
                continue;
            }
            let mut job = NewJob::new(entry.kind.clone(), entry.payload.clone());
            job.idempotency_key = Some(format!("cron:{}:{bucket}", entry.name));
            let enqueued = lifecycle::enqueue(&mut conn, &job).await?;
            if let Ok(mut fired) = self.fired.lock() {
                fired.insert(entry.name.clone(), bucket);
            }
            if enqueued.created {
                tracing::info!(cron = %entry.name, job_id = %enqueued.job.id, "cron fired");
                due.push(lifecycle::Dispatchable {
                    id: enqueued.job.id,
                    queue: enqueued.job.queue,
                });
            }
        }
        drop(conn);
        if !due.is_empty() {
            let sent = async {
                for queue in due
                    .iter()
                    .map(|d| d.queue.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    self.dispatch.ensure_group(queue).await?;
                }
                self.dispatch.send(&due).await
            }
            .await;
            if let Err(e) = sent {
                // `due` marked them dispatched: unmarked, the next tick sends them again
                // (once Redis is back) instead of the safety sweep `stale` later.
                let ids: Vec<protocol::JobId> = due.iter().map(|d| d.id).collect();
                let mut conn = self.store.acquire().await?;
                lifecycle::undispatch(&mut conn, &ids).await?;
                return Err(e.into());
            }
        }
        Ok(())
    }
}

async fn sqlx_try_lock(conn: &mut store::PgConnection) -> Result<bool, WorkerError> {
    Ok(store::jobs::lifecycle::try_lock(conn, LEADER_LOCK).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_change_once_per_interval() {
        let every = Schedule::Every(Duration::from_secs(60));
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(
            every.bucket(t("2026-01-01T00:00:10Z")),
            every.bucket(t("2026-01-01T00:00:59Z"))
        );
        assert_ne!(
            every.bucket(t("2026-01-01T00:00:59Z")),
            every.bucket(t("2026-01-01T00:01:00Z"))
        );
        let nightly = Schedule::Daily { hour: 3, minute: 0 };
        assert_eq!(nightly.bucket(t("2026-01-02T02:59:00Z")), "2026-01-01");
        assert_eq!(nightly.bucket(t("2026-01-02T03:00:00Z")), "2026-01-02");
    }
}
