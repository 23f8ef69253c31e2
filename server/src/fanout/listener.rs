//! The node's one Redis subscriber connection: it subscribes to the channels of the
//! topics that have local subscribers, hands each publication to the registry, and
//! reconnects by itself. Publications missed while it was disconnected, or lost on the
//! way (a gap in offsets), are read back from the topic's history before it goes on, so
//! local subscribers see every offset in order.
//!
//! The connection speaks RESP3: Redis pushes publications to a bounded queue of
//! [`FanoutConfig::listener_backlog`](super::FanoutConfig) entries. A listener that falls
//! that far behind does not let memory grow: the pushes it could not queue are dropped,
//! and once it has caught up with the queue it reads every local topic back from its
//! history (the same recovery as after a reconnect), so nothing is lost, only delayed.

use super::{Delivery, Fanout, Publication};
use protocol::client::Position;
use protocol::event::Topic;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use store::topics::Live;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// Pause before reconnecting, doubling up to the cap: quick after a blip, gentle on a
/// Redis that is down.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// What the connection's push sender tells the listener besides the queued pushes:
/// written from the connection's reader (which must never wait), read by the listener.
#[derive(Default)]
struct Flags {
    /// Pushes were dropped because the queue was full.
    overflowed: AtomicBool,
    /// The connection is gone (its disconnection push may itself not have fit).
    disconnected: AtomicBool,
    wake: Notify,
}

/// Runs until `shutdown`.
pub async fn run(fanout: Fanout, client: redis::Client, shutdown: CancellationToken) {
    let mut pause = RECONNECT_FIRST;
    let mut reconnected = false;
    loop {
        let backlog = fanout.0.config.listener_backlog.max(1);
        let (pushes, queue) = mpsc::channel(backlog);
        let flags = Arc::new(Flags::default());
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            c = connect(&client, pushes, flags.clone(), fanout.clone()) => c,
        };
        match connected {
            Ok(connection) => {
                if reconnected {
                    tracing::info!("event subscriber reconnected");
                }
                pause = RECONNECT_FIRST;
                let lost = serve(&fanout, connection, queue, &flags, reconnected, &shutdown).await;
                fanout.deactivate_all();
                if !lost {
                    return;
                }
                tracing::warn!("event subscriber connection lost");
            }
            Err(e) => tracing::warn!(error = %e, "event subscriber cannot connect"),
        }
        reconnected = true;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(RECONNECT_MAX);
    }
}

