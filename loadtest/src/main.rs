//! The load harness. `loadtest jobs` measures the job queue on this machine, the three
//! scenarios its peers were measured on: (a) bulk: 50,000 no-op jobs enqueued in
//! batches of 1,000 while workers run, first enqueue to last completion; (b) single-add:
//! 10,000 jobs enqueued one call at a time with 50 calls in flight, end to end; (c)
//! enqueue-to-start latency on an idle worker, p50 and p99 over 50 tries. Everything
//! runs against real Postgres and Redis in a fresh database and key prefix.
//! `loadtest jobs-peer` runs the same scenarios on BullMQ, graphile-worker or pg-boss
//! (Node scripts in `loadtest/peers/`). `loadtest events` measures the topic fan-out
//! through a hub process and, with the same generator, through its peers (Node `ws`,
//! Socket.IO with its Redis adapter, and `loadtest ceiling-server`). `loadtest
//! connections` measures idle connections: connect rate and hub memory per connection.
//! `loadtest rtc` checks the WebRTC transport for leaks over connect/hang-up cycles and
//! compares its tool-call latency with the WebSocket's. Each writes a JSON record with
//! `--json`, and `loadtest report` turns the records into BENCHMARKS.md's tables.
//! `loadtest rolling` restarts two nodes in turn under 1,000 resuming subscribers and
//! counts missed and doubled events by offset (`rolling.rs`). `loadtest xmin` holds a
//! repeatable-read transaction open while jobs flow and reports throughput and table
//! sizes before, during and after (`xmin.rs`).
//! `loadtest malformed` sends 100,000 malformed frames of many shapes to a hub process
//! beside a well-behaved client: memory, latency, every frame answered. `loadtest tools`
//! measures writing tool calls from many sessions, open loop (`tools.rs`).

mod ceiling;
mod connections;
mod drafts;
mod events;
mod floor;
mod jobs;
mod jobs_peer;
mod malformed;
mod record;
mod report;
mod rolling;
mod rtc;
mod shapes;
mod storm;
mod tools;
mod xmin;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// Where Postgres and Redis are. Every scenario runs in a database and key prefix of its
/// own on them (the test kit's), removed when it ends.
#[derive(Clone, Debug, clap::Args)]
struct Services {
    /// Postgres server; a fresh database is created on it and dropped afterwards.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

/// What a scenario that runs `draftline` hubs as child processes needs: the services,
/// and the binary.
#[derive(Clone, Debug, clap::Args)]
struct HubOptions {
    #[command(flatten)]
    services: Services,
    /// The `draftline` binary to run as the hub; by default the one next to this binary
    /// (`cargo build --release -p draftline` puts it there).
    #[arg(long)]
    draftline: Option<std::path::PathBuf>,
}

impl HubOptions {
    /// The hub binary: `--draftline`, or the `draftline` next to this binary.
    fn binary(&self) -> anyhow::Result<std::path::PathBuf> {
        let binary = match &self.draftline {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .context("locating this binary")?
                .with_file_name("draftline"),
        };
        anyhow::ensure!(
            binary.is_file(),
            "the hub binary {} is missing: build it with `cargo build --release -p draftline` \
             (or pass --draftline PATH)",
            binary.display()
        );
        Ok(binary)
    }
}

impl Services {
    /// A fresh, migrated database `dl_bench_…`.
    async fn database(&self) -> Result<testkit::Database, store::StoreError> {
        testkit::Database::try_create(&self.database_url, "bench").await
    }

    /// A fresh key prefix `dl:bench:…:`.
    fn prefix(&self) -> testkit::Prefix {
        testkit::Prefix::on(&self.redis_url, "bench")
    }
}

/// A hub in this process on a free port of 127.0.0.1, in a fresh database and key prefix,
/// and a token of its one user, `bench`.
struct Install {
    hub: server::Hub,
    addr: std::net::SocketAddr,
    redis_url: String,
    db: testkit::Database,
    prefix: testkit::Prefix,
    shutdown: CancellationToken,
    token: String,
}

impl Install {
    /// Starts the hub signing with `secret`, after `tune` adjusts its configuration.
    async fn start(
        services: &Services,
        secret: &str,
        tune: impl FnOnce(&mut server::Config),
    ) -> anyhow::Result<Self> {
        let db = services.database().await?;
        let prefix = services.prefix();
        let mut config =
            server::Config::new(db.url.clone(), services.redis_url.clone(), secret.into());
        config.redis_prefix = prefix.prefix.clone();
        tune(&mut config);
        let shutdown = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hub = server::connect(config, shutdown.clone()).await?;
        let serving = hub.clone();
        tokio::spawn(async move {
            if let Err(e) = server::serve(serving, listener).await {
                eprintln!("hub failed: {e}");
            }
        });
        let token = server::auth::Auth::new(secret).issue("bench", false, 3600)?;
        Ok(Self {
            hub,
            addr,
            redis_url: services.redis_url.clone(),
            db,
            prefix,
            shutdown,
            token,
        })
    }

