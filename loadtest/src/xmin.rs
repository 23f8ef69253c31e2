//! `loadtest xmin`: a long transaction holding back vacuum (held xmin) while jobs
//! flow. Jobs of one project are enqueued one call at a time at a steady rate (the
//! tool calls' path, `Queue::enqueue`) and run by a worker with a no-op handler (and a
//! scheduler sweeping beside it, as in `draftline serve`); each
//! completion writes its `job.status` into the outbox, which the worker publishes and
//! deletes, so the queue table and the outbox both churn. After `--before-secs`,
//! another connection opens `BEGIN ISOLATION LEVEL REPEATABLE READ` and reads, so
//! nothing deleted or updated after its snapshot can be vacuumed, and holds it for
//! `--hold-secs`; then it commits and the run goes on for `--after-secs`.
//!
//! Every 10 s window reports completions per second, enqueue-to-start latency, and the
//! size, live and dead tuples of `jobs`, `event_outbox` and `job_events`. The verdicts:
//! throughput in every window during and after the hold within 20% of the mean before
//! it; and the tables bounded once it ends (a vacuum removes the dead tuples the hold
//! kept, the outbox stops growing, the other tables hold no more bytes per live row
//! than before the hold, with slack).
//!
//! Where autovacuum is off, the run runs `VACUUM` on the tables every 60 s itself (the
//! default `autovacuum_naptime`). The held snapshot stops vacuum only in this run's database: since Postgres 14 a
//! backend's xmin holds back the tables of its own database (and shared catalogs).

use anyhow::Context;
use futures_util::future::BoxFuture;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Jobs enqueued per second, one call each.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of steady flow before the hold (the baseline; its first window is
    /// warm-up and not counted).
    #[arg(long, default_value_t = 60)]
    before_secs: u64,
    /// Seconds the transaction is held open (the soak: five minutes; 60 for a
    /// smoke run).
    #[arg(long, default_value_t = 300)]
    hold_secs: u64,
    /// Seconds of flow after the hold ends, for vacuum to catch up (autovacuum wakes
    /// every minute by default).
    #[arg(long, default_value_t = 180)]
    after_secs: u64,
}

const KIND: &str = "bench.xmin";
/// One report line per window.
const WINDOW: Duration = Duration::from_secs(10);
/// The bound: throughput stays within 20% of the baseline.
const THROUGHPUT_BOUND: f64 = 0.20;
/// Enqueue calls in flight at most; past that the enqueuer falls behind its rate,
/// which the report shows as a lower throughput.
const IN_FLIGHT: usize = 64;
/// Postgres's default `autovacuum_naptime`: how often the run vacuums when the server
/// does not.
const AUTOVACUUM_NAPTIME_SECS: u64 = 60;
/// The tables watched.
const TABLES: [&str; 3] = ["jobs", "event_outbox", "job_events"];

/// A no-op handler that records each job's enqueue-to-start latency for the window.
#[derive(Clone)]
struct Timed {
    anchor: Instant,
    runs: Arc<AtomicU64>,
    latencies_us: Arc<Mutex<Vec<u64>>>,
}

impl Handler for Timed {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let now = self.anchor.elapsed().as_micros() as u64;
            if let Some(sent) = cx.job.payload["sent_us"].as_u64() {
                self.latencies_us
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(now.saturating_sub(sent));
            }
            self.runs.fetch_add(1, Ordering::Relaxed);
            Ok(Done::default())
        })
    }
}

/// One table's figures at a moment.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
struct TableStats {
    relname: String,
    n_live_tup: i64,
    n_dead_tup: i64,
    bytes: i64,
    vacuums: i64,
}

/// One 10 s window.
struct Window {
    phase: &'static str,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    tables: Vec<TableStats>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(options.rate > 0, "--rate must be positive");
    anyhow::ensure!(
        options.before_secs >= 2 * WINDOW.as_secs() && options.hold_secs >= WINDOW.as_secs(),
        "--before-secs needs at least 20 (a warm-up window and a baseline window), --hold-secs at least 10"
    );
    let db = options.services.database().await?;
    let prefix = options.services.prefix();
    let result = soak(&options, &db.url, &prefix.prefix).await;
    db.drop_now().await?;
    prefix.clean().await?;
    result
}

