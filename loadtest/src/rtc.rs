//! The WebRTC transport's leak and latency check, through a hub in this process (client
//! and server peers bind and announce 127.0.0.1 only): N cycles of offer, answer,
//! channel open, `hello`, one tool call, hang-up (`DELETE`) and client close, then the
//! hub's live peers (must be 0) and this process's open file descriptors before and
//! after; and the tool-call round trip (p50, p99) over the data channel beside the same
//! calls over a WebSocket.

use crate::Install;
use crate::record::percentile_duration_ms;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCSessionDescription, SettingEngineBuilder,
};

const SECRET: &str = "draftline-loadtest-rtc-secret-0123456789";

/// Longest wait for any one step of a cycle.
const STEP: Duration = Duration::from_secs(20);

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// Connect/hang-up cycles.
    #[arg(long, default_value_t = 1_000)]
    cycles: usize,
    /// Cycles running at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Tool calls per transport in the latency comparison (one after another).
    #[arg(long, default_value_t = 2_000)]
    calls: usize,
}

/// Open file descriptors of this process (hub and client peers alike): all, and how
/// many are sockets.
fn open_fds() -> anyhow::Result<(usize, usize)> {
    let mut all = 0;
    let mut sockets = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        all += 1;
        let target = std::fs::read_link(entry?.path()).unwrap_or_default();
        if target.to_string_lossy().starts_with("socket:") {
            sockets += 1;
        }
    }
    Ok((all, sockets))
}

struct Gathered(Notify);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gathered {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.notify_one();
        }
    }
}

/// A client peer with its `draftline` channel open.
struct RtcClient {
    pc: Arc<dyn PeerConnection>,
    channel: Arc<dyn DataChannel>,
    location: String,
    next: i64,
}

