//! The WebRTC data-channel transport end to end: a `webrtc` client peer (bound to and
//! announcing 127.0.0.1 only) offers, opens the `draftline` channel, speaks the protocol
//! beside a WebSocket client, hangs up; bad offers are refused with nothing left behind;
//! peers that never open a channel, or close on their own, are freed.

use crate::support::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCSessionDescription, SettingEngineBuilder,
};

/// Adjusts the client peer's settings.
type Tune = fn(SettingEngineBuilder) -> SettingEngineBuilder;

struct Gathered(Notify);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gathered {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.notify_one();
        }
    }
}

/// A client peer with its `draftline` channel, offered but not yet answered.
struct Offer {
    pc: Arc<dyn PeerConnection>,
    channel: Arc<dyn DataChannel>,
    sdp: String,
}

async fn offer() -> Offer {
    offer_with(|s| s).await
}

async fn offer_with(tune: Tune) -> Offer {
    let gathered = Arc::new(Gathered(Notify::new()));
    let settings = tune(
        SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled),
    )
    .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_handler(gathered.clone())
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .unwrap();
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let channel = pc.create_data_channel("draftline", None).await.unwrap();
    let offer = pc.create_offer(None).await.unwrap();
    pc.set_local_description(offer).await.unwrap();
    tokio::time::timeout(WAIT, gathered.0.notified())
        .await
        .expect("candidates gathered");
    let sdp = pc.local_description().await.unwrap().sdp;
    Offer { pc, channel, sdp }
}

/// A client peer past the answer with its channel open.
struct Peer {
    pc: Arc<dyn PeerConnection>,
    channel: Arc<dyn DataChannel>,
    location: String,
    next_id: i64,
}

impl Peer {
    async fn connect(server: &TestServer, token: &str) -> Peer {
        Self::connect_with(server, token, |s| s, |sdp| sdp).await
    }

    /// Connects with the client's settings adjusted by `tune` and the offer's SDP
    /// rewritten by `edit` before it is sent.
    async fn connect_with(
        server: &TestServer,
        token: &str,
        tune: Tune,
        edit: impl FnOnce(String) -> String,
    ) -> Peer {
        let Offer { pc, channel, sdp } = offer_with(tune).await;
        let response = post_offer(server, token, &edit(sdp)).await;
        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/sdp"
        );
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/v1/rtc/sessions/"), "{location}");
        let answer = response.text().await.unwrap();
        let candidates: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        assert!(
            !candidates.is_empty(),
            "host candidates in the answer: {answer}"
        );
        assert!(
            candidates.iter().all(|c| c.contains(" 127.0.0.1 ")),
            "only loopback announced: {candidates:?}"
        );
        assert!(!answer.contains("a=ice-lite"), "full ICE: {answer}");
        assert!(
            answer.contains("a=max-message-size:65536"),
            "the frame limit announced: {answer}"
        );
        pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
            .await
            .unwrap();
        let opened = tokio::time::timeout(WAIT, async {
            while let Some(event) = channel.poll().await {
                if matches!(event, DataChannelEvent::OnOpen) {
                    return true;
                }
            }
            false
        })
        .await
        .expect("channel opens in time");
        assert!(opened, "channel opened");
        Peer {
            pc,
            channel,
            location,
            next_id: 0,
        }
    }

    async fn send(&self, frame: Value) {
        self.channel.send_text(&frame.to_string()).await.unwrap();
    }

    /// The next JSON message; `None` once the channel closed.
    async fn next(&self) -> Option<Value> {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.channel.poll().await? {
                    DataChannelEvent::OnMessage(m) => {
                        return Some(serde_json::from_slice(&m.data).unwrap());
                    }
                    DataChannelEvent::OnClose => return None,
                    _ => continue,
                }
            }
        })
        .await
        .expect("a message or a close in time")
    }

    async fn recv(&self) -> Value {
        self.next().await.expect("channel open")
    }

    async fn request(&mut self, mut frame: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        frame["id"] = json!(id);
        self.send(frame).await;
        loop {
            let msg = self.recv().await;
            if msg["re"] == json!(id) {
                return msg;
            }
        }
    }
}

async fn post_offer(server: &TestServer, token: &str, sdp: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/v1/rtc/offer"))
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body(sdp.to_owned())
        .send()
        .await
        .unwrap()
}