async fn soak(options: &Options, url: &str, prefix: &str) -> anyhow::Result<()> {
    let store = Store::connect(url, 16)
        .await
        .context("connecting to Postgres")?;
    store.migrate().await?;
    let redis = redis::Client::open(options.services.redis_url.as_str())?;
    let manager = redis::aio::ConnectionManager::new(redis.clone())
        .await
        .context("connecting to Redis")?;
    let dispatch = Dispatch::new(manager, prefix.to_owned());
    dispatch.ensure_group(lifecycle::DEFAULT_QUEUE).await?;
    let queue = Queue::new(store.clone(), dispatch.clone());
    let mut tx = store.begin().await?;
    let project =
        store::projects::create(&mut tx, &protocol::UserId("xmin".into()), "Held xmin", "").await?;
    tx.commit().await?;

    let handler = Timed {
        anchor: Instant::now(),
        runs: Arc::default(),
        latencies_us: Arc::default(),
    };
    let stop = CancellationToken::new();
    // The scheduler runs as beside every worker of `draftline serve`: its sweeps read
    // the queue table's indexes every second (no cron entries: their handlers are not
    // registered here).
    let scheduler = worker::Scheduler::new(
        store.clone(),
        dispatch.clone(),
        worker::SchedulerConfig {
            cron: Vec::new(),
            ..worker::SchedulerConfig::default()
        },
    );
    let scheduler_task = tokio::spawn(scheduler.run(stop.clone()));
    let worker = worker::Worker::new(
        store.clone(),
        dispatch,
        redis,
        WorkerConfig::default(),
        Registry::new().register(KIND, handler.clone()),
    );
    let worker_task = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    let enqueuer = tokio::spawn(enqueue(
        queue,
        project.id,
        options.rate,
        handler.anchor,
        stop.clone(),
    ));

    println!(
        "# Draftline held xmin, this machine ({} cores, shared): {} jobs/s offered, {} s before, {} s held, {} s after",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.rate,
        options.before_secs,
        options.hold_secs,
        options.after_secs
    );
    println!(
        "# window  phase   jobs/s  start p50 ms  p99 ms  | per table: size KiB, live, dead (vacuums)"
    );
    // Whole windows per phase, so each window is one phase.
    let windows_of = |secs: u64| secs.div_ceil(WINDOW.as_secs()) as usize;
    let held_from = windows_of(options.before_secs);
    let held_until = held_from + windows_of(options.hold_secs);
    let total = held_until + windows_of(options.after_secs);
    let mut holder: Option<sqlx::PgConnection> = None;
    let mut windows = Vec::new();
    let mut last_runs = 0;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + WINDOW, WINDOW);
    // Autovacuum may be off (the shared development server runs without it): the run
    // then vacuums the watched tables itself at autovacuum's pace, so "after vacuum
    // runs" means the same on any server.
    let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(&store.pool)
        .await?;
    let vacuum_every = (autovacuum != "on").then(|| windows_of(AUTOVACUUM_NAPTIME_SECS).max(1));
    match vacuum_every {
        Some(_) => println!(
            "# autovacuum is off on this server: the run runs VACUUM on the tables every {AUTOVACUUM_NAPTIME_SECS} s itself"
        ),
        None => println!("# autovacuum is on; the run does not vacuum"),
    }
    for index in 0..total {
        if let Some(every) = vacuum_every
            && index > 0
            && index % every == 0
        {
            for table in TABLES {
                sqlx::query(&format!("VACUUM {table}"))
                    .execute(&store.pool)
                    .await?;
            }
        }
        if index == held_from {
            holder = Some(hold(url).await?);
        }
        if index == held_until
            && let Some(mut conn) = holder.take()
        {
            sqlx::query("COMMIT").execute(&mut conn).await?;
            println!("# hold: released");
        }
        let phase = match index {
            i if i < held_from => "before",
            i if i < held_until => "held",
            _ => "after",
        };
        tick.tick().await;
        let runs = handler.runs.load(Ordering::Relaxed);
        let mut latencies = std::mem::take(
            &mut *handler
                .latencies_us
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        latencies.sort_unstable();
        let pct = |p: f64| crate::record::percentile_ms(&latencies, p);
        let window = Window {
            phase,
            per_second: (runs - last_runs) as f64 / WINDOW.as_secs_f64(),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            tables: table_stats(&store).await?,
        };
        last_runs = runs;
        print_window(index, &window);
        windows.push(window);
    }
    stop.cancel();
    enqueuer.await??;
    worker_task.await??;
    scheduler_task.await?;
    store.pool.close().await;
    verdicts(&windows)
}

