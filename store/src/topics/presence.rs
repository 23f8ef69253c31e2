//! Presence per project (docs/protocol.md section 5.6): a hash of the sessions present, each with
//! an expiry its node keeps pushing forward while the connection lives. Joining and
//! leaving publish `presence.joined` / `presence.left` on the project's topic in the same
//! script; a session whose node died is swept (and announced as left) once its expiry
//! passes.

use super::lua::SCRIPTS;
use super::{BusError, Topics, new_epoch};
use protocol::event::{Event, Presence};
use protocol::frames::event_frame_parts;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Topics swept per round trip: each adds a few hundred bytes to the request, so 500
/// keep one pipeline well under a megabyte.
pub const SWEEP_BATCH: usize = 500;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Topics {
    /// The topic's keys plus `pres` and `pexp`.
    fn presence_keys(&self, topic: &str) -> [String; 5] {
        let [meta, log, times] = self.keys(topic);
        let base = format!("{}topic:{{{topic}}}", self.prefix);
        [
            meta,
            log,
            times,
            format!("{base}:pres"),
            format!("{base}:pexp"),
        ]
    }

    /// Records `presence` on `topic` for `ttl` (again: a refresh); answers whether it
    /// was new (and `presence.joined` was published).
    pub async fn join(
        &self,
        topic: &str,
        connection: &str,
        presence: &Presence,
        ttl: Duration,
    ) -> Result<bool, BusError> {
        let parts = event_frame_parts(topic, &Event::PresenceJoined(presence.clone()))?;
        let mut invocation = SCRIPTS.join.prepare_invoke();
        for key in self.presence_keys(topic) {
            invocation.key(key);
        }
        self.publish_args(&mut invocation, topic, &parts);
        let json = serde_json::to_string(presence)?;
        invocation
            .arg(presence.session_id.to_string())
            .arg(format!("{connection} {json}"))
            .arg(now_ms() + super::millis(ttl));
        let published: i64 = invocation.invoke_async(&mut self.redis.clone()).await?;
        Ok(published == 1)
    }

    /// Removes `presence` from `topic` when `connection` still holds it; answers whether
    /// `presence.left` was published.
    pub async fn leave(
        &self,
        topic: &str,
        connection: &str,
        presence: &Presence,
    ) -> Result<bool, BusError> {
        let parts = event_frame_parts(topic, &Event::PresenceLeft(presence.clone()))?;
        let mut invocation = SCRIPTS.leave.prepare_invoke();
        for key in self.presence_keys(topic) {
            invocation.key(key);
        }
        self.publish_args(&mut invocation, topic, &parts);
        invocation
            .arg(presence.session_id.to_string())
            .arg(connection);
        let published: i64 = invocation.invoke_async(&mut self.redis.clone()).await?;
        Ok(published == 1)
    }

    /// Removes the sessions whose expiry has passed, publishing `presence.left` for
    /// each; answers how many.
    pub async fn sweep_presence(&self, topic: &str) -> Result<u64, BusError> {
        let invocation = self.sweep_invocation(topic)?;
        Ok(invocation.invoke_async(&mut self.redis.clone()).await?)
    }

    /// [`Self::sweep_presence`] for many topics at once: one round trip per
    /// [`SWEEP_BATCH`] topics instead of one per topic. Each topic is still swept by a
    /// script of its own, which touches only that topic's keys (one hash slot).
    pub async fn sweep_presence_many(&self, topics: &[String]) -> Result<u64, BusError> {
        let mut expired = 0;
        for batch in topics.chunks(SWEEP_BATCH) {
            let invocations = batch
                .iter()
                .map(|topic| self.sweep_invocation(topic))
                .collect::<Result<Vec<_>, _>>()?;
            let mut pipe = redis::pipe();
            // Loading first makes the batch safe on a Redis that forgot its scripts.
            pipe.load_script(&SCRIPTS.sweep).ignore();
            for invocation in &invocations {
                pipe.invoke_script(invocation);
            }
            let counts: Vec<u64> = pipe.query_async(&mut self.redis.clone()).await?;
            expired += counts.iter().sum::<u64>();
        }
        Ok(expired)
    }

    fn sweep_invocation(&self, topic: &str) -> Result<redis::ScriptInvocation<'static>, BusError> {
        // The head of any event frame on this topic; the script builds the tail from
        // the stored presence.
        let head = event_frame_parts(topic, &Event::PresenceLeft(placeholder()))?.head;
        let mut invocation = SCRIPTS.sweep.prepare_invoke();
        for key in self.presence_keys(topic) {
            invocation.key(key);
        }
        invocation
            .arg(new_epoch())
            .arg(head)
            .arg(self.channel(topic))
            .arg(self.retention.min_events)
            .arg(super::millis(self.retention.min_age))
            .arg(self.ttl_ms())
            .arg(now_ms());
        Ok(invocation)
    }

    /// The sessions present on `topic` now (expired ones swept first).
    pub async fn presence(&self, topic: &str) -> Result<Vec<Presence>, BusError> {
        self.sweep_presence(topic).await?;
        let [.., pres, _] = self.presence_keys(topic);
        let values: Vec<String> = redis::cmd("HVALS")
            .arg(pres)
            .query_async(&mut self.redis.clone())
            .await?;
        let mut present = values
            .iter()
            .filter_map(|v| v.split_once(' '))
            .filter_map(|(_, json)| serde_json::from_str::<Presence>(json).ok())
            .collect::<Vec<_>>();
        present.sort_by_key(|p| p.session_id);
        Ok(present)
    }
}

fn placeholder() -> Presence {
    Presence {
        session_id: protocol::SessionId(uuid::Uuid::nil()),
        user_id: protocol::UserId::from(""),
        client: None,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::topics::{Retention, Topics};

    #[tokio::test]
    async fn one_sweep_clears_the_expired_sessions_of_many_topics_and_keeps_the_live() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url).unwrap();
        let manager = client.get_connection_manager().await.unwrap();
        let prefix = format!("dl:test:{}:", uuid::Uuid::new_v4().simple());
        let bus = Topics::new(manager, prefix, Retention::default());
        let present = |n: u128| Presence {
            session_id: protocol::SessionId(uuid::Uuid::from_u128(n)),
            user_id: protocol::UserId::from("alice"),
            client: None,
        };
        // More topics than one batch: the sweep must cover them all.
        let topics: Vec<String> = (0..SWEEP_BATCH + 3)
            .map(|_| format!("project:{}", protocol::ProjectId::new()))
            .collect();
        for (i, topic) in topics.iter().enumerate() {
            bus.join(
                topic,
                "dead-node",
                &present(i as u128),
                Duration::from_millis(1),
            )
            .await
            .unwrap();
        }
        let live = &topics[0];
        bus.join(
            live,
            "this-node",
            &present(u128::MAX),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;

        let expired = bus.sweep_presence_many(&topics).await.unwrap();
        assert_eq!(expired, topics.len() as u64);
        assert_eq!(bus.presence(live).await.unwrap(), vec![present(u128::MAX)]);
        assert_eq!(
            bus.presence(&topics[SWEEP_BATCH + 1]).await.unwrap(),
            vec![]
        );
        assert_eq!(bus.sweep_presence_many(&topics).await.unwrap(), 0);
    }
}