impl RtcClient {
    async fn connect(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Self> {
        let gathered = Arc::new(Gathered(Notify::new()));
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_handler(gathered.clone())
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let client = Self::negotiate(pc.clone(), &gathered, http, base, token).await;
        if client.is_err() {
            let _ = pc.close().await;
        }
        client
    }

    async fn negotiate(
        pc: Arc<dyn PeerConnection>,
        gathered: &Gathered,
        http: &reqwest::Client,
        base: &str,
        token: &str,
    ) -> anyhow::Result<Self> {
        let channel = pc.create_data_channel("draftline", None).await?;
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        tokio::time::timeout(STEP, gathered.0.notified())
            .await
            .context("client candidates not gathered")?;
        let sdp = pc.local_description().await.context("no offer")?.sdp;
        let response = http
            .post(format!("{base}/v1/rtc/offer"))
            .bearer_auth(token)
            .header("content-type", "application/sdp")
            .body(sdp)
            .send()
            .await?;
        if response.status() != 201 {
            bail!("offer refused: {}", response.status());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("no Location")?
            .to_owned();
        let answer = response.text().await?;
        pc.set_remote_description(RTCSessionDescription::answer(answer)?)
            .await?;
        tokio::time::timeout(STEP, async {
            while let Some(event) = channel.poll().await {
                if matches!(event, DataChannelEvent::OnOpen) {
                    return Ok(());
                }
            }
            bail!("channel closed before opening")
        })
        .await
        .context("channel not open in time")??;
        let mut client = Self {
            pc,
            channel,
            location,
            next: 0,
        };
        let welcome = client
            .request(json!({"type": "hello", "client": {"name": "loadtest", "version": "1"}}))
            .await?;
        anyhow::ensure!(welcome["type"] == "welcome", "hello refused: {welcome}");
        Ok(client)
    }

    async fn request(&mut self, mut frame: Value) -> anyhow::Result<Value> {
        self.next += 1;
        frame["id"] = json!(self.next);
        self.channel.send_text(&frame.to_string()).await?;
        loop {
            let event = tokio::time::timeout(STEP, self.channel.poll())
                .await
                .context("no answer in time")?
                .context("channel closed")?;
            if let DataChannelEvent::OnMessage(message) = event {
                let value: Value = serde_json::from_slice(&message.data)?;
                if value["re"] == json!(self.next) {
                    return Ok(value);
                }
            }
        }
    }

    async fn hang_up(self, http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
        let status = http
            .delete(format!("{base}{}", self.location))
            .bearer_auth(token)
            .send()
            .await?
            .status();
        self.pc.close().await?;
        anyhow::ensure!(status == 204, "hang-up answered {status}");
        Ok(())
    }
}

fn tool_call() -> Value {
    json!({"type": "tool.call", "call_id": "c", "name": "list_projects", "arguments": {}})
}

impl Install {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// One connect, hello, tool call, hang-up.
async fn cycle(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
    let mut client = RtcClient::connect(http, base, token).await?;
    let reply = client.request(tool_call()).await?;
    anyhow::ensure!(reply["ok"] == true, "tool call failed: {reply}");
    client.hang_up(http, base, token).await
}

/// Waits until the hub has no live peer and no open connection; answers how many peers
/// are still live at the deadline.
async fn settled(hub: &server::Hub) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && (!hub.rtc.is_empty() || hub.connections.total() > 0) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub.rtc.len()
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let install = Install::start(&options.services, SECRET, |config| {
        config.max_connections_per_user = 100_000;
        config.messages_per_second = 100_000;
        config.message_burst = 100_000;
    })
    .await?;
    let result = scenarios(&install, &options).await;
    install.drop_all().await?;
    result
}

async fn scenarios(install: &Install, options: &Options) -> anyhow::Result<()> {
    println!("rtc: hub and client peers in this process, 127.0.0.1 candidates only");
    let http = reqwest::Client::new();
    let base = install.base();
    let token = install.token.as_str();

    // A first round of cycles at full parallelism warms up what lives as long as the
    // process (the Postgres pool, the HTTP client's kept-alive connections, the runtime's
    // threads), so the descriptors compare peers alone.
    for result in futures_util::future::join_all(
        (0..options.parallel.max(1)).map(|_| cycle(&http, &base, token)),
    )
    .await
    {
        result?;
    }
    settled(&install.hub).await;
    // Descriptors at every quarter of the cycles, each once the hub has settled: a leak
    // grows with the cycles, pools that warm up late do not.
    let mut checkpoints = vec![(0, open_fds()?)];
    let quarter = options.cycles.div_ceil(4).max(1);
    let started = Instant::now();
    let parallel = options.parallel.max(1);
    let mut next = 0usize;
    let mut failures = 0usize;
    let mut live = 0;
    while next < options.cycles {
        let batch = parallel.min(options.cycles - next);
        let results =
            futures_util::future::join_all((0..batch).map(|_| cycle(&http, &base, token))).await;
        for result in results {
            if let Err(e) = result {
                failures += 1;
                eprintln!("cycle failed: {e:#}");
            }
        }
        let before = next;
        next += batch;
        if next / quarter > before / quarter || next == options.cycles {
            live = settled(&install.hub).await;
            // The client peers' sockets close with their drivers, a moment after `close`.
            tokio::time::sleep(Duration::from_millis(500)).await;
            checkpoints.push((next, open_fds()?));
        }
    }
    let elapsed = started.elapsed();
    let fds: Vec<String> = checkpoints
        .iter()
        .map(|(n, (all, sockets))| format!("{n}: {all} ({sockets} sockets)"))
        .collect();
    println!(
        "  cycles: {} ({} at once) in {:.1} s (settling pauses included), {failures} failed; \
         live peers after: {live}",
        options.cycles,
        parallel,
        elapsed.as_secs_f64(),
    );
    println!("  open fds after N cycles: {}", fds.join(", "));

    // Tool-call round trips, one after another, on each transport.
    let mut rtc_client = RtcClient::connect(&http, &base, token).await?;
    let mut ws_client = testkit::Ws::open(&format!("ws://{}/v1/ws", install.addr), None)
        .await?
        .with_wait(STEP);
    ws_client.try_hello(token, "loadtest").await?;
    for _ in 0..50 {
        rtc_client.request(tool_call()).await?;
        ws_client.try_request(tool_call()).await?;
    }
    let mut over_rtc = Vec::with_capacity(options.calls);
    let mut over_ws = Vec::with_capacity(options.calls);
    for _ in 0..options.calls {
        let t = Instant::now();
        rtc_client.request(tool_call()).await?;
        over_rtc.push(t.elapsed());
        let t = Instant::now();
        ws_client.try_request(tool_call()).await?;
        over_ws.push(t.elapsed());
    }
    over_rtc.sort();
    over_ws.sort();
    println!(
        "  tool call round trip over {} calls each (interleaved): data channel p50 {:.2} ms, \
         p99 {:.2} ms; WebSocket p50 {:.2} ms, p99 {:.2} ms",
        options.calls,
        percentile_duration_ms(&over_rtc, 0.50),
        percentile_duration_ms(&over_rtc, 0.99),
        percentile_duration_ms(&over_ws, 0.50),
        percentile_duration_ms(&over_ws, 0.99),
    );
    rtc_client.hang_up(&http, &base, token).await?;
    drop(ws_client);
    if failures > 0 || live > 0 {
        bail!("{failures} cycles failed, {live} peers left live");
    }
    Ok(())
}
