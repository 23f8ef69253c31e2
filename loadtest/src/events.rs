//! The topic fan-out scenarios: events delivered per second and publish-to-receive
//! latency through a real hub process. (1) `one`: 1,000 WebSocket subscribers on one
//! project; (2) `spread`: 10,000 subscribers over 1,000 projects, 10 each. The harness
//! publishes through Redis with `Topics::publish` at fixed rates, every event carrying
//! its send time, and every client checks its offsets for gaps and records latencies.
//!
//! The hub runs as a child process (`draftline serve --workers 0`): 10,000 client
//! sockets and 10,000 server sockets in one process would pass this machine's limit of
//! 20,000 open files.

use anyhow::Context;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use protocol::event::{DraftDelta, Event, project_topic};
use protocol::{JobId, UserId};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use store::topics::{Retention, Topics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// The `draftline` binary to run as the hub; by default the one next to this binary
    /// (`cargo build --release -p draftline` puts it there).
    #[arg(long)]
    draftline: Option<PathBuf>,
    /// Which scenarios: one (every subscriber on one project), spread (many projects).
    #[arg(long, value_delimiter = ',', default_value = "one,spread")]
    scenarios: Vec<String>,
    /// Subscribers of the one-project scenario.
    #[arg(long, default_value_t = 1_000)]
    one_subscribers: usize,
    /// Publish rates of the one-project scenario, events/s, one measured step each.
    #[arg(long, value_delimiter = ',', default_value = "200,500,1000")]
    one_rates: Vec<u32>,
    /// Projects of the spread scenario.
    #[arg(long, default_value_t = 1_000)]
    spread_projects: usize,
    /// Subscribers per project in the spread scenario.
    #[arg(long, default_value_t = 10)]
    spread_subscribers: usize,
    /// Publish rates of the spread scenario (round-robin over the projects), events/s.
    #[arg(long, value_delimiter = ',', default_value = "2000,5000,10000")]
    spread_rates: Vec<u32>,
    /// Seconds each rate is published for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds published at the first rate before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup_seconds: u64,
    /// WebSocket connections being opened at once; more overflows the accept queue.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Publishes in flight at once; a publisher that needs more falls behind its
    /// schedule, which the report shows as a lower achieved rate.
    #[arg(long, default_value_t = 64)]
    publish_in_flight: usize,
}

const SECRET: &str = "draftline-loadtest-events-secret-0123456789";

/// How long a step waits, after its last publish, for deliveries that stopped arriving.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// How long one connection may take from TCP connect to `subscribed`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The clients' WebSocket read buffer. tungstenite zero-fills the free part of its
/// buffer before every read (up to the buffer's size), so its default of 128 KiB costs
/// two 128 KiB memsets per event at low rates (one read for the frame, one that finds
/// the socket empty): a third of the clients' CPU in a profile at 50k deliveries/s.
/// 8 KiB still holds about 40 of these frames per read.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`).
const CLOCK_TICKS: f64 = 100.0;

pub async fn run(options: Options) -> anyhow::Result<()> {
    let draftline = match &options.draftline {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this binary")?
            .with_file_name("draftline"),
    };
    anyhow::ensure!(
        draftline.is_file(),
        "the hub binary {} is missing: build it with `cargo build --release -p draftline` \
         (or pass --draftline PATH)",
        draftline.display()
    );
    anyhow::ensure!(
        !options.one_rates.is_empty()
            && !options.spread_rates.is_empty()
            && options
                .one_rates
                .iter()
                .chain(&options.spread_rates)
                .all(|r| *r > 0),
        "every scenario needs at least one rate, and rates must be positive"
    );
    // `cargo run -p loadtest` does not rebuild the hub: say which build is measured.
    let built = std::fs::metadata(&draftline)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or("?".to_owned(), |age| format!("{} min", age.as_secs() / 60));
    let began = Instant::now();
    let bench = Bench::new(&options, draftline.clone()).await?;
    println!(
        "# Draftline topic fan-out, this machine ({} cores shared by the hub, Redis, Postgres and the clients)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "# hub: {} (built {built} ago); steps of {} s after {} s of warm-up; latency from the publish call to the client's read",
        draftline.display(),
        options.seconds,
        options.warmup_seconds
    );
    let result = async {
        for scenario in &options.scenarios {
            match scenario.as_str() {
                "one" => {
                    let shape = Shape {
                        name: "one",
                        projects: 1,
                        per_project: options.one_subscribers,
                    };
                    scenario_run(&bench, &options, &shape, &options.one_rates).await?
                }
                "spread" => {
                    let shape = Shape {
                        name: "spread",
                        projects: options.spread_projects,
                        per_project: options.spread_subscribers,
                    };
                    scenario_run(&bench, &options, &shape, &options.spread_rates).await?
                }
                other => anyhow::bail!("unknown scenario `{other}`"),
            }
        }
        Ok(())
    }
    .await;
    bench.drop_database().await?;
    println!();
    println!("# done in {:.0} s", began.elapsed().as_secs_f64());
    result
}

