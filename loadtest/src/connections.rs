//! `loadtest connections`: idle authenticated WebSocket connections (hello done, one
//! subscription each) held against hub processes, reporting the connect rate and the
//! hub's resident memory per connection, for one hub and for two side by side. The
//! clients live in holder processes (`loadtest connections-hold`, children of the
//! harness) of at most 18,000 sockets each, since every process here is capped at
//! 20,000 open files; each holder spreads its sockets over loopback source addresses
//! (127.0.0.2, 127.0.0.3, ...) so no address runs out of ephemeral ports.

use crate::events::servers::{HubEnv, Server};
use crate::record::{self, CpuMeter, Figure, Proc, Record, Row};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use protocol::UserId;
use protocol::event::project_topic;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use store::Store;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    hub: crate::HubOptions,
    /// Connections per hub, one measurement each (fresh hubs every time).
    #[arg(long, value_delimiter = ',', default_value = "5000,10000,19000")]
    sizes: Vec<usize>,
    /// Hubs side by side, one measurement of every size each.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    nodes: Vec<usize>,
    /// Projects the connections subscribe to (connection i to project i mod this).
    #[arg(long, default_value_t = 1_000)]
    projects: usize,
    /// Connections being opened at once per holder.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Where the JSON record goes (`loadtest report` makes tables of it).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What a holder needs: where to connect and as whom.
#[derive(Clone, Debug, clap::Args)]
pub struct HoldOptions {
    #[arg(long)]
    addr: SocketAddr,
    #[arg(long)]
    count: usize,
    /// The index of this holder's first connection over the whole run: it picks the
    /// source addresses.
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// A file of `TOKEN TOPIC` lines; connection i uses line i mod their number.
    #[arg(long)]
    credentials: PathBuf,
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
}

const SECRET: &str = "draftline-loadtest-connections-secret-0123456789";

/// Sockets per holder process: under the 20,000 open files every process may have here,
/// with room for the runtime's own descriptors.
const PER_HOLDER: usize = 18_000;

/// Connections per loopback source address: under the 28,232 ephemeral ports of Linux's
/// default `ip_local_port_range` (32768-60999), with room for ports in TIME_WAIT.
const PER_SOURCE_ADDRESS: usize = 20_000;

/// How long the hubs get to settle after the last connection before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// One connection's read buffer in the holders: they read nothing after `subscribed`.
const HOLDER_READ_BUFFER: usize = 4 * 1024;

/// A holder process and its report to come.
struct Holder {
    child: std::process::Child,
    report: tokio::task::JoinHandle<std::io::Result<String>>,
}

impl Drop for Holder {
    /// Closing a holder's stdin tells it to let go; it is killed if it does not.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a holder reports once its connections are open.
#[derive(Debug, Serialize, Deserialize)]
struct Held {
    connected: usize,
    failed: usize,
    seconds: f64,
    first_error: Option<String>,
    /// Subscribes answered `unavailable` with `retry_after_ms` and sent again.
    subscribes_retried: usize,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let draftline = options.hub.binary()?;
    anyhow::ensure!(
        options.projects > 0 && options.nodes.iter().all(|n| *n > 0),
        "--projects and --nodes must be positive"
    );
    let mut record = Record::new("connections");

    let db = options.hub.services.database().await?;
    let prefix = options.hub.services.prefix();
    let result = async {
        let store = Store::connect(&db.url, 4)
            .await
            .context("connecting to Postgres")?;
        let credentials = write_credentials(&store, &db.name, options.projects).await?;
        store.pool.close().await;
        let env = HubEnv {
            binary: &draftline,
            database_url: &db.url,
            redis_url: &options.hub.services.redis_url,
            redis_prefix: &prefix.prefix,
            secret: SECRET,
            extra: &[],
        };
        println!("# Idle connections: hello, one subscription each; hub memory per connection");
        println!(
            "| hubs | connections per hub | connected | connect s | connections/s | hub RSS before MiB | after MiB | KiB per connection |\n|---|---|---|---|---|---|---|---|"
        );
        for &nodes in &options.nodes {
            for &size in &options.sizes {
                record
                    .rows
                    .push(measure(&options, &env, &credentials, nodes, size).await?);
            }
        }
        let _ = std::fs::remove_file(&credentials);
        anyhow::Ok(())
    }
    .await;
    db.drop_now().await?;
    prefix.clean().await?;
    record.write(options.json.as_deref())?;
    result
}

/// Projects with one owner each, and a file of their owners' tokens and topics.
async fn write_credentials(store: &Store, name: &str, n: usize) -> anyhow::Result<PathBuf> {
    let auth = server::auth::Auth::new(SECRET);
    let mut tx = store.begin().await?;
    let mut lines = String::new();
    for i in 0..n {
        let user = format!("bench-idle-{i}");
        let project =
            store::projects::create(&mut tx, &UserId(user.clone()), &format!("p{i}"), "").await?;
        lines.push_str(&format!(
            "{} {}\n",
            auth.issue(&user, false, 7200)?,
            project_topic(project.id)
        ));
    }
    tx.commit().await?;
    let path = std::env::temp_dir().join(format!("{name}-credentials.txt"));
    std::fs::write(&path, lines).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// One measurement: `nodes` fresh hubs, `size` connections held against each.
async fn measure(
    options: &Options,
    env: &HubEnv<'_>,
    credentials: &std::path::Path,
    nodes: usize,
    size: usize,
) -> anyhow::Result<Row> {
    let mut hubs = Vec::with_capacity(nodes);
    for i in 0..nodes {
        hubs.push(Server::hub(env, &format!("idle-{i}")).await?);
    }
    // Let the hubs finish starting (pools, listener) before the baseline.
    tokio::time::sleep(SETTLE).await;
    let before: Vec<u64> = hubs.iter().map(|h| h.rss_bytes().unwrap_or(0)).collect();
    let mut procs: Vec<(String, Proc)> = hubs
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("hub{}", i + 1), Proc::Pid(h.pid())))
        .collect();
    procs.push(("postgres".into(), Proc::Named("postgres")));
    procs.push(("redis".into(), Proc::Named("redis-server")));
    let named: Vec<(&str, Proc)> = procs.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let meter = CpuMeter::start(&named);

