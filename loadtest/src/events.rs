//! The topic fan-out scenarios: events delivered per second and publish-to-receive
//! latency through a real server process. (1) `one`: 1,000 WebSocket subscribers on one
//! project, run against Draftline and, with the same generator, the same subscriber
//! count and the same rates, against its peers (a Node `ws` broadcast server, Socket.IO
//! 4 with its Redis adapter, and the bare tokio-tungstenite ceiling); (2) `spread`:
//! 10,000 subscribers over 1,000 topics, 10 each, against the same systems (projects on
//! Draftline, per-topic subscriber sets in the `ws` server and the ceiling, rooms in
//! Socket.IO). Draftline's events are published through Redis with `Topics::publish`; a
//! peer's through one publishing WebSocket client that names the topic of each. Every
//! event carries its send time, every client checks its topic's numbering for gaps and
//! records latencies, all on one clock in this process.
//!
//! Each scenario is a ramp: rising rates, one measured step each, stopping after the
//! first step that loses anything or has a p99 at or over the limit (100 ms); the
//! highest step that passed is the target's limit, written as its own row. During
//! Draftline's steps, calm clients call `create_note` a few times a second (`calm.rs`):
//! their round trips show whether an answer waits behind fan-out work. Beside every
//! target another calm client calls an idle Draftline hub: what the machine's load alone
//! does to a call.
//!
//! Every server runs as a child process (`servers.rs`): 10,000 client sockets and
//! 10,000 server sockets in one process would pass this machine's limit of 20,000 open
//! files, and each system's CPU is read from its own `/proc/<pid>/stat`.

mod calm;
pub mod client;
mod outcome;
pub mod servers;

use crate::record::{CpuMeter, Proc, Record};
use anyhow::Context;
use client::{Client, ClientState, Wire, Ws};
use futures_util::stream::{FuturesUnordered, SplitSink};
use futures_util::{SinkExt, StreamExt};
use outcome::{Limit, Passed, Report, print_calm};
use protocol::event::{DraftDelta, Event, project_topic};
use protocol::{JobId, UserId};
use servers::{HubEnv, Kind, Server};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use store::topics::{Retention, Topics};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    hub: crate::HubOptions,
    /// Which scenarios: one (every subscriber on one project), spread (many projects).
    #[arg(long, value_delimiter = ',', default_value = "one,spread")]
    scenarios: Vec<String>,
    /// Systems each scenario measures: draftline, ws, socketio, ceiling.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "draftline,ws,socketio,ceiling"
    )]
    targets: Vec<String>,
    /// The folder of the peers' Node scripts, with their `node_modules`.
    #[arg(long, default_value = "loadtest/peers")]
    peers_dir: PathBuf,
    /// The Node binary that runs the peers.
    #[arg(long, default_value = "node")]
    node: String,
    /// Subscribers of the one-project scenario.
    #[arg(long, default_value_t = 1_000)]
    one_subscribers: usize,
    /// Publish rates of the one-project scenario, events/s, one measured step each; the
    /// ramp stops after the first step that fails (see --p99-limit-ms).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,20,50,75,100,150,200,300,500"
    )]
    one_rates: Vec<u32>,
    /// Projects of the spread scenario.
    #[arg(long, default_value_t = 1_000)]
    spread_projects: usize,
    /// Subscribers per project in the spread scenario.
    #[arg(long, default_value_t = 10)]
    spread_subscribers: usize,
    /// Publish rates of the spread scenario (round-robin over the projects), events/s;
    /// a ramp as --one-rates.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,2000,3000,5000,7500,10000,15000,20000,30000"
    )]
    spread_rates: Vec<u32>,
    /// A step passes with nothing lost, its publisher on schedule and a p99 under this.
    #[arg(long, default_value_t = 100.0)]
    p99_limit_ms: f64,
    /// `create_note` calls per second of each calm client during Draftline's steps
    /// (0: no calm clients).
    #[arg(long, default_value_t = 10)]
    calm_per_second: u32,
    /// Seconds each rate is published for.
    #[arg(long, default_value_t = 5)]
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
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<PathBuf>,
}

const SECRET: &str = "draftline-loadtest-events-secret-0123456789";

