//! The data channel as a transport of the connection logic (`crate::ws::transport`):
//! text messages in and out, the peer connection's ICE consent as the heartbeat, and no
//! close frame (the reason goes to the log; every close a client must not retry is
//! preceded by an `error` message).

use crate::ws::transport::{Closed, Frame, FrameSink, FrameSource, Message, Transport};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::RTCPeerConnectionState;

/// How often a closing channel checks whether its last messages were acknowledged.
const DRAIN_POLL: Duration = Duration::from_millis(10);

pub struct DataChannelTransport {
    channel: Arc<dyn DataChannel>,
    state: watch::Receiver<RTCPeerConnectionState>,
    /// Cancelled to end the peer (by the writer closing, a hang-up, a failed connection).
    hang_up: CancellationToken,
    max_frame_bytes: usize,
}

impl DataChannelTransport {
    pub fn new(
        channel: Arc<dyn DataChannel>,
        state: watch::Receiver<RTCPeerConnectionState>,
        hang_up: CancellationToken,
        max_frame_bytes: usize,
    ) -> Self {
        Self {
            channel,
            state,
            hang_up,
            max_frame_bytes,
        }
    }
}

pub struct Sink {
    channel: Arc<dyn DataChannel>,
    state: watch::Receiver<RTCPeerConnectionState>,
    hang_up: CancellationToken,
    alive: Arc<Notify>,
}

pub struct Source {
    channel: Arc<dyn DataChannel>,
    hang_up: CancellationToken,
    alive: Arc<Notify>,
    max_frame_bytes: usize,
}

impl Transport for DataChannelTransport {
    const NAME: &'static str = "rtc";
    type Sink = Sink;
    type Source = Source;

    fn split(self) -> (Sink, Source) {
        let alive = Arc::new(Notify::new());
        (
            Sink {
                channel: self.channel.clone(),
                state: self.state,
                hang_up: self.hang_up.clone(),
                alive: alive.clone(),
            },
            Source {
                channel: self.channel,
                hang_up: self.hang_up,
                alive,
                max_frame_bytes: self.max_frame_bytes,
            },
        )
    }
}

impl FrameSource for Source {
    const TRANSPORT: &'static str = <DataChannelTransport as Transport>::NAME;
    async fn next_frame(&mut self) -> Frame {
        loop {
            let event = tokio::select! {
                _ = self.hang_up.cancelled() => return Frame::Gone,
                () = self.alive.notified() => return Frame::Control,
                event = self.channel.poll() => event,
            };
            match event {
                None | Some(DataChannelEvent::OnClose) => return Frame::Gone,
                Some(DataChannelEvent::OnMessage(message)) => {
                    if message.data.len() > self.max_frame_bytes {
                        return Frame::TooBig;
                    }
                    if !message.is_string {
                        return Frame::Binary;
                    }
                    // Invalid UTF-8 in a text message is malformed, like a binary frame.
                    return match String::from_utf8(message.data.to_vec()) {
                        Ok(text) => Frame::Text(Utf8Bytes::from(text)),
                        Err(_) => Frame::Binary,
                    };
                }
                // Open (already seen), closing, buffer thresholds: nothing to read.
                Some(_) => continue,
            }
        }
    }
}

impl FrameSink for Sink {
    async fn feed(&mut self, message: Message) -> Result<(), Closed> {
        match message {
            // Waits while the channel's send buffer (bounded by the outbound byte limit)
            // is full, so a peer that does not read fills the outbox and is closed as a
            // slow consumer, as on the WebSocket.
            Message::Text(text) => self
                .channel
                .send_text(text.as_str())
                .await
                .map_err(|_| Closed),
            // The data channel has no ping: the ICE agent checks consent every few
            // seconds, and a connection still `connected` at a heartbeat counts as the
            // peer's answer.
            Message::Ping => {
                if *self.state.borrow() == RTCPeerConnectionState::Connected {
                    self.alive.notify_one();
                }
                Ok(())
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        Ok(())
    }

    async fn send_close(&mut self, code: u16, reason: &'static str) {
        tracing::debug!(code, reason, "closing the data channel");
        // Let what was sent (an `error` explaining the close) be acknowledged before the
        // channel and its peer connection go; the writer bounds this wait.
        while let Ok(outstanding) = self.channel.outstanding_bytes().await {
            if outstanding == 0 {
                break;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }

    async fn close(&mut self) {
        let _ = self.channel.close().await;
        self.hang_up.cancel();
    }
}
