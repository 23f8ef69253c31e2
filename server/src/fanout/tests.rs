//! The registry against a real Redis, with the test playing the node's listener, so the
//! interleavings that matter happen every time instead of by chance: Redis numbers
//! publications that reach the listener only after a subscriber read its start.

use super::*;
use protocol::event::{DraftDelta, Event};
use store::topics::Retention;

/// Collects the offsets it is given.
#[derive(Default)]
struct Recorder(Mutex<Vec<u64>>);

impl Sink for Recorder {
    fn deliver(&self, publication: &Arc<Publication>) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(publication.offset);
        true
    }
}

impl Recorder {
    fn offsets(&self) -> Vec<u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn delta(seq: u64) -> Event {
    Event::DraftDelta(DraftDelta {
        job_id: protocol::JobId::new(),
        seq,
        text: format!("d{seq}"),
    })
}

struct Rig {
    fanout: Fanout,
    bus: Topics,
    topic: Topic,
    /// The test's Redis keys, deleted when the rig is dropped.
    _prefix: testkit::Prefix,
}

/// A registry and its bus on the test's Redis keys, with these limits; no listener runs.
async fn registry(
    prefix: &testkit::Prefix,
    subscribe_timeout: Duration,
    listener_backlog: usize,
) -> (Fanout, Topics) {
    let client = redis::Client::open(prefix.redis_url.as_str()).unwrap();
    let manager = client.get_connection_manager().await.unwrap();
    let bus = Topics::new(manager, prefix.prefix.clone(), Retention::default());
    let fanout = Fanout::new(
        bus.clone(),
        FanoutConfig {
            max_pending: 1_000,
            subscribe_timeout,
            max_recover: 1_000,
            listener_backlog,
        },
    );
    (fanout, bus)
}

impl Rig {
    async fn new() -> Self {
        let prefix = testkit::Prefix::new("test");
        let (fanout, bus) = registry(&prefix, Duration::from_secs(5), 1_000).await;
        let topic = Topic::Project(protocol::ProjectId::new());
        // The listener's channel subscription is confirmed: subscribers need not wait.
        fanout.lock().entry(topic).or_default().active = true;
        Self {
            fanout,
            bus,
            topic,
            _prefix: prefix,
        }
    }

    /// Publishes through Redis (which numbers it) without handing it to the registry:
    /// the node's listener has not read it yet.
    async fn publish_unread(&self, seq: u64) -> Arc<Publication> {
        let position = self
            .bus
            .publish(&self.topic.to_string(), &delta(seq))
            .await
            .unwrap();
        Arc::new(Publication {
            epoch: Arc::from(position.epoch.as_str()),
            offset: position.offset,
            kind: "draft.delta".into(),
            frame: Utf8Bytes::from_static("{}"),
        })
    }

    /// The listener reads a publication.
    fn listener_reads(&self, publication: &Arc<Publication>) {
        let delivery = self.fanout.deliver(self.topic, publication.clone());
        assert!(
            matches!(delivery, Delivery::Delivered | Delivery::Duplicate),
            "{delivery:?}"
        );
    }

