//! The subscribers and the peers' publisher of the fan-out scenarios: one client
//! implementation per system, all in this process and on one clock. Draftline's
//! subscribers speak its protocol (`hello`, `subscribe`, numbered `event` frames); the
//! Node `ws` server and the ceiling take plain WebSocket text frames; Socket.IO speaks
//! Engine.IO v4 / Socket.IO v5 over a bare WebSocket (`/socket.io/?EIO=4&transport=
//! websocket`: the server's `0{...}` open packet, `40` to join the default namespace,
//! events as `42["event",...]`, and the server's ping `2` answered with pong `3`).
//! A peer subscriber names its topic in the URL (`?topic=T`); the peers' publisher sends
//! `T PAYLOAD` (Socket.IO: `42["publish","T","PAYLOAD"]`) and each server passes the
//! payload to that topic's subscribers alone, as Draftline does per project. A peer
//! event's payload is `STEP:SENT_NS:SEQ:` padded to Draftline's frame size; the
//! sequence number, counted per topic, finds losses as Draftline's offsets do.

use anyhow::Context;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The clients' WebSocket read buffer. tungstenite zero-fills the free part of its
/// buffer before every read (up to the buffer's size), so its default of 128 KiB costs
/// two 128 KiB memsets per event at low rates (one read for the frame, one that finds
/// the socket empty): a third of the clients' CPU in a profile at 50k deliveries/s.
/// 8 KiB still holds about 40 of these frames per read.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// A Draftline `event` frame of the scenarios is about 225 bytes; peer payloads are
/// padded to this length so every system moves frames of about the same size.
const PEER_PAYLOAD_BYTES: usize = 200;

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// How a system's frames look on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Draftline,
    /// Text frames carrying the payload as is (Node `ws`, the ceiling).
    Plain,
    SocketIo,
}

/// One step's deliveries as one client saw them.
#[derive(Debug, Default)]
pub struct StepStats {
    pub received: u64,
    /// Publish-to-receive, microseconds.
    pub latencies_us: Vec<u32>,
    /// Numbers skipped (events this client never got), counted when the next arrived.
    pub gaps: u64,
    /// Numbers at or below one already received.
    pub duplicates: u64,
    pub last_receive_ns: u64,
}

/// What one client task records; the harness takes a step's stats once it drained.
#[derive(Debug, Default)]
pub struct ClientState {
    pub steps: Vec<StepStats>,
    /// Frames that were not readable event frames.
    pub unreadable: u64,
    /// How the connection ended, when it did before the scenario's end.
    pub closed: Option<String>,
}

impl ClientState {
    pub fn step(&mut self, step: usize) -> &mut StepStats {
        if self.steps.len() <= step {
            self.steps.resize_with(step + 1, StepStats::default);
        }
        &mut self.steps[step]
    }
}

/// The client side of one subscriber.
pub struct Client {
    pub state: Arc<Mutex<ClientState>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// The parts of a Draftline frame the client looks at.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    offset: Option<u64>,
    #[serde(borrow)]
    event: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    text: Option<&'a str>,
}

async fn connect(url: &str, subprotocol: Option<&'static str>) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(subprotocol),
        );
    }
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

/// A WebSocket to a Draftline hub, before `hello`.
pub async fn connect_draftline(addr: SocketAddr) -> anyhow::Result<Ws> {
    connect(&format!("ws://{addr}/v1/ws"), Some(protocol::SUBPROTOCOL)).await
}

/// Connects a Draftline subscriber: hello, subscribe to `topic`; answers the socket and
/// the topic's offset at subscription.
pub async fn open_draftline(
    addr: SocketAddr,
    token: &str,
    topic: &str,
) -> anyhow::Result<(Ws, u64)> {
    let mut ws = connect_draftline(addr).await?;
    let hello = crate::hello(token, "loadtest");
    ws.send(Message::text(hello.to_string())).await?;
    reply(&mut ws, 1, "welcome").await?;
    let subscribe = serde_json::json!({"type": "subscribe", "id": 2, "topic": topic});
    ws.send(Message::text(subscribe.to_string())).await?;
    let subscribed = reply(&mut ws, 2, "subscribed").await?;
    let offset = subscribed["offset"]
        .as_u64()
        .context("`subscribed` without an offset")?;
    Ok((ws, offset))
}

