//! `draftline admin jobs ls|retry|cancel|drain|stats`: the admin API's job actions,
//! straight against Postgres and Redis, printing JSON.

use anyhow::Context;
use protocol::entities::JobStatus;
use protocol::{JobId, ProjectId};
use store::queue::Queue;

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// The job queue.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    Ls {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        project: Option<ProjectId>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a failed or cancelled job back in the queue.
    Retry { id: JobId },
    /// Cancel a queued or running job.
    Cancel { id: JobId },
    /// Dispatch every due job now.
    Drain,
    /// Queue depth by status and kind, and the workers seen.
    Stats,
}

pub async fn run(queue: &Queue, command: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Jobs { command } = command;
    let output = match command {
        JobsCommand::Ls {
            status,
            kind,
            project,
            limit,
        } => {
            let status = status
                .map(|s| serde_json::from_value::<JobStatus>(serde_json::Value::String(s)))
                .transpose()
                .context("--status: one of queued, running, completed, failed, cancelled")?;
            let filter = store::jobs::Filter {
                status,
                kind,
                project_id: project,
                limit,
            };
            let mut conn = queue.store.acquire().await?;
            serde_json::json!({ "jobs": store::jobs::list(&mut conn, &filter).await? })
        }
        JobsCommand::Retry { id } => serde_json::to_value(queue.retry(id).await?)?,
        JobsCommand::Cancel { id } => serde_json::to_value(queue.cancel(id).await?)?,
        JobsCommand::Drain => serde_json::json!({ "dispatched": queue.drain().await? }),
        JobsCommand::Stats => serde_json::to_value(queue.stats().await?)?,
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}