/// The database, Redis prefix and publisher one run shares.
struct Bench {
    draftline: PathBuf,
    db: testkit::Database,
    redis_url: String,
    prefix: testkit::Prefix,
    store: Store,
    topics: Topics,
    redis: redis::aio::ConnectionManager,
    auth: server::auth::Auth,
    /// Send and receive times are nanoseconds since this instant.
    anchor: Instant,
}

impl Bench {
    async fn new(options: &Options, draftline: PathBuf) -> anyhow::Result<Self> {
        let db = options
            .services
            .database()
            .await
            .context("creating the database")?;
        let store = Store::connect(&db.url, 4)
            .await
            .context("connecting to Postgres")?;
        let client = redis::Client::open(options.services.redis_url.as_str())?;
        let redis = redis::aio::ConnectionManager::new(client)
            .await
            .context("connecting to Redis")?;
        let prefix = options.services.prefix();
        Ok(Self {
            topics: Topics::new(redis.clone(), prefix.prefix.clone(), Retention::default()),
            draftline,
            db,
            redis_url: options.services.redis_url.clone(),
            prefix,
            store,
            redis,
            auth: server::auth::Auth::new(SECRET),
            anchor: Instant::now(),
        })
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.anchor.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Projects owned by one user each, created in one transaction.
    async fn create_projects(&self, scenario: &str, n: usize) -> anyhow::Result<Vec<Owned>> {
        let mut tx = self.store.begin().await?;
        let mut owned = Vec::with_capacity(n);
        for i in 0..n {
            let user = format!("bench-{scenario}-{i}");
            let project =
                store::projects::create(&mut tx, &UserId(user.clone()), &format!("p{i}"), "")
                    .await?;
            owned.push(Owned {
                token: self.auth.issue(&user, false, 3600)?,
                topic: project_topic(project.id),
            });
        }
        tx.commit().await?;
        Ok(owned)
    }

    /// Redis's CPU time so far, in seconds (user plus system, every thread).
    async fn redis_cpu(&self) -> anyhow::Result<f64> {
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(info
            .lines()
            .filter_map(|l| {
                l.strip_prefix("used_cpu_sys:")
                    .or_else(|| l.strip_prefix("used_cpu_user:"))
            })
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum())
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        self.store.pool.close().await;
        self.db.drop_now().await?;
        self.prefix.clean().await?;
        Ok(())
    }
}

/// A project and a token of its owner.
struct Owned {
    token: String,
    topic: String,
}

/// Who subscribes to what.
struct Shape {
    name: &'static str,
    projects: usize,
    per_project: usize,
}

/// The hub as a child process; killed when dropped.
struct HubProcess {
    child: std::process::Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl HubProcess {
    async fn start(bench: &Bench, scenario: &str) -> anyhow::Result<Self> {
        // A port the kernel just handed out and released; the hub binds it at once.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::env::temp_dir().join(format!("{}-{scenario}-hub.log", bench.db.name));
        let stderr = std::fs::File::create(&log)
            .with_context(|| format!("creating the hub log {}", log.display()))?;
        let child = std::process::Command::new(&bench.draftline)
            .args(["serve", "--workers", "0"])
            .env("DATABASE_URL", &bench.db.url)
            .env("REDIS_URL", &bench.redis_url)
            .env("DRAFTLINE_JWT_SECRET", SECRET)
            .env("DRAFTLINE_BIND", addr.to_string())
            .env("DRAFTLINE_REDIS_PREFIX", bench.prefix.as_str())
            .env("DRAFTLINE_MAX_CONNECTIONS_PER_USER", "100000")
            // Every client connects from 127.0.0.1, hundreds at once.
            .env("DRAFTLINE_MAX_HANDSHAKES_PER_ADDRESS", "100000")
            // The log is a file: no colour codes in it.
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", bench.draftline.display()))?;
        let mut hub = Self { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = hub.child.try_wait()? {
                anyhow::bail!("the hub exited with {status}; see {}", hub.log.display());
            }
            if let Ok(body) = http_get(addr, "/readyz").await
                && body.starts_with("HTTP/1.1 200")
            {
                return Ok(hub);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the hub was not ready within 15 s; see {}",
                hub.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The hub's CPU time so far, in seconds.
    fn cpu(&self) -> f64 {
        process_cpu(&format!("/proc/{}/stat", self.child.id())).unwrap_or(f64::NAN)
    }

    /// A counter or gauge from the hub's `/metrics` (summed over its labels).
    async fn metric(&self, name: &str) -> Option<f64> {
        let body = http_get(self.addr, "/metrics").await.ok()?;
        let values: Vec<f64> = body
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// Warnings and errors the hub logged.
    fn complaints(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user plus system) of the process whose `stat` file this is, in seconds.
fn process_cpu(stat: &str) -> Option<f64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS)
}

/// CPU time every process on the machine used so far (all of `/proc/stat`'s busy
/// states), in seconds: what is left after the hub, the clients and Redis is someone
/// else's, and a step where that is large was measured on a busy machine.
fn machine_cpu() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = text
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    let busy: f64 = fields.iter().sum::<f64>() - fields.get(3)? - fields.get(4)?;
    Some(busy / CLOCK_TICKS)
}

/// A plain HTTP/1.1 GET; answers the whole response, status line first.
async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut body)).await??;
    Ok(body)
}

type Ws = testkit::Socket;

/// One step's deliveries as one client saw them.
#[derive(Debug, Default)]
struct StepStats {
    received: u64,
    /// Publish-to-receive, microseconds.
    latencies_us: Vec<u32>,
    /// Offsets skipped (events this client never got), counted when the next arrived.
    gaps: u64,
    /// Offsets at or below one already received.
    duplicates: u64,
    last_receive_ns: u64,
}

/// What one client task records; the harness takes a step's stats once it drained.
#[derive(Debug, Default)]
struct ClientState {
    steps: Vec<StepStats>,
    /// Frames that were not readable event frames.
    unreadable: u64,
    /// How the connection ended, when it did before the scenario's end.
    closed: Option<String>,
}

impl ClientState {
    fn step(&mut self, step: usize) -> &mut StepStats {
        if self.steps.len() <= step {
            self.steps.resize_with(step + 1, StepStats::default);
        }
        &mut self.steps[step]
    }
}

/// The parts of an incoming frame the client looks at.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    offset: Option<u64>,
    #[serde(borrow)]
    event: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    text: Option<&'a str>,
}