/// The reply to request `id`, which must be of type `kind`.
async fn reply(ws: &mut Ws, id: u64, kind: &str) -> anyhow::Result<serde_json::Value> {
    loop {
        match ws.next().await.context("closed during the handshake")?? {
            Message::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                if value["re"] == serde_json::json!(id) {
                    anyhow::ensure!(value["type"] == kind, "expected {kind}, got {value}");
                    return Ok(value);
                }
            }
            Message::Close(frame) => anyhow::bail!("closed during the handshake: {frame:?}"),
            _ => {}
        }
    }
}

/// Connects to a peer as a subscriber of `topic` (`Some`) or as the publisher (`None`).
/// Peer events are numbered from 1 on each topic, so a subscriber starts at 0. Topic
/// names are the scenario's own (`t0`, `t1`, ...): nothing to escape in a URL.
pub async fn open_peer(addr: SocketAddr, wire: Wire, topic: Option<&str>) -> anyhow::Result<Ws> {
    match wire {
        Wire::Plain => {
            let path = match topic {
                Some(topic) => format!("/?topic={topic}"),
                None => "/publish".to_owned(),
            };
            connect(&format!("ws://{addr}{path}"), None).await
        }
        Wire::SocketIo => {
            let role = match topic {
                Some(topic) => format!("subscriber&topic={topic}"),
                None => "publisher".to_owned(),
            };
            let mut ws = connect(
                &format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&role={role}"),
                None,
            )
            .await?;
            // Engine.IO open packet, then the Socket.IO CONNECT of the main namespace.
            let open = next_text(&mut ws).await?;
            anyhow::ensure!(
                open.starts_with('0'),
                "expected an Engine.IO open packet, got {open}"
            );
            ws.send(Message::text("40")).await?;
            loop {
                let packet = next_text(&mut ws).await?;
                if packet.starts_with("40") {
                    return Ok(ws);
                }
                if packet == "2" {
                    ws.send(Message::text("3")).await?;
                    continue;
                }
                anyhow::bail!("expected a Socket.IO CONNECT answer, got {packet}");
            }
        }
        Wire::Draftline => anyhow::bail!("Draftline subscribers open with open_draftline"),
    }
}

async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await.context("closed during the handshake")?? {
            Message::Text(text) => return Ok(text.to_string()),
            Message::Close(frame) => anyhow::bail!("closed during the handshake: {frame:?}"),
            _ => {}
        }
    }
}

/// The payload of a peer event: its step, send time and number, padded.
pub fn peer_payload(step: usize, sent_ns: u64, seq: u64) -> String {
    let mut text = format!("{step}:{sent_ns}:{seq}:");
    let pad = PEER_PAYLOAD_BYTES.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('x', pad));
    text
}

/// The frame the publisher sends for `payload` on `topic`.
pub fn publish_frame(wire: Wire, topic: &str, payload: &str) -> Message {
    match wire {
        // Topic and payload hold only letters, digits and colons: no JSON escaping.
        Wire::SocketIo => Message::text(format!("42[\"publish\",\"{topic}\",\"{payload}\"]")),
        _ => Message::text(format!("{topic} {payload}")),
    }
}

/// What a frame says: `Some((number, step, sent_ns))` for an event, `None` for anything
/// else; `Err` when a Socket.IO ping must be answered.
fn parse(wire: Wire, text: &str) -> Result<Option<(u64, usize, u64)>, Ping> {
    match wire {
        Wire::Draftline => Ok(serde_json::from_str::<Incoming<'_>>(text)
            .ok()
            .filter(|f| f.kind == "event")
            .and_then(|f| {
                let (step, sent) = f.event?.text?.split_once(':')?;
                Some((f.offset?, step.parse().ok()?, sent.parse().ok()?))
            })),
        Wire::Plain => Ok(parse_payload(text)),
        Wire::SocketIo => {
            if text == "2" {
                return Err(Ping);
            }
            Ok(text
                .strip_prefix("42[\"event\",\"")
                .and_then(|rest| rest.strip_suffix("\"]"))
                .and_then(parse_payload))
        }
    }
}

