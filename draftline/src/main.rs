//! The `draftline` command: `serve` runs a hub node (with embedded workers), `worker`
//! runs a job worker, `migrate` applies the database migrations, `token` prints a
//! signed development token, `admin jobs ...` inspects and steers the job queue. Thin on
//! purpose: the work is in the library crates.

mod admin;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "draftline",
    version,
    about = "Realtime backend for assistants that co-write documents"
)]
struct Cli {
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(
        long,
        env = "DRAFTLINE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// Parsed once at start and matched once: the size of `Serve`'s configuration costs
// nothing, and boxing it would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub node until SIGTERM or Ctrl-C, with embedded workers and a scheduler.
    Serve {
        #[command(flatten)]
        config: server::Config,
        #[command(flatten)]
        jobs: worker::WorkerConfig,
        /// Jobs the embedded worker runs at once; 0 runs the hub alone (no worker, no
        /// scheduler).
        #[arg(long, env = "DRAFTLINE_WORKERS", default_value_t = 4)]
        workers: usize,
        /// Apply pending migrations before serving.
        #[arg(long, env = "DRAFTLINE_MIGRATE")]
        migrate: bool,
    },
    /// Run a job worker (and scheduler candidate) until SIGTERM or Ctrl-C.
    Worker {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        jobs: worker::WorkerConfig,
        /// Jobs this worker runs at once.
        #[arg(long, env = "DRAFTLINE_WORKER_CONCURRENCY", default_value_t = 8)]
        concurrency: usize,
        /// Serve Prometheus metrics (`/metrics`) on this address.
        #[arg(long, env = "DRAFTLINE_METRICS_BIND")]
        metrics_bind: Option<std::net::SocketAddr>,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Print a token signed with the configured secret.
    Token {
        /// The user id (`sub` claim).
        #[arg(long)]
        user: String,
        /// Add the `admin` scope.
        #[arg(long)]
        admin: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        #[arg(long, env = "DRAFTLINE_JWT_SECRET", hide_env_values = true)]
        jwt_secret: String,
    },
    /// Inspect and steer the job queue directly in Postgres and Redis.
    Admin {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

/// Where Postgres and Redis are, for the commands that talk to them without a hub.
#[derive(Clone, Debug, clap::Args)]
struct Connection {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "DRAFTLINE_REDIS_PREFIX", default_value = "dl:")]
    redis_prefix: String,
}

impl Connection {
    async fn queue(&self) -> anyhow::Result<(store::queue::Queue, redis::Client)> {
        let store = store::Store::connect(&self.database_url, 4)
            .await
            .context("connecting to Postgres")?;
        let client = redis::Client::open(self.redis_url.as_str()).context("REDIS_URL")?;
        // The hub's reconnect settings: a command fails within about a second while
        // Redis is down instead of waiting out a long backoff.
        let manager = redis::aio::ConnectionManager::new_with_config(
            client.clone(),
            server::redis_manager_config(),
        )
        .await
        .context("connecting to Redis")?;
        let dispatch = store::dispatch::Dispatch::new(manager, self.redis_prefix.clone());
        Ok((store::queue::Queue::new(store, dispatch), client))
    }
}

/// jemalloc instead of the system allocator: a node allocates and frees small buffers on
/// every frame, query and event, and with glibc's malloc a hub spent 5-20% more CPU per
/// tool call at the same memory per connection (BENCHMARKS.md, "The allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Serve {
            config,
            mut jobs,
            workers,
            migrate,
        } => {
            if migrate {
                migrate_database(&config.database_url).await?;
            }
            raise_open_files();
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("binding {}", config.bind))?;
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            let redis = redis::Client::open(config.redis_url.as_str()).context("REDIS_URL")?;
            let hub = server::connect(config, shutdown.clone()).await?;
            let background = if workers > 0 {
                jobs.concurrency = workers;
                Some(start_jobs(hub.queue.clone(), redis, jobs, shutdown.clone()))
            } else {
                None
            };
            server::serve(hub, listener).await?;
            if let Some(background) = background {
                background.await??;
            }
        }
        Command::Worker {
            connection,
            mut jobs,
            concurrency,
            metrics_bind,
        } => {
            if let Some(addr) = metrics_bind {
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .set_buckets(server::metrics::BUCKETS)?
                    .with_http_listener(addr)
                    .install()
                    .with_context(|| format!("serving metrics on {addr}"))?;
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            let (queue, redis) = connection.queue().await?;
            jobs.concurrency = concurrency;
            start_jobs(queue, redis, jobs, shutdown).await??;
        }
        Command::Migrate { database_url } => migrate_database(&database_url).await?,
        Command::Token {
            user,
            admin,
            ttl,
            jwt_secret,
        } => {
            server::auth::check_secret(&jwt_secret)?;
            let token = server::auth::Auth::new(&jwt_secret).issue(&user, admin, ttl)?;
            println!("{token}");
        }
        Command::Admin {
            connection,
            command,
        } => {
            let (queue, _) = connection.queue().await?;
            admin::run(&queue, command).await?;
        }
    }
    Ok(())
}

/// Runs a worker and a scheduler candidate until `shutdown`; resolves when both stopped.
fn start_jobs(
    queue: store::queue::Queue,
    redis: redis::Client,
    config: worker::WorkerConfig,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let registry = worker::handlers::builtin(&config)?;
        let scheduler_config = worker::SchedulerConfig {
            backoff: config.backoff(),
            ..worker::SchedulerConfig::default()
        };
        let scheduler = worker::Scheduler::new(
            queue.store.clone(),
            queue.dispatch.clone(),
            scheduler_config,
        );
        let scheduling = tokio::spawn(scheduler.run(shutdown.clone()));
        let worker = worker::Worker::new(queue.store, queue.dispatch, redis, config, registry);
        let result = worker.run(shutdown).await;
        let _ = scheduling.await;
        result.map_err(Into::into)
    })
}

async fn migrate_database(url: &str) -> anyhow::Result<()> {
    store::Store::create_database_if_missing(url)
        .await
        .context("creating the database")?;
    let store = store::Store::connect(url, 2).await.context("connecting")?;
    store.migrate().await.context("migrating")?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Every connection is an open file: raise the soft limit (often 1,024) to the hard
/// limit before accepting any.
fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Cancels `token` on SIGTERM or Ctrl-C.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's flags are unique and well formed (clap checks this only when
    /// a subcommand is parsed, so a clash would otherwise surface at run time).
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
