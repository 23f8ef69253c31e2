//! The job queue scenarios, on Draftline's queue in this process (the worker runs in
//! the harness, so its CPU is the generator's). `jobs_peer.rs` runs the same scenarios
//! on the peers.

use crate::record::{CpuMeter, Figure, Proc, Record, Row};
use anyhow::Context;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::Store;
use store::dispatch::Dispatch;
use store::jobs::lifecycle::{self, NewJob};
use store::queue::Queue;
use tokio_util::sync::CancellationToken;
use worker::{Done, Handler, JobContext, JobError, Registry, WorkerConfig};

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// Which scenarios: bulk, single, latency (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "bulk,single,latency")]
    scenarios: Vec<String>,
    /// Jobs of the bulk scenario.
    #[arg(long, default_value_t = 50_000)]
    bulk_jobs: usize,
    /// Jobs per enqueue call in the bulk scenario.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Jobs of the single-add scenario.
    #[arg(long, default_value_t = 10_000)]
    single_jobs: usize,
    /// Enqueue calls in flight in the single-add scenario.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    /// Tries of the latency scenario.
    #[arg(long, default_value_t = 50)]
    tries: usize,
    /// Jobs the worker runs at once (and reads per round trip). No-op jobs finish at once,
    /// so this is in effect the claim batch; 1,000 matches the bulk enqueue batch.
    #[arg(long, default_value_t = 1_000)]
    concurrency: usize,
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// The processes a job scenario's CPU is read from (the worker is the generator).
pub const JOB_PROCS: [(&str, Proc); 2] = [
    ("postgres", Proc::Named("postgres")),
    ("redis", Proc::Named("redis-server")),
];

/// A row of the jobs table.
pub fn job_row(target: &str, case: &str, figures: Vec<(String, Figure)>, meter: &CpuMeter) -> Row {
    let (cpu_seconds, seconds, _) = meter.stop();
    Row {
        table: "jobs".into(),
        target: target.into(),
        case: case.into(),
        figures,
        cpu_seconds,
        seconds: crate::record::round3(seconds),
        note: String::new(),
    }
}

const KIND: &str = "bench.noop";

/// A no-op handler; for the latency scenario it also reports when each job started.
#[derive(Clone, Default)]
struct Noop {
    started: Option<tokio::sync::mpsc::UnboundedSender<(protocol::JobId, Instant)>>,
    runs: Arc<AtomicU64>,
}

impl Handler for Noop {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            if let Some(started) = &self.started {
                let _ = started.send((cx.job.id, Instant::now()));
            }
            self.runs.fetch_add(1, Ordering::Relaxed);
            Ok(Done::default())
        })
    }
}

struct Bench {
    db: testkit::Database,
    prefix: testkit::Prefix,
    queue: Queue,
    redis: redis::Client,
}

impl Bench {
    async fn new(options: &Options) -> anyhow::Result<Self> {
        let db = options
            .services
            .database()
            .await
            .context("creating the database")?;
        let store = Store::connect(&db.url, 24)
            .await
            .context("connecting to Postgres")?;
        let redis = redis::Client::open(options.services.redis_url.as_str())?;
        let manager = redis::aio::ConnectionManager::new(redis.clone())
            .await
            .context("connecting to Redis")?;
        let prefix = options.services.prefix();
        let dispatch = Dispatch::new(manager, prefix.prefix.clone());
        dispatch.ensure_group(lifecycle::DEFAULT_QUEUE).await?;
        Ok(Self {
            db,
            prefix,
            queue: Queue::new(store, dispatch),
            redis,
        })
    }