/// Enqueues `rate` jobs a second, one call each, until `stop`.
async fn enqueue(
    queue: Queue,
    project: protocol::ProjectId,
    rate: u32,
    anchor: Instant,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let failures = Arc::new(AtomicU64::new(0));
    while !stop.is_cancelled() {
        tick.tick().await;
        let slot = slots.clone().acquire_owned().await?;
        let mut job = NewJob::new(
            KIND,
            serde_json::json!({"sent_us": anchor.elapsed().as_micros() as u64}),
        );
        job.project_id = Some(project);
        let (queue, failures) = (queue.clone(), failures.clone());
        tokio::spawn(async move {
            if queue.enqueue(&job).await.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            drop(slot);
        });
    }
    let failed = failures.load(Ordering::Relaxed);
    anyhow::ensure!(failed == 0, "{failed} enqueue calls failed");
    Ok(())
}

/// Opens the long transaction on a connection of its own: a repeatable-read snapshot
/// taken by its first read holds the database's xmin until it ends.
async fn hold(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut conn)
        .await?;
    let (jobs, xmin): (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM jobs), \
         (SELECT backend_xmin::text FROM pg_stat_activity WHERE pid = pg_backend_pid())",
    )
    .fetch_one(&mut conn)
    .await?;
    anyhow::ensure!(xmin.is_some(), "the held transaction has no xmin");
    println!(
        "# hold: snapshot taken at xmin {} with {jobs} jobs in the table",
        xmin.unwrap_or_default()
    );
    Ok(conn)
}

async fn table_stats(store: &Store) -> anyhow::Result<Vec<TableStats>> {
    Ok(sqlx::query_as(
        "SELECT relname::text AS relname, n_live_tup, n_dead_tup, \
           pg_total_relation_size(relid) AS bytes, autovacuum_count + vacuum_count AS vacuums \
         FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname",
    )
    .bind(&TABLES[..])
    .fetch_all(&store.pool)
    .await?)
}

fn print_window(index: usize, window: &Window) {
    let mut line = format!(
        "{:>6}s  {:<6} {:>7.0}  {:>12.1}  {:>6.1}  |",
        (index + 1) as u64 * WINDOW.as_secs(),
        window.phase,
        window.per_second,
        window.p50_ms,
        window.p99_ms
    );
    for t in &window.tables {
        let _ = write!(
            line,
            " {} {} KiB {}/{} ({});",
            t.relname,
            t.bytes / 1024,
            t.n_live_tup,
            t.n_dead_tup,
            t.vacuums
        );
    }
    println!("{line}");
}

