//! The load harness. `loadtest jobs` measures the job queue on this machine, the three
//! scenarios its peers were measured on: (a) bulk: 50,000 no-op jobs enqueued in
//! batches of 1,000 while workers run, first enqueue to last completion; (b) single-add:
//! 10,000 jobs enqueued one call at a time with 50 calls in flight, end to end; (c)
//! enqueue-to-start latency on an idle worker, p50 and p99 over 50 tries. Everything
//! runs against real Postgres and Redis in a fresh database and key prefix.
//! `loadtest events` measures the topic fan-out through a hub process: events delivered
//! per second and publish-to-receive latency for 1,000 subscribers on one project and
//! for 10,000 subscribers over 1,000 projects. `loadtest rtc` checks the WebRTC transport
//! for leaks over connect/hang-up cycles and compares its tool-call latency with the
//! WebSocket's. `loadtest rolling` restarts two nodes in turn under 1,000 resuming
//! subscribers and counts missed and doubled events by offset (`rolling.rs`).
//! `loadtest xmin` holds a repeatable-read transaction open while jobs flow and reports
//! throughput and table sizes before, during and after (`xmin.rs`).

mod drafts;
mod events;
mod fresh;
mod jobs;
mod rolling;
mod rtc;
mod xmin;

use clap::{Parser, Subcommand};

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
    /// Topic fan-out: deliveries per second and publish-to-receive latency.
    Events(events::Options),
    /// Drafting: queue-to-document latency, tool calls beside slow drafts.
    Drafts(drafts::Options),
    /// WebRTC: live peers and descriptors after connect/hang-up cycles, tool-call latency.
    Rtc(rtc::Options),
    /// Rolling restart of two nodes under resuming subscribers: missed and doubled events.
    Rolling(rolling::Options),
    /// Held xmin: job throughput and table sizes while a long transaction holds back vacuum.
    Xmin(xmin::Options),
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
    match Cli::parse().command {
        Command::Jobs(options) => jobs::run(options).await,
        Command::Events(options) => events::run(options).await,
        Command::Drafts(options) => drafts::run(options).await,
        Command::Rtc(options) => rtc::run(options).await,
        Command::Rolling(options) => rolling::run(options).await,
        Command::Xmin(options) => xmin::run(options).await,
    }
}
