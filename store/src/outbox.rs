//! The transactional outbox: a change's events are written in the change's own
//! transaction (`record`) and published to Redis from the table (`Outbox::flush`): by
//! the committing process right after commit, and by the relay for whatever that missed
//! (Redis down, a crash between commit and publish). Exactly once per topic position:
//! a project's rows are published in id order under a per-project lock, Redis records the
//! last row applied per project in the topic's meta hash (a replayed row is skipped), and
//! published rows are deleted. A flush costs three round trips (begin; lock, delete and
//! read in one statement; commit), and a process runs one flush per project at a time:
//! concurrent changes of a busy project share its rounds. A round's scan starts above
//! the last row the process deleted for the project, not at the deleted rows' index
//! entries that vacuum has yet to remove.

use crate::StoreError;
use crate::topics::{BusError, Topics};
use protocol::ProjectId;
use protocol::event::{Event, project_topic, session_topic};
use protocol::frames::event_frame_parts;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
/// Rounds the relay makes for a project before it moves on to the next one (the rest
/// go on in the background).
const DRAIN_ROUNDS: usize = 16;

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
    // One statement: the lock is an uncorrelated subquery in the filter, so Postgres
    // runs it once, before the first row is produced and so before the first id is
    // drawn from the sequence.
    sqlx::query(
        "INSERT INTO event_outbox (project_id, topic, kind, head, tail)
         SELECT $1, t.topic, t.kind, t.head, t.tail
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
              WITH ORDINALITY AS t(topic, kind, head, tail, n)
         WHERE (SELECT pg_advisory_xact_lock($6, hashtext($1::text)) IS NOT NULL)
         ORDER BY t.n",
    )
    .bind(project)
    .bind(&topics)
    .bind(&kinds)
    .bind(&heads)
    .bind(&tails)
    .bind(ORDER_LOCK)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    topic: String,
    kind: String,
    head: String,
    tail: String,
}

/// The flushes running in this process, by project, each with whether another was
/// asked for while it ran.
type Running = Arc<Mutex<HashMap<ProjectId, bool>>>;

/// Where each project's live rows begin, as far as this process knows: the highest id
/// its own rounds deleted. A project's ids are drawn under its order lock, held to
/// commit, so its committed rows are always the lowest of its ids, and a round deletes
/// them from the lowest up: no live row of the project has an id at or below its floor.
/// A round's scan starts above the floor instead of walking the index entries of the rows
/// already deleted, which stay until vacuum removes them (for as long as any snapshot may
/// still see them: a long transaction makes that minutes, and each round would walk all
/// of a busy project's deletes since).
type Floors = Arc<Mutex<HashMap<ProjectId, i64>>>;

/// Projects whose floor a process keeps; past that the map starts again (a project
/// without a floor is scanned from its first entry, which is only slower).
const FLOORS_KEPT: usize = 10_000;

/// A project's turn to flush in this process: one flush per project runs at a time, and
/// the others ask it to look again instead of opening transactions of their own.
struct Turn {
    running: Running,
    project: ProjectId,
    released: bool,
}

impl Turn {
    /// Takes `project`'s turn, or asks its holder to look again (`None`).
    fn take(running: &Running, project: ProjectId) -> Option<Self> {
        let mut map = running.lock().unwrap_or_else(PoisonError::into_inner);
        match map.entry(project) {
            Entry::Occupied(mut holder) => {
                holder.insert(true);
                None
            }
            Entry::Vacant(free) => {
                free.insert(false);
                Some(Self {
                    running: running.clone(),
                    project,
                    released: false,
                })
            }
        }
    }

    /// After a round: whether to go on (a full round, or another flush asked since the
    /// last look; the ask is consumed). When not, the turn is released in the same
    /// critical section, so no ask falls between the look and the release.
    fn go_on(&mut self, full: bool) -> bool {
        let mut map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let asked = map.get_mut(&self.project).is_some_and(std::mem::take);
        if full || asked {
            return true;
        }
        map.remove(&self.project);
        self.released = true;
        false
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.released {
            self.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.project);
        }
    }
}

/// Publishes outbox rows to Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: crate::Store,
    topics: Topics,
    running: Running,
    floors: Floors,
    /// The rounds going on in the background (see [`Outbox::flush`]).
    background: TaskTracker,
}