fn verdicts(windows: &[Window]) -> anyhow::Result<()> {
    // The first window is warm-up.
    let before: Vec<&Window> = windows
        .iter()
        .skip(1)
        .filter(|w| w.phase == "before")
        .collect();
    anyhow::ensure!(!before.is_empty(), "no baseline window");
    let baseline = before.iter().map(|w| w.per_second).sum::<f64>() / before.len() as f64;
    let mut throughput_ok = true;
    for phase in ["held", "after"] {
        let rates: Vec<f64> = windows
            .iter()
            .filter(|w| w.phase == phase)
            .map(|w| w.per_second)
            .collect();
        let worst = rates
            .iter()
            .map(|r| (r - baseline).abs() / baseline)
            .fold(0.0, f64::max);
        let (min, max) = rates.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), r| {
            (lo.min(*r), hi.max(*r))
        });
        let ok = worst <= THROUGHPUT_BOUND;
        throughput_ok &= ok;
        println!(
            "throughput {phase}: {min:.0}..{max:.0} jobs/s against {baseline:.0} before, worst {:.0}% off: {}",
            worst * 100.0,
            if ok { "within 20%" } else { "OUTSIDE 20%" }
        );
    }
    // Bounded once it ends: a vacuum after the release removes what the hold kept (the
    // fewest dead tuples after it under a quarter of the peak); the outbox, which holds
    // only rows waiting to be published, stops growing (its last three windows); and
    // the tables that keep their rows (finished jobs stay for the retention period) grow,
    // from the first vacuumed window after the release to the end, by no more bytes per
    // added live row than a row took before the hold, with half again of slack.
    let of = |w: &Window, table: &str| {
        w.tables
            .iter()
            .find(|t| t.relname == table)
            .cloned()
            .unwrap_or_default()
    };
    let (Some(last_before), Some(last)) = (before.last(), windows.last()) else {
        anyhow::bail!("no windows");
    };
    let mut bounded = true;
    for table in TABLES {
        let base = of(last_before, table);
        let end = of(last, table);
        let peak_dead = windows
            .iter()
            .map(|w| of(w, table).n_dead_tup)
            .max()
            .unwrap_or(0);
        let peak_bytes = windows
            .iter()
            .map(|w| of(w, table).bytes)
            .max()
            .unwrap_or(0);
        let least_dead_after = windows
            .iter()
            .filter(|w| w.phase == "after")
            .map(|w| of(w, table).n_dead_tup)
            .min()
            .unwrap_or(0);
        let vacuumed = least_dead_after <= (peak_dead / 4).max(1_000);
        let per_row = |t: &TableStats| t.bytes as f64 / t.n_live_tup.max(1) as f64;
        let shape = if table == "event_outbox" {
            let tail: Vec<i64> = windows
                .iter()
                .rev()
                .take(3)
                .map(|w| of(w, table).bytes)
                .collect();
            tail.windows(2).all(|pair| pair[0] <= pair[1])
        } else {
            // The table keeps its rows, so it grows with them; the hold's dead tuples
            // leave free space that vacuum makes reusable but does not give back. Bounded
            // means no bloat keeps accumulating: after the first vacuum past the hold,
            // each new live row costs no more bytes than a row did before the hold.
            let settled = windows
                .iter()
                .filter(|w| w.phase == "after")
                .find(|w| of(w, table).n_dead_tup <= (peak_dead / 4).max(1_000))
                .map(|w| of(w, table));
            settled.is_some_and(|settled| {
                let added_rows = (end.n_live_tup - settled.n_live_tup).max(1) as f64;
                let added_bytes = (end.bytes - settled.bytes).max(0) as f64;
                added_bytes / added_rows <= 1.5 * per_row(&base)
            })
        };
        let ok = vacuumed && shape;
        bounded &= ok;
        println!(
            "{table}: {} KiB and {} live rows before the hold, peak {} KiB, {} KiB and {} live rows at the end; dead tuples peak {peak_dead}, fewest after the hold {least_dead_after}: {}",
            base.bytes / 1024,
            base.n_live_tup,
            peak_bytes / 1024,
            end.bytes / 1024,
            end.n_live_tup,
            if ok { "bounded" } else { "NOT BOUNDED" }
        );
    }
    let passed = throughput_ok && bounded;
    println!("result: {}", if passed { "PASS" } else { "FAIL" });
    anyhow::ensure!(passed, "throughput or table sizes out of bounds");
    Ok(())
}
