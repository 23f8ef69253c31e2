//! Live WebRTC peers: one built per offer (host candidates only, all gathered before
//! answering), the task that runs its data channel through the connection logic, and the
//! registry that frees it however it ends (hang-up, the channel or connection closed by
//! either side, ICE failure, no channel in time, shutdown).

use super::CHANNEL_LABEL;
use super::channel::DataChannelTransport;
use crate::auth::Claims;
use crate::config::{Config, PortRange};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::limits::Handshake;
use protocol::{ErrorCode, UserId};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder,
};

/// Live WebRTC peers on this node.
pub const RTC_PEERS: &str = "draftline_rtc_peers";

/// Longest wait for host candidates: gathering binds local sockets only (no STUN), so it
/// takes milliseconds; this bounds a stuck driver.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a hang-up waits for its peer to be freed before answering anyway (the writer
/// gets 5 s to send a close; a peer is normally gone in milliseconds).
const HANG_UP_WAIT: Duration = Duration::from_secs(10);

/// Longest closing a peer connection may take (it sends DTLS close and stops its driver).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Data channels announced by one peer before the `draftline` one is picked: a client
/// opens one; a few more are ignored rather than queued without bound.
const CHANNELS_QUEUED: usize = 4;

/// The node's live peers, by the id in their `Location`.
#[derive(Debug, Default)]
pub struct Peers {
    live: Mutex<HashMap<Uuid, Live>>,
    /// Where the next peer starts looking for a free port of the configured range.
    next_port: AtomicU32,
}

#[derive(Debug)]
struct Live {
    user: UserId,
    hang_up: CancellationToken,
    /// Cancelled once the peer is closed and out of the registry.
    freed: CancellationToken,
}

impl Peers {
    /// Peers not yet freed.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hangs up `user`'s peer `id` and waits (bounded) until it is freed; `false` when
    /// there is no such peer of theirs.
    pub async fn hang_up(&self, id: Uuid, user: &UserId) -> bool {
        let Some(freed) = self
            .lock()
            .get(&id)
            .filter(|live| live.user == *user)
            .map(|live| {
                live.hang_up.cancel();
                live.freed.clone()
            })
        else {
            return false;
        };
        if timeout(HANG_UP_WAIT, freed.cancelled()).await.is_err() {
            tracing::warn!(peer = %id, "peer not freed in time after hang-up");
        }
        true
    }

    /// Whether `user` may have one more peer: as many as connections per user, so offers
    /// that never open a channel cannot hold sockets beyond that. Checked before the
    /// peer is built, so offers racing each other may pass it together, a few at most.
    fn admits(&self, user: &UserId, max: usize) -> bool {
        self.lock()
            .values()
            .filter(|live| live.user == *user)
            .count()
            < max
    }

    fn insert(&self, id: Uuid, live: Live) {
        self.lock().insert(id, live);
        metrics::gauge!(RTC_PEERS).increment(1.0);
    }

    fn remove(&self, id: Uuid) {
        if self.lock().remove(&id).is_some() {
            metrics::gauge!(RTC_PEERS).decrement(1.0);
        }
    }

    /// The port to try next: `0` for any, else the range's ports in turn.
    fn next_port(&self, range: PortRange) -> u16 {
        if range == PortRange::ANY {
            return 0;
        }
        let n = self.next_port.fetch_add(1, Ordering::Relaxed) % range.len();
        range.first.saturating_add(u16::try_from(n).unwrap_or(0))
    }
}

/// Takes the peer out of the registry however its task ends.
struct Registration {
    hub: Hub,
    id: Uuid,
    freed: CancellationToken,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.rtc.remove(self.id);
        self.freed.cancel();
    }
}

/// The peer connection's events, handed to its task without ever blocking the driver.
struct Handler {
    channels: mpsc::Sender<Arc<dyn DataChannel>>,
    state: watch::Sender<RTCPeerConnectionState>,
    gathered: Notify,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "peer connection state");
        self.state.send_replace(state);
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if self.channels.try_send(channel).is_err() {
            tracing::debug!("extra data channel ignored");
        }
    }
}