/// The client side of one subscriber.
struct Client {
    state: Arc<Mutex<ClientState>>,
    task: tokio::task::JoinHandle<()>,
}

/// Connects, says hello, subscribes to `topic`; answers the socket and the topic's
/// offset at subscription.
async fn open(addr: SocketAddr, token: &str, topic: &str) -> anyhow::Result<(Ws, u64)> {
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let mut ws = testkit::Ws::open_with(&format!("ws://{addr}/v1/ws"), None, Some(config))
        .await?
        .with_wait(CONNECT_TIMEOUT);
    ws.try_hello(token, "loadtest").await?;
    let subscribed = ws.try_subscribe(topic).await?;
    let offset = subscribed["offset"]
        .as_u64()
        .context("`subscribed` without an offset")?;
    Ok((ws.ws, offset))
}

/// Reads events until `stop` or the connection ends, checking offsets and recording
/// the latency of each.
async fn read_events(
    mut ws: Ws,
    mut last: u64,
    state: Arc<Mutex<ClientState>>,
    received: Arc<[AtomicU64]>,
    anchor: Instant,
    stop: CancellationToken,
) {
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let closed = loop {
        let message = tokio::select! {
            _ = &mut stopped => return,
            message = ws.next() => message,
        };
        let now_ns = u64::try_from(anchor.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => break format!("closed by the hub: {frame:?}"),
            // Pings are answered by the library.
            Some(Ok(_)) => continue,
            Some(Err(e)) => break format!("connection failed: {e}"),
            None => break "connection ended".to_owned(),
        };
        let parsed = serde_json::from_str::<Incoming<'_>>(&text)
            .ok()
            .filter(|f| f.kind == "event")
            .and_then(|f| {
                let (step, sent) = f.event?.text?.split_once(':')?;
                Some((
                    f.offset?,
                    step.parse::<usize>().ok()?,
                    sent.parse::<u64>().ok()?,
                ))
            });
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        let Some((offset, step, sent_ns)) = parsed else {
            state.unreadable += 1;
            continue;
        };
        let stats = state.step(step);
        if offset <= last {
            stats.duplicates += 1;
            continue;
        }
        stats.gaps += offset - last - 1;
        last = offset;
        stats.received += 1;
        let latency_us = now_ns.saturating_sub(sent_ns) / 1_000;
        stats
            .latencies_us
            .push(u32::try_from(latency_us).unwrap_or(u32::MAX));
        stats.last_receive_ns = stats.last_receive_ns.max(now_ns);
        drop(state);
        if let Some(counter) = received.get(step) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    };
    state.lock().unwrap_or_else(|p| p.into_inner()).closed = Some(closed);
}

