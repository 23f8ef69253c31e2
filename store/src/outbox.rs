//! The transactional outbox: a change's events are written in the change's own
//! transaction (`record`) and published to Redis from the table (`Outbox::flush`): by
//! the committing process right after commit, and by the relay for whatever that missed
//! (Redis down, a crash between commit and publish). Exactly once per topic position:
//! a project's rows are published in id order under a per-project lock, Redis records the
//! last row applied per project in the topic's meta hash (a replayed row is skipped), and
//! published rows are deleted.

use crate::StoreError;
use crate::topics::{BusError, Topics};
use protocol::ProjectId;
use protocol::event::{Event, project_topic, session_topic};
use protocol::frames::event_frame_parts;
use sqlx::PgConnection;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The advisory lock class (first key of the two-key form) taken by each change
/// transaction before it inserts its rows and held to commit, so a project's ids are
/// handed out in commit order ("drob" in ASCII).
const ORDER_LOCK: i32 = 0x6472_6f62;
/// The lock class a publisher holds while it sends a project's rows ("drop").
const PUBLISH_LOCK: i32 = 0x6472_6f70;
/// The relay's leadership, a session lock on a connection of its own ("draftout").
const RELAY_LOCK: i64 = 0x6472_6166_746f_7574;
/// Rows sent per round of a flush: a backlog after an outage goes out in rounds, each
/// one transaction, so a crash loses at most a round's deletes (which replay skips).
const BATCH: i64 = 256;
/// Rounds one flush makes at most while rows keep arriving (busy project): past that
/// its caller is answered and the rows left go with the next flush or the relay.
const MAX_ROUNDS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl From<sqlx::Error> for OutboxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Writes the events of a change on `project` into the outbox, inside the change's
/// transaction: a `tool.progress` for a session's job also goes to that session's topic.
/// Call it last in the transaction: it takes the project's order lock, held to commit.
pub async fn record(
    conn: &mut PgConnection,
    project: ProjectId,
    events: &[Event],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let project_topic = project_topic(project);
    let (mut topics, mut kinds, mut heads, mut tails) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for event in events {
        let mut push = |topic: String| -> Result<(), StoreError> {
            let parts =
                event_frame_parts(&topic, event).map_err(|e| StoreError::Decode(e.to_string()))?;
            topics.push(topic);
            kinds.push(parts.kind.to_owned());
            heads.push(parts.head);
            tails.push(parts.tail);
            Ok(())
        };
        if let Some(session) = event.session_copy() {
            push(session_topic(session))?;
        }
        push(project_topic.clone())?;
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind(ORDER_LOCK)
        .bind(project)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO event_outbox (project_id, topic, kind, head, tail)
         SELECT $1, t.topic, t.kind, t.head, t.tail
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
              WITH ORDINALITY AS t(topic, kind, head, tail, n)
         ORDER BY t.n",
    )
    .bind(project)
    .bind(&topics)
    .bind(&kinds)
    .bind(&heads)
    .bind(&tails)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What one flush of a project did.
#[derive(Debug, Default)]
#[must_use = "a flush that failed or found another publisher leaves rows for the relay"]
pub struct Flushed {
    /// The kinds of the rows this flush published, in order.
    pub published: Vec<String>,
    /// Rows Redis had already applied (a replay after a crash), deleted unpublished.
    pub skipped: usize,
    /// Another publisher held the project: it sends what this one would have.
    pub busy: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    topic: String,
    kind: String,
    head: String,
    tail: String,
}

/// Publishes outbox rows to Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: crate::Store,
    topics: Topics,
}

impl Outbox {
    pub fn new(store: crate::Store, topics: Topics) -> Self {
        Self { store, topics }
    }

    /// Publishes every row of `project`, in id order, and deletes them. Stops at the
    /// first Redis failure, keeping that row and the ones after it for the next try
    /// (deleting what went out before it).
    ///
    /// Publishers never wait for each other: when another one holds the project, this
    /// one returns (`busy`) and the holder publishes its rows, because a holder looks
    /// for rows again after releasing the lock. A row committed before a failed
    /// attempt, which happened before the holder's release, is seen by that look.
    pub async fn flush(&self, project: ProjectId) -> Result<Flushed, OutboxError> {
        let mut flushed = Flushed::default();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let mut tx = self.store.begin().await?;
            // This transaction only deletes rows Redis has taken, so its commit need not
            // wait for the WAL flush: a delete lost in a crash leaves rows the relay
            // publishes again, and `publish_once` skips each as already applied. Set in
            // the statement that takes the lock, so it costs no round trip.
            let (_, locked): (String, bool) = sqlx::query_as(
                "SELECT set_config('synchronous_commit', 'off', true),
                        pg_try_advisory_xact_lock($1, hashtext($2::text))",
            )
            .bind(PUBLISH_LOCK)
            .bind(project)
            .fetch_one(&mut *tx)
            .await?;
            if !locked {
                flushed.busy = true;
                return Ok(flushed);
            }
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, topic, kind, head, tail FROM event_outbox
                 WHERE project_id = $1 ORDER BY id LIMIT $2",
            )
            .bind(project)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let full = rows.len() as i64 == BATCH;
            let mut done = None;
            let mut failure = None;
            for row in &rows {
                match self
                    .topics
                    .publish_once(
                        &row.topic,
                        project,
                        row.id,
                        (&row.kind, &row.head, &row.tail),
                    )
                    .await
                {
                    Ok(Some(_)) => flushed.published.push(row.kind.clone()),
                    Ok(None) => flushed.skipped += 1,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                done = Some(row.id);
            }
            if let Some(last) = done {
                sqlx::query("DELETE FROM event_outbox WHERE project_id = $1 AND id <= $2")
                    .bind(project)
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            if let Some(e) = failure {
                return Err(e.into());
            }
            if rounds >= MAX_ROUNDS {
                return Ok(flushed);
            }
            // After the release: rows committed by publishers that found the lock taken.
            if !full && !self.has_rows(project).await? {
                return Ok(flushed);
            }
        }
    }