/// Builds a peer for `offer`, answers it with every host candidate, and starts the task
/// that serves its data channel. Nothing is left behind on error.
pub(super) async fn open(
    hub: &Hub,
    claims: Claims,
    offer: RTCSessionDescription,
    handshake: Handshake,
) -> Result<(Uuid, String), ApiError> {
    if hub.shutdown.is_cancelled() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the server is restarting",
        ));
    }
    if !hub
        .rtc
        .admits(&claims.user(), hub.config.max_connections_per_user)
    {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many peers for this user",
        ));
    }
    let (channels_tx, channels) = mpsc::channel(CHANNELS_QUEUED);
    let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
    let handler = Arc::new(Handler {
        channels: channels_tx,
        state: state_tx,
        gathered: Notify::new(),
    });
    let pc = build(&hub.config, &hub.rtc, handler.clone()).await?;
    let answer = match negotiate(pc.as_ref(), offer, &handler).await {
        Ok(answer) => answer,
        Err(e) => {
            let _ = timeout(CLOSE_TIMEOUT, pc.close()).await;
            return Err(e);
        }
    };
    let id = Uuid::now_v7();
    let hang_up = CancellationToken::new();
    let freed = CancellationToken::new();
    hub.rtc.insert(
        id,
        Live {
            user: claims.user(),
            hang_up: hang_up.clone(),
            freed: freed.clone(),
        },
    );
    let registration = Registration {
        hub: hub.clone(),
        id,
        freed,
    };
    let span = tracing::info_span!("rtc_peer", peer = %id, user = %claims.sub);
    hub.tasks.spawn(
        supervise(
            hub.clone(),
            pc,
            channels,
            state,
            Opener { claims, handshake },
            hang_up,
            registration,
        )
        .instrument(span),
    );
    tracing::debug!(peer = %id, "offer answered");
    Ok((id, answer))
}

/// A peer connection bound to the configured addresses, on the first free port of the
/// range.
async fn build(
    config: &Config,
    peers: &Peers,
    handler: Arc<Handler>,
) -> Result<Arc<dyn PeerConnection>, ApiError> {
    let mut settings = SettingEngineBuilder::new()
        // Full ICE, not lite: the hub checks connectivity itself, so it also reaches a
        // browser that hides its addresses behind mDNS `.local` names (Chromium's
        // default) through the peer-reflexive candidates of its checks; and the hub
        // never sends mDNS queries (no multicast traffic, no `.local` names of its own).
        .with_lite(false)
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        // Announced in the answer (`a=max-message-size`): the same limit as a WebSocket
        // message, so a browser refuses to send more.
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(
            u32::try_from(config.max_frame_bytes).unwrap_or(u32::MAX),
        ));
    if !config.rtc_public_ips.is_empty() {
        let ips = config
            .rtc_public_ips
            .iter()
            .map(ToString::to_string)
            .collect();
        settings = settings.with_nat_1to1_ips(ips, RTCIceCandidateType::Host);
    }
    let settings = settings.build();
    let range = config.rtc_udp_ports;
    let mut last_error = None;
    for _ in 0..range.len() {
        let port = peers.next_port(range);
        let addrs: Vec<SocketAddr> = config
            .rtc_udp_bind
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings.clone())
            .with_handler(handler.clone())
            .with_udp_addrs(addrs)
            // The outbound byte limit again, so a peer that does not read stops the
            // writer and fills the outbox (closed as a slow consumer) instead of piling
            // up in SCTP's buffer.
            .with_data_channel_send_buffer_limit(config.outbound_bytes)
            .build()
            .await;
        match built {
            Ok(pc) => return Ok(Arc::new(pc)),
            Err(e) => {
                tracing::debug!(port, error = %e, "peer connection not built");
                last_error = Some(e);
            }
        }
    }
    // Every port of the range taken, or the bind addresses unusable (the error says).
    tracing::warn!(
        ports = ?range,
        error = last_error.map(|e| e.to_string()),
        "no WebRTC peer could be built"
    );
    Err(ApiError::new(
        ErrorCode::Unavailable,
        "no capacity for another peer",
    ))
}

