//! `loadtest ceiling-server`: the fan-out ceiling the scenarios compare against, a bare
//! tokio-tungstenite broadcast server with no Redis, no durability, no authentication
//! and no protocol. A subscriber connects to `/?topic=T`; a client on `/publish` is the
//! publisher: each text frame `T PAYLOAD` it sends goes, as PAYLOAD, to every
//! subscriber of T (one broadcast channel per topic). Each subscriber's writer sends what piled up (up to 64
//! frames) before one flush, as the hub's writer does, and a subscriber that falls
//! more than the channel's capacity behind is closed, as the hub closes slow consumers.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9300")]
    bind: SocketAddr,
}

/// Frames a subscriber may be behind before it is closed: the hub's default outbox
/// (`DRAFTLINE_OUTBOUND_MESSAGES`, 1,024).
const BACKLOG: usize = 1024;

/// Frames written before one flush: the hub's `WRITE_BATCH`.
const WRITE_BATCH: usize = 64;

/// Read buffer per connection: subscribers send nothing but pongs and the close.
const READ_BUFFER: usize = 4 * 1024;

pub async fn run(options: Options) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("binding {}", options.bind))?;
    let topics = Topics::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let topics = topics.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(stream, topics).await {
                tracing::debug!(error = %e, "ceiling connection ended");
            }
        });
    }
}

/// Each topic's broadcast channel, made by its first subscriber.
#[derive(Clone, Default)]
struct Topics(Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>);

impl Topics {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Utf8Bytes>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(&self, topic: &str) -> broadcast::Receiver<Utf8Bytes> {
        self.lock()
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe()
    }

    /// Sends `PAYLOAD` of a `TOPIC PAYLOAD` frame to the topic's subscribers.
    fn publish(&self, frame: &str) {
        let Some((topic, payload)) = frame.split_once(' ') else {
            return;
        };
        let sender = self.lock().get(topic).cloned();
        if let Some(sender) = sender {
            // No subscriber left is not an error.
            let _ = sender.send(Utf8Bytes::from(payload));
        }
    }
}

// The handshake callback's error type (an HTTP response) is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(stream: tokio::net::TcpStream, topics: Topics) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut publisher = false;
    let mut topic = String::new();
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |request: &Request, response: Response| {
            publisher = request.uri().path() == "/publish";
            topic = request
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("topic=")))
                .unwrap_or_default()
                .to_owned();
            Ok(response)
        },
        Some(config),
    )
    .await?;
    let (mut sink, mut source) = ws.split();
    if publisher {
        while let Some(message) = source.next().await {
            if let Message::Text(text) = message? {
                topics.publish(&text);
            }
        }
        return Ok(());
    }
    let mut events = topics.subscribe(&topic);
    loop {
        tokio::select! {
            event = events.recv() => {
                let first = match event {
                    Ok(text) => text,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = sink.send(Message::Close(None)).await;
                        return Ok(());
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                sink.feed(Message::Text(first)).await?;
                for _ in 1..WRITE_BATCH {
                    match events.try_recv() {
                        Ok(text) => sink.feed(Message::Text(text)).await?,
                        Err(_) => break,
                    }
                }
                sink.flush().await?;
            }
            incoming = source.next() => match incoming {
                Some(Ok(_)) => {}
                _ => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_reaches_its_topic_only() {
        let topics = Topics::default();
        let mut t0 = topics.subscribe("t0");
        let mut t1 = topics.subscribe("t1");
        topics.publish("t1 1:2:3:x");
        topics.publish("t9 nobody listens");
        topics.publish("no-space");
        assert_eq!(t1.try_recv().unwrap().as_str(), "1:2:3:x");
        assert!(t1.try_recv().is_err());
        assert!(t0.try_recv().is_err());
    }
}