/// One scenario: a hub, its subscribers, a warm-up, then one measured step per rate.
async fn scenario_run(
    bench: &Bench,
    options: &Options,
    shape: &Shape,
    rates: &[u32],
) -> anyhow::Result<()> {
    let subscribers = shape.projects * shape.per_project;
    println!();
    println!(
        "## {}: {subscribers} subscribers on {} project(s), {} each",
        shape.name, shape.projects, shape.per_project
    );
    let owned = bench.create_projects(shape.name, shape.projects).await?;
    let hub = HubProcess::start(bench, shape.name).await?;

    // Step 0 is the warm-up, steps 1.. the rates.
    let received: Arc<[AtomicU64]> = (0..=rates.len()).map(|_| AtomicU64::new(0)).collect();
    let stop = CancellationToken::new();
    let started = Instant::now();
    let opened: Vec<anyhow::Result<Client>> = futures_util::stream::iter(0..subscribers)
        .map(|i| {
            let project = &owned[i % shape.projects];
            let (received, stop) = (received.clone(), stop.clone());
            async move {
                let (ws, offset) = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    open(hub.addr, &project.token, &project.topic),
                )
                .await
                .context("connect timed out")??;
                let state = Arc::new(Mutex::new(ClientState::default()));
                let task = tokio::spawn(read_events(
                    ws,
                    offset,
                    state.clone(),
                    received,
                    bench.anchor,
                    stop,
                ));
                Ok(Client { state, task })
            }
        })
        .buffer_unordered(options.connect_concurrency)
        .collect()
        .await;
    let connect_failures = opened.iter().filter(|c| c.is_err()).count();
    let first_failure = opened
        .iter()
        .find_map(|c| c.as_ref().err())
        .map(|e| format!("{e:#}"));
    let clients: Vec<Client> = opened.into_iter().filter_map(Result::ok).collect();
    println!(
        "connected and subscribed {} of {subscribers} in {:.1} s ({} at a time); hub reports {} subscribers",
        clients.len(),
        started.elapsed().as_secs_f64(),
        options.connect_concurrency,
        hub.metric("draftline_subscribers")
            .await
            .map_or("?".into(), |v| format!("{v:.0}")),
    );
    if let Some(error) = first_failure {
        println!("{connect_failures} connections failed; the first: {error}");
    }

    let result = async {
        anyhow::ensure!(connect_failures == 0, "not every subscriber connected");
        let topics: Vec<&str> = owned.iter().map(|o| o.topic.as_str()).collect();
        let run = StepRun {
            bench,
            hub: &hub,
            clients: &clients,
            received: &received,
            topics: &topics,
            per_topic: shape.per_project as u64,
            in_flight: options.publish_in_flight,
        };
        let warmup = run
            .step(0, rates[0], Duration::from_secs(options.warmup_seconds))
            .await?;
        println!(
            "warm-up: {} events at {} events/s, {} of {} deliveries, {} gaps",
            warmup.published, rates[0], warmup.received, warmup.expected, warmup.gaps
        );
        println!();
        println!("{}", Report::HEADER);
        for (i, rate) in rates.iter().enumerate() {
            let report = run
                .step(i + 1, *rate, Duration::from_secs(options.seconds))
                .await?;
            println!("{}", report.row(subscribers, shape.projects));
            let closed = report.closed;
            if closed > 0 {
                println!(
                    "{closed} connections were closed during this step (first: {}); stopping this scenario",
                    report.first_close.as_deref().unwrap_or("?")
                );
                break;
            }
        }
        Ok(())
    }
    .await;

    stop.cancel();
    for client in clients {
        let _ = client.task.await;
    }
    let complaints = hub.complaints();
    let log = hub.log.clone();
    drop(hub);
    match complaints.first() {
        Some(first) => println!(
            "the hub logged {} warnings/errors (kept in {}), the first: {first}",
            complaints.len(),
            log.display(),
        ),
        None => {
            let _ = std::fs::remove_file(&log);
        }
    }
    result
}

