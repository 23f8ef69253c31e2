//! The worker's configuration, read with the rest of the process's flags.

use std::time::Duration;

#[derive(Clone, clap::Args)]
pub struct WorkerConfig {
    /// Jobs one worker runs at once (`draftline worker --concurrency`, `draftline serve
    /// --workers`).
    #[arg(skip = 8_usize)]
    pub concurrency: usize,

    /// Queues this worker takes jobs from.
    #[arg(
        long = "queue",
        env = "DRAFTLINE_WORKER_QUEUES",
        value_delimiter = ',',
        default_value = "default"
    )]
    pub queues: Vec<String>,

    /// How long a claimed job stays leased without a heartbeat (docs/protocol.md section 10.3: 30 s).
    #[arg(long, env = "DRAFTLINE_LEASE_MS", default_value_t = 30_000)]
    pub lease_ms: u64,

    /// How often leases are extended (docs/protocol.md section 10.3: every 10 s, a third of the lease).
    #[arg(long, env = "DRAFTLINE_JOB_HEARTBEAT_MS", default_value_t = 10_000)]
    pub job_heartbeat_ms: u64,

    /// On SIGTERM, how long in-flight jobs may finish before they are put back.
    #[arg(long, env = "DRAFTLINE_DRAIN_TIMEOUT_MS", default_value_t = 30_000)]
    pub drain_timeout_ms: u64,

    /// Pauses before retries 1, 2, 3, ... (the last repeats), before ±20% jitter
    /// (docs/protocol.md section 10.3: 2 s, 8 s, 30 s).
    #[arg(
        long,
        env = "DRAFTLINE_RETRY_BACKOFF_MS",
        value_delimiter = ',',
        default_value = "2000,8000,30000"
    )]
    pub backoff_ms: Vec<u64>,

    /// Days finished jobs and job events are kept before the hourly prune deletes them.
    #[arg(long, env = "DRAFTLINE_JOB_RETENTION_DAYS", default_value_t = 7)]
    pub retention_days: u64,

    /// Entries read from Redis per round trip (at most the free capacity).
    #[arg(long, env = "DRAFTLINE_WORKER_READ_BATCH", default_value_t = 256)]
    pub read_batch: usize,

    /// Which model drafts and writes chat replies.
    #[command(flatten)]
    pub model: crate::draft::ModelConfig,

    /// Where an alert is POSTed (Slack-compatible JSON) when a draft's last attempt fails.
    #[arg(long, env = "DRAFTLINE_ALERT_WEBHOOK")]
    pub alert_webhook: Option<String>,

    /// Longest a streamed draft's text waits before it is published as a `draft.delta`
    /// (docs/protocol.md section 10.3: 250 ms).
    #[arg(long, env = "DRAFTLINE_DELTA_INTERVAL_MS", default_value_t = 250)]
    pub delta_interval_ms: u64,

    /// Characters that make a `draft.delta` batch go out at once (docs/protocol.md section 10.3: 500).
    #[arg(long, env = "DRAFTLINE_DELTA_CHARS", default_value_t = 500)]
    pub delta_chars: usize,
}

/// By hand, so the alert webhook's URL (its credential) and the model's key stay out
/// of logs.
impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("concurrency", &self.concurrency)
            .field("queues", &self.queues)
            .field("lease_ms", &self.lease_ms)
            .field("job_heartbeat_ms", &self.job_heartbeat_ms)
            .field("drain_timeout_ms", &self.drain_timeout_ms)
            .field("backoff_ms", &self.backoff_ms)
            .field("retention_days", &self.retention_days)
            .field("read_batch", &self.read_batch)
            .field("model", &self.model)
            .field(
                "alert_webhook",
                &self.alert_webhook.as_ref().map(|_| "<redacted>"),
            )
            .field("delta_interval_ms", &self.delta_interval_ms)
            .field("delta_chars", &self.delta_chars)
            .finish()
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            queues: vec![store::jobs::lifecycle::DEFAULT_QUEUE.to_owned()],
            lease_ms: 30_000,
            job_heartbeat_ms: 10_000,
            drain_timeout_ms: 30_000,
            backoff_ms: vec![2_000, 8_000, 30_000],
            retention_days: 7,
            read_batch: 256,
            model: crate::draft::ModelConfig::default(),
            alert_webhook: None,
            delta_interval_ms: 250,
            delta_chars: 500,
        }
    }
}

impl WorkerConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.job_heartbeat_ms.max(1))
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_days * 24 * 3600)
    }

    pub fn backoff(&self) -> Vec<Duration> {
        self.backoff_ms
            .iter()
            .copied()
            .map(Duration::from_millis)
            .collect()
    }

    /// The pause after attempt `attempt` (1-based), with ±20% jitter so retries of many
    /// jobs that failed together do not arrive together.
    pub fn retry_delay(&self, attempt: i32) -> Duration {
        let backoff = self.backoff();
        let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
        let base = backoff
            .get(index)
            .or(backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(2));
        base.mul_f64(0.8 + rand::random::<f64>() * 0.4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_in_debug_output() {
        let mut config = WorkerConfig {
            alert_webhook: Some("https://hooks.slack.com/services/T0/B0/secret".into()),
            ..WorkerConfig::default()
        };
        config.model.openai_api_key = Some("sk-live-abc".into());
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("sk-live-abc"),
            "{shown}"
        );
    }

    #[test]
    fn retry_delays_follow_the_backoff_with_jitter() {
        let config = WorkerConfig::default();
        for (attempt, base) in [(1, 2_000.0), (2, 8_000.0), (3, 30_000.0), (7, 30_000.0)] {
            let ms = config.retry_delay(attempt).as_secs_f64() * 1000.0;
            assert!(
                ms >= base * 0.8 && ms <= base * 1.2,
                "attempt {attempt}: {ms}"
            );
        }
    }
}