    async fn has_rows(&self, project: ProjectId) -> Result<bool, StoreError> {
        let mut conn = self.store.acquire().await?;
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM event_outbox WHERE project_id = $1)")
                .bind(project)
                .fetch_one(&mut *conn)
                .await?,
        )
    }

    /// Projects with rows older than `age`: what the committing processes did not
    /// manage to publish (younger rows are most likely being published right now).
    pub async fn stale_projects(&self, age: Duration) -> Result<Vec<ProjectId>, StoreError> {
        let mut conn = self.store.acquire().await?;
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT project_id FROM event_outbox
             WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(age.as_secs_f64())
        .fetch_all(&mut *conn)
        .await?)
    }

    /// Rows waiting in the outbox, over every project.
    pub async fn backlog(&self) -> Result<i64, StoreError> {
        let mut conn = self.store.acquire().await?;
        Ok(sqlx::query_scalar("SELECT count(*) FROM event_outbox")
            .fetch_one(&mut *conn)
            .await?)
    }
}

/// How the relay runs.
#[derive(Clone, Copy, Debug)]
pub struct RelayConfig {
    /// How often the leader looks for rows left behind.
    pub tick: Duration,
    /// Rows younger than this are left to the process that committed them.
    pub grace: Duration,
    /// How often a follower tries to become the leader.
    pub election_every: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            // A change made during a Redis outage reaches clients within about a tick of
            // Redis coming back.
            tick: Duration::from_millis(500),
            // Well above a fast-path publish (about a millisecond measured locally), so
            // the relay rarely contends with it.
            grace: Duration::from_secs(1),
            election_every: Duration::from_secs(2),
        }
    }
}

/// One relay tick's outcome, for the caller's metrics.
#[derive(Debug, Default)]
pub struct RelayTick {
    pub published: Vec<String>,
    pub failed: usize,
    /// Rows waiting in the outbox after the tick, when it could be read.
    pub backlog: Option<i64>,
}

/// The relay: one leader at a time (an advisory lock on a connection of its own, so it
/// passes to another process when the leader's connection or process dies), publishing
/// the rows the committing processes left behind. `on_tick` gets each tick's outcome.
pub async fn relay(
    outbox: Outbox,
    config: RelayConfig,
    shutdown: CancellationToken,
    on_tick: impl Fn(RelayTick) + Send,
) {
    while !shutdown.is_cancelled() {
        if let Err(e) = lead(&outbox, config, &shutdown, &on_tick).await {
            tracing::warn!(error = %e, "outbox relay lost its footing; re-electing");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.election_every) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

async fn lead(
    outbox: &Outbox,
    config: RelayConfig,
    shutdown: &CancellationToken,
    on_tick: &(impl Fn(RelayTick) + Send),
) -> Result<(), StoreError> {
    // Detached: the lock must die with its connection, never go back to the pool held.
    let mut lock = outbox.store.acquire().await?.detach();
    loop {
        if crate::jobs::lifecycle::try_lock(&mut lock, RELAY_LOCK).await? {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(config.election_every) => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
    }
    tracing::info!("outbox relay leading");
    let result = loop {
        let mut tick = RelayTick::default();
        match outbox.stale_projects(config.grace).await {
            Ok(projects) => {
                for project in projects {
                    match outbox.flush(project).await {
                        Ok(flushed) => tick.published.extend(flushed.published),
                        Err(e) => {
                            tick.failed += 1;
                            tracing::warn!(%project, error = %e, "outbox relay could not publish");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "outbox relay could not read the outbox"),
        }
        tick.backlog = outbox.backlog().await.ok();
        on_tick(tick);
        tokio::select! {
            _ = tokio::time::sleep(config.tick) => {}
            _ = shutdown.cancelled() => break Ok(()),
        }
        // The lock lives as long as its connection: if that is gone, so is the lead.
        if let Err(e) = crate::jobs::lifecycle::still_connected(&mut lock).await {
            break Err(e);
        }
    };
    let _ = crate::jobs::lifecycle::unlock(&mut lock, RELAY_LOCK).await;
    result
}
