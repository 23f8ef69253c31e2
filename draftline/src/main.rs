//! The `draftline` command: `serve` runs a hub node, `migrate` applies the database
//! migrations, `token` prints a signed development token. Thin on purpose: the work is
//! in the library crates.

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub node until SIGTERM or Ctrl-C.
    Serve {
        #[command(flatten)]
        config: server::Config,
        /// Apply pending migrations before serving.
        #[arg(long, env = "DRAFTLINE_MIGRATE")]
        migrate: bool,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Serve { config, migrate } => {
            if migrate {
                migrate_database(&config.database_url).await?;
            }
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("binding {}", config.bind))?;
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            server::run(config, listener, shutdown).await?;
        }
        Command::Migrate { database_url } => migrate_database(&database_url).await?,
        Command::Token {
            user,
            admin,
            ttl,
            jwt_secret,
        } => {
            let token = server::auth::Auth::new(&jwt_secret).issue(&user, admin, ttl)?;
            println!("{token}");
        }
    }
    Ok(())
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