    fn start_worker(
        &self,
        concurrency: usize,
        handler: Noop,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let stop = CancellationToken::new();
        let config = WorkerConfig {
            concurrency,
            read_batch: concurrency,
            ..WorkerConfig::default()
        };
        let worker = worker::Worker::new(
            self.queue.store.clone(),
            self.queue.dispatch.clone(),
            self.redis.clone(),
            config,
            Registry::new().register(KIND, handler),
        );
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = worker.run(token).await {
                eprintln!("worker failed: {e}");
            }
        });
        (stop, handle)
    }

    async fn completed(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'completed'")
                .fetch_one(&self.queue.store.pool)
                .await?,
        )
    }

    /// Waits until `total` jobs are completed in Postgres; answers when the last one was
    /// seen. Counting rows is not free, so it first waits (cheaply) for the handler to
    /// have run `total` times, then polls the table until the last completions commit.
    async fn wait_completed(
        &self,
        handler: &Noop,
        total: i64,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + timeout;
        while (handler.runs.load(Ordering::Relaxed) as i64) < total {
            anyhow::ensure!(
                Instant::now() < deadline,
                "jobs did not run within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        loop {
            if self.completed().await? >= total {
                return Ok(Instant::now());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "jobs did not complete within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn reset(&self) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE jobs CASCADE")
            .execute(&self.queue.store.pool)
            .await?;
        Ok(())
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        self.queue.store.pool.close().await;
        self.db.drop_now().await?;
        self.prefix.clean().await?;
        Ok(())
    }
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let bench = Bench::new(&options).await?;
    let mut record = Record::new("jobs");
    println!(
        "# Draftline job queue, this machine ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let result = async {
        for scenario in &options.scenarios {
            match scenario.as_str() {
                "bulk" => record.rows.push(bulk(&bench, &options).await?),
                "single" => record.rows.push(single(&bench, &options).await?),
                "latency" => record.rows.push(latency(&bench, &options).await?),
                other => anyhow::bail!("unknown scenario `{other}`"),
            }
            bench.reset().await?;
        }
        Ok(())
    }
    .await;
    bench.drop_database().await?;
    record.write(options.json.as_deref())?;
    result
}

/// The case names the jobs table uses, shared with the peers' rows.
pub fn bulk_case(jobs: usize, batch: usize) -> String {
    format!("(a) bulk: {jobs} jobs in batches of {batch}")
}

pub fn single_case(jobs: usize, in_flight: usize) -> String {
    format!("(b) single-add: {jobs} jobs, {in_flight} calls in flight")
}

pub fn latency_case(tries: usize) -> String {
    format!("(c) enqueue to start, idle worker, {tries} tries")
}

/// (a) Bulk: batches of `batch` jobs, enqueued back to back while the worker runs.
async fn bulk(bench: &Bench, options: &Options) -> anyhow::Result<Row> {
    let meter = CpuMeter::start(&JOB_PROCS);
    let handler = Noop::default();
    let (stop, worker) = bench.start_worker(options.concurrency, handler.clone());
    let total = options.bulk_jobs;
    let started = Instant::now();
    let mut enqueued = 0;
    while enqueued < total {
        let n = options.batch.min(total - enqueued);
        let jobs: Vec<NewJob> = (0..n)
            .map(|_| NewJob::new(KIND, serde_json::Value::Null))
            .collect();
        let mut conn = bench.queue.store.acquire().await?;
        let due = lifecycle::enqueue_many(&mut conn, &jobs).await?;
        drop(conn);
        bench.queue.after_commit(&due).await;
        enqueued += n;
    }
    let enqueued_in = started.elapsed();
    let finished = bench
        .wait_completed(&handler, total as i64, Duration::from_secs(600))
        .await?;
    let elapsed = finished - started;
    stop.cancel();
    worker.await?;
    println!(
        "bulk:     {total} jobs in batches of {} -> {:.0} jobs/s end to end ({:.2} s; enqueue alone {:.2} s, {:.0} jobs/s); handler runs {}",
        options.batch,
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        enqueued_in.as_secs_f64(),
        total as f64 / enqueued_in.as_secs_f64(),
        handler.runs.load(Ordering::Relaxed),
    );
    Ok(job_row(
        "draftline",
        &bulk_case(total, options.batch),
        vec![(
            "jobs/s".into(),
            Figure::number(total as f64 / elapsed.as_secs_f64()),
        )],
        &meter,
    ))
}

/// (b) Single-add: one job per enqueue call, `in_flight` calls at once.
async fn single(bench: &Bench, options: &Options) -> anyhow::Result<Row> {
    let meter = CpuMeter::start(&JOB_PROCS);
    let handler = Noop::default();
    let (stop, worker) = bench.start_worker(options.concurrency, handler.clone());
    let total = options.single_jobs;
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..total)
        .map(|_| async {
            bench
                .queue
                .enqueue(&NewJob::new(KIND, serde_json::Value::Null))
                .await?;
            Ok(())
        })
        .buffer_unordered(options.in_flight)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let enqueued_in = started.elapsed();
    let finished = bench
        .wait_completed(&handler, total as i64, Duration::from_secs(600))
        .await?;
    let elapsed = finished - started;
    stop.cancel();
    worker.await?;
    println!(
        "single:   {total} jobs, one per call, {} in flight -> {:.0} jobs/s end to end ({:.2} s; enqueue alone {:.0} calls/s); handler runs {}",
        options.in_flight,
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / enqueued_in.as_secs_f64(),
        handler.runs.load(Ordering::Relaxed),
    );
    Ok(job_row(
        "draftline",
        &single_case(total, options.in_flight),
        vec![(
            "jobs/s".into(),
            Figure::number(total as f64 / elapsed.as_secs_f64()),
        )],
        &meter,
    ))
}

/// (c) Latency: one job at a time on an idle worker, from the enqueue call to the
/// handler's start.
async fn latency(bench: &Bench, options: &Options) -> anyhow::Result<Row> {
    let meter = CpuMeter::start(&JOB_PROCS);
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    let handler = Noop {
        started: Some(started),
        ..Noop::default()
    };
    let (stop, worker) = bench.start_worker(options.concurrency, handler.clone());
    // Let the worker settle into its blocking read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::with_capacity(options.tries);
    let mut enqueue_calls = Vec::with_capacity(options.tries);
    for _ in 0..options.tries {
        let sent = Instant::now();
        let job = bench
            .queue
            .enqueue(&NewJob::new(KIND, serde_json::Value::Null))
            .await?
            .job;
        enqueue_calls.push(sent.elapsed());
        // Wait for the handler's report without spinning: a busy loop here would take a
        // core from the database on a two-core machine.
        let began = loop {
            let (id, at) = tokio::time::timeout(Duration::from_secs(10), starts.recv())
                .await
                .with_context(|| format!("job {} never started", job.id))?
                .context("the worker stopped")?;
            if id == job.id {
                break at;
            }
        };
        samples.push(began - sent);
        // Idle again before the next try.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    worker.await?;
    samples.sort();
    enqueue_calls.sort();
    let pct = crate::record::percentile_duration_ms;
    println!(
        "latency:  enqueue to start on an idle worker, {} tries -> p50 {:.2} ms, p99 {:.2} ms (min {:.2}, max {:.2}); of which the enqueue call p50 {:.2} ms",
        samples.len(),
        pct(&samples, 0.50),
        pct(&samples, 0.99),
        pct(&samples, 0.0),
        pct(&samples, 1.0),
        pct(&enqueue_calls, 0.50),
    );
    Ok(job_row(
        "draftline",
        &latency_case(options.tries),
        vec![
            ("p50 ms".into(), Figure::number(pct(&samples, 0.50))),
            ("p99 ms".into(), Figure::number(pct(&samples, 0.99))),
            ("max ms".into(), Figure::number(pct(&samples, 1.0))),
        ],
        &meter,
    ))
}