    let exe = std::env::current_exe().context("locating this binary")?;
    let started = Instant::now();
    let mut holders = Vec::new();
    let mut first = 0;
    for hub in &hubs {
        let mut left = size;
        while left > 0 {
            let count = left.min(PER_HOLDER);
            let mut child = std::process::Command::new(&exe)
                .arg("connections-hold")
                .args(["--addr", &hub.addr.to_string()])
                .args(["--count", &count.to_string()])
                .args(["--first", &first.to_string()])
                .arg("--credentials")
                .arg(credentials)
                .args([
                    "--connect-concurrency",
                    &options.connect_concurrency.to_string(),
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .context("starting a holder")?;
            let stdout = child.stdout.take().context("holder stdout")?;
            // Its report is read on a blocking thread.
            let report = tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::BufReader::new(stdout)
                    .read_line(&mut line)
                    .map(|_| line)
            });
            holders.push(Holder { child, report });
            first += count;
            left -= count;
        }
    }
    let mut connected = 0;
    let mut failures = Vec::new();
    let mut subscribes_retried = 0;
    for holder in &mut holders {
        let line = (&mut holder.report).await??;
        anyhow::ensure!(!line.is_empty(), "a holder ended without reporting");
        let held: Held = serde_json::from_str(&line).with_context(|| format!("reading {line}"))?;
        connected += held.connected;
        subscribes_retried += held.subscribes_retried;
        if held.failed > 0 {
            failures.push(format!(
                "{} failed (first: {})",
                held.failed,
                held.first_error.unwrap_or_default()
            ));
        }
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let after: Vec<u64> = hubs.iter().map(|h| h.rss_bytes().unwrap_or(0)).collect();
    let mut counted = Vec::new();
    for hub in &hubs {
        counted.push(
            hub.metric("draftline_connections")
                .await
                .unwrap_or(f64::NAN),
        );
    }
    let (mut cpu_seconds, seconds, _) = meter.stop();
    // The holders started after the meter: all the CPU they used is this case's.
    let holders_cpu: f64 = holders
        .iter()
        .map(|h| record::process_cpu(h.child.id()).unwrap_or(f64::NAN))
        .sum();
    cpu_seconds.push(("clients".into(), record::round3(holders_cpu)));
    drop(holders);
    for hub in hubs {
        hub.finish();
    }

    let grown: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let per_connection_kib = grown as f64 / connected.max(1) as f64 / 1024.0;
    let mib = |v: &[u64]| {
        v.iter()
            .map(|b| format!("{:.1}", *b as f64 / 1_048_576.0))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    println!(
        "| {nodes} | {size} | {connected} | {connect_seconds:.1} | {:.0} | {} | {} | {per_connection_kib:.2} |",
        connected as f64 / connect_seconds,
        mib(&before),
        mib(&after),
    );
    if subscribes_retried > 0 {
        failures.push(format!(
            "{subscribes_retried} subscribes refused with retry_after_ms and sent again"
        ));
    }
    let mut note = failures.join("; ");
    if counted.iter().sum::<f64>() as usize != connected {
        note.push_str(&format!(
            "{}the hubs counted {counted:?} connections",
            if note.is_empty() { "" } else { "; " }
        ));
    }
    Ok(Row {
        table: "connections".into(),
        target: "draftline".into(),
        case: format!("{nodes} hub(s) x {size} idle connections"),
        figures: vec![
            ("connected".into(), Figure::number(connected as f64)),
            (
                "connections/s".into(),
                Figure::number(connected as f64 / connect_seconds),
            ),
            ("hub RSS before MiB".into(), Figure::Text(mib(&before))),
            ("hub RSS after MiB".into(), Figure::Text(mib(&after))),
            (
                "KiB per connection".into(),
                Figure::number(per_connection_kib),
            ),
        ],
        cpu_seconds,
        seconds: record::round3(seconds),
        note,
    })
}

/// `loadtest connections-hold`: opens `count` connections, reports them as one JSON
/// line, then holds them until its standard input closes.
pub async fn hold(options: HoldOptions) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&options.credentials)
        .with_context(|| format!("reading {}", options.credentials.display()))?;
    let credentials: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    anyhow::ensure!(
        !credentials.is_empty(),
        "no credentials in {}",
        options.credentials.display()
    );
    let started = Instant::now();
    let results: Vec<anyhow::Result<Idle>> = futures_util::stream::iter(0..options.count)
        .map(|i| {
            let index = options.first + i;
            let (token, topic) = credentials[index % credentials.len()];
            async move {
                tokio::time::timeout(
                    Duration::from_secs(60),
                    open(options.addr, source_address(index), token, topic),
                )
                .await
                .context("connect timed out")?
            }
        })
        .buffer_unordered(options.connect_concurrency.max(1))
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let first_error = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .map(|e| format!("{e:#}"));
    let held: Vec<Idle> = results.into_iter().filter_map(Result::ok).collect();
    let report = Held {
        connected: held.len(),
        failed: options.count - held.len(),
        seconds,
        first_error,
        subscribes_retried: held.iter().map(|idle| idle.subscribes_retried).sum(),
    };
    println!("{}", serde_json::to_string(&report)?);
    // Hold until told to let go: standard input closes.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink)
    })
    .await;
    for idle in held {
        idle.reader.abort();
    }
    Ok(())
}