impl Outbox {
    pub fn new(store: crate::Store, topics: Topics) -> Self {
        Self {
            store,
            topics,
            running: Running::default(),
            floors: Floors::default(),
            background: TaskTracker::new(),
        }
    }

    /// Waits, up to `within`, for the rounds still going on in the background: a
    /// process shutting down calls it after its last change, so those rows go out now
    /// rather than with the relay of another node (or of this one once restarted).
    /// Answers whether they all finished.
    pub async fn settle(&self, within: Duration) -> bool {
        self.background.close();
        tokio::time::timeout(within, self.background.wait())
            .await
            .is_ok()
    }

    /// Publishes every row of `project` committed before it was called, in id order, and
    /// deletes them: the committing process's fast path. Returns once those rows are out
    /// (or a Redis failure kept them for the next try or the relay).
    ///
    /// In one process a project has one flush at a time: a call made while one runs
    /// returns at once and the running one makes another round, whose statement
    /// sees every row committed before that call. Those further rounds run in the
    /// background, so a caller waits for its own rows, never for a busy project's
    /// stream. Between processes a round waits for the project's publish lock, so rows go
    /// out in id order whoever sends them.
    pub async fn flush(&self, project: ProjectId) -> Result<(), OutboxError> {
        self.publish(project, 1).await
    }

    /// Publishes every row of `project`, round after round, before returning (up to
    /// [`DRAIN_ROUNDS`], then as [`Outbox::flush`]): the relay's flush, one project at a
    /// time, so a backlog after an outage holds one connection, not one per project.
    pub async fn drain(&self, project: ProjectId) -> Result<(), OutboxError> {
        self.publish(project, DRAIN_ROUNDS).await
    }

    /// Makes up to `inline` rounds, then hands the turn and its connection to a task
    /// that goes on for as long as rows keep coming. A call that finds the project's
    /// turn taken has asked its holder to go on, and returns.
    async fn publish(&self, project: ProjectId, inline: usize) -> Result<(), OutboxError> {
        let Some(mut turn) = Turn::take(&self.running, project) else {
            return Ok(());
        };
        let mut conn = self.store.acquire().await?;
        for _ in 0..inline {
            if !self.round(&mut turn, &mut conn, project).await? {
                return Ok(());
            }
        }
        let outbox = self.clone();
        self.background.spawn(async move {
            let rounds = async {
                while outbox.round(&mut turn, &mut conn, project).await? {}
                Ok::<_, OutboxError>(())
            };
            if let Err(e) = rounds.await {
                tracing::warn!(%project, error = %e, "events left in the outbox for the relay");
            }
        });
        Ok(())
    }

    /// One round of a flush, one transaction: take the project's publish lock and delete
    /// up to [`BATCH`] of its rows above its floor ([`Floors`]) in one statement, publish
    /// them in id order, commit, raise the floor.
    /// A Redis failure rolls the deletes back: the rows sent before it go again with the
    /// next try, and `publish_once` skips each as already applied. Answers whether the
    /// turn goes on (see [`Turn::go_on`]).
    async fn round(
        &self,
        turn: &mut Turn,
        conn: &mut PgConnection,
        project: ProjectId,
    ) -> Result<bool, OutboxError> {
        let floor = self
            .floors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&project)
            .copied()
            .unwrap_or(0);
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        // This transaction only deletes rows Redis has taken, so its commit need not
        // wait for the WAL flush: a delete lost in a crash leaves rows the relay
        // publishes again, and `publish_once` skips each as already applied. The lock
        // (with the setting) is taken before any row is read. The statement's snapshot
        // is older than the lock: a row that the holder before it deleted meanwhile is
        // gone, and the delete skips it; a row committed meanwhile is its own
        // committer's to flush.
        let mut rows: Vec<Row> = sqlx::query_as(
            "WITH lock AS MATERIALIZED (
                 SELECT set_config('synchronous_commit', 'off', true) AS setting,
                        pg_advisory_xact_lock($1, hashtext($2::text)) IS NOT NULL AS locked
             )
             DELETE FROM event_outbox
             WHERE id IN (SELECT id FROM event_outbox
                          WHERE project_id = $2 AND id > $4 AND (SELECT locked FROM lock)
                          ORDER BY id LIMIT $3)
             RETURNING id, topic, kind, head, tail",
        )
        .bind(PUBLISH_LOCK)
        .bind(project)
        .bind(BATCH)
        .bind(floor)
        .fetch_all(&mut *tx)
        .await?;
        rows.sort_unstable_by_key(|row| row.id);
        for row in &rows {
            // `None`: Redis had already applied it (a replay), and it is deleted unsent.
            self.topics
                .publish_once(
                    &row.topic,
                    project,
                    row.id,
                    (&row.kind, &row.head, &row.tail),
                )
                .await?;
        }
        tx.commit().await?;
        if let Some(last) = rows.last() {
            let mut floors = self.floors.lock().unwrap_or_else(PoisonError::into_inner);
            if floors.len() >= FLOORS_KEPT && !floors.contains_key(&project) {
                floors.clear();
            }
            floors.insert(project, last.id);
        }
        // A whole batch went out: more rows are likely waiting.
        Ok(turn.go_on(rows.len() as i64 == BATCH))
    }
}

