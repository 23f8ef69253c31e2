//! `loadtest malformed`: bad input at volume. 100,000 malformed frames of every shape
//! in [`crate::shapes`] from many connections against a hub process, while a
//! well-behaved client keeps creating notes and receiving their events. Reports the
//! hub's resident memory (before, peak, after), the well-behaved client's latency
//! before and during the flood, and fails when a frame was not answered as documented
//! or the hub logged a panic.

use crate::events::servers::{self, HubEnv, Server};
use crate::record::percentile_duration_ms;
use crate::shapes::{self, Answer, Socket};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::Store;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    hub: crate::HubOptions,
    /// Malformed frames to send in all.
    #[arg(long, default_value_t = 100_000)]
    frames: usize,
    /// Connections sending them, one user each.
    #[arg(long, default_value_t = 40)]
    connections: usize,
    /// Tool calls of the well-behaved client before the flood (its baseline latency).
    #[arg(long, default_value_t = 200)]
    baseline_calls: usize,
}

const SECRET: &str = "draftline-loadtest-malformed-secret-0123456789";

/// The hub's frame limit (its default, `DRAFTLINE_MAX_FRAME_BYTES`).
const MAX_FRAME: usize = 65_536;

/// How often the hub's resident memory is sampled for its peak.
const RSS_EVERY: Duration = Duration::from_millis(50);

pub async fn run(options: Options) -> anyhow::Result<()> {
    let draftline = options.hub.binary()?;
    let db = options.hub.services.database().await?;
    let prefix = options.hub.services.prefix();
    let store = Store::connect(&db.url, 2)
        .await
        .context("connecting to Postgres")?;
    let outcome = scenario(&options, &draftline, &store, &db.url, &prefix.prefix).await;
    store.pool.close().await;
    db.drop_now().await?;
    prefix.clean().await?;
    outcome
}

async fn scenario(
    options: &Options,
    draftline: &PathBuf,
    store: &Store,
    url: &str,
    prefix: &str,
) -> anyhow::Result<()> {
    let mut users: Vec<String> = (0..options.connections)
        .map(|i| format!("flooder-{i}"))
        .collect();
    users.push("calm".into());
    let projects = crate::project_per_user(store, &users).await?;
    let auth = server::auth::Auth::new(SECRET);

    let extra = [("DRAFTLINE_MAX_FRAME_BYTES", MAX_FRAME.to_string())];
    // The hub lifts the per-user message rate (each flooder sends as fast as it is
    // answered: the decoder is what is measured) and the handshakes per address (every
    // client reconnects from 127.0.0.1 after each close).
    let hub = Server::hub(
        &HubEnv {
            binary: draftline,
            database_url: url,
            redis_url: &options.hub.services.redis_url,
            redis_prefix: prefix,
            secret: SECRET,
            extra: &extra,
        },
        "malformed",
    )
    .await?;
    let (addr, pid) = (hub.addr, hub.pid());
    let result = async {
        let calm_token = auth.issue("calm", false, 3600)?;
        let calm_project = projects[options.connections].clone();
        let mut calm = connect(addr, &calm_token, &calm_project).await?;
        subscribe(&mut calm, &calm_project).await?;
        let before = rss_kib(pid)?;
        let mut baseline = Vec::with_capacity(options.baseline_calls);
        for i in 0..options.baseline_calls {
            baseline.push(note(&mut calm, &format!("before-{i}")).await?);
        }

        let peak = Arc::new(AtomicU64::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let (peak, done) = (peak.clone(), done.clone());
            async move {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(kib) = rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(RSS_EVERY).await;
                }
            }
        });
        let calm_task = tokio::spawn({
            let done = done.clone();
            async move {
                let mut during = Vec::new();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    during.push(note(&mut calm, &format!("during-{i}")).await?);
                    i += 1;
                }
                anyhow::Ok(during)
            }
        });

        let started = Instant::now();
        let per = options.frames.div_ceil(options.connections);
        let floods: Vec<_> = (0..options.connections)
            .map(|c| {
                let token = auth.issue(&format!("flooder-{c}"), false, 3600);
                let project = projects[c].clone();
                let range = c * per..((c + 1) * per).min(options.frames);
                tokio::spawn(async move { flood(addr, token?, project, range).await })
            })
            .collect();
        let mut problems = Vec::new();
        let mut sent = 0;
        let mut reconnects = 0;
        for flood in floods {
            let report = flood.await??;
            sent += report.sent;
            reconnects += report.reconnects;
            problems.extend(report.problems);
        }
        let elapsed = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let during = calm_task.await??;
        sampler.await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(pid)?;

        baseline.sort();
        let mut during = during;
        during.sort();
        println!(
            "malformed frames: {sent} from {} connections in {:.1} s ({:.0}/s), {reconnects} reconnects after a documented close",
            options.connections,
            elapsed.as_secs_f64(),
            sent as f64 / elapsed.as_secs_f64()
        );
        println!(
            "hub RSS: before {:.1} MiB, peak {:.1} MiB, after {:.1} MiB",
            before as f64 / 1024.0,
            peak.load(Ordering::Relaxed) as f64 / 1024.0,
            after as f64 / 1024.0
        );
        println!(
            "well-behaved client, create_note to its tool.result and event: before p50 {:.1} ms p99 {:.1} ms ({} calls); during p50 {:.1} ms p99 {:.1} ms ({} calls)",
            percentile_duration_ms(&baseline, 0.50),
            percentile_duration_ms(&baseline, 0.99),
            baseline.len(),
            percentile_duration_ms(&during, 0.50),
            percentile_duration_ms(&during, 0.99),
            during.len()
        );
        println!("frames not answered as documented: {}", problems.len());
        for problem in problems.iter().take(10) {
            println!("  {problem}");
        }
        let panics = std::fs::read_to_string(&hub.log)?
            .lines()
            .filter(|l| l.contains("panicked"))
            .count();
        println!("panics in the hub log: {panics}");
        anyhow::ensure!(problems.is_empty(), "frames were not answered as documented");
        anyhow::ensure!(panics == 0, "the hub panicked; see {}", hub.log.display());
        anyhow::ensure!(sent == options.frames, "sent {sent} of {}", options.frames);
        Ok(())
    }
    .await;
    hub.finish();
    result
}

