//! The node's one Redis subscriber connection: it subscribes to the channels of the
//! topics that have local subscribers, hands each publication to the registry, and
//! reconnects by itself. Publications missed while it was disconnected, or lost on the
//! way (a gap in offsets), are read back from the topic's history before it goes on, so
//! local subscribers see every offset in order.

use super::{Delivery, Fanout, Publication};
use futures_util::StreamExt;
use protocol::client::Position;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::topics::Live;
use tokio_util::sync::CancellationToken;

/// Pause before reconnecting, doubling up to the cap: quick after a blip, gentle on a
/// Redis that is down.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Runs until `shutdown`.
pub async fn run(fanout: Fanout, client: redis::Client, shutdown: CancellationToken) {
    let mut pause = RECONNECT_FIRST;
    let mut reconnected = false;
    loop {
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            c = client.get_async_pubsub() => c,
        };
        match connected {
            Ok(pubsub) => {
                if reconnected {
                    tracing::info!("event subscriber reconnected");
                }
                pause = RECONNECT_FIRST;
                let lost = serve(&fanout, pubsub, reconnected, &shutdown).await;
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

/// Serves one connection; `true` when it was lost, `false` on shutdown.
async fn serve(
    fanout: &Fanout,
    pubsub: redis::aio::PubSub,
    catch_up: bool,
    shutdown: &CancellationToken,
) -> bool {
    let (mut sink, mut stream) = pubsub.split();
    let mut subscribed = HashSet::<String>::new();
    let bus = fanout.bus().clone();
    let mut catch_up = catch_up;
    // Planning walks every topic: done when the set of topics changed (and at the
    // start), never per publication.
    let mut replan = true;
    loop {
        if !replan {
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = fanout.changed() => replan = true,
                message = stream.next() => match message {
                    Some(message) => receive(fanout, &message).await,
                    None => return true,
                },
            }
            continue;
        }
        replan = false;
        let plan = fanout.plan(&subscribed);
        if !plan.subscribe.is_empty() {
            let channels: Vec<String> = plan.subscribe.iter().map(|t| bus.channel(t)).collect();
            if let Err(e) = sink.subscribe(&channels).await {
                tracing::warn!(error = %e, "subscribe failed");
                return true;
            }
            subscribed.extend(plan.subscribe.iter().cloned());
            fanout.activate(&plan.subscribe);
        }
        if !plan.unsubscribe.is_empty() {
            let channels: Vec<String> = plan.unsubscribe.iter().map(|t| bus.channel(t)).collect();
            if let Err(e) = sink.unsubscribe(&channels).await {
                tracing::warn!(error = %e, "unsubscribe failed");
                return true;
            }
            for topic in &plan.unsubscribe {
                subscribed.remove(topic);
            }
        }
        if catch_up {
            // Subscribed again: what was published while disconnected is in the history.
            catch_up = false;
            for (topic, position) in fanout.positions() {
                recover(fanout, &topic, &position).await;
            }
        }
    }
}

async fn receive(fanout: &Fanout, message: &redis::Msg) {
    let Some(topic) = fanout.bus().topic_of(message.get_channel_name()) else {
        return;
    };
    let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) else {
        return;
    };
    let Some(live) = Live::parse(payload) else {
        tracing::warn!(topic, "unreadable publication");
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
            topic,
            last = last.offset,
            now = publication.offset,
            "gap: reading history"
        );
        if !recover(fanout, topic, &last).await {
            // The history cannot fill it: deliver anyway, subscribers see the gap and
            // resubscribe (PROTOCOL.md section 5).
            fanout.forget(topic);
        }
        fanout.deliver(topic, publication);
    }
}

/// Delivers what the history holds after `last`; `false` when it cannot say.
async fn recover(fanout: &Fanout, topic: &str, last: &Position) -> bool {
    match fanout.bus().since(topic, last, u64::MAX).await {
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
            tracing::warn!(topic, error = %e, "history unavailable");
            false
        }
    }
}
