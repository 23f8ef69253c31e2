//! A crowd of connections saying `hello` at once, as the clients of a restarted node do,
//! while `loadtest tools` measures the calls of the sessions already connected. Each
//! storm connection comes from a loopback address of its own few (the hub bounds the
//! handshakes waiting per address), opens a new session, and is held until the step
//! ends. A `hello` refused with `retry_after_ms` is tried again after that wait and a
//! random part of it, as the SDK does; every other refusal is a failure.

use crate::connections::{IdleWs, dial};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Storm connections per loopback source address: under the hub's handshakes per
/// address (16 by default), so the upgrade is never what refuses them.
const PER_ADDRESS: usize = 8;

/// Refused `hello`s one connection takes before it counts as failed.
const TRIES: u64 = 100;

/// How long one connection may take, refusals and waits included.
const WITHIN: Duration = Duration::from_secs(60);

/// What a storm saw.
pub struct Storm {
    pub welcomed: usize,
    pub failed: usize,
    /// `hello`s answered `unavailable` with `retry_after_ms` (and sent again).
    pub refused: u64,
    /// From the first connection to the last `welcome`.
    pub seconds: f64,
    pub first_error: Option<String>,
    /// The connections, held until the caller drops them.
    pub held: Vec<IdleWs>,
}

impl Storm {
    pub fn line(&self) -> String {
        format!(
            "{} welcomed in {:.2} s ({:.0}/s), {} hellos refused and sent again, {} failed{}",
            self.welcomed,
            self.seconds,
            self.welcomed as f64 / self.seconds.max(1e-9),
            self.refused,
            self.failed,
            self.first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        )
    }
}

/// `count` connections to `addr`, all at once, each saying `hello` with a token of
/// `tokens` (in turn).
pub async fn run(addr: SocketAddr, tokens: &[String], count: usize) -> Storm {
    let started = Instant::now();
    let results = futures_util::future::join_all((0..count).map(|i| {
        let token = &tokens[i % tokens.len()];
        async move {
            tokio::time::timeout(WITHIN, hello(addr, address(i), token))
                .await
                .context("no welcome in time")?
        }
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut storm = Storm {
        welcomed: 0,
        failed: 0,
        refused: 0,
        seconds,
        first_error: None,
        held: Vec::with_capacity(count),
    };
    for result in results {
        match result {
            Ok((ws, refused)) => {
                storm.welcomed += 1;
                storm.refused += refused;
                storm.held.push(ws);
            }
            Err(e) => {
                storm.failed += 1;
                storm.first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    storm
}

/// Storm connection `i`'s source address: 127.1.x.y, apart from the addresses of
/// `loadtest connections`.
fn address(i: usize) -> Ipv4Addr {
    let n = i / PER_ADDRESS;
    Ipv4Addr::new(127, 1, (n / 256) as u8, (n % 256) as u8)
}

/// One connection until its `welcome`, with the `hello`s refused on the way.
async fn hello(addr: SocketAddr, from: Ipv4Addr, token: &str) -> anyhow::Result<(IdleWs, u64)> {
    let hello = crate::hello(token, "loadtest-storm").to_string();
    let mut refused = 0;
    loop {
        let mut ws = dial(addr, from).await?;
        ws.send(Message::text(hello.clone())).await?;
        let reply = reply(&mut ws).await?;
        if reply["type"] == "welcome" {
            return Ok((ws, refused));
        }
        let Some(wait) = reply["retry_after_ms"].as_u64() else {
            anyhow::bail!("hello refused: {reply}");
        };
        refused += 1;
        anyhow::ensure!(refused < TRIES, "hello refused {TRIES} times: {reply}");
        let _ = ws.close(None).await;
        let jitter = rand::random_range(0..=wait);
        tokio::time::sleep(Duration::from_millis(wait + jitter)).await;
    }
}

/// The answer to the `hello` (`re` 1).
async fn reply(ws: &mut IdleWs) -> anyhow::Result<serde_json::Value> {
    loop {
        match ws.next().await.context("closed before answering hello")?? {
            Message::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                if value["re"] == 1 {
                    return Ok(value);
                }
            }
            Message::Close(frame) => anyhow::bail!("closed before answering hello: {frame:?}"),
            _ => {}
        }
    }
}
