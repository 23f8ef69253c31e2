//! Streaming a model's text to a project as batched events (`draft.delta`,
//! `chat.delta`): the first piece goes out as soon as it exists (people should see the
//! first words at once, not a batch window later); after it a batch goes out when it
//! holds `chars` characters or `interval` has passed since its first piece (docs/protocol.md
//! section 10.3: at most every 250 ms or 500 characters), and what is left when the stream ends. A
//! failed publish is only logged: deltas are a preview; the stored result is what
//! counts.

use crate::handler::JobContext;
use protocol::ProjectId;
use protocol::event::{Event, project_topic};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How text is batched into delta events.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub interval: Duration,
    pub chars: usize,
}

impl Batching {
    /// The worker's configured batching.
    pub fn of(config: &crate::WorkerConfig) -> Self {
        Self {
            interval: Duration::from_millis(config.delta_interval_ms.max(1)),
            chars: config.delta_chars.max(1),
        }
    }
}

/// Publishes the pieces from `pieces` as events made by `event(seq, text)`, seq 0, 1,
/// 2, ..., until the sender is dropped.
pub async fn publish(
    cx: &JobContext,
    project: ProjectId,
    mut pieces: mpsc::Receiver<String>,
    batching: Batching,
    event: impl Fn(u64, String) -> Event,
) {
    let topic = project_topic(project);
    let mut seq = 0u64;
    let mut batch = String::new();
    let mut batch_chars = 0;
    let mut deadline: Option<Instant> = None;
    loop {
        let (ended, due) = tokio::select! {
            piece = pieces.recv() => match piece {
                None => (true, true),
                Some(piece) => {
                    if !piece.is_empty() && batch.is_empty() {
                        deadline = Some(Instant::now() + batching.interval);
                    }
                    batch_chars += piece.chars().count();
                    batch.push_str(&piece);
                    let first = seq == 0 && !batch.is_empty();
                    (false, first || batch_chars >= batching.chars)
                }
            },
            () = until(deadline) => (false, true),
        };
        if due && !batch.is_empty() {
            let delta = event(seq, std::mem::take(&mut batch));
            if let Err(e) = cx.topics.publish(&topic, &delta).await {
                tracing::debug!(kind = delta.kind(), error = %e, "delta not published");
            }
            seq += 1;
            batch_chars = 0;
            deadline = None;
        }
        if ended {
            return;
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
