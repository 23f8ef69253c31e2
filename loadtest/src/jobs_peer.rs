//! `loadtest jobs-peer`: the job scenarios of `jobs.rs` on a peer queue (BullMQ,
//! graphile-worker, pg-boss), each a Node script in `loadtest/peers/` run once per
//! scenario in a fresh database and Redis prefix. The script does the enqueueing and
//! the no-op work and prints one JSON line of figures; this side reads the CPU the
//! script (a child, counted when reaped), Postgres and Redis used, and writes rows of
//! the same table as Draftline's.

use crate::jobs::{JOB_PROCS, bulk_case, job_row, latency_case, single_case};
use crate::record::{self, CpuMeter, Figure, Record};
use anyhow::Context;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// The peer: bullmq, graphile-worker or pg-boss.
    #[arg(long)]
    runner: String,
    #[command(flatten)]
    services: crate::Services,
    /// The folder of the peers' Node scripts, with their `node_modules`.
    #[arg(long, default_value = "loadtest/peers")]
    peers_dir: PathBuf,
    #[arg(long, default_value = "node")]
    node: String,
    /// Which scenarios: bulk, single, latency (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "bulk,single,latency")]
    scenarios: Vec<String>,
    #[arg(long, default_value_t = 50_000)]
    bulk_jobs: usize,
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    #[arg(long, default_value_t = 10_000)]
    single_jobs: usize,
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    #[arg(long, default_value_t = 50)]
    tries: usize,
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What a runner script prints: throughput for bulk and single-add, latencies for the
/// latency scenario.
#[derive(Debug, Deserialize)]
struct Outcome {
    jobs_per_s: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    /// How the runner was set up (its concurrency, polling), for the note.
    setup: String,
}

/// How long one scenario may take before the runner is stopped.
const RUNNER_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn run(options: Options) -> anyhow::Result<()> {
    let script = match options.runner.as_str() {
        "bullmq" => "jobs-bullmq.js",
        "graphile-worker" => "jobs-graphile-worker.js",
        "pg-boss" => "jobs-pg-boss.js",
        other => anyhow::bail!("unknown --runner `{other}` (bullmq, graphile-worker, pg-boss)"),
    };
    let script = options.peers_dir.join(script);
    anyhow::ensure!(
        options.peers_dir.join("node_modules").is_dir(),
        "{} has no node_modules: run `npm ci` there (./scripts/bench does)",
        options.peers_dir.display()
    );
    let mut record = Record::new(&format!("jobs-{}", options.runner));
    println!("# {} job queue, this machine", options.runner);
    for scenario in &options.scenarios {
        let (case, env): (String, Vec<(&str, String)>) = match scenario.as_str() {
            "bulk" => (
                bulk_case(options.bulk_jobs, options.batch),
                vec![
                    ("JOBS", options.bulk_jobs.to_string()),
                    ("BATCH", options.batch.to_string()),
                ],
            ),
            "single" => (
                single_case(options.single_jobs, options.in_flight),
                vec![
                    ("JOBS", options.single_jobs.to_string()),
                    ("IN_FLIGHT", options.in_flight.to_string()),
                ],
            ),
            "latency" => (
                latency_case(options.tries),
                vec![("TRIES", options.tries.to_string())],
            ),
            other => anyhow::bail!("unknown scenario `{other}`"),
        };
        // An empty database: the peer creates its own schema.
        let db = testkit::Database::reserve_on(&options.services.database_url, "bench");
        store::Store::create_database_if_missing(&db.url).await?;
        let prefix = options.services.prefix();
        let meter = CpuMeter::start(&JOB_PROCS);
        let children_before = reaped_children_cpu();
        let outcome = run_script(&options, &script, scenario, &db.url, &prefix.prefix, &env).await;
        let mut row = job_row(&options.runner, &case, Vec::new(), &meter);
        row.cpu_seconds.insert(
            0,
            (
                "peer".into(),
                record::round3(reaped_children_cpu() - children_before),
            ),
        );
        db.drop_now().await?;
        prefix.clean().await?;
        let outcome = outcome?;
        let number = |v: Option<f64>| Figure::number(v.unwrap_or(f64::NAN));
        row.figures = match scenario.as_str() {
            "latency" => vec![
                ("p50 ms".into(), number(outcome.p50_ms)),
                ("p99 ms".into(), number(outcome.p99_ms)),
                ("max ms".into(), number(outcome.max_ms)),
            ],
            _ => vec![("jobs/s".into(), number(outcome.jobs_per_s))],
        };
        row.note = outcome.setup;
        println!(
            "{scenario}: {} ({})",
            row.figures
                .iter()
                .map(|(name, f)| format!("{name} {f}"))
                .collect::<Vec<_>>()
                .join(", "),
            row.note
        );
        record.rows.push(row);
    }
    record.write(options.json.as_deref())
}

async fn run_script(
    options: &Options,
    script: &std::path::Path,
    scenario: &str,
    database_url: &str,
    prefix: &str,
    env: &[(&str, String)],
) -> anyhow::Result<Outcome> {
    let mut command = std::process::Command::new(&options.node);
    command
        .arg(script)
        .env("CASE", scenario)
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", &options.services.redis_url)
        .env("PREFIX", prefix)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("running {}", script.display()))?;
    let pid = child.id();
    // The runner is waited for on a blocking thread; past the timeout it is killed.
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let output = match tokio::time::timeout(RUNNER_TIMEOUT, waiting).await {
        Ok(output) => output??,
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            anyhow::bail!(
                "{} {scenario} did not finish in {RUNNER_TIMEOUT:?}",
                options.runner
            );
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "{} {scenario} failed ({}): {}{}",
        options.runner,
        output.status,
        String::from_utf8_lossy(&output.stderr).trim(),
        stdout.trim()
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("{} {scenario} printed no JSON: {stdout}", options.runner))?;
    serde_json::from_str(line).with_context(|| format!("reading {line}"))
}

/// CPU seconds of this process's children that have ended and been waited for.
fn reaped_children_cpu() -> f64 {
    record::stat_fields(std::process::id()).map_or(f64::NAN, |f| f.1)
}