/// How long a step waits, after its last publish, for deliveries that stopped arriving.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// How long one connection may take from TCP connect to `subscribed`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(options: Options) -> anyhow::Result<()> {
    let draftline = options.hub.binary()?;
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
    let targets = options
        .targets
        .iter()
        .map(|t| Kind::parse(t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // `cargo run -p loadtest` does not rebuild the hub: say which build is measured.
    let built = std::fs::metadata(&draftline)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or("?".to_owned(), |age| format!("{} min", age.as_secs() / 60));
    let began = Instant::now();
    let mut record = Record::new("events");
    let bench = Bench::new(&options, draftline.clone()).await?;
    println!(
        "# Topic fan-out, this machine ({} cores shared by the servers, Redis, Postgres and the clients)",
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
                    for target in &targets {
                        scenario_run(
                            &bench,
                            &options,
                            &shape,
                            &options.one_rates,
                            *target,
                            &mut record,
                        )
                        .await?;
                    }
                }
                "spread" => {
                    let shape = Shape {
                        name: "spread",
                        projects: options.spread_projects,
                        per_project: options.spread_subscribers,
                    };
                    for target in &targets {
                        scenario_run(
                            &bench,
                            &options,
                            &shape,
                            &options.spread_rates,
                            *target,
                            &mut record,
                        )
                        .await?;
                    }
                }
                other => anyhow::bail!("unknown scenario `{other}`"),
            }
        }
        Ok(())
    }
    .await;
    bench.drop_database().await?;
    record.write(options.json.as_deref())?;
    println!();
    println!("# done in {:.0} s", began.elapsed().as_secs_f64());
    result
}

/// The database, Redis prefix and publisher one run shares.
struct Bench {
    db: testkit::Database,
    prefix: testkit::Prefix,
    draftline: PathBuf,
    redis_url: String,
    store: Store,
    topics: Topics,
    auth: server::auth::Auth,
    /// Send and receive times are nanoseconds since this instant.
    anchor: Instant,
}

