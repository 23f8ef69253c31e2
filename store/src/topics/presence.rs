//! Presence per project (DESIGN.md "Redis"): a hash of the sessions present, each with
//! an expiry its node keeps pushing forward while the connection lives. Joining and
//! leaving publish `presence.joined` / `presence.left` on the project's topic in the same
//! script; a session whose node died is swept (and announced as left) once its expiry
//! passes.

use super::lua::SCRIPTS;
use super::{BusError, Topics, new_epoch};
use protocol::event::{Event, Presence};
use protocol::frames::event_frame_parts;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        Ok(invocation.invoke_async(&mut self.redis.clone()).await?)
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