/// A RESP3 connection whose pushes go to `pushes` without ever waiting.
async fn connect(
    client: &redis::Client,
    pushes: mpsc::Sender<PushInfo>,
    flags: Arc<Flags>,
    fanout: Fanout,
) -> redis::RedisResult<MultiplexedConnection> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))?;
    let config = AsyncConnectionConfig::new().set_push_sender(move |push: PushInfo| {
        let disconnection = push.kind == PushKind::Disconnection;
        match pushes.try_send(push) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                fanout.0.dropped.fetch_add(1, Ordering::Relaxed);
                flags.overflowed.store(true, Ordering::Release);
                if disconnection {
                    flags.disconnected.store(true, Ordering::Release);
                }
                flags.wake.notify_one();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(redis::aio::SendError),
        }
        Ok(())
    });
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Serves one connection; `true` when it was lost, `false` on shutdown.
async fn serve(
    fanout: &Fanout,
    mut connection: MultiplexedConnection,
    mut queue: mpsc::Receiver<PushInfo>,
    flags: &Flags,
    catch_up: bool,
    shutdown: &CancellationToken,
) -> bool {
    let mut subscribed = HashSet::<Topic>::new();
    let bus = fanout.bus().clone();
    let mut catch_up = catch_up;
    // Planning walks every topic: done when the set of topics changed (and at the
    // start), never per publication.
    let mut replan = true;
    loop {
        if flags.disconnected.load(Ordering::Acquire) {
            return true;
        }
        if !replan && !catch_up {
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = fanout.changed() => replan = true,
                _ = flags.wake.notified() => {}
                push = queue.recv() => match push {
                    Some(push) if push.kind == PushKind::Disconnection => return true,
                    Some(push) => receive(fanout, push).await,
                    None => return true,
                },
            }
            // Once the queue has drained, what was dropped is read back from history.
            if queue.is_empty() && flags.overflowed.swap(false, Ordering::AcqRel) {
                metrics::counter!(crate::metrics::LISTENER_OVERFLOWS).increment(1);
                tracing::warn!("event subscriber fell behind: reading topics back");
                catch_up = true;
            }
            continue;
        }
        if replan {
            replan = false;
            let plan = fanout.plan(&subscribed);
            if !plan.subscribe.is_empty() {
                let channels: Vec<String> = plan
                    .subscribe
                    .iter()
                    .map(|t| bus.channel(&t.to_string()))
                    .collect();
                if let Err(e) = connection.subscribe(&channels).await {
                    tracing::warn!(error = %e, "subscribe failed");
                    return true;
                }
                subscribed.extend(plan.subscribe.iter().copied());
                fanout.activate(&plan.subscribe);
            }
            if !plan.unsubscribe.is_empty() {
                let channels: Vec<String> = plan
                    .unsubscribe
                    .iter()
                    .map(|t| bus.channel(&t.to_string()))
                    .collect();
                if let Err(e) = connection.unsubscribe(&channels).await {
                    tracing::warn!(error = %e, "unsubscribe failed");
                    return true;
                }
                for topic in &plan.unsubscribe {
                    subscribed.remove(topic);
                }
            }
        }
        if catch_up {
            // Subscribed again, or pushes were dropped: what was published meanwhile is
            // in the history.
            catch_up = false;
            for (topic, position) in fanout.positions() {
                recover(fanout, topic, &position).await;
            }
        }
    }
}

/// The channel and payload of a published message.
fn message(push: &PushInfo) -> Option<(&[u8], &[u8])> {
    if push.kind != PushKind::Message {
        return None;
    }
    match push.data.as_slice() {
        [Value::BulkString(channel), Value::BulkString(payload)] => Some((channel, payload)),
        _ => None,
    }
}

async fn receive(fanout: &Fanout, push: PushInfo) {
    let Some((channel, payload)) = message(&push) else {
        return;
    };
    let Ok(channel) = std::str::from_utf8(channel) else {
        return;
    };
    let Some(topic) = fanout.bus().topic_of(channel).and_then(Topic::parse) else {
        return;
    };
    let Ok(payload) = std::str::from_utf8(payload) else {
        return;
    };
    let Some(live) = Live::parse(payload) else {
        tracing::warn!(%topic, "unreadable publication");
        return;
    };
    let publication = Arc::new(Publication {
        epoch: Arc::from(live.epoch),
        offset: live.offset,
        kind: live.kind.to_owned(),
        frame: live.frame.to_owned().into(),
    });
    if let Delivery::Gap(last) = fanout.deliver(topic, publication.clone()) {
        tracing::debug!(
            %topic,
            last = last.offset,
            now = publication.offset,
            "gap: reading history"
        );
        if !recover(fanout, topic, &last).await {
            // The history cannot fill it: deliver anyway, subscribers see the gap and
            // resubscribe (docs/protocol.md section 5.3).
            fanout.forget(topic);
        }
        fanout.deliver(topic, publication);
    }
}

/// Delivers what the history holds after `last`; `false` when it cannot say.
async fn recover(fanout: &Fanout, topic: Topic, last: &Position) -> bool {
    match fanout.bus().since(&topic.to_string(), last, u64::MAX).await {
        Ok(history) if history.recovered => {
            let epoch: Arc<str> = Arc::from(history.position.epoch.as_str());
            let publications = history
                .events
                .into_iter()
                .map(|stored| Publication::from_stored(&epoch, stored))
                .collect();
            fanout.deliver_recovered(topic, publications);
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(%topic, error = %e, "history unavailable");
            false
        }
    }
}