/// The loopback address connection `index` connects from.
pub(crate) fn source_address(index: usize) -> Ipv4Addr {
    let n = 2 + index / PER_SOURCE_ADDRESS;
    Ipv4Addr::new(127, 0, (n / 256) as u8, (n % 256) as u8)
}

pub(crate) type IdleWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A held connection: a task reads it, so the library answers the hub's heartbeat
/// pings and the connection stays open however long the measurement takes.
struct Idle {
    reader: tokio::task::JoinHandle<()>,
    subscribes_retried: usize,
}

async fn open(addr: SocketAddr, from: Ipv4Addr, token: &str, topic: &str) -> anyhow::Result<Idle> {
    let mut ws = dial(addr, from).await?;
    let hello = crate::hello(token, "loadtest");
    ws.send(Message::text(hello.to_string())).await?;
    expect(&mut ws, 1, "welcome").await?;
    let subscribe = serde_json::json!({"type": "subscribe", "id": 2, "topic": topic});
    let mut subscribes_retried = 0;
    loop {
        ws.send(Message::text(subscribe.to_string())).await?;
        let reply = reply_to(&mut ws, 2).await?;
        if reply["type"] == "subscribed" {
            break;
        }
        // Refused unrun (the node's event bus slow to confirm): again after the wait,
        // as a client does.
        match reply["retry_after_ms"].as_u64() {
            Some(wait) if reply["type"] == "error" => {
                subscribes_retried += 1;
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            _ => anyhow::bail!("expected subscribed, got {reply}"),
        }
    }
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    Ok(Idle {
        reader,
        subscribes_retried,
    })
}

/// A WebSocket to the hub's `/v1/ws` from the loopback address `from`, nothing sent yet.
pub(crate) async fn dial(addr: SocketAddr, from: Ipv4Addr) -> anyhow::Result<IdleWs> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    // Without this, binding to port 0 reserves an ephemeral port number on every
    // address at once, and tens of thousands of held sockets leave none for the hub's
    // own connections to Postgres and Redis (EADDRNOTAVAIL); with it the port is
    // chosen at connect time, unique per 4-tuple.
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::IpBindAddressNoPort,
        &true,
    )
    .context("IP_BIND_ADDRESS_NO_PORT")?;
    socket
        .bind(SocketAddr::new(from.into(), 0))
        .with_context(|| format!("binding {from}"))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}/v1/ws").into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(protocol::SUBPROTOCOL),
    );
    let config = WebSocketConfig::default().read_buffer_size(HOLDER_READ_BUFFER);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(ws)
}

async fn expect(ws: &mut IdleWs, id: u64, kind: &str) -> anyhow::Result<()> {
    let reply = reply_to(ws, id).await?;
    anyhow::ensure!(reply["type"] == kind, "expected {kind}, got {reply}");
    Ok(())
}

/// The reply to request `id`.
async fn reply_to(ws: &mut IdleWs, id: u64) -> anyhow::Result<serde_json::Value> {
    loop {
        match ws.next().await.context("closed during the handshake")?? {
            Message::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                if value["re"] == serde_json::json!(id) {
                    return Ok(value);
                }
            }
            Message::Close(frame) => anyhow::bail!("closed during the handshake: {frame:?}"),
            _ => {}
        }
    }
}
