//! `loadtest ceiling-server`: the fan-out ceiling the scenarios compare against, a bare
//! tokio-tungstenite broadcast server with no Redis, no durability, no authentication
//! and no protocol. A client on `/publish` is the publisher: each text frame it sends
//! goes to every other client. Each subscriber's writer sends what piled up (up to 64
//! frames) before one flush, as the hub's writer does, and a subscriber that falls
//! more than the channel's capacity behind is closed, as the hub closes slow consumers.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
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
    let (events, _) = broadcast::channel::<Utf8Bytes>(BACKLOG);
    loop {
        let (stream, _) = listener.accept().await?;
        let events = events.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(stream, events).await {
                tracing::debug!(error = %e, "ceiling connection ended");
            }
        });
    }
}

// The handshake callback's error type (an HTTP response) is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: tokio::net::TcpStream,
    events: broadcast::Sender<Utf8Bytes>,
) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut publisher = false;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |request: &Request, response: Response| {
            publisher = request.uri().path() == "/publish";
            Ok(response)
        },
        Some(config),
    )
    .await?;
    let (mut sink, mut source) = ws.split();
    if publisher {
        while let Some(message) = source.next().await {
            if let Message::Text(text) = message? {
                // No subscriber yet is not an error.
                let _ = events.send(text);
            }
        }
        return Ok(());
    }
    let mut events = events.subscribe();
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