    /// Stops the hub, then drops the database and the prefix's keys.
    async fn drop_all(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.db.drop_now().await?;
        self.prefix.clean().await?;
        Ok(())
    }
}

/// The `hello` a harness client sends first: request id 1, `token`, `name` as the client.
fn hello(token: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "hello", "id": 1, "token": token,
        "client": {"name": name, "version": env!("CARGO_PKG_VERSION")},
    })
}

/// One project per user (named after it, the user its owner), created in one
/// transaction; answers their ids in the users' order.
async fn project_per_user(store: &store::Store, users: &[String]) -> anyhow::Result<Vec<String>> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::with_capacity(users.len());
    for user in users {
        let owner = protocol::UserId(user.clone());
        let project = store::projects::create(&mut tx, &owner, user, "").await?;
        ids.push(project.id.to_string());
    }
    tx.commit().await?;
    Ok(ids)
}

#[derive(Debug, Parser)]
#[command(name = "loadtest", about = "Draftline load harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Job queue throughput and latency.
    Jobs(jobs::Options),
    /// The job scenarios on a peer queue (BullMQ, graphile-worker, pg-boss).
    JobsPeer(jobs_peer::Options),
    /// Topic fan-out: deliveries per second and publish-to-receive latency.
    Events(events::Options),
    /// Idle connections: connect rate and hub memory per connection.
    Connections(connections::Options),
    /// Holds idle connections for `connections` (started by it).
    ConnectionsHold(connections::HoldOptions),
    /// The bare tokio-tungstenite broadcast server the fan-out is compared against.
    CeilingServer(ceiling::Options),
    /// Drafting: queue-to-document latency, tool calls beside slow drafts.
    Drafts(drafts::Options),
    /// Bad input at volume: malformed frames against a hub beside a well-behaved client.
    Malformed(malformed::Options),
    /// WebRTC: live peers and descriptors after connect/hang-up cycles, tool-call latency.
    Rtc(rtc::Options),
    /// Rolling restart of two nodes under resuming subscribers: missed and doubled events.
    Rolling(rolling::Options),
    /// Writing tool calls from many sessions: round trip, highest rate, Postgres work per call.
    Tools(tools::Options),
    /// A create_note's writes in Postgres alone (pgbench): the floor under `tools`.
    Floor(floor::Options),
    /// Held xmin: job throughput and table sizes while a long transaction holds back vacuum.
    Xmin(xmin::Options),
    /// BENCHMARKS.md's tables from the JSON records under target/bench/.
    Report(report::Options),
}

/// Raises this process's open-files soft limit to its hard limit: thousands of client
/// sockets need more than the usual soft limit of 1,024.
pub fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    raise_open_files();
    match Cli::parse().command {
        Command::Jobs(options) => jobs::run(options).await,
        Command::JobsPeer(options) => jobs_peer::run(options).await,
        Command::Events(options) => events::run(options).await,
        Command::Connections(options) => connections::run(options).await,
        Command::ConnectionsHold(options) => connections::hold(options).await,
        Command::CeilingServer(options) => ceiling::run(options).await,
        Command::Drafts(options) => drafts::run(options).await,
        Command::Malformed(options) => malformed::run(options).await,
        Command::Rtc(options) => rtc::run(options).await,
        Command::Rolling(options) => rolling::run(options).await,
        Command::Tools(options) => tools::run(options).await,
        Command::Floor(options) => floor::run(options).await,
        Command::Xmin(options) => xmin::run(options).await,
        Command::Report(options) => report::run(options),
    }
}