/// What the relay's leader reads each tick, in one statement on its lock's connection
/// (whose failure means the lock, and so the lead, is gone).
struct Waiting {
    /// Rows in the outbox, over every project.
    rows: i64,
    /// Projects with rows older than the grace: what the committing processes did not
    /// manage to publish (younger rows are most likely being published right now).
    stale: Vec<ProjectId>,
}

async fn waiting(conn: &mut PgConnection, grace: Duration) -> Result<Waiting, StoreError> {
    let (rows, stale): (i64, Option<Vec<ProjectId>>) = sqlx::query_as(
        "SELECT count(*),
                array_agg(DISTINCT project_id)
                    FILTER (WHERE created_at < now() - make_interval(secs => $1))
         FROM event_outbox",
    )
    .bind(grace.as_secs_f64())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Waiting {
        rows,
        stale: stale.unwrap_or_default(),
    })
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
    /// Projects whose rows could not be published.
    pub failed: usize,
    /// Rows waiting in the outbox when the tick began.
    pub backlog: i64,
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
        // The lock lives as long as its connection: if that is gone, so is the lead.
        let waiting = match waiting(&mut lock, config.grace).await {
            Ok(waiting) => waiting,
            Err(e) => break Err(e),
        };
        let mut tick = RelayTick {
            backlog: waiting.rows,
            ..RelayTick::default()
        };
        for project in waiting.stale {
            if let Err(e) = outbox.drain(project).await {
                tick.failed += 1;
                tracing::warn!(%project, error = %e, "outbox relay could not publish");
            }
        }
        on_tick(tick);
        tokio::select! {
            _ = tokio::time::sleep(config.tick) => {}
            _ = shutdown.cancelled() => break Ok(()),
        }
    };
    let _ = crate::jobs::lifecycle::unlock(&mut lock, RELAY_LOCK).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_asked_for_while_one_runs_makes_the_running_one_go_on() {
        let running = Running::default();
        let project = ProjectId::new();
        let mut turn = Turn::take(&running, project).expect("the first flush takes the turn");
        assert!(Turn::take(&running, project).is_none(), "a second one asks");
        assert!(
            Turn::take(&running, project).is_none(),
            "asks add up to one"
        );
        assert!(turn.go_on(false), "asked: another round");
        assert!(!turn.go_on(false), "no ask since: done, and released");
        let again = Turn::take(&running, project).expect("a released turn is free");
        drop(again);
        drop(turn);
        assert!(running.lock().unwrap().is_empty());
    }

    #[test]
    fn a_full_round_goes_on_and_a_dropped_turn_is_freed() {
        let running = Running::default();
        let (one, other) = (ProjectId::new(), ProjectId::new());
        let mut turn = Turn::take(&running, one).unwrap();
        let _other = Turn::take(&running, other).expect("projects do not share turns");
        assert!(turn.go_on(true), "a full round: more rows wait");
        // A flush that fails or is cancelled mid-round frees its project.
        drop(turn);
        assert!(Turn::take(&running, one).is_some());
    }
}