/// Applies the offer and answers it once every host candidate is in the answer.
async fn negotiate(
    pc: &dyn PeerConnection,
    offer: RTCSessionDescription,
    handler: &Handler,
) -> Result<String, ApiError> {
    pc.set_remote_description(offer)
        .await
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("offer not accepted: {e}")))?;
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "{what}");
        ApiError::new(ErrorCode::Internal, "could not answer the offer")
    };
    let answer = pc
        .create_answer(None)
        .await
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("offer not answerable: {e}")))?;
    pc.set_local_description(answer)
        .await
        .map_err(|e| internal("set_local_description failed", &e))?;
    timeout(GATHER_TIMEOUT, handler.gathered.notified())
        .await
        .map_err(|e| internal("ICE gathering did not complete", &e))?;
    let local = pc
        .local_description()
        .await
        .ok_or_else(|| internal("no local description", &"none"))?;
    Ok(local.sdp)
}

/// Who opened a peer, and its place among its address's connections waiting for
/// `hello` (freed by the hello).
struct Opener {
    claims: Claims,
    handshake: Handshake,
}

/// Waits for the `draftline` channel to open, serves it, then frees the peer.
async fn supervise(
    hub: Hub,
    pc: Arc<dyn PeerConnection>,
    mut channels: mpsc::Receiver<Arc<dyn DataChannel>>,
    mut state: watch::Receiver<RTCPeerConnectionState>,
    opener: Opener,
    hang_up: CancellationToken,
    registration: Registration,
) {
    let Opener { claims, handshake } = opener;
    let opened = tokio::select! {
        _ = hang_up.cancelled() => None,
        _ = hub.shutdown.cancelled() => None,
        () = ended(&mut state) => None,
        opened = timeout(hub.config.rtc_open_timeout(), accept(&mut channels)) => {
            opened.unwrap_or_else(|_| {
                tracing::debug!("no data channel opened in time");
                None
            })
        }
    };
    if let Some(channel) = opened {
        let transport = DataChannelTransport::new(
            channel,
            state.clone(),
            hang_up.clone(),
            hub.config.max_frame_bytes,
        );
        let serve = crate::ws::connection::serve(hub.clone(), transport, Some(claims), handshake);
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => {}
            () = ended(&mut state) => {
                hang_up.cancel();
                serve.await;
            }
        }
    }
    if timeout(CLOSE_TIMEOUT, pc.close()).await.is_err() {
        tracing::warn!("peer connection did not close in time");
    }
    drop(pc);
    drop(registration);
    tracing::debug!("peer freed");
}

/// Resolves when the peer connection failed (ICE consent lost for good) or closed.
async fn ended(state: &mut watch::Receiver<RTCPeerConnectionState>) {
    loop {
        if matches!(
            *state.borrow_and_update(),
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        ) {
            return;
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// The client's `draftline` channel once open; `None` when it is not ordered and reliable.
async fn accept(
    channels: &mut mpsc::Receiver<Arc<dyn DataChannel>>,
) -> Option<Arc<dyn DataChannel>> {
    while let Some(channel) = channels.recv().await {
        let label = channel.label().await.unwrap_or_default();
        if label != CHANNEL_LABEL {
            tracing::debug!(label, "data channel ignored");
            continue;
        }
        let ordered = channel.ordered().await.unwrap_or(false);
        let retransmits = channel.max_retransmits().await.ok().flatten();
        let lifetime = channel.max_packet_life_time().await.ok().flatten();
        if !ordered || retransmits.is_some() || lifetime.is_some() {
            tracing::debug!(
                ordered,
                ?retransmits,
                ?lifetime,
                "data channel must be ordered and reliable"
            );
            return None;
        }
        if channel.ready_state().await.ok() == Some(RTCDataChannelState::Open) {
            return Some(channel);
        }
        while let Some(event) = channel.poll().await {
            match event {
                DataChannelEvent::OnOpen => return Some(channel),
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
    }
    None
}