/// The live peers of this process, from `/metrics` (0 when the gauge was never set).
async fn live_peers(server: &TestServer) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("draftline_rtc_peers "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Waits until no peer of this process is live. The gauge is process-wide and the
/// tests of this module run at once, so it is awaited rather than read once.
async fn no_peers_left(server: &TestServer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let live = live_peers(server).await;
        if live == 0.0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{live} peers still live"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_data_channel_speaks_the_protocol_beside_a_websocket() {
    let server = TestServer::start().await;
    let token = server.token("alice");
    let mut peer = Peer::connect(&server, &token).await;

    // The offer's token stands for the hello's, as on a WebSocket upgrade.
    let welcome = peer
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["session"]["user_id"], "alice");
    assert_eq!(welcome["limits"]["max_frame_bytes"], 65_536);

    let created = peer
        .request(json!({"type": "tool.call", "call_id": "c1", "name": "create_project", "arguments": {"name": "Over the channel"}}))
        .await;
    assert_eq!(created["type"], "tool.result", "{created}");
    assert_eq!(created["ok"], true, "{created}");
    let project = created["output"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let subscribed = peer
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");

    // A change made over a WebSocket reaches the data channel as an event.
    let mut ws = server.connect("alice").await;
    ws.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    ws.configure(json!({"mode": "intake"})).await;
    ws.call_ok(
        "create_note",
        json!({"body": "Written over the WebSocket, seen over WebRTC"}),
    )
    .await;
    let event = loop {
        let msg = peer.recv().await;
        if msg["type"] == "event" && msg["event"]["kind"] == "note.created" {
            break msg;
        }
    };
    assert_eq!(event["topic"], format!("project:{project}"), "{event}");

    // Bad input gets the protocol's answers, and the channel stays open.
    peer.channel.send_text("not json").await.unwrap();
    let bad = loop {
        let msg = peer.recv().await;
        if msg["type"] != "event" {
            break msg;
        }
    };
    assert_eq!(bad["type"], "error", "{bad}");
    assert_eq!(bad["code"], "bad_request");
    let pong = peer.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");

    // Someone else cannot hang up this peer.
    let other = server
        .http
        .delete(server.url(&peer.location))
        .bearer_auth(server.token("mallory"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    let hung_up = server
        .http
        .delete(server.url(&peer.location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(hung_up.status(), 204);
    assert_eq!(peer.next().await, None, "the channel closes");
    let again = server
        .http
        .delete(server.url(&peer.location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "gone once hung up");
    let _ = peer.pc.close().await;
    no_peers_left(&server).await;
}

#[tokio::test]
async fn an_offer_with_only_mdns_candidates_connects_through_peer_reflexive_ones() {
    // Chromium hides its addresses behind `.local` names by default. The hub does not
    // resolve them (no multicast traffic): it learns the browser's address from the
    // browser's own connectivity checks.
    let server = TestServer::start().await;
    let token = server.token("alice");
    let mut peer = Peer::connect_with(
        &server,
        &token,
        |s| s,
        |sdp| {
            sdp.lines()
                .map(|line| {
                    if line.starts_with("a=candidate") {
                        let mut fields: Vec<&str> = line.split(' ').collect();
                        fields[4] = "1f4712db-ea17-4bcf-a596-105139dfd8bf.local";
                        fields.join(" ")
                    } else {
                        line.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\r\n")
                + "\r\n"
        },
    )
    .await;
    let welcome = peer
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let hung_up = server
        .http
        .delete(server.url(&peer.location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(hung_up.status(), 204);
    let _ = peer.pc.close().await;
    no_peers_left(&server).await;
}

/// This node's open protocol connections, from `/readyz` (per node, unlike the gauge).
async fn connections(server: &TestServer) -> u64 {
    let ready = server.get_json("/readyz", None).await;
    ready["connections"].as_u64().unwrap()
}

#[tokio::test]
async fn a_peer_whose_token_expires_is_told_unauthorized_and_counted_as_rtc() {
    let server = TestServer::start().await;
    let token = server.token_for("alice", 2);
    let mut peer = Peer::connect(&server, &token).await;
    let welcome = peer
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let error = peer.recv().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert_eq!(
        peer.next().await,
        None,
        "the channel closes after the error"
    );
    let metrics = server.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("draftline_tokens_expired_total{transport=\"rtc\"}")),
        "{metrics}"
    );
    let _ = peer.pc.close().await;
}

#[tokio::test]
async fn a_quiet_peer_stays_connected_past_three_heartbeats() {
    // No ping frames on a data channel: a connection that ICE keeps `connected` answers
    // the heartbeat.
    let server = TestServer::start_with(|c| c.heartbeat_ms = 100).await;
    let token = server.token("alice");
    let mut peer = Peer::connect(&server, &token).await;
    let welcome = peer
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["heartbeat_ms"], 100);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let pong = peer.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
    let _ = peer.pc.close().await;
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_closed_and_others_keep_receiving() {
    let server = TestServer::start_with(|c| {
        c.outbound_messages = 64;
        c.outbound_bytes = 64 * 1024;
    })
    .await;
    let token = server.token("alice");
    let mut owner = server.connect("alice").await;
    let project = owner.project_in_mode("Firehose", "intake").await;
    let topic = format!("project:{project}");
    // A small receive window, so a client that stops reading holds back the hub's sends
    // after a few hundred kilobytes rather than a megabyte.
    let mut slow = Peer::connect_with(
        &server,
        &token,
        |s| s.with_sctp_max_receive_buffer_size(64 * 1024),
        |sdp| sdp,
    )
    .await;
    let welcome = slow
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let subscribed = slow
        .request(json!({"type": "subscribe", "topic": topic}))
        .await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    let fast = owner
        .request(json!({"type": "subscribe", "topic": topic}))
        .await;
    assert_eq!(fast["type"], "subscribed", "{fast}");
    assert_eq!(connections(&server).await, 2);

    // The slow peer reads nothing from here on.
    let client = redis::Client::open(server.config.redis_url.as_str()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    let bus = store::topics::Topics::new(
        manager,
        server.config.redis_prefix.clone(),
        store::topics::Retention::default(),
    );
    const EVENTS: u64 = 1_500;
    // Published in steps the WebSocket client reads before the next: a step is half its
    // outbound bound (64 KiB), so on a loaded machine it is never cut for lagging, while
    // the peer that reads nothing falls behind by all of them.
    const STEP: u64 = 8;
    let text = "x".repeat(4_000);
    let mut seen = 0;
    for start in (0..EVENTS).step_by(STEP as usize) {
        let end = (start + STEP).min(EVENTS);
        for seq in start..end {
            let event = protocol::event::Event::DraftDelta(protocol::event::DraftDelta {
                job_id: protocol::JobId::new(),
                seq,
                text: text.clone(),
            });
            bus.publish(&topic, &event).await.unwrap();
        }
        // The WebSocket client gets every one.
        while seen < end {
            let msg = owner.ws.recv().await;
            if msg["type"] == "event" && msg["event"]["kind"] == "draft.delta" {
                seen += 1;
            }
        }
    }
    // The slow peer was closed as a slow consumer and freed; its hang-up finds nothing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while connections(&server).await > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow peer still connected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = server
            .http
            .delete(server.url(&slow.location))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if status == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow peer not freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The channel ends after what was delivered before the close.
    let mut delivered = 0;
    while let Some(msg) = slow.next().await {
        if msg["type"] == "event" {
            delivered += 1;
        }
    }
    assert!(
        delivered < EVENTS,
        "{delivered} events reached the slow peer"
    );
    assert_eq!(owner.request(json!({"type": "ping"})).await["type"], "pong");
    let _ = slow.pc.close().await;
}

#[tokio::test]
async fn bad_offers_are_refused_with_the_error_body() {
    let server = TestServer::start().await;
    let token = server.token("alice");
    let Offer { pc, sdp, .. } = offer().await;

    let unauthorized = post_offer(&server, "not-a-token", &sdp).await;
    assert_eq!(unauthorized.status(), 401);
    let body: Value = unauthorized.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");

    let not_sdp = server
        .http
        .post(server.url("/v1/rtc/offer"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"sdp": sdp}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(not_sdp.status(), 415);
    let body: Value = not_sdp.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");

    let garbage = post_offer(&server, &token, "hello, I am not SDP").await;
    assert_eq!(garbage.status(), 400);
    let body: Value = garbage.json().await.unwrap();
    assert_eq!(body["code"], "bad_request", "{body}");

    let audio_only = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n";
    let no_channel = post_offer(&server, &token, audio_only).await;
    assert_eq!(no_channel.status(), 422);
    let body: Value = no_channel.json().await.unwrap();
    assert_eq!(body["code"], "invalid_arguments", "{body}");

    let unknown = server
        .http
        .delete(server.url(&format!("/v1/rtc/sessions/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let config: Value = server
        .http
        .get(server.url("/v1/rtc/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, json!({"ice_servers": []}));

    let _ = pc.close().await;
    no_peers_left(&server).await;
}

#[tokio::test]
async fn a_peer_without_an_open_channel_in_time_is_freed() {
    let server = TestServer::start_with(|c| c.rtc_open_timeout_ms = 300).await;
    let Offer { pc, sdp, .. } = offer().await;
    // Answered, but the client never applies the answer: no channel ever opens.
    let answered = post_offer(&server, &server.token("alice"), &sdp).await;
    assert_eq!(answered.status(), 201);
    let location = answered.headers()["location"].to_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let gone = server
        .http
        .delete(server.url(&location))
        .bearer_auth(server.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "freed by the open timeout");
    let _ = pc.close().await;
    no_peers_left(&server).await;
}

#[tokio::test]
async fn a_user_has_at_most_as_many_peers_as_connections() {
    let server = TestServer::start_with(|c| c.max_connections_per_user = 1).await;
    let token = server.token("alice");
    let first = offer().await;
    let second = offer().await;
    // The first is answered and never opened; it still counts.
    assert_eq!(post_offer(&server, &token, &first.sdp).await.status(), 201);
    let refused = post_offer(&server, &token, &second.sdp).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let other = offer().await;
    let bob = post_offer(&server, &server.token("bob"), &other.sdp).await;
    assert_eq!(bob.status(), 201, "another user is not limited by alice's");
    for pc in [first.pc, second.pc, other.pc] {
        let _ = pc.close().await;
    }
}

#[tokio::test]
async fn a_peer_that_closes_its_connection_is_freed() {
    let server = TestServer::start().await;
    let token = server.token("alice");
    let mut peer = Peer::connect(&server, &token).await;
    let welcome = peer
        .request(json!({"type": "hello", "client": {"name": "rtc-test", "version": "1"}}))
        .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    peer.pc.close().await.unwrap();
    // The protocol connection ends on this node (its count is per node, unlike the
    // process-wide gauge), then the peer is freed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready: Value = server
            .http
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["connections"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    no_peers_left(&server).await;
}