struct FloodReport {
    sent: usize,
    reconnects: usize,
    problems: Vec<String>,
}

/// Sends the shapes numbered `range` on one connection, reconnecting after each close.
async fn flood(
    addr: std::net::SocketAddr,
    token: String,
    project: String,
    range: std::ops::Range<usize>,
) -> anyhow::Result<FloodReport> {
    let mut ws = connect(addr, &token, &project).await?;
    let mut report = FloodReport {
        sent: 0,
        reconnects: 0,
        problems: Vec::new(),
    };
    for i in range {
        let shape = shapes::shape(i, MAX_FRAME);
        let answer = shapes::exchange(&mut ws, &shape).await;
        report.sent += 1;
        if let Err(problem) = shapes::check(&shape, &answer) {
            report.problems.push(problem);
        }
        if matches!(answer, Answer::Closed(_)) {
            ws = connect(addr, &token, &project).await?;
            report.reconnects += 1;
        }
    }
    Ok(report)
}

/// Connects, says hello, and configures the session: `update` mode on `project`, its
/// changes applied at once.
async fn connect(addr: std::net::SocketAddr, token: &str, project: &str) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/v1/ws").into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(protocol::SUBPROTOCOL),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let hello = json!({"type": "hello", "id": "hello", "token": token,
        "client": {"name": "loadtest", "version": env!("CARGO_PKG_VERSION")}});
    reply(&mut ws, hello, "welcome").await?;
    let configure = json!({"type": "session.configure", "id": "configure", "mode": "update",
        "project_id": project, "auto_accept": true});
    reply(&mut ws, configure, "ok").await?;
    Ok(ws)
}

async fn subscribe(ws: &mut Socket, project: &str) -> anyhow::Result<()> {
    let frame =
        json!({"type": "subscribe", "id": "subscribe", "topic": format!("project:{project}")});
    reply(ws, frame, "subscribed").await.map(drop)
}

/// Sends `frame` (whose `id` is a string) and answers the reply to it, which must be of
/// type `kind`.
async fn reply(ws: &mut Socket, frame: Value, kind: &str) -> anyhow::Result<Value> {
    let id = frame["id"].clone();
    ws.send(Message::text(frame.to_string())).await?;
    loop {
        let message = tokio::time::timeout(shapes::ANSWER_WAIT, ws.next())
            .await
            .context("no reply in time")?
            .context("closed")??;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text)?;
            if value["re"] == id {
                anyhow::ensure!(value["type"] == kind, "expected {kind}, got {value}");
                return Ok(value);
            }
        }
    }
}

/// One `create_note`: the time until both its `tool.result` and its `note.created`
/// event arrived.
async fn note(ws: &mut Socket, body: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let frame = json!({"type": "tool.call", "id": body, "call_id": body, "name": "create_note",
        "arguments": {"body": body}});
    ws.send(Message::text(frame.to_string())).await?;
    let (mut result, mut event) = (false, false);
    while !(result && event) {
        let message = tokio::time::timeout(shapes::ANSWER_WAIT, ws.next())
            .await
            .context("the well-behaved client waited too long")?
            .context("closed")??;
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text)?;
        if value["re"] == body {
            anyhow::ensure!(value["ok"] == true, "create_note failed: {value}");
            result = true;
        }
        if value["type"] == "event"
            && value["event"]["kind"] == "note.created"
            && value["event"]["note"]["body"] == body
        {
            event = true;
        }
    }
    Ok(started.elapsed())
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    servers::rss_bytes(pid)
        .map(|bytes| bytes / 1024)
        .context("no VmRSS")
}
