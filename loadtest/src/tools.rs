//! `loadtest tools`: writing tool calls at the load of many talking sessions. One hub
//! process (`draftline serve --workers 0`); N sessions (2,000 by default), each its own
//! user and project, each on its own WebSocket in `update` mode with `auto_accept`,
//! calling `create_note` at a fixed rate with the sends spread evenly over the sessions.
//! The load is open loop: every call has a scheduled send time and its round trip is
//! measured from that time to its `tool.result`, so a stalled hub (or generator) shows
//! as latency instead of a lower rate (no coordinated omission).
//!
//! Steps: a ramp of total rates, lowest first, until one misses p99 < 50 ms or has
//! errors, then the sessions at `--rate` calls/s each (last, so its backlog when it is
//! past the hub's limit weighs on no other step). Each step reports offered and achieved calls/s,
//! errors by code, p50/p99/max, the CPU of the hub, Postgres, Redis and the generator,
//! and the Postgres work per call: commits and rows written (`pg_stat_database`) and the
//! CPU of the database's backends (`pg_stat_activity`'s pids, so the machine's other
//! databases do not count).

use crate::events::servers::{HubEnv, Server};
use crate::record::{self, CpuMeter, Figure, Proc, Record, Row};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use store::Store;
use testkit::client::Ws;
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    hub: crate::HubOptions,
    /// Sessions, each its own user, project and WebSocket.
    #[arg(long, default_value_t = 2_000)]
    sessions: usize,
    /// Calls per second of each session in the sessions' step (issue 17: once a second).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Total rates of the ramp, calls/s over all sessions, run lowest first before the
    /// sessions' own step; the ramp stops after the first step that misses p99 < 50 ms
    /// or has errors.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,750,1000,1250,1500,2000,3000"
    )]
    ramp: Vec<u32>,
    /// Seconds each step sends for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds sent before measuring (not counted), at the lowest rate measured.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// WebSocket connections being opened at once.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
    /// Connections that say `hello` all at once during a last step of `storm_rate` calls/s
    /// (a restarted node's clients coming back), each a new session held to the step's
    /// end; 0 for no such step.
    #[arg(long, default_value_t = 0)]
    storm: usize,
    /// The calls/s of the sessions already connected during the storm.
    #[arg(long, default_value_t = 500)]
    storm_rate: u32,
    /// The hub's Postgres pool (`DRAFTLINE_DB_MAX_CONNECTIONS`); its default when unset.
    #[arg(long)]
    pool: Option<u32>,
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<PathBuf>,
}

const SECRET: &str = "draftline-loadtest-tools-secret-0123456789";

/// The target of the ramp (issue 17): the highest rate whose p99 stays under 50 ms.
const RAMP_P99_MS: f64 = 50.0;

/// How long a step waits after its last scheduled send for the answers still due; a
/// call unanswered by then counts as an error (`unanswered`).
const GRACE: Duration = Duration::from_secs(5);

/// How long the generator pauses after a step that left calls unanswered: a hub that
/// fell behind by seconds works off what it accepted before the next step.
const DRAIN: Duration = Duration::from_secs(10);

/// Postgres backends flush their statistics at most once a second (PostgreSQL 15's
/// `PGSTAT_MIN_INTERVAL`); the counters are read this long after a step's last answer.
const STATS_SETTLE: Duration = Duration::from_millis(1_500);

pub async fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.sessions > 0 && options.rate > 0.0 && options.ramp.iter().all(|r| *r > 0),
        "sessions and rates must be positive"
    );
    let draftline = options.hub.binary()?;
    let db = options.hub.services.database().await?;
    let prefix = options.hub.services.prefix();
    let store = Store::connect(&db.url, 2)
        .await
        .context("connecting to Postgres")?;
    let mut record = Record::new("tools");
    let outcome = scenario(
        &options,
        &draftline,
        &store,
        &db.url,
        &prefix.prefix,
        &mut record,
    )
    .await;
    store.pool.close().await;
    db.drop_now().await?;
    prefix.clean().await?;
    record.write(options.json.as_deref())?;
    outcome
}