impl Bench {
    async fn new(options: &Options, draftline: PathBuf) -> anyhow::Result<Self> {
        let db = options.hub.services.database().await?;
        let prefix = options.hub.services.prefix();
        let store = Store::connect(&db.url, 4)
            .await
            .context("connecting to Postgres")?;
        let client = redis::Client::open(options.hub.services.redis_url.as_str())?;
        let redis = redis::aio::ConnectionManager::new(client)
            .await
            .context("connecting to Redis")?;
        Ok(Self {
            topics: Topics::new(redis, prefix.prefix.clone(), Retention::default()),
            db,
            prefix,
            draftline,
            redis_url: options.hub.services.redis_url.clone(),
            store,
            auth: server::auth::Auth::new(SECRET),
            anchor: Instant::now(),
        })
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.anchor.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Projects owned by one user each, created in one transaction. `users` names the
    /// owners (`bench-{users}-{i}`, one user may own several projects).
    async fn create_projects(
        &self,
        users: &str,
        name: &str,
        n: usize,
    ) -> anyhow::Result<Vec<Owned>> {
        let mut tx = self.store.begin().await?;
        let mut owned = Vec::with_capacity(n);
        for i in 0..n {
            let user = format!("bench-{users}-{i}");
            let project =
                store::projects::create(&mut tx, &UserId(user.clone()), &format!("{name}{i}"), "")
                    .await?;
            owned.push(Owned {
                token: self.auth.issue(&user, false, 3600)?,
                topic: project_topic(project.id),
                project: project.id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(owned)
    }

    async fn server(&self, kind: Kind, options: &Options, label: &str) -> anyhow::Result<Server> {
        match kind {
            Kind::Draftline => {
                let env = HubEnv {
                    binary: &self.draftline,
                    database_url: &self.db.url,
                    redis_url: &self.redis_url,
                    redis_prefix: &self.prefix.prefix,
                    secret: SECRET,
                    extra: &[],
                };
                Server::hub(&env, label).await
            }
            _ => {
                Server::peer(
                    kind,
                    &options.node,
                    &options.peers_dir,
                    &self.redis_url,
                    &format!("{}socket.io", self.prefix.prefix),
                    label,
                )
                .await
            }
        }
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
    project: String,
}

/// Who subscribes to what.
struct Shape {
    name: &'static str,
    projects: usize,
    per_project: usize,
}

/// How a step's events leave the generator.
enum Publisher<'a> {
    /// Draftline: the Lua script that numbers, stores and PUBLISHes.
    Topics(&'a Topics),
    /// A peer: text frames on one publishing WebSocket, numbered here from 1 on each
    /// topic (by the topic's index).
    Socket {
        wire: Wire,
        sink: tokio::sync::Mutex<SplitSink<Ws, Message>>,
        seqs: Vec<AtomicU64>,
    },
}

/// One scenario on one system: a server, its subscribers, a warm-up, then one measured
/// step per rate.
async fn scenario_run(
    bench: &Bench,
    options: &Options,
    shape: &Shape,
    rates: &[u32],
    kind: Kind,
    record: &mut Record,
) -> anyhow::Result<()> {
    let subscribers = shape.projects * shape.per_project;
    println!();
    println!(
        "## {} on {}: {subscribers} subscribers on {} topic(s), {} each",
        shape.name,
        kind.name(),
        shape.projects,
        shape.per_project
    );
    let wire = match kind {
        Kind::Draftline => Wire::Draftline,
        Kind::SocketIo => Wire::SocketIo,
        Kind::Ws | Kind::Ceiling => Wire::Plain,
    };
    // Peers' topics are names the harness makes up; they have no owners.
    let owned = if kind == Kind::Draftline {
        bench
            .create_projects(shape.name, "p", shape.projects)
            .await?
    } else {
        (0..shape.projects)
            .map(|i| Owned {
                token: String::new(),
                topic: format!("t{i}"),
                project: String::new(),
            })
            .collect()
    };
    let server = bench.server(kind, options, shape.name).await?;

    // Step 0 is the warm-up, steps 1.. the rates.
    let received: Arc<[AtomicU64]> = (0..=rates.len()).map(|_| AtomicU64::new(0)).collect();
    let stop = CancellationToken::new();
    let started = Instant::now();
    let addr = server.addr;
    let opened: Vec<anyhow::Result<Client>> = futures_util::stream::iter(0..subscribers)
        .map(|i| {
            let project = &owned[i % shape.projects];
            let (received, stop) = (received.clone(), stop.clone());
            async move {
                let (ws, offset) = tokio::time::timeout(CONNECT_TIMEOUT, async {
                    match wire {
                        Wire::Draftline => {
                            client::open_draftline(addr, &project.token, &project.topic).await
                        }
                        _ => Ok((
                            client::open_peer(addr, wire, Some(&project.topic)).await?,
                            0,
                        )),
                    }
                })
                .await
                .context("connect timed out")??;
                let state = Arc::new(Mutex::new(ClientState::default()));
                let task = tokio::spawn(client::read_events(
                    ws,
                    wire,
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
        "connected {} of {subscribers} in {:.1} s ({} at a time){}",
        clients.len(),
        started.elapsed().as_secs_f64(),
        options.connect_concurrency,
        server
            .metric("draftline_subscribers")
            .await
            .map_or(String::new(), |v| format!(
                "; the hub reports {v:.0} subscribers"
            )),
    );
    if let Some(error) = first_failure {
        println!("{connect_failures} connections failed; the first: {error}");
    }

    let result = async {
        anyhow::ensure!(connect_failures == 0, "not every subscriber connected");
        let publisher = match kind {
            Kind::Draftline => Publisher::Topics(&bench.topics),
            _ => Publisher::Socket {
                wire,
                sink: tokio::sync::Mutex::new(client::open_peer(addr, wire, None).await?.split().0),
                seqs: owned.iter().map(|_| AtomicU64::new(0)).collect(),
            },
        };
        let phase = Arc::new(AtomicUsize::new(0));
        let calm_stop = stop.child_token();
        // Beside every target, Draftline included, a calm client calls an idle Draftline
        // hub of its own: the control that shows what the machine's load alone does to a
        // call. Draftline's own calm clients call the busy hub.
        let control = if options.calm_per_second > 0 {
            Some(bench.server(Kind::Draftline, options, "control").await?)
        } else {
            None
        };
        let mut calm = Vec::new();
        if let Some(control) = &control {
            if kind == Kind::Draftline {
                calm = start_calm(
                    bench,
                    shape,
                    Some(&owned[0]),
                    addr,
                    options,
                    &phase,
                    &calm_stop,
                )
                .await?;
            }
            calm.extend(
                start_calm(
                    bench,
                    shape,
                    None,
                    control.addr,
                    options,
                    &phase,
                    &calm_stop,
                )
                .await?,
            );
        }
        let topics: Vec<&str> = owned.iter().map(|o| o.topic.as_str()).collect();
        let mut procs = vec![
            ("server", Proc::Pid(server.pid())),
            ("redis", Proc::Named("redis-server")),
        ];
        if kind == Kind::Draftline {
            procs.push(("postgres", Proc::Named("postgres")));
        }
        let run = StepRun {
            bench,
            server: &server,
            publisher: &publisher,
            clients: &clients,
            received: &received,
            topics: &topics,
            per_topic: shape.per_project as u64,
            in_flight: options.publish_in_flight,
            procs: &procs,
            phase: &phase,
            calm: &calm,
        };
        if kind == Kind::Draftline && !calm.is_empty() {
            // The calm clients alone first: their round trips with no fan-out at all.
            let idle = rates.len() + 1;
            phase.store(idle + 1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(options.seconds)).await;
            phase.store(0, Ordering::Relaxed);
            let report = Report {
                calm: calm.iter().map(|c| (c.name, c.take(idle))).collect(),
                ..Report::default()
            };
            print_calm("no events", &report.calm);
            record
                .rows
                .extend(report.calm_rows(kind, shape, subscribers, options.calm_per_second));
        }
        let warmup = run
            .step(0, rates[0], Duration::from_secs(options.warmup_seconds))
            .await?;
        println!(
            "warm-up: {} events at {} events/s, {} of {} deliveries, {} gaps",
            warmup.published, rates[0], warmup.received, warmup.expected, warmup.gaps
        );
        println!();
        println!("{}", Report::HEADER);
        let mut highest: Option<Passed> = None;
        let mut failed = None;
        for (i, rate) in rates.iter().enumerate() {
            let mut report = run
                .step(i + 1, *rate, Duration::from_secs(options.seconds))
                .await?;
            println!("{}", report.line(subscribers, shape.projects));
            print_calm(&format!("{rate} ev/s"), &report.calm);
            // One slow moment of a shared machine should not end a ramp: a step that
            // fails without losing a connection is run once more, and that one counts.
            if let Some(why) = report.failure(options.p99_limit_ms)
                && report.closed == 0
            {
                println!("failed at {rate} ev/s: {why}; once more");
                report = run
                    .step(i + 1, *rate, Duration::from_secs(options.seconds))
                    .await?;
                report.retried = Some(why);
                println!("{}", report.line(subscribers, shape.projects));
                print_calm(&format!("{rate} ev/s"), &report.calm);
            }
            record.rows.push(report.row(kind, shape, subscribers));
            record
                .rows
                .extend(report.calm_rows(kind, shape, subscribers, options.calm_per_second));
            if let Some(why) = report.failure(options.p99_limit_ms) {
                println!("failed at {rate} ev/s: {why}; the ramp stops here");
                failed = Some(format!("{rate} ev/s: {why}"));
                break;
            }
            highest = Some(Passed {
                rate: *rate,
                deliveries_per_second: report.deliveries_per_second(),
                p99_ms: report.percentile_ms(0.99),
                cpu_seconds: report.cpu_seconds,
                cpu_span: report.cpu_span,
            });
        }
        let limit = Limit {
            highest: highest.as_ref(),
            failed: failed.as_deref(),
            per_topic: shape.per_project,
            p99_limit_ms: options.p99_limit_ms,
        };
        println!("{}", limit.line());
        record.rows.push(limit.row(kind, shape, subscribers));
        calm_stop.cancel();
        for calm in calm {
            if let Err(e) = calm.finish().await {
                println!("calm client failed: {e:#}");
            }
        }
        Ok(())
    }
    .await;

    stop.cancel();
    for client in clients {
        let _ = client.task.await;
    }
    server.finish();
    result
}

/// Starts the calm clients of a scenario: one apart (a user and project of its own, no
/// subscription) and, given the `busy` Draftline project, one inside (its owner,
/// subscribed to its topic, writing to a second project so its notes stay off the
/// busy topic).
async fn start_calm(
    bench: &Bench,
    shape: &Shape,
    busy: Option<&Owned>,
    addr: std::net::SocketAddr,
    options: &Options,
    phase: &Arc<AtomicUsize>,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<calm::Calm>> {
    // The control's user is another than the busy hub's apart client.
    let users = match busy {
        Some(_) => format!("{}-calm", shape.name),
        None => format!("{}-calm-control", shape.name),
    };
    let apart = bench.create_projects(&users, "calm", 1).await?;
    let every = Duration::from_secs(1) / options.calm_per_second;
    let mut desks = vec![calm::Desk {
        name: if busy.is_some() {
            "apart"
        } else {
            "apart, on an idle Draftline hub"
        },
        token: apart[0].token.clone(),
        project_id: apart[0].project.clone(),
        subscribe: None,
    }];
    if let Some(busy) = busy {
        // `bench-{shape}-0` owns the first busy project; this is its second.
        let inside = bench.create_projects(shape.name, "calm-inside", 1).await?;
        desks.push(calm::Desk {
            name: "subscribed",
            token: inside[0].token.clone(),
            project_id: inside[0].project.clone(),
            subscribe: Some(busy.topic.clone()),
        });
    }
    let mut started = Vec::new();
    for desk in desks {
        let name = desk.name;
        let calm = calm::Calm::start(addr, desk, every, phase.clone(), stop.clone())
            .await
            .with_context(|| format!("starting the {name} calm client"))?;
        started.push(calm);
    }
    Ok(started)
}

/// What every step of a scenario shares.
struct StepRun<'a> {
    bench: &'a Bench,
    server: &'a Server,
    publisher: &'a Publisher<'a>,
    clients: &'a [Client],
    received: &'a Arc<[AtomicU64]>,
    topics: &'a [&'a str],
    per_topic: u64,
    in_flight: usize,
    procs: &'a [(&'a str, Proc)],
    /// The step being published + 1, 0 between steps: what the calm clients count in.
    phase: &'a Arc<AtomicUsize>,
    calm: &'a [calm::Calm],
}

impl StepRun<'_> {
    /// Publishes `rate` events/s for `duration`, round-robin over the topics, waits for
    /// the deliveries to drain, and gathers what the clients saw.
    async fn step(&self, step: usize, rate: u32, duration: Duration) -> anyhow::Result<Report> {
        let bench = self.bench;
        let total = (u64::from(rate) * duration.as_millis() as u64 / 1000).max(1);
        let interval = Duration::from_secs(1) / rate;
        let hub_before = self.server.metric("draftline_events_delivered_total").await;
        let meter = CpuMeter::start(self.procs);
        let mut report = Report {
            rate,
            ..Report::default()
        };
        // A step run twice counts its deliveries afresh.
        self.received[step].store(0, Ordering::Relaxed);
        let first_publish_ns = bench.now_ns();
        let started = tokio::time::Instant::now();
        self.phase.store(step + 1, Ordering::Relaxed);
        let mut in_flight = FuturesUnordered::new();
        let mut succeeded = 0u64;
        let mut settle = |result: anyhow::Result<()>, report: &mut Report| match result {
            Ok(()) => succeeded += 1,
            Err(e) => {
                report.publish_failures += 1;
                report.first_publish_error.get_or_insert(format!("{e:#}"));
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
            let index = i as usize % self.topics.len();
            let topic = self.topics[index];
            let publisher = self.publisher;
            in_flight.push(async move {
                match publisher {
                    Publisher::Topics(topics) => {
                        let event = Event::DraftDelta(DraftDelta {
                            job_id: JobId::new(),
                            seq: i,
                            text: format!("{step}:{}", bench.now_ns()),
                        });
                        topics.publish(topic, &event).await.map(|_| ())?;
                    }
                    Publisher::Socket { wire, sink, seqs } => {
                        // One socket: sends go in order, each numbered as it leaves.
                        let mut sink = sink.lock().await;
                        let n = seqs[index].fetch_add(1, Ordering::Relaxed) + 1;
                        let payload = client::peer_payload(step, bench.now_ns(), n);
                        sink.send(client::publish_frame(*wire, topic, &payload))
                            .await?;
                    }
                }
                anyhow::Ok(())
            });
        }
        while let Some(result) = in_flight.next().await {
            settle(result, &mut report);
        }
        let published_in = started.elapsed();
        self.phase.store(0, Ordering::Relaxed);
        report.published = total;
        report.publish_rate = total as f64 / published_in.as_secs_f64();

        // Every published event goes to the `per_topic` subscribers of its topic.
        report.expected = succeeded * self.per_topic;
        // A subscribed calm client listens to the first topic, which gets every
        // `topics.len()`-th event.
        let watchers = self.calm.iter().filter(|c| c.subscribed).count() as u64;
        let topics = self.topics.len() as u64;
        report.hub_expected = report.expected + watchers * succeeded.div_ceil(topics);

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
        let (cpu_seconds, cpu_span, machine) = meter.stop();
        report.cpu_seconds = cpu_seconds;
        report.cpu_span = cpu_span;
        report.machine_cores = machine / cpu_span;
        if let (Some(before), Some(after)) = (
            hub_before,
            self.server.metric("draftline_events_delivered_total").await,
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
        report.calm = self.calm.iter().map(|c| (c.name, c.take(step))).collect();
        Ok(report)
    }
}
