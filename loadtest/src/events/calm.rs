//! The calm clients of the Draftline fan-out steps: sessions calling a writing tool
//! (`create_note`) a few times a second while the subscribers are flooded, to show
//! whether a tool call's answer waits behind fan-out work. One is apart (its own user
//! and project, subscribed to nothing); one is inside (the busy project's owner,
//! subscribed to the busy topic, writing to a second project of its own so its notes do
//! not add events to the subscribers' stream). Each keeps reading its socket between
//! calls, as any subscriber must, and has at most one call in flight: a tick that
//! finds the previous call unanswered is skipped and counted.
//!
//! Each runs on a thread and runtime of its own: on the harness's runtime its reads
//! would queue behind the thousand subscriber tasks every event wakes, and the round
//! trip would measure the generator rather than the hub.

use super::client::{self, Ws, request, tool_call};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// One calm client's calls in one step.
#[derive(Debug, Default, Clone)]
pub struct CallStats {
    /// Round trips of answered calls, microseconds.
    pub latencies_us: Vec<u32>,
    /// Calls answered with `ok: false`.
    pub failed: u64,
    /// Ticks skipped because the previous call was still unanswered.
    pub skipped: u64,
}

impl CallStats {
    /// The `p`-quantile in milliseconds of the sorted round trips.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        crate::record::percentile_ms(&self.latencies_us, p)
    }
}

/// A running calm client.
pub struct Calm {
    pub name: &'static str,
    /// Whether it subscribed to a busy topic (the hub delivers to it too).
    pub subscribed: bool,
    /// Calls by step; index 0 is the warm-up.
    stats: Arc<Mutex<Vec<CallStats>>>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

/// Where a calm client works.
pub struct Desk {
    pub name: &'static str,
    pub token: String,
    /// The project its session writes notes to.
    pub project_id: String,
    /// A busy topic it also subscribes to, if any.
    pub subscribe: Option<String>,
}

impl Calm {
    /// Connects, sets up the session and starts calling every `every`. `phase` is the
    /// harness's current step + 1 while a step publishes, 0 between steps; only calls
    /// made while a step publishes are counted, in that step.
    pub async fn start(
        addr: SocketAddr,
        desk: Desk,
        every: Duration,
        phase: Arc<AtomicUsize>,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stats = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let (name, subscribed) = (desk.name, desk.subscribe.is_some());
        let calls = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("calm-{name}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let ws = match open(addr, &desk).await {
                        Ok(ws) => {
                            let _ = ready_tx.send(Ok(()));
                            ws
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return Ok(());
                        }
                    };
                    call(ws, every, phase, calls, stop).await
                })
            })?;
        ready.await.context("the calm client's thread ended")??;
        Ok(Self {
            name,
            subscribed,
            stats,
            thread,
        })
    }

    /// The calls of `step` (sorted round trips), taken out.
    pub fn take(&self, step: usize) -> CallStats {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let mut taken = stats.get_mut(step).map(std::mem::take).unwrap_or_default();
        taken.latencies_us.sort_unstable();
        taken
    }

    /// Waits for the client to stop (after its `stop`); its error, if it failed.
    pub async fn finish(self) -> anyhow::Result<()> {
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("calm client panicked"))?
    }
}

/// Connects and sets up the session: hello, its project, intake mode, and the busy
/// topic when it has one.
async fn open(addr: SocketAddr, desk: &Desk) -> anyhow::Result<Ws> {
    let mut ws = client::connect_draftline(addr).await?;
    let hello = crate::hello(&desk.token, "loadtest-calm");
    request(&mut ws, hello, "welcome").await?;
    let assign = tool_call(
        2,
        "assign_project_to_session",
        json!({"project_id": desk.project_id}),
    );
    let (assigned, _) = request(&mut ws, assign, "tool.result").await?;
    anyhow::ensure!(assigned["ok"] == true, "assigning the project: {assigned}");
    let configure = json!({"type": "session.configure", "id": 3, "mode": "intake"});
    request(&mut ws, configure, "ok").await?;
    if let Some(topic) = &desk.subscribe {
        let subscribe = json!({"type": "subscribe", "id": 4, "topic": topic});
        request(&mut ws, subscribe, "subscribed").await?;
    }
    Ok(ws)
}

/// The calling loop: one `create_note` per tick, reading every frame in between.
async fn call(
    ws: Ws,
    every: Duration,
    phase: Arc<AtomicUsize>,
    stats: Arc<Mutex<Vec<CallStats>>>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (mut sink, mut stream) = ws.split();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut id = 10u64;
    // The call in flight: its id, when it was sent and the step it counts in.
    let mut pending: Option<(u64, Instant, usize)> = None;
    let record = |step: usize, f: &mut dyn FnMut(&mut CallStats)| {
        let mut stats = stats.lock().unwrap_or_else(|p| p.into_inner());
        if stats.len() <= step {
            stats.resize_with(step + 1, CallStats::default);
        }
        f(&mut stats[step]);
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                let Some(step) = phase.load(Ordering::Relaxed).checked_sub(1) else {
                    continue;
                };
                if pending.is_some() {
                    record(step, &mut |s| s.skipped += 1);
                    continue;
                }
                id += 1;
                let frame = tool_call(id, "create_note", json!({"body": format!("calm {id}")}));
                pending = Some((id, Instant::now(), step));
                sink.send(Message::text(frame.to_string())).await?;
            }
            message = stream.next() => {
                let text = match message.context("the calm client's connection ended")?? {
                    Message::Text(text) => text,
                    Message::Close(frame) => anyhow::bail!("calm client closed: {frame:?}"),
                    _ => continue,
                };
                let Some((want, sent, step)) = pending else { continue };
                // Events are most of what arrives; only a reply carries `re`.
                if !text.contains("\"re\"") {
                    continue;
                }
                let reply: Value = serde_json::from_str(&text)?;
                if reply["re"] != json!(want) {
                    continue;
                }
                let us = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                let ok = reply["type"] == "tool.result" && reply["ok"] == true;
                record(step, &mut |s| {
                    if ok {
                        s.latencies_us.push(us);
                    } else {
                        s.failed += 1;
                    }
                });
                pending = None;
            }
        }
    }
}