    async fn subscribe(&self, since: Option<&Position>) -> (Arc<Recorder>, Start, Subscription) {
        let recorder = Arc::new(Recorder::default());
        let mut start = None;
        let subscription = self
            .fanout
            .subscribe(self.topic, recorder.clone(), since, |s| {
                start = Some(Start {
                    position: s.position.clone(),
                    recovered: s.recovered,
                    events: s.events.clone(),
                });
            })
            .await
            .unwrap();
        (recorder, start.unwrap(), subscription)
    }
}

#[tokio::test]
async fn a_live_subscriber_is_not_given_what_its_start_position_covers() {
    let rig = Rig::new().await;
    let unread: Vec<_> = futures_util::future::join_all((1..=3).map(|s| rig.publish_unread(s)))
        .await
        .into_iter()
        .collect();
    let (recorder, start, _subscription) = rig.subscribe(None).await;
    assert_eq!(start.position.offset, 3, "Redis numbered three already");
    for publication in &unread {
        rig.listener_reads(publication);
    }
    let next = rig.publish_unread(4).await;
    rig.listener_reads(&next);
    assert_eq!(
        recorder.offsets(),
        vec![4],
        "offsets up to the reply's position belong to the start, not the live stream"
    );
}

#[tokio::test]
async fn a_recovering_subscriber_is_not_given_what_its_history_held() {
    let rig = Rig::new().await;
    let first = rig.publish_unread(0).await;
    let mut unread = vec![first.clone()];
    for seq in 1..=5 {
        unread.push(rig.publish_unread(seq).await);
    }
    let since = Position {
        epoch: first.epoch.to_string(),
        offset: first.offset,
    };
    let (recorder, start, _subscription) = rig.subscribe(Some(&since)).await;
    assert!(start.recovered);
    let recovered: Vec<u64> = start.events.iter().map(|e| e.offset).collect();
    assert_eq!(recovered, vec![2, 3, 4, 5, 6]);
    for publication in &unread {
        rig.listener_reads(publication);
    }
    let next = rig.publish_unread(6).await;
    rig.listener_reads(&next);
    assert_eq!(recorder.offsets(), vec![7]);
}

#[tokio::test]
async fn publications_buffered_during_the_subscribe_are_delivered_once_past_the_start() {
    let rig = Rig::new().await;
    let a = rig.publish_unread(1).await;
    let b = rig.publish_unread(2).await;
    // A subscriber already in its buffering phase: registered, reading its start.
    let recorder = Arc::new(Recorder::default());
    let fanout = rig.fanout.clone();
    let topic = rig.topic;
    let sink: Arc<dyn Sink> = recorder.clone();
    let pending = tokio::spawn(async move {
        let mut started = 0;
        let subscription = fanout
            .subscribe(topic, sink, None, |s| started = s.position.offset)
            .await;
        (started, subscription)
    });
    // Read by the listener while the subscriber buffers or just after it started,
    // whichever comes first: only what is past its start may reach it, once.
    let c = rig.publish_unread(3).await;
    for publication in [&a, &b, &c] {
        rig.listener_reads(publication);
    }
    let (started, subscription) = pending.await.unwrap();
    let _subscription = subscription.unwrap();
    assert!((2..=3).contains(&started), "{started}");
    let d = rig.publish_unread(4).await;
    rig.listener_reads(&d);
    let got = recorder.offsets();
    let want: Vec<u64> = (started + 1..=4).collect();
    assert_eq!(got, want);
}

/// The node's listener falls behind a burst: the publications its backlog could not
/// hold are dropped by the connection, then read back from the history, so the
/// subscriber still sees every offset once, in order, and the node's memory stayed
/// bounded meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listener_that_falls_behind_reads_the_dropped_publications_back() {
    let prefix = testkit::Prefix::new("test");
    const BACKLOG: usize = 2;
    let (fanout, bus) = registry(&prefix, Duration::from_secs(5), BACKLOG).await;
    let client = redis::Client::open(prefix.redis_url.as_str()).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listener = tokio::spawn(listener::run(fanout.clone(), client, shutdown.clone()));
    let topic = Topic::Project(protocol::ProjectId::new());
    let recorder = Arc::new(Recorder::default());
    let first = bus.publish(&topic.to_string(), &delta(0)).await.unwrap();
    let _subscription = fanout
        .subscribe(topic, recorder.clone(), None, |_| {})
        .await
        .unwrap();
    let warm = bus.publish(&topic.to_string(), &delta(1)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while recorder.offsets() != vec![warm.offset] {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the live publication arrives");

    // The listener stalls on the registry (a slow delivery) while a burst is published.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, holding) = tokio::sync::oneshot::channel();
    let registry = fanout.clone();
    let stall = tokio::task::spawn_blocking(move || {
        let _guard = registry.lock();
        let _ = held.send(());
        let _ = released.recv();
    });
    holding.await.unwrap();
    // The stalled listener blocks a runtime worker inside `deliver`. If that worker was
    // the one driving the runtime's I/O and timers, the others sleep on until something
    // wakes one of them, and nothing would (seen once: the burst's publishes never got
    // their replies). A thread of its own keeps waking one while the stall lasts.
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let waker = {
        let (stalled, runtime) = (stalled.clone(), tokio::runtime::Handle::current());
        std::thread::spawn(move || {
            while stalled.load(Ordering::Acquire) {
                drop(runtime.spawn(async {}));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    const BURST: u64 = 20;
    for seq in 0..BURST {
        bus.publish(&topic.to_string(), &delta(2 + seq))
            .await
            .unwrap();
    }
    // One publication taken by the stalled listener, the backlog full, the rest dropped.
    let must_drop = BURST - 1 - BACKLOG as u64;
    tokio::time::timeout(Duration::from_secs(10), async {
        while fanout.0.dropped.load(Ordering::Relaxed) < must_drop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the connection drops what the backlog cannot hold");
    release.send(()).unwrap();
    stall.await.unwrap();
    stalled.store(false, Ordering::Release);
    waker.join().unwrap();

    let last = warm.offset + BURST;
    tokio::time::timeout(Duration::from_secs(10), async {
        while recorder.offsets().last() != Some(&last) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("stuck at {:?}", recorder.offsets()));
    let want: Vec<u64> = (warm.offset..=last).collect();
    assert_eq!(recorder.offsets(), want, "every offset once, in order");
    assert!(first.offset < warm.offset);
    shutdown.cancel();
    listener.await.unwrap();
}

#[tokio::test]
async fn a_subscribe_the_bus_cannot_confirm_is_refused_with_a_spread_wait_and_leaves_nothing() {
    let prefix = testkit::Prefix::new("test");
    // No listener runs: no topic's channel is ever confirmed.
    let (fanout, _) = registry(&prefix, Duration::from_millis(20), 1_000).await;
    let topic = Topic::Project(protocol::ProjectId::new());
    let mut waits = std::collections::HashSet::new();
    for _ in 0..8 {
        let refused = fanout
            .subscribe(topic, Arc::new(Recorder::default()), None, |_| {
                panic!("a refused subscriber gets no start")
            })
            .await
            .expect_err("nothing confirms the channel");
        assert_eq!(refused.code, ErrorCode::Unavailable);
        let wait = refused
            .retry_after_ms
            .expect("the client is told when to come back");
        assert!((500..1_500).contains(&wait), "{wait} ms");
        waits.insert(wait);
    }
    assert!(
        waits.len() > 1,
        "a crowd is told different waits: {waits:?}"
    );
    assert_eq!(
        fanout.subscribers(),
        0,
        "a refused subscriber is not left behind"
    );
    assert!(fanout.topics().is_empty());
}
