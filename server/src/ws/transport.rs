//! The seam between the protocol's one connection logic (`connection.rs`: handshake,
//! reader loop, writer, heartbeat, shutdown) and a transport that carries its frames: the
//! WebSocket here, the WebRTC data channel in `crate::rtc`.

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;

/// What the reader got from the transport.
pub enum Frame {
    Text(Utf8Bytes),
    Binary,
    /// Proof of life with nothing to answer (a WebSocket ping or pong; on the data
    /// channel, the peer connection passing its ICE consent checks).
    Control,
    TooBig,
    Gone,
}

/// What the writer sends.
#[derive(Debug)]
pub enum Message {
    Text(Utf8Bytes),
    /// The heartbeat: the transport's own ping.
    Ping,
}

/// The transport failed or the peer is gone; nothing more can be sent.
#[derive(Debug)]
pub struct Closed;

/// A connected transport, split into the writer's half and the reader's half.
pub trait Transport: Send + 'static {
    /// The transport's name in logs (`ws`, `rtc`).
    const NAME: &'static str;
    type Sink: FrameSink;
    type Source: FrameSource;
    fn split(self) -> (Self::Sink, Self::Source);
}

/// The reader's half.
pub trait FrameSource: Send + 'static {
    /// The transport's name in metrics (its [`Transport::NAME`]).
    const TRANSPORT: &'static str;
    /// The next frame from the peer; must be cancel safe (the reader `select!`s on it).
    fn next_frame(&mut self) -> impl Future<Output = Frame> + Send;
}

/// The writer's half.
pub trait FrameSink: Send + 'static {
    /// Hands one frame to the transport; it may wait for `flush` to go out.
    fn feed(&mut self, message: Message) -> impl Future<Output = Result<(), Closed>> + Send;
    fn flush(&mut self) -> impl Future<Output = Result<(), Closed>> + Send;
    /// Tells the peer why the connection ends (a close frame, where the transport has one).
    fn send_close(&mut self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
    /// Ends the transport.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

impl Transport for WebSocket {
    const NAME: &'static str = "ws";
    type Sink = SplitSink<WebSocket, WsMessage>;
    type Source = SplitStream<WebSocket>;

    fn split(self) -> (Self::Sink, Self::Source) {
        StreamExt::split(self)
    }
}

impl FrameSource for SplitStream<WebSocket> {
    const TRANSPORT: &'static str = <WebSocket as Transport>::NAME;
    async fn next_frame(&mut self) -> Frame {
        match self.next().await {
            None | Some(Ok(WsMessage::Close(_))) => Frame::Gone,
            Some(Ok(WsMessage::Text(text))) => Frame::Text(text),
            Some(Ok(WsMessage::Binary(_))) => Frame::Binary,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => Frame::Control,
            Some(Err(e)) => {
                let too_big = e
                    .into_inner()
                    .downcast_ref::<tokio_tungstenite::tungstenite::Error>()
                    .is_some_and(|e| {
                        matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_))
                    });
                if too_big { Frame::TooBig } else { Frame::Gone }
            }
        }
    }
}

impl FrameSink for SplitSink<WebSocket, WsMessage> {
    async fn feed(&mut self, message: Message) -> Result<(), Closed> {
        let message = match message {
            Message::Text(text) => WsMessage::Text(text),
            Message::Ping => WsMessage::Ping(Default::default()),
        };
        SinkExt::feed(self, message).await.map_err(|_| Closed)
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        SinkExt::flush(self).await.map_err(|_| Closed)
    }

    async fn send_close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.send(WsMessage::Close(Some(frame))).await;
    }

    async fn close(&mut self) {
        let _ = SinkExt::close(self).await;
    }
}