async fn scenario(
    options: &Options,
    draftline: &std::path::Path,
    store: &Store,
    url: &str,
    prefix: &str,
    record: &mut Record,
) -> anyhow::Result<()> {
    let users: Vec<String> = (0..options.sessions)
        .map(|i| format!("tools-{i}"))
        .collect();
    let projects = crate::project_per_user(store, &users).await?;
    let auth = server::auth::Auth::new(SECRET);
    let tokens = users
        .iter()
        .map(|u| auth.issue(u, false, 3600))
        .collect::<Result<Vec<_>, _>>()?;

    let mut extra = Vec::new();
    if let Some(pool) = options.pool {
        extra.push(("DRAFTLINE_DB_MAX_CONNECTIONS", pool.to_string()));
    }
    let hub = Server::hub(
        &HubEnv {
            binary: draftline,
            database_url: url,
            redis_url: &options.hub.services.redis_url,
            redis_prefix: prefix,
            secret: SECRET,
            extra: &extra,
        },
        "tools",
    )
    .await?;
    println!(
        "# Tool calls: {} sessions (one user, project and WebSocket each) calling create_note, \
         open loop, latency from each call's scheduled send to its tool.result; {} cores shared \
         by the hub, Postgres, Redis and the generator",
        options.sessions,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let result = async {
        let connect_started = Instant::now();
        let url = format!("ws://{}/v1/ws", hub.addr);
        let mut sockets: Vec<Ws> = futures_util::stream::iter(tokens.iter().zip(&projects))
            .map(|(token, project)| session(&url, token, project))
            .buffered(options.connect_concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        println!(
            "# {} sessions ready in {:.1} s",
            sockets.len(),
            connect_started.elapsed().as_secs_f64()
        );
        let n = options.sessions as f64;
        let first = options.rate * n;
        if options.warmup_seconds > 0 {
            // At the lowest rate measured: a warm-up past the hub's limit would leave a
            // backlog for the first step.
            let lowest = options.ramp.iter().min().map_or(first, |r| f64::from(*r));
            let warm = options.rate.min(lowest / n);
            let (back, _) = step(sockets, warm, options.warmup_seconds, "warm").await?;
            sockets = back;
        }
        // The ramp runs first, from its lowest rate up: a step past the hub's limit
        // leaves a backlog (unpublished outbox rows for the relay, queued calls) that
        // would weigh on every step after it. The sessions' own step comes last.
        let mut rates: Vec<(String, f64)> = options
            .ramp
            .iter()
            .map(|r| (format!("ramp {r}/s"), f64::from(*r)))
            .collect();
        rates.sort_by(|a, b| a.1.total_cmp(&b.1));
        let last = rates.len();
        rates.push((format!("{} x {}/s", options.sessions, options.rate), first));
        let mut best = None;
        let mut ramp_over = false;
        for (i, (case, total)) in rates.iter().enumerate() {
            if i < last && ramp_over {
                continue;
            }
            let per_session = total / n;
            let before = pg_counters(store).await?;
            let backends = backend_pids(store).await?;
            let backends_before = backends_cpu(&backends);
            let meter = CpuMeter::start(&[
                ("hub", Proc::Pid(hub.pid())),
                ("postgres", Proc::Named("postgres")),
                ("redis", Proc::Named("redis-server")),
            ]);
            let (back, tally) =
                step(sockets, per_session, options.seconds, &format!("s{i}")).await?;
            sockets = back;
            let (cpu, wall, _) = meter.stop();
            let backends_used = backends_cpu(&backends) - backends_before;
            tokio::time::sleep(STATS_SETTLE).await;
            let after = pg_counters(store).await?;
            let row = tally.row(
                case,
                options.seconds,
                (before, after, backends_used),
                cpu,
                wall,
            );
            println!("{}", tally.line(case, options.seconds, &row));
            let passed = tally.errors.is_empty() && tally.percentile_ms(0.99) < RAMP_P99_MS;
            record.rows.push(row);
            if tally.errors.contains_key("unanswered") {
                // The hub is still working off this step's backlog; the next step starts
                // on an idle hub, or it would measure this one's queue.
                tokio::time::sleep(DRAIN).await;
            }
            if i < last {
                if passed {
                    best = Some(*total);
                } else {
                    ramp_over = true;
                }
            }
        }
        if options.storm > 0 {
            let case = format!("{}/s, {} hellos at once", options.storm_rate, options.storm);
            let meter = CpuMeter::start(&[
                ("hub", Proc::Pid(hub.pid())),
                ("postgres", Proc::Named("postgres")),
                ("redis", Proc::Named("redis-server")),
            ]);
            let before = pg_counters(store).await?;
            let calls = step(
                sockets,
                f64::from(options.storm_rate) / n,
                options.seconds,
                "storm",
            );
            let (calls, storm) =
                tokio::join!(calls, crate::storm::run(hub.addr, &tokens, options.storm));
            let (back, tally) = calls?;
            sockets = back;
            let (cpu, wall, _) = meter.stop();
            tokio::time::sleep(STATS_SETTLE).await;
            let after = pg_counters(store).await?;
            let mut row = tally.row(&case, options.seconds, (before, after, f64::NAN), cpu, wall);
            println!("{}", tally.line(&case, options.seconds, &row));
            let storm = format!("storm: {}", storm.line());
            println!("{storm}");
            row.note = if row.note.is_empty() {
                storm
            } else {
                format!("{}; {storm}", row.note)
            };
            record.rows.push(row);
        }
        match best {
            Some(rate) => println!(
                "# highest ramp rate with p99 < {RAMP_P99_MS} ms and no errors: {rate} calls/s"
            ),
            None => println!("# no ramp rate kept p99 < {RAMP_P99_MS} ms without errors"),
        }
        for mut ws in sockets {
            let _ = ws.ws.close(None).await;
        }
        anyhow::Ok(())
    }
    .await;
    hub.finish();
    result
}

/// A session past `hello`, configured for `update` mode on `project` with its changes
/// applied at once.
async fn session(url: &str, token: &str, project: &str) -> anyhow::Result<Ws> {
    let mut ws = Ws::open(url, None).await?;
    ws.try_hello(token, "loadtest-tools").await?;
    let configure = json!({"type": "session.configure", "mode": "update",
        "project_id": project, "auto_accept": true});
    // Thousands of sessions set up at once can find the node at capacity: a request it
    // did not run goes again after the wait it names, as a client does.
    for _ in 0..SETUP_TRIES {
        let reply = ws.try_request(configure.clone()).await?;
        match reply["retry_after_ms"].as_u64() {
            Some(ms) if reply["type"] == "error" => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            _ => {
                anyhow::ensure!(reply["type"] == "ok", "session.configure: {reply}");
                return Ok(ws);
            }
        }
    }
    anyhow::bail!("session.configure: refused {SETUP_TRIES} times")
}

/// Times a session's set-up is sent before the run gives up.
const SETUP_TRIES: usize = 50;

/// What one step saw over every session.
#[derive(Default)]
struct Tally {
    /// Round trips of the calls answered `ok`, microseconds.
    latencies_us: Vec<u64>,
    /// Failed calls by error code (`unanswered` for calls without an answer in time).
    errors: BTreeMap<String, u64>,
    sent: u64,
    answered: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.sent += other.sent;
        self.answered += other.answered;
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        record::percentile_ms(&self.latencies_us, p)
    }

    fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "0".into();
        }
        self.errors
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn row(
        &self,
        case: &str,
        seconds: u64,
        (before, after, backends_used): (PgCounters, PgCounters, f64),
        cpu_seconds: Vec<(String, f64)>,
        wall: f64,
    ) -> Row {
        // Work per call is per call that succeeded: failed ones did little of it.
        let calls = self.latencies_us.len().max(1) as f64;
        let cpu_us = |name: &str| {
            cpu_seconds
                .iter()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |(_, s)| s / calls * 1e6)
        };
        let figures: Vec<(String, Figure)> = vec![
            // What was sent: each session's calls are rounded to whole calls per step.
            (
                "offered calls/s".into(),
                (self.sent as f64 / seconds as f64).into(),
            ),
            (
                "achieved calls/s".into(),
                (self.latencies_us.len() as f64 / seconds as f64).into(),
            ),
            ("errors".into(), Figure::Text(self.errors_text())),
            ("p50 ms".into(), self.percentile_ms(0.50).into()),
            ("p99 ms".into(), self.percentile_ms(0.99).into()),
            ("max ms".into(), self.percentile_ms(1.0).into()),
            (
                "commits/call".into(),
                ((after.commits - before.commits) as f64 / calls).into(),
            ),
            (
                "rows written/call".into(),
                ((after.rows_written - before.rows_written) as f64 / calls).into(),
            ),
            (
                "Postgres backends CPU µs/call".into(),
                (backends_used / calls * 1e6).into(),
            ),
            ("all Postgres CPU µs/call".into(), cpu_us("postgres").into()),
            ("hub CPU µs/call".into(), cpu_us("hub").into()),
        ];
        Row {
            table: "tools".into(),
            target: "draftline".into(),
            case: case.into(),
            figures,
            cpu_seconds,
            seconds: record::round3(wall),
            note: if self.errors.is_empty() {
                String::new()
            } else {
                "errors: the per-call figures divide by the calls that succeeded".into()
            },
        }
    }

    fn line(&self, case: &str, seconds: u64, row: &Row) -> String {
        let figures: Vec<String> = row
            .figures
            .iter()
            .map(|(name, f)| match f {
                Figure::Number(n) => format!("{name} {n:.2}"),
                Figure::Text(t) => format!("{name} {t}"),
            })
            .collect();
        let cpu: Vec<String> = row
            .cpu_seconds
            .iter()
            .map(|(name, s)| format!("{name} {:.2}", s / row.seconds.max(1e-9)))
            .collect();
        format!(
            "{case}: {} calls sent over {seconds} s; {}; CPU cores: {}",
            self.sent,
            figures.join(", "),
            cpu.join(", ")
        )
    }
}

