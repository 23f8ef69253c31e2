//! Presence of this node's sessions: a connection whose session has a project is
//! present in it. Joining and leaving are recorded in Redis (with `presence.joined` /
//! `presence.left` on the project's topic); a background task pushes the expiry of every
//! local entry forward, and sweeps the expired entries of other (dead) nodes on the
//! projects this node has subscribers for, so their sessions are announced as left.

use crate::fanout::Fanout;
use protocol::entities::ClientInfo;
use protocol::event::{Presence, Topic, project_topic};
use protocol::{ConnectionId, ProjectId, SessionId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::topics::Topics;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
struct Entry {
    project: ProjectId,
    presence: Presence,
}

/// The node's present connections. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Presences {
    local: Arc<Mutex<HashMap<ConnectionId, Entry>>>,
    bus: Topics,
    ttl: Duration,
}

impl Presences {
    pub fn new(bus: Topics, ttl: Duration) -> Self {
        Self {
            local: Arc::default(),
            bus,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Entry>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the connection in `project` (or in none), leaving the one it was in.
    pub async fn set(
        &self,
        connection: ConnectionId,
        project: Option<ProjectId>,
        session: SessionId,
        user: &UserId,
        client: Option<&ClientInfo>,
    ) {
        let current = self.lock().get(&connection).map(|e| e.project);
        if current == project {
            return;
        }
        self.leave(connection).await;
        let Some(project) = project else {
            return;
        };
        let presence = Presence {
            session_id: session,
            user_id: user.clone(),
            client: client.cloned(),
        };
        let topic = project_topic(project);
        if let Err(e) = self
            .bus
            .join(&topic, &connection.to_string(), &presence, self.ttl)
            .await
        {
            // The refresh task retries it.
            tracing::warn!(error = %e, %project, "presence join failed");
        }
        self.lock().insert(connection, Entry { project, presence });
    }

    /// Removes the connection from the project it is present in.
    pub async fn leave(&self, connection: ConnectionId) {
        let Some(entry) = self.lock().remove(&connection) else {
            return;
        };
        let topic = project_topic(entry.project);
        if let Err(e) = self
            .bus
            .leave(&topic, &connection.to_string(), &entry.presence)
            .await
        {
            // Its expiry removes it (and announces it) instead.
            tracing::warn!(error = %e, "presence leave failed");
        }
    }

    /// Refreshes this node's entries and sweeps expired ones, every third of the
    /// expiry, until `shutdown`.
    pub async fn run(self, fanout: Fanout, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let entries: Vec<(ConnectionId, Entry)> =
                self.lock().iter().map(|(c, e)| (*c, e.clone())).collect();
            for (connection, entry) in entries {
                if !self.lock().contains_key(&connection) {
                    continue;
                }
                let topic = project_topic(entry.project);
                if let Err(e) = self
                    .bus
                    .join(&topic, &connection.to_string(), &entry.presence, self.ttl)
                    .await
                {
                    tracing::warn!(error = %e, "presence refresh failed");
                }
            }
            let projects: Vec<String> = fanout
                .topics()
                .into_iter()
                .filter(|topic| matches!(topic, Topic::Project(_)))
                .map(|topic| topic.to_string())
                .collect();
            match self.bus.sweep_presence_many(&projects).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(topics = projects.len(), expired = n, "presence expired"),
                Err(e) => tracing::warn!(error = %e, "presence sweep failed"),
            }
        }
    }
}
