//! `loadtest rolling`: a rolling restart of two hub nodes under 1,000 subscribed
//! clients that resume as the SDK does. Every client subscribes to one project's topic
//! on node A or B; a writer on a third node (up throughout) creates notes; A is stopped
//! (SIGTERM's path: close with 1012) and started again, then B. A client whose
//! connection closes waits the SDK's first reconnect delay (full jitter under 500 ms),
//! connects to a live node, says `hello` with its session id (session resume) and
//! subscribes `since` its last position (recovery from the topic's history). Each
//! client counts by offsets: a gap is a missed event, an offset at or below one already
//! seen is a doubled one. The report gives both totals (zero is the pass), every
//! client's note count against the writer's acknowledged notes, and recovery times
//! (close to `subscribed` again) per restart.
//!
//! The nodes run in this process (`server::run` on port 0): 1,000 clients take 2,000
//! sockets here, far below the 20,000 open files allowed, and a stopped node's
//! replacement starts in milliseconds.

use anyhow::Context;
use futures_util::StreamExt;
use protocol::UserId;
use protocol::event::project_topic;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// Subscribed clients, split evenly over the two nodes.
    #[arg(long, default_value_t = 1_000)]
    clients: usize,
    /// Milliseconds between the writer's notes (one call at a time).
    #[arg(long, default_value_t = 20)]
    write_every_ms: u64,
    /// Seconds of writing before the first restart, between restarts and after the last.
    #[arg(long, default_value_t = 3)]
    settle_secs: u64,
    /// WebSocket connections being opened at once while the clients first subscribe.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
}

const SECRET: &str = "draftline-loadtest-rolling-secret-0123456789";
/// The user every client connects as (the project's owner).
const USER: &str = "rolling-owner";
/// How long everything gets to arrive after the writer stops, and the clients to
/// come back after a restart.
const CATCH_UP: Duration = Duration::from_secs(60);
/// The SDK's reconnect delays (`client-sdk/src/client.ts`): full jitter under a cap
/// doubling from 500 ms to 20 s, never under a tenth of the first cap.
const RECONNECT_MIN_MS: u64 = 500;
const RECONNECT_MAX_MS: u64 = 20_000;

use crate::events::client::{Ws, request, tool_call};

pub async fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(options.clients >= 2, "--clients must be at least 2");
    let db = options.services.database().await?;
    let prefix = options.services.prefix();
    let result = scenario(&options, &db.url, &prefix.prefix).await;
    db.drop_now().await?;
    prefix.clean().await?;
    result
}

/// A hub node running in this process.
struct Node {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), server::ServerError>>,
}

impl Node {
    async fn start(config: &server::Config) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(server::run(config.clone(), listener, stop.clone()));
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = http.get(format!("http://{addr}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(Self { addr, stop, task });
            }
            anyhow::ensure!(!task.is_finished(), "the node at {addr} stopped at start");
            anyhow::ensure!(Instant::now() < deadline, "the node was not ready in 15 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the node as SIGTERM does and waits for it.
    async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .context("the node did not stop in 30 s")??
            .context("the node failed")
    }
}

impl Drop for Node {
    /// A node left running when the run fails stops with it (before its database is
    /// dropped).
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The nodes a reconnecting client may pick (a load balancer's view).
#[derive(Default)]
struct Live {
    nodes: Mutex<Vec<SocketAddr>>,
    next: AtomicUsize,
}

impl Live {
    fn set(&self, nodes: Vec<SocketAddr>) {
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes;
    }

    fn pick(&self) -> Option<SocketAddr> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (!nodes.is_empty()).then(|| nodes[i % nodes.len()])
    }
}

/// What one client counted, returned when it stops.
#[derive(Debug, Default)]
struct Tally {
    /// Offsets skipped: events this client never got.
    missed: u64,
    /// Offsets at or below one already received.
    doubled: u64,
    /// Events from another epoch than the one subscribed to (the history was lost).
    other_epoch: u64,
    notes: u64,
    /// When a connection closed, and how long until `subscribed` on another node.
    recoveries: Vec<(Instant, Duration)>,
    /// Resumes whose `subscribed` said `recovered: false`.
    not_recovered: u64,
    /// Resumes where `hello` gave a new session instead of the client's.
    sessions_lost: u64,
    failed_attempts: u64,
    /// Why the first failed attempt failed.
    first_failure: Option<String>,
}

/// A client's progress, read by the harness while it runs.
#[derive(Default)]
struct Progress {
    last: AtomicU64,
    connected: AtomicBool,
}

/// One subscribed client: its socket, session and position.
struct Subscriber {
    token: String,
    topic: String,
    session: String,
    epoch: String,
    last: u64,
    tally: Tally,
    progress: Arc<Progress>,
}

impl Subscriber {
    /// Connects to `addr`, starts a session and subscribes from the topic's position.
    async fn join(
        addr: SocketAddr,
        token: String,
        topic: String,
        progress: Arc<Progress>,
    ) -> anyhow::Result<(Self, Ws)> {
        let mut ws = connect(addr).await?;
        let welcome = hello(&mut ws, &token, None).await?;
        let session = welcome["session_id"]
            .as_str()
            .context("welcome without a session id")?
            .to_owned();
        let (subscribed, _) = request(
            &mut ws,
            json!({"type": "subscribe", "id": 2, "topic": topic}),
            "subscribed",
        )
        .await?;
        let client = Self {
            token,
            topic,
            session,
            epoch: subscribed["epoch"].as_str().unwrap_or_default().to_owned(),
            last: subscribed["offset"].as_u64().context("no offset")?,
            tally: Tally::default(),
            progress,
        };
        client.progress.last.store(client.last, Ordering::Relaxed);
        client.progress.connected.store(true, Ordering::Relaxed);
        Ok((client, ws))
    }