/// Every session calls `create_note` `per_session` times a second for `seconds`, the
/// sessions' schedules offset evenly over one period; answers the sockets (in order)
/// and what the step saw.
async fn step(
    sockets: Vec<Ws>,
    per_session: f64,
    seconds: u64,
    label: &str,
) -> anyhow::Result<(Vec<Ws>, Tally)> {
    let n = sockets.len();
    let period = Duration::from_secs_f64(1.0 / per_session);
    let span = Duration::from_secs(seconds);
    // A little room to spawn every session's task before the first send is due.
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| {
            let offset = period.mul_f64(i as f64 / n as f64);
            let first = start + offset;
            // Every call due within the step: over all sessions that is the step's rate
            // times its seconds, also when a session's period is longer than the step.
            let calls =
                ((span - offset.min(span)).as_secs_f64() / period.as_secs_f64()).ceil() as u64;
            let label = format!("{label}-{i}");
            tokio::spawn(drive(ws, first, period, calls, label))
        })
        .collect();
    let mut back = Vec::with_capacity(n);
    let mut tally = Tally::default();
    for task in tasks {
        let (ws, one) = task.await??;
        back.push(ws);
        tally.merge(one);
    }
    tally.latencies_us.sort_unstable();
    Ok((back, tally))
}

/// One session's calls: call `k` is due at `first + k * period`; its round trip runs
/// from that time to its `tool.result`, however late the send itself went out.
async fn drive(
    mut ws: Ws,
    first: tokio::time::Instant,
    period: Duration,
    calls: u64,
    label: String,
) -> anyhow::Result<(Ws, Tally)> {
    let due = |k: u64| first + period.mul_f64(k as f64);
    let deadline = due(calls) + GRACE;
    let mut tally = Tally::default();
    while tally.sent < calls || tally.answered < tally.sent {
        tokio::select! {
            _ = sleep_until(due(tally.sent)), if tally.sent < calls => {
                let id = format!("{label}-{}", tally.sent);
                let frame = json!({"type": "tool.call", "id": id, "call_id": id,
                    "name": "create_note", "arguments": {"body": id}});
                ws.ws.send(Message::text(frame.to_string())).await?;
                tally.sent += 1;
            }
            message = ws.ws.next() => {
                let now = tokio::time::Instant::now();
                let text = match message.context("the hub ended the connection")?? {
                    Message::Text(text) => text,
                    Message::Close(frame) => anyhow::bail!("the hub closed a session: {frame:?}"),
                    _ => continue,
                };
                let value: Value = serde_json::from_str(&text)?;
                let Some(k) = value["re"]
                    .as_str()
                    .and_then(|re| re.strip_prefix(label.as_str())?.strip_prefix('-')?.parse::<u64>().ok())
                else {
                    continue;
                };
                tally.answered += 1;
                if value["type"] == "tool.result" && value["ok"] == true {
                    tally.latencies_us.push(now.saturating_duration_since(due(k)).as_micros() as u64);
                } else {
                    // A failed call's `tool.result` carries its error; a call the hub did
                    // not run (over a limit, or the node at capacity) is an `error` reply.
                    let code = value["error"]["code"]
                        .as_str()
                        .or_else(|| value["code"].as_str())
                        .unwrap_or("unknown")
                        .to_owned();
                    *tally.errors.entry(code).or_default() += 1;
                }
            }
            _ = sleep_until(deadline) => {
                *tally.errors.entry("unanswered".into()).or_default() +=
                    calls - tally.answered;
                break;
            }
        }
    }
    Ok((ws, tally))
}

/// Counters of the bench database (`pg_stat_database`).
#[derive(Clone, Copy)]
struct PgCounters {
    commits: i64,
    rows_written: i64,
}

async fn pg_counters(store: &Store) -> anyhow::Result<PgCounters> {
    let (commits, rows_written): (i64, i64) = sqlx::query_as(
        "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted \
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(PgCounters {
        commits,
        rows_written,
    })
}

/// The backends connected to the bench database (the hub's pool and this harness's):
/// their CPU is this scenario's Postgres work, whatever else the machine's Postgres does.
async fn backend_pids(store: &Store) -> anyhow::Result<Vec<u32>> {
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(&store.pool)
            .await?;
    Ok(pids
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect())
}

/// CPU seconds so far of `pids` (a backend that exited meanwhile counts as nothing).
fn backends_cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| record::process_cpu(*p)).sum()
}
