//! `loadtest floor`: what a `create_note` costs Postgres alone. `pgbench` runs the
//! statements a `create_note` sends (`loadtest/floor/statements.sql`, from the hub's
//! statement log) and the same writes merged into two statements
//! (`loadtest/floor/merged.sql`: what one server-side function per change, or pipelined
//! statements, could reach), open loop at a ramp of rates, against a fresh migrated
//! database of 2,000 projects (`setup.sql`; each transaction picks one at random, as
//! each tool-call session has its own). No hub, Redis or WebSocket: the Postgres CPU per
//! transaction here is the part of a tool call's cost that only fewer or cheaper writes
//! can cut, and the rate where Postgres alone stops keeping up bounds what a hub can
//! sustain on the same machine.
//!
//! Latency is pgbench's, from each transaction's scheduled start (`--rate`: Poisson
//! arrivals, burstier than `loadtest tools`' evenly spaced calls). Every rate runs; a
//! step with p99 of 50 ms or more, or under 95% of its rate, says so in its note.

use crate::record::{self, Figure, Record, Row};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// Transactions per second, one step each, lowest first.
    #[arg(long, value_delimiter = ',', default_value = "500,1000,1500,2000")]
    rates: Vec<u32>,
    /// Seconds each step runs.
    #[arg(long, default_value_t = 15)]
    seconds: u32,
    /// pgbench's connections (the hub's pool holds 20).
    #[arg(long, default_value_t = 20)]
    clients: u32,
    /// The folder of `setup.sql` and the scripts.
    #[arg(long, default_value = "loadtest/floor")]
    scripts: PathBuf,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: String,
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The scripts, in the order they run, with what each row calls them.
const SCRIPTS: [(&str, &str); 2] = [
    (
        "statements",
        "8 statements, 2 transactions (as the hub sends them)",
    ),
    ("merged", "2 statements, each its own transaction"),
];

/// A step keeps up with p99 under this (the tool-call ramp's bound).
const P99_LIMIT_MS: f64 = 50.0;

pub async fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(
        !options.rates.is_empty()
            && options.rates.iter().all(|r| *r > 0)
            && options.seconds > 0
            && options.clients > 0,
        "rates, seconds and clients must be positive"
    );
    let mut record = Record::new("floor");
    let db = options.services.database().await?;
    let result = async {
        let store = store::Store::connect(&db.url, 2)
            .await
            .context("connecting to Postgres")?;
        let setup = read(&options.scripts.join("setup.sql"))?;
        sqlx::raw_sql(&setup).execute(&store.pool).await?;
        println!(
            "# create_note's writes in Postgres alone (pgbench, {} connections, open loop, Poisson arrivals); {} cores",
            options.clients,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for (script, label) in SCRIPTS {
            for &rate in &options.rates {
                // Every step starts from empty tables, vacuumed.
                sqlx::raw_sql("TRUNCATE notes, operations, event_outbox")
                    .execute(&store.pool)
                    .await?;
                sqlx::raw_sql("VACUUM ANALYZE").execute(&store.pool).await?;
                let row = step(&options, &db.url, script, label, rate).await?;
                println!(
                    "{}: {}",
                    row.case,
                    row.figures
                        .iter()
                        .map(|(name, value)| format!("{name} {value}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                record.rows.push(row);
            }
        }
        store.pool.close().await;
        anyhow::Ok(())
    }
    .await;
    db.drop_now().await?;
    record.write(options.json.as_deref())?;
    result
}

/// One pgbench run of `script` at `rate`, as a row.
async fn step(
    options: &Options,
    url: &str,
    script: &str,
    label: &str,
    rate: u32,
) -> anyhow::Result<Row> {
    let logs = std::env::temp_dir().join(format!(
        "draftline-floor-{}-{script}-{rate}",
        std::process::id()
    ));
    std::fs::create_dir_all(&logs)?;
    let file = options.scripts.join(format!("{script}.sql"));
    anyhow::ensure!(file.is_file(), "{} is missing", file.display());
    let mut command = std::process::Command::new(&options.pgbench);
    command
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("--client={}", options.clients))
        .arg(format!("--rate={rate}"))
        .arg(format!("--time={}", options.seconds))
        .arg(format!("--file={}", file.display()))
        .arg("--log")
        .arg(format!("--log-prefix={}", logs.join("tx").display()))
        .arg(url);
    let postgres_before = record::cpu_by_name("postgres");
    let children_before = own_children_cpu();
    let began = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .with_context(|| format!("running {}", options.pgbench))?;
    let wall = began.elapsed().as_secs_f64();
    let latencies = transaction_latencies(&logs);
    let _ = std::fs::remove_dir_all(&logs);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let postgres = record::cpu_by_name("postgres") - postgres_before;
    let pgbench = own_children_cpu() - children_before;
    let mut latencies_us = latencies?;
    latencies_us.sort_unstable();
    let done = latencies_us.len();
    let achieved = done as f64 / f64::from(options.seconds);
    let p99 = record::percentile_ms(&latencies_us, 0.99);
    let mut problems = Vec::new();
    if achieved < 0.95 * f64::from(rate) {
        problems.push(format!("achieved under 95% of {rate}/s"));
    }
    if p99.is_nan() || p99 >= P99_LIMIT_MS {
        problems.push(format!("p99 of {P99_LIMIT_MS} ms or more"));
    }
    Ok(Row {
        table: "tools-floor".into(),
        target: "postgres".into(),
        case: format!("{label}, {rate}/s"),
        figures: vec![
            ("offered/s".into(), Figure::number(f64::from(rate))),
            ("achieved/s".into(), Figure::number(achieved.round())),
            (
                "p50 ms".into(),
                record::percentile_ms(&latencies_us, 0.50).into(),
            ),
            ("p99 ms".into(), p99.into()),
            (
                "max ms".into(),
                record::percentile_ms(&latencies_us, 1.0).into(),
            ),
            (
                "Postgres CPU µs/transaction".into(),
                Figure::number((postgres / done.max(1) as f64 * 1e6).round()),
            ),
        ],
        cpu_seconds: vec![
            ("postgres".into(), record::round3(postgres)),
            ("pgbench".into(), record::round3(pgbench)),
        ],
        seconds: record::round3(wall),
        note: problems.join("; "),
    })
}

/// Every transaction's latency in µs from pgbench's per-transaction logs in `dir`
/// (`client transaction latency script epoch epoch_us [lag]`).
fn transaction_latencies(dir: &Path) -> anyhow::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let text = read(&entry?.path())?;
        for line in text.lines() {
            let latency = line
                .split_whitespace()
                .nth(2)
                .and_then(|f| f.parse::<u64>().ok())
                .with_context(|| format!("a pgbench log line without a latency: {line}"))?;
            latencies.push(latency);
        }
    }
    Ok(latencies)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// CPU seconds of the children this process has waited for (pgbench, once it exits).
fn own_children_cpu() -> f64 {
    record::stat_fields(std::process::id()).map_or(f64::NAN, |(_, children, _)| children)
}