    /// Reads events until `stop`, resuming on another node whenever the connection
    /// closes; answers the tally.
    async fn run(mut self, mut ws: Ws, live: Arc<Live>, stop: CancellationToken) -> Tally {
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return self.tally,
                message = ws.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(frame) = serde_json::from_str::<Value>(&text) {
                        self.take(&frame);
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    self.progress.connected.store(false, Ordering::Relaxed);
                    match self.resume(&live, &stop).await {
                        Some(next) => ws = next,
                        None => return self.tally,
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    fn take(&mut self, frame: &Value) {
        if frame["type"] != "event" {
            return;
        }
        if frame["epoch"].as_str() != Some(self.epoch.as_str()) {
            self.tally.other_epoch += 1;
            return;
        }
        let Some(offset) = frame["offset"].as_u64() else {
            return;
        };
        if offset <= self.last {
            self.tally.doubled += 1;
            return;
        }
        self.tally.missed += offset - self.last - 1;
        self.last = offset;
        self.progress.last.store(offset, Ordering::Relaxed);
        if frame["event"]["kind"] == "note.created" {
            self.tally.notes += 1;
        }
    }

    /// The SDK's reconnect: a jittered delay, a live node, `hello` with the session id,
    /// `subscribe` since the last position. `None` when stopped.
    async fn resume(&mut self, live: &Live, stop: &CancellationToken) -> Option<Ws> {
        let closed = Instant::now();
        // Like the SDK, it never gives up; the harness's wait for it does.
        for attempt in 0_u32.. {
            let cap = (RECONNECT_MIN_MS << attempt.min(16)).min(RECONNECT_MAX_MS);
            let jitter = rand::random_range(0..cap);
            let delay = Duration::from_millis(jitter.max(RECONNECT_MIN_MS / 10));
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            let Some(addr) = live.pick() else {
                continue;
            };
            match self.reopen(addr).await {
                Ok(ws) => {
                    self.tally.recoveries.push((closed, closed.elapsed()));
                    self.progress.connected.store(true, Ordering::Relaxed);
                    return Some(ws);
                }
                Err(e) => {
                    self.tally.failed_attempts += 1;
                    self.tally
                        .first_failure
                        .get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
        None
    }

    async fn reopen(&mut self, addr: SocketAddr) -> anyhow::Result<Ws> {
        let mut ws = connect(addr).await?;
        let welcome = hello(&mut ws, &self.token, Some(&self.session)).await?;
        if welcome["session_id"].as_str() != Some(self.session.as_str()) {
            self.tally.sessions_lost += 1;
            self.session = welcome["session_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        let since = json!({"epoch": self.epoch, "offset": self.last});
        let (subscribed, early) = request(
            &mut ws,
            json!({"type": "subscribe", "id": 2, "topic": self.topic, "since": since}),
            "subscribed",
        )
        .await?;
        if subscribed["recovered"] != true {
            self.tally.not_recovered += 1;
        }
        for frame in subscribed["publications"].as_array().into_iter().flatten() {
            self.take(frame);
        }
        for frame in &early {
            self.take(frame);
        }
        Ok(ws)
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<Ws> {
    let mut request = format!("ws://{addr}/v1/ws").into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(protocol::SUBPROTOCOL),
    );
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .context("connect timed out")??;
    Ok(ws)
}

/// `hello` (resuming `session` when given); answers the welcome.
async fn hello(ws: &mut Ws, token: &str, session: Option<&str>) -> anyhow::Result<Value> {
    let mut hello = crate::hello(token, "loadtest-rolling");
    if let Some(session) = session {
        hello["session_id"] = json!(session);
    }
    Ok(request(ws, hello, "welcome").await?.0)
}

/// The writer: creates notes on `addr` one call at a time until `stop`; answers the
/// notes acknowledged and the calls that failed.
async fn write(
    addr: SocketAddr,
    token: String,
    project: String,
    every: Duration,
    stop: CancellationToken,
) -> anyhow::Result<(u64, u64)> {
    let mut ws = connect(addr).await?;
    hello(&mut ws, &token, None).await?;
    let frame = tool_call(
        1,
        "assign_project_to_session",
        json!({"project_id": project}),
    );
    request(&mut ws, frame, "tool.result").await?;
    let frame = json!({"type": "session.configure", "id": 2, "mode": "intake"});
    request(&mut ws, frame, "ok").await?;
    let (mut acknowledged, mut failed) = (0, 0);
    let mut tick = tokio::time::interval(every);
    let mut id = 2;
    while !stop.is_cancelled() {
        tick.tick().await;
        id += 1;
        let frame = tool_call(id, "create_note", json!({"body": format!("rolling {id}")}));
        let (reply, _) = request(&mut ws, frame, "tool.result").await?;
        if reply["ok"] == true {
            acknowledged += 1;
        } else {
            failed += 1;
        }
    }
    Ok((acknowledged, failed))
}

async fn scenario(options: &Options, url: &str, prefix: &str) -> anyhow::Result<()> {
    let store = Store::connect(url, 2)
        .await
        .context("connecting to Postgres")?;
    store.migrate().await?;
    let mut tx = store.begin().await?;
    let project = store::projects::create(&mut tx, &UserId(USER.into()), "Rolling", "").await?;
    tx.commit().await?;
    store.pool.close().await;
    let topic = project_topic(project.id);
    let token = server::auth::Auth::new(SECRET).issue(USER, false, 3600)?;

    let mut config = server::Config::new(
        url.into(),
        options.services.redis_url.clone(),
        SECRET.into(),
    );
    config.redis_prefix = prefix.into();
    // One user holds every connection, all from 127.0.0.1, most of them reconnecting
    // at once: the per-user and per-address limits would refuse them, as they should
    // for real users.
    config.max_connections_per_user = 100_000;
    config.max_handshakes_per_address = 100_000;
    config.messages_per_second = 100_000;
    config.message_burst = 100_000;
    println!(
        "# Draftline rolling restart, this machine ({} cores, shared): {} clients over two nodes, a note every {} ms",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.clients,
        options.write_every_ms
    );
    let node_a = Node::start(&config).await?;
    let node_b = Node::start(&config).await?;
    let node_w = Node::start(&config).await?;
    let live = Arc::new(Live::default());
    live.set(vec![node_a.addr, node_b.addr]);

    let started = Instant::now();
    let (a, b) = (node_a.addr, node_b.addr);
    let joined: Vec<anyhow::Result<(Subscriber, Ws)>> =
        futures_util::stream::iter(0..options.clients)
            .map(|i| {
                let addr = if i % 2 == 0 { a } else { b };
                Subscriber::join(
                    addr,
                    token.clone(),
                    topic.clone(),
                    Arc::new(Progress::default()),
                )
            })
            .buffer_unordered(options.connect_concurrency)
            .collect()
            .await;
    let stop = CancellationToken::new();
    let mut progress = Vec::new();
    let mut clients = Vec::new();
    for joined in joined {
        let (client, ws) = joined.context("a client could not subscribe")?;
        progress.push(client.progress.clone());
        clients.push(tokio::spawn(client.run(ws, live.clone(), stop.clone())));
    }
    println!(
        "subscribed: {} clients in {:.1} s",
        clients.len(),
        started.elapsed().as_secs_f64()
    );

    let writing = CancellationToken::new();
    let writer = tokio::spawn(write(
        node_w.addr,
        token.clone(),
        project.id.to_string(),
        Duration::from_millis(options.write_every_ms.max(1)),
        writing.clone(),
    ));
    let settle = Duration::from_secs(options.settle_secs);
    tokio::time::sleep(settle).await;

    // A, then B: stopped, its clients resume on the other, a fresh node takes its place.
    let mut restarts = Vec::new();
    let mut others = vec![node_b];
    let mut stopping = node_a;
    for label in ["A", "B"] {
        let survivor = others.pop().context("a node to move to")?;
        live.set(vec![survivor.addr]);
        let began = Instant::now();
        stopping.stop().await?;
        let stopped_in = began.elapsed();
        let down = all_connected(&progress).await;
        let recovered_in = began.elapsed();
        let fresh = Node::start(&config).await?;
        live.set(vec![survivor.addr, fresh.addr]);
        println!(
            "restart {label}: stopped in {:.2} s; {} of {} clients subscribed again {:.2} s after the stop began",
            stopped_in.as_secs_f64(),
            progress.len() - down,
            progress.len(),
            recovered_in.as_secs_f64()
        );
        restarts.push(began);
        others.insert(0, fresh);
        stopping = survivor;
        tokio::time::sleep(settle).await;
    }
    let remaining = [stopping, node_w].into_iter().chain(others);

    writing.cancel();
    let (acknowledged, failed) = writer.await??;
    // Every client reaches the topic's final position, or the wait ends.
    let client = redis::Client::open(options.services.redis_url.as_str())?;
    let manager = redis::aio::ConnectionManager::new(client).await?;
    let topics = store::topics::Topics::new(
        manager,
        prefix.to_owned(),
        store::topics::Retention::default(),
    );
    let deadline = Instant::now() + CATCH_UP;
    let mut end = topics.position(&topic).await?.offset;
    while progress
        .iter()
        .any(|p| p.last.load(Ordering::Relaxed) < end)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        end = topics.position(&topic).await?.offset;
    }
    stop.cancel();
    let mut tallies = Vec::new();
    for client in clients {
        tallies.push(client.await?);
    }
    for node in remaining {
        node.stop().await?;
    }
    report(&tallies, &progress, &restarts, acknowledged, failed, end)
}

/// Waits until every client is connected and subscribed again, at most [`CATCH_UP`];
/// answers how many are not.
async fn all_connected(progress: &[Arc<Progress>]) -> usize {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let down = progress
            .iter()
            .filter(|p| !p.connected.load(Ordering::Relaxed))
            .count();
        if down == 0 || Instant::now() >= deadline {
            return down;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(
    tallies: &[Tally],
    progress: &[Arc<Progress>],
    restarts: &[Instant],
    acknowledged: u64,
    failed: u64,
    end: u64,
) -> anyhow::Result<()> {
    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let missed = sum(|t| t.missed);
    let doubled = sum(|t| t.doubled);
    let short = progress
        .iter()
        .filter(|p| p.last.load(Ordering::Relaxed) < end)
        .count();
    let wrong_notes = tallies.iter().filter(|t| t.notes != acknowledged).count();
    println!(
        "writer: {acknowledged} notes acknowledged, {failed} calls failed; topic ends at offset {end}"
    );
    for (i, began) in restarts.iter().enumerate() {
        let next = restarts.get(i + 1);
        let mut times: Vec<Duration> = tallies
            .iter()
            .flat_map(|t| &t.recoveries)
            .filter(|(closed, _)| closed >= began && next.is_none_or(|n| closed < n))
            .map(|(_, took)| *took)
            .collect();
        times.sort();
        let pct = |p: f64| crate::record::percentile_duration_ms(&times, p);
        println!(
            "restart {}: {} clients resumed; close to subscribed again p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            ["A", "B"].get(i).unwrap_or(&"?"),
            times.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
    println!(
        "resumes: {} not recovered from history, {} sessions not resumed, {} failed attempts, {} events of another epoch",
        sum(|t| t.not_recovered),
        sum(|t| t.sessions_lost),
        sum(|t| t.failed_attempts),
        sum(|t| t.other_epoch),
    );
    if let Some(failure) = tallies.iter().find_map(|t| t.first_failure.as_ref()) {
        println!("first failed resume attempt: {failure}");
    }
    println!(
        "counted by offsets over {} clients: {missed} missed, {doubled} doubled; {short} clients short of the last offset; {wrong_notes} clients with a note count other than {acknowledged}",
        tallies.len()
    );
    let passed = missed == 0
        && doubled == 0
        && short == 0
        && wrong_notes == 0
        && sum(|t| t.not_recovered) == 0
        && sum(|t| t.other_epoch) == 0;
    println!("result: {}", if passed { "PASS" } else { "FAIL" });
    anyhow::ensure!(passed, "events were missed or doubled");
    Ok(())
}