/// A Socket.IO ping to answer.
struct Ping;

fn parse_payload(text: &str) -> Option<(u64, usize, u64)> {
    let mut parts = text.splitn(4, ':');
    let step = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some((seq, step, sent))
}

/// Reads events until `stop` or the connection ends, checking numbers for gaps and
/// recording the latency of each.
pub async fn read_events(
    ws: Ws,
    wire: Wire,
    mut last: u64,
    state: Arc<Mutex<ClientState>>,
    received: Arc<[AtomicU64]>,
    anchor: Instant,
    stop: CancellationToken,
) {
    let (mut sink, mut stream): (SplitSink<Ws, Message>, SplitStream<Ws>) = ws.split();
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let closed = loop {
        let message = tokio::select! {
            _ = &mut stopped => return,
            message = stream.next() => message,
        };
        let now_ns = u64::try_from(anchor.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => break format!("closed by the server: {frame:?}"),
            // WebSocket pings are answered by the library.
            Some(Ok(_)) => continue,
            Some(Err(e)) => break format!("connection failed: {e}"),
            None => break "connection ended".to_owned(),
        };
        let parsed = match parse(wire, &text) {
            Ok(parsed) => parsed,
            Err(Ping) => {
                if let Err(e) = sink.send(Message::text("3")).await {
                    break format!("answering a Socket.IO ping failed: {e}");
                }
                continue;
            }
        };
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        let Some((number, step, sent_ns)) = parsed else {
            state.unreadable += 1;
            continue;
        };
        let stats = state.step(step);
        if number <= last {
            stats.duplicates += 1;
            continue;
        }
        stats.gaps += number - last - 1;
        last = number;
        stats.received += 1;
        let latency_us = now_ns.saturating_sub(sent_ns) / 1_000;
        stats
            .latencies_us
            .push(u32::try_from(latency_us).unwrap_or(u32::MAX));
        stats.last_receive_ns = stats.last_receive_ns.max(now_ns);
        drop(state);
        if let Some(counter) = received.get(step) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    };
    state.lock().unwrap_or_else(|p| p.into_inner()).closed = Some(closed);
}

/// A `tool.call` frame with request id `id` (its call id derived from it).
pub fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"type": "tool.call", "id": id, "call_id": format!("c{id}"), "name": name, "arguments": arguments})
}

/// Sends `frame` and answers the reply to its id, which must be of type `kind`, with
/// any event frames that came before it.
pub async fn request(ws: &mut Ws, frame: Value, kind: &str) -> anyhow::Result<(Value, Vec<Value>)> {
    ws.send(Message::text(frame.to_string())).await?;
    let mut early = Vec::new();
    let read = async {
        loop {
            match ws.next().await.context("closed before the reply")?? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text)?;
                    if value["re"] == frame["id"] {
                        anyhow::ensure!(value["type"] == kind, "expected {kind}, got {value}");
                        return Ok(value);
                    }
                    if value["type"] == "event" {
                        early.push(value);
                    }
                }
                Message::Close(close) => anyhow::bail!("closed before the reply: {close:?}"),
                _ => {}
            }
        }
    };
    let reply = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .context("no reply in 10 s")??;
    Ok((reply, early))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn peer_frames_round_trip() {
        let payload = peer_payload(3, 123_456, 42);
        assert_eq!(payload.len(), PEER_PAYLOAD_BYTES);
        assert_eq!(
            parse(Wire::Plain, &payload).ok().flatten(),
            Some((42, 3, 123_456))
        );
        let relayed = format!("42[\"event\",\"{payload}\"]");
        assert_eq!(
            parse(Wire::SocketIo, &relayed).ok().flatten(),
            Some((42, 3, 123_456))
        );
        assert!(parse(Wire::SocketIo, "2").is_err());
        assert_eq!(parse(Wire::SocketIo, "40{}").ok().flatten(), None);
    }
}