/// What every step of a scenario shares.
struct StepRun<'a> {
    bench: &'a Bench,
    hub: &'a HubProcess,
    clients: &'a [Client],
    received: &'a Arc<[AtomicU64]>,
    topics: &'a [&'a str],
    per_topic: u64,
    in_flight: usize,
}

/// One step's outcome over every client.
#[derive(Debug, Default)]
struct Report {
    rate: u32,
    published: u64,
    publish_failures: u64,
    first_publish_error: Option<String>,
    /// Achieved publish rate, events/s.
    publish_rate: f64,
    expected: u64,
    received: u64,
    gaps: u64,
    duplicates: u64,
    unreadable: u64,
    closed: usize,
    first_close: Option<String>,
    /// Hub deliveries counted by the hub (its `draftline_events_delivered_total`).
    hub_delivered: Option<f64>,
    /// First publish to last receive, seconds.
    span: f64,
    /// Sorted publish-to-receive latencies, microseconds.
    latencies_us: Vec<u32>,
    /// CPU used over the step, in cores.
    cpu_hub: f64,
    cpu_clients: f64,
    cpu_redis: f64,
    /// Everything else on the machine (Postgres, builds, other benchmarks).
    cpu_other: f64,
}

impl Report {
    const HEADER: &'static str = "| subscribers | projects | target ev/s | published (ev/s achieved) | deliveries expected | received | lost | gaps | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU hub / clients / Redis / other (cores) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    fn percentile_ms(&self, p: f64) -> f64 {
        let v = &self.latencies_us;
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        f64::from(v[i]) / 1000.0
    }

    fn row(&self, subscribers: usize, projects: usize) -> String {
        let mut row = format!(
            "| {subscribers} | {projects} | {} | {} ({:.0}) | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} / {:.2} / {:.2} |",
            self.rate,
            self.published,
            self.publish_rate,
            self.expected,
            self.received,
            self.expected.saturating_sub(self.received),
            self.gaps,
            self.received as f64 / self.span,
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.percentile_ms(1.0),
            self.cpu_hub,
            self.cpu_clients,
            self.cpu_redis,
            self.cpu_other,
        );
        let mut notes = Vec::new();
        if self.publish_failures > 0 {
            notes.push(format!(
                "{} publishes failed (first: {})",
                self.publish_failures,
                self.first_publish_error.as_deref().unwrap_or("?")
            ));
        }
        if self.duplicates > 0 {
            notes.push(format!("{} duplicates", self.duplicates));
        }
        if self.unreadable > 0 {
            notes.push(format!("{} unreadable frames", self.unreadable));
        }
        if let Some(delivered) = self.hub_delivered
            && delivered as u64 != self.expected
        {
            notes.push(format!("the hub counted {delivered:.0} deliveries"));
        }
        if !notes.is_empty() {
            row.push_str(&format!("\n  note: {}", notes.join("; ")));
        }
        row
    }
}

impl StepRun<'_> {
    /// Publishes `rate` events/s for `duration`, round-robin over the topics, waits for
    /// the deliveries to drain, and gathers what the clients saw.
    async fn step(&self, step: usize, rate: u32, duration: Duration) -> anyhow::Result<Report> {
        let bench = self.bench;
        let total = (u64::from(rate) * duration.as_millis() as u64 / 1000).max(1);
        let interval = Duration::from_secs(1) / rate;
        let hub_before = self.hub.metric("draftline_events_delivered_total").await;
        let cpu_before = (
            self.hub.cpu(),
            process_cpu("/proc/self/stat").unwrap_or(f64::NAN),
            bench.redis_cpu().await?,
            machine_cpu().unwrap_or(f64::NAN),
        );
        let mut report = Report {
            rate,
            ..Report::default()
        };
        let first_publish_ns = bench.now_ns();
        let started = tokio::time::Instant::now();
        let mut in_flight = FuturesUnordered::new();
        let mut succeeded = 0u64;
        let mut settle =
            |result: Result<_, store::topics::BusError>, report: &mut Report| match result {
                Ok(_) => succeeded += 1,
                Err(e) => {
                    report.publish_failures += 1;
                    report.first_publish_error.get_or_insert(e.to_string());
                }
            };
        for i in 0..total {
            // Event i is due at i/rate; the timer's 1 ms resolution batches faster rates.
            let due = started + interval * u32::try_from(i).unwrap_or(u32::MAX);
            loop {
                if in_flight.len() >= self.in_flight {
                    if let Some(result) = in_flight.next().await {
                        settle(result, &mut report);
                    }
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => break,
                    Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                        settle(result, &mut report);
                    }
                }
            }
            let topic = self.topics[i as usize % self.topics.len()];
            let event = Event::DraftDelta(DraftDelta {
                job_id: JobId::new(),
                seq: i,
                text: format!("{step}:{}", bench.now_ns()),
            });
            let topics = &bench.topics;
            in_flight.push(async move { topics.publish(topic, &event).await });
        }
        while let Some(result) = in_flight.next().await {
            settle(result, &mut report);
        }
        let published_in = started.elapsed();
        report.published = total;
        report.publish_rate = total as f64 / published_in.as_secs_f64();

        // Every published event goes to the `per_topic` subscribers of its topic.
        report.expected = succeeded * self.per_topic;

        // Drain: until everything arrived, or nothing more did for a while.
        let counter = &self.received[step];
        let mut seen = counter.load(Ordering::Relaxed);
        let mut quiet_since = Instant::now();
        while seen < report.expected && quiet_since.elapsed() < DRAIN_IDLE {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = counter.load(Ordering::Relaxed);
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            }
        }
        let cpu_span = started.elapsed().as_secs_f64();
        report.cpu_hub = (self.hub.cpu() - cpu_before.0) / cpu_span;
        report.cpu_clients =
            (process_cpu("/proc/self/stat").unwrap_or(f64::NAN) - cpu_before.1) / cpu_span;
        report.cpu_redis = (bench.redis_cpu().await? - cpu_before.2) / cpu_span;
        report.cpu_other = (machine_cpu().unwrap_or(f64::NAN) - cpu_before.3) / cpu_span
            - report.cpu_hub
            - report.cpu_clients
            - report.cpu_redis;
        if let (Some(before), Some(after)) = (
            hub_before,
            self.hub.metric("draftline_events_delivered_total").await,
        ) {
            report.hub_delivered = Some(after - before);
        }

        let mut last_receive_ns = first_publish_ns;
        for client in self.clients {
            let mut state = client.state.lock().unwrap_or_else(|p| p.into_inner());
            let stats = std::mem::take(state.step(step));
            report.received += stats.received;
            report.gaps += stats.gaps;
            report.duplicates += stats.duplicates;
            report.latencies_us.extend_from_slice(&stats.latencies_us);
            last_receive_ns = last_receive_ns.max(stats.last_receive_ns);
            report.unreadable += std::mem::take(&mut state.unreadable);
            if let Some(closed) = &state.closed {
                report.closed += 1;
                report.first_close.get_or_insert_with(|| closed.clone());
            }
        }
        report.latencies_us.sort_unstable();
        report.span = (last_receive_ns - first_publish_ns) as f64 / 1e9;
        Ok(report)
    }
}
