//! The transactional outbox: a change's events are written in the change's own
//! transaction (`record`) and published to Redis from the table (`Outbox::flush`): by
//! the committing process right after commit, and by the relay for whatever that missed
//! (Redis down, a crash between commit and publish). Exactly once per topic position:
//! a project's rows are published in id order under a per-project lock, Redis records the
//! last row applied per project in the topic's meta hash (a replayed row is skipped), and
//! published rows are deleted. A round of flushing costs three round trips (begin; lock,
//! delete and read in one statement; commit), and rounds are shared: a process runs at
//! most two at once, each taking every project asked for since the one before it began,
//! so under load the flushes of many changes share one round. A round's scan starts
//! above the last row the process deleted for each project, not at the deleted rows'
//! index entries that vacuum has yet to remove.

use crate::StoreError;
use crate::topics::{BusError, Topics};
use protocol::ProjectId;
use protocol::event::{Event, project_topic, session_topic};
use protocol::frames::event_frame_parts;
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
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
/// Rows sent per round of a flush, over all its projects: a backlog after an outage goes
/// out in rounds, each one transaction, so a crash loses at most a round's deletes
/// (which replay skips). Each project of a round may send its share, and at least
/// [`BATCH_EACH`].
const BATCH: i64 = 256;
const BATCH_EACH: i64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The shared round that took the project failed (every caller it took is told).
    #[error(transparent)]
    Round(Arc<OutboxError>),
    /// The round's task ended without an answer: the process is shutting down.
    #[error("the outbox stopped before the events were published")]
    Stopped,
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
    Rows::of(project, events)?
        .bind(sqlx::query(INSERT))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The outbox rows of a change's events, one per topic an event goes to, as the arrays
/// [`INSERT`] takes.
pub(crate) struct Rows {
    project: ProjectId,
    topics: Vec<String>,
    kinds: Vec<String>,
    heads: Vec<String>,
    tails: Vec<String>,
}

impl Rows {
    pub(crate) fn of(project: ProjectId, events: &[Event]) -> Result<Self, StoreError> {
        let project_topic = project_topic(project);
        let mut rows = Rows {
            project,
            topics: Vec::new(),
            kinds: Vec::new(),
            heads: Vec::new(),
            tails: Vec::new(),
        };
        for event in events {
            if let Some(session) = event.session_copy() {
                rows.push(session_topic(session), event)?;
            }
            rows.push(project_topic.clone(), event)?;
        }
        Ok(rows)
    }

    fn push(&mut self, topic: String, event: &Event) -> Result<(), StoreError> {
        let parts =
            event_frame_parts(&topic, event).map_err(|e| StoreError::Decode(e.to_string()))?;
        self.topics.push(topic);
        self.kinds.push(parts.kind.to_owned());
        self.heads.push(parts.head);
        self.tails.push(parts.tail);
        Ok(())
    }

    /// Binds `$1` to `$6` of [`INSERT`] (a statement that ends with it binds its own
    /// parameters after these).
    pub(crate) fn bind(
        self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.project)
            .bind(self.topics)
            .bind(self.kinds)
            .bind(self.heads)
            .bind(self.tails)
            .bind(ORDER_LOCK)
    }
}

/// Inserts [`Rows`] in their order, under the project's order lock: the lock is an
/// uncorrelated subquery in the filter, so Postgres runs it once, before the first row
/// is produced and so before the first id is drawn from the sequence.
pub(crate) const INSERT: &str = "INSERT INTO event_outbox (project_id, topic, kind, head, tail)
     SELECT $1, t.topic, t.kind, t.head, t.tail
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
          WITH ORDINALITY AS t(topic, kind, head, tail, n)
     WHERE (SELECT pg_advisory_xact_lock($6, hashtext($1::text)) IS NOT NULL)
     ORDER BY t.n";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    project_id: ProjectId,
    topic: String,
    kind: String,
    head: String,
    tail: String,
}

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

/// What a caller of [`Outbox::flush`] is told once a round has taken its project.
type Reply = oneshot::Sender<Result<(), Arc<OutboxError>>>;

/// The flushes of one process: the projects asked for, and the rounds running. Rounds are
/// shared: one round takes every project asked for since the rounds before it began (up
/// to [`PROJECTS_PER_ROUND`]), so under load many changes' flushes share one
/// transaction, one lock statement and one commit, where each used to open its own.
#[derive(Debug, Default)]
struct Queue {
    /// Projects asked for and not yet taken by a round, with the callers waiting.
    asked: HashMap<ProjectId, Vec<Reply>>,
    /// The order projects were first asked in (a project asked again while it waits
    /// keeps its place); entries taken by a round are skipped.
    order: VecDeque<ProjectId>,
    /// Projects in a round now: asked again, they wait for the next round, which
    /// sees every row committed before that ask.
    busy: HashSet<ProjectId>,
    /// Rounds running (at most [`ROUNDS_AT_ONCE`]).
    rounds: usize,
}

impl Queue {
    /// Whether a round to come takes `project` already: it is in a round now (which
    /// goes on to the next) or asked for by a call before.
    fn taken(&self, project: ProjectId) -> bool {
        self.busy.contains(&project) || self.asked.contains_key(&project)
    }

    /// Records an ask for `project`; `true` when a round should start for it.
    fn ask(&mut self, project: ProjectId, reply: Option<Reply>) -> bool {
        let waiting = self.asked.entry(project).or_insert_with(|| {
            self.order.push_back(project);
            Vec::new()
        });
        waiting.extend(reply);
        if self.rounds < ROUNDS_AT_ONCE && !self.busy.contains(&project) {
            self.rounds += 1;
            return true;
        }
        false
    }

    /// The projects of the next round, oldest ask first, marked busy; empty when none is
    /// ready, and then the round that asked ends (its count is released in the same
    /// critical section, so no ask falls between the look and the release).
    fn take(&mut self) -> Vec<(ProjectId, Vec<Reply>)> {
        let mut taken = Vec::new();
        let mut skipped = Vec::new();
        while taken.len() < PROJECTS_PER_ROUND {
            let Some(project) = self.order.pop_front() else {
                break;
            };
            if self.busy.contains(&project) {
                skipped.push(project);
                continue;
            }
            if let Some(replies) = self.asked.remove(&project) {
                self.busy.insert(project);
                taken.push((project, replies));
            }
        }
        // Asked while in a round: they keep their place for a later one.
        for project in skipped.into_iter().rev() {
            self.order.push_front(project);
        }
        if taken.is_empty() {
            self.rounds -= 1;
        }
        taken
    }

    /// After a round over `projects`: they are free again, and the ones whose rows did not
    /// all fit (`full`) are asked for again, without callers.
    fn done(&mut self, projects: &[ProjectId], full: &HashSet<ProjectId>) {
        for project in projects {
            self.busy.remove(project);
        }
        for project in full {
            self.asked.entry(*project).or_insert_with(|| {
                self.order.push_back(*project);
                Vec::new()
            });
        }
    }
}

/// A task making rounds. Should it end any other way than by finding nothing to take (a
/// panic, the runtime shutting down), its count and its projects are freed, so the
/// next ask starts a round for them; its callers hear `Stopped` as their replies drop.
struct Running {
    queue: Arc<Mutex<Queue>>,
    /// The projects of the round under way.
    projects: Vec<ProjectId>,
    /// Whether the task still counts among the rounds running.
    counted: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.counted && self.projects.is_empty() {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        for project in &self.projects {
            queue.busy.remove(project);
        }
        if self.counted {
            queue.rounds -= 1;
        }
    }
}

async fn answer(
    answer: oneshot::Receiver<Result<(), Arc<OutboxError>>>,
) -> Result<(), OutboxError> {
    match answer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(OutboxError::Round(e)),
        Err(_) => Err(OutboxError::Stopped),
    }
}

/// Projects one round takes at most.
const PROJECTS_PER_ROUND: usize = 32;
/// Rounds one process runs at once, each on a connection of its own. Few, so that the
/// flushes asked for while they run gather into the next one.
const ROUNDS_AT_ONCE: usize = 2;

/// Publishes outbox rows to Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: crate::Store,
    topics: Topics,
    queue: Arc<Mutex<Queue>>,
    floors: Floors,
    /// The rounds running (see [`Outbox::flush`]).
    background: TaskTracker,
}

impl Outbox {
    pub fn new(store: crate::Store, topics: Topics) -> Self {
        Self {
            store,
            topics,
            queue: Arc::default(),
            floors: Floors::default(),
            background: TaskTracker::new(),
        }
    }

    /// Waits, up to `within`, for the rounds still running: a process shutting down
    /// calls it after its last change, so those rows go out now rather than with the
    /// relay of another node (or of this one once restarted). Answers whether they all
    /// finished.
    pub async fn settle(&self, within: Duration) -> bool {
        self.background.close();
        tokio::time::timeout(within, self.background.wait())
            .await
            .is_ok()
    }

    /// Publishes every row of `project` committed before it was called, in id order, and
    /// deletes them: the committing process's fast path. Returns once a round has taken
    /// them (its share of [`BATCH`] of the project's rows; the rest go on in further
    /// rounds), or a failure kept them for the next try or the relay. A call that finds
    /// the project in a round already, or asked for by another call, returns at once: a
    /// round to come takes its rows, and a busy project's writers do not each wait for
    /// a round of their own.
    ///
    /// The rounds run in tasks of their own, so a caller that stops waiting (a timeout)
    /// cancels nothing. In one process a project is in one round at a time, and a round
    /// takes every project asked for since the one before it began: under load the
    /// flushes of many changes, of one project or many, share a round. Between processes
    /// a round waits for the publish locks of its projects, so rows go out in id order
    /// whoever sends them.
    pub async fn flush(&self, project: ProjectId) -> Result<(), OutboxError> {
        match self.ask(project) {
            Some(asked) => answer(asked).await,
            None => Ok(()),
        }
    }

    /// Asks for a round over `project`, starting one if fewer than [`ROUNDS_AT_ONCE`]
    /// run (a round running takes it when it looks again). The receiver hears when a
    /// round has taken it; `None` when a round will take it anyway ([`Queue::taken`]).
    fn ask(&self, project: ProjectId) -> Option<oneshot::Receiver<Result<(), Arc<OutboxError>>>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let (reply, answer) = if queue.taken(project) {
            (None, None)
        } else {
            let (reply, answer) = oneshot::channel();
            (Some(reply), Some(answer))
        };
        // Even for a project a round is to take: with a place free, one starts (after a
        // round task ended abnormally, no round may be running to take it).
        if queue.ask(project, reply) {
            drop(queue);
            let outbox = self.clone();
            self.background.spawn(async move { outbox.rounds().await });
        }
        answer
    }

    /// Makes rounds for as long as projects are asked for, on one connection.
    async fn rounds(self) {
        let mut conn: Option<crate::Conn> = None;
        let mut running = Running {
            queue: self.queue.clone(),
            projects: Vec::new(),
            counted: true,
        };
        loop {
            let taken = self
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if taken.is_empty() {
                // `take` released the count.
                running.counted = false;
                return;
            }
            running.projects = taken.iter().map(|(project, _)| *project).collect();
            let projects = &running.projects;
            let outcome = match conn.as_mut() {
                Some(held) => self.round(held, projects).await,
                None => match self.store.acquire().await {
                    Ok(acquired) => self.round(conn.insert(acquired), projects).await,
                    Err(e) => Err(e.into()),
                },
            };
            let (full, result) = match outcome {
                Ok(full) => (full, Ok(())),
                Err(e) => {
                    tracing::warn!(projects = projects.len(), error = %e, "events left in the outbox for the relay");
                    // A connection that failed mid-round is not used again.
                    conn = None;
                    (HashSet::new(), Err(Arc::new(e)))
                }
            };
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .done(&running.projects, &full);
            running.projects.clear();
            for (_, replies) in taken {
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        }
    }

    /// One round, one transaction: take the publish locks of `projects` (in one order,
    /// so two processes' rounds never wait on each other in a cycle) and delete up to
    /// its share of [`BATCH`] rows of each above its floor ([`Floors`]) in one
    /// statement, publish each project's rows in id order (the projects at once),
    /// commit, raise the floors. A Redis failure rolls the deletes back: the rows sent
    /// before it go again with the next try, and `publish_once` skips each as already
    /// applied. Answers the projects whose rows did not all fit.
    async fn round(
        &self,
        conn: &mut PgConnection,
        projects: &[ProjectId],
    ) -> Result<HashSet<ProjectId>, OutboxError> {
        let each = (BATCH / projects.len().max(1) as i64).max(BATCH_EACH);
        let floors: Vec<i64> = {
            let floors = self.floors.lock().unwrap_or_else(PoisonError::into_inner);
            projects
                .iter()
                .map(|p| floors.get(p).copied().unwrap_or(0))
                .collect()
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        // This transaction only deletes rows Redis has taken, so its commit need not
        // wait for the WAL flush: a delete lost in a crash leaves rows the relay
        // publishes again, and `publish_once` skips each as already applied. The locks
        // (with the setting) are taken before any row is read, in the order of their
        // keys (a materialized CTE is read in the order it was written). The
        // statement's snapshot is older than the locks: a row that the holder before it
        // deleted meanwhile is gone, and the delete skips it; a row committed meanwhile
        // is its own committer's to flush.
        let mut rows: Vec<Row> = sqlx::query_as(
            "WITH keys AS MATERIALIZED (
                 SELECT DISTINCT hashtext(p::text) AS key FROM unnest($2::uuid[]) AS p
                 ORDER BY key
             ),
             lock AS MATERIALIZED (
                 SELECT set_config('synchronous_commit', 'off', true) AS setting,
                        (SELECT count(pg_advisory_xact_lock($1, key)) FROM keys) AS locked
             )
             DELETE FROM event_outbox
             WHERE id IN (SELECT o.id
                          FROM unnest($2::uuid[], $4::bigint[]) AS p(project, floor),
                               LATERAL (SELECT id FROM event_outbox
                                        WHERE project_id = p.project AND id > p.floor
                                          AND (SELECT locked FROM lock) IS NOT NULL
                                        ORDER BY id LIMIT $3) AS o)
             RETURNING id, project_id, topic, kind, head, tail",
        )
        .bind(PUBLISH_LOCK)
        .bind(projects)
        .bind(each)
        .bind(&floors)
        .fetch_all(&mut *tx)
        .await?;
        rows.sort_unstable_by_key(|row| row.id);
        // Each project's rows in id order, the projects side by side: a round takes as
        // long as its busiest project's rows, not the sum of every project's round
        // trips to Redis (which a Redis farther away than loopback makes long).
        let mut by_project: HashMap<ProjectId, Vec<&Row>> = HashMap::new();
        for row in &rows {
            by_project.entry(row.project_id).or_default().push(row);
        }
        futures_util::future::try_join_all(by_project.values().map(|rows| async move {
            for row in rows {
                // `None`: Redis had already applied it (a replay), and it is deleted
                // unsent.
                self.topics
                    .publish_once(
                        &row.topic,
                        row.project_id,
                        row.id,
                        (&row.kind, &row.head, &row.tail),
                    )
                    .await?;
            }
            Ok::<_, BusError>(())
        }))
        .await?;
        tx.commit().await?;
        let mut floors = self.floors.lock().unwrap_or_else(PoisonError::into_inner);
        if floors.len() + by_project.len() > FLOORS_KEPT {
            floors.clear();
        }
        let mut full = HashSet::new();
        for (project, rows) in by_project {
            // Its last row is its new floor.
            if let Some(last) = rows.last() {
                floors.insert(project, last.id);
            }
            // A whole batch went out: more rows are likely waiting.
            if rows.len() as i64 == each {
                full.insert(project);
            }
        }
        Ok(full)
    }
}

/// What the relay's leader reads each tick, in one statement on its lock's connection
/// (whose failure means the lock, and so the lead, is gone).
struct Waiting {
    /// Rows among the oldest [`RelayConfig::look`] in the outbox, over every project.
    rows: i64,
    /// Projects with rows among those older than the grace: what the committing
    /// processes did not manage to publish (younger rows are most likely being published
    /// right now).
    stale: Vec<ProjectId>,
}

/// The oldest `look` rows by id, walked through the primary key's index, so a tick costs
/// at most `look` rows whatever the table holds: an outage's backlog, or the dead rows
/// vacuum has yet to remove (a busy node deletes every row it writes within
/// milliseconds). Counting the whole table read every one of them each tick. Stale rows
/// are the oldest, so they come first; each project found is flushed to its last row, and
/// rows past the look wait for a later tick.
async fn waiting(
    conn: &mut PgConnection,
    grace: Duration,
    look: i64,
) -> Result<Waiting, StoreError> {
    let (rows, stale): (i64, Option<Vec<ProjectId>>) = sqlx::query_as(
        "SELECT count(*),
                array_agg(DISTINCT project_id)
                    FILTER (WHERE created_at < now() - make_interval(secs => $1))
         FROM (SELECT project_id, created_at FROM event_outbox ORDER BY id LIMIT $2) AS oldest",
    )
    .bind(grace.as_secs_f64())
    .bind(look.max(1))
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
    /// Rows the leader looks at per tick at most, the oldest first.
    pub look: i64,
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
            // A few milliseconds of reading, and 10,000 rows name enough projects to
            // keep the flushes' rounds full while a backlog drains.
            look: 10_000,
        }
    }
}

/// One relay tick's outcome, for the caller's metrics.
#[derive(Debug, Default)]
pub struct RelayTick {
    /// Projects whose rows could not be published.
    pub failed: usize,
    /// Rows waiting in the outbox when the tick began, counted up to
    /// [`RelayConfig::look`].
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
    // The tick's walk must go through the primary key's index: with statistics taken
    // when the table held a few rows, the planner would rather read every page of the
    // heap and sort. This connection runs nothing else.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut lock)
        .await?;
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
        let waiting = match waiting(&mut lock, config.grace, config.look).await {
            Ok(waiting) => waiting,
            Err(e) => break Err(e),
        };
        let mut tick = RelayTick {
            backlog: waiting.rows,
            ..RelayTick::default()
        };
        // Asked for all at once, the stale projects share rounds: a backlog after an
        // outage holds at most the flushes' few connections.
        let asked: Vec<_> = waiting
            .stale
            .iter()
            .filter_map(|project| Some((*project, outbox.ask(*project)?)))
            .collect();
        for (project, asked) in asked {
            if let Err(e) = answer(asked).await {
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

    fn reply() -> Reply {
        oneshot::channel().0
    }

    #[test]
    fn asks_while_rounds_run_gather_into_the_next_round() {
        let mut queue = Queue::default();
        let (a, b, c) = (ProjectId::new(), ProjectId::new(), ProjectId::new());
        assert!(queue.ask(a, Some(reply())), "the first ask starts a round");
        let first = queue.take();
        assert_eq!(first.len(), 1);
        // While that round runs, b starts the second round, and the round count is full.
        assert!(queue.ask(b, Some(reply())));
        assert!(!queue.taken(c));
        assert!(!queue.ask(c, Some(reply())), "no third round: c waits");
        assert!(queue.taken(c), "asked: the next round takes it");
        assert!(!queue.ask(c, Some(reply())), "asked twice, c waits once");
        let second = queue.take();
        let taken: Vec<_> = second.iter().map(|(p, r)| (*p, r.len())).collect();
        assert_eq!(
            taken,
            [(b, 1), (c, 2)],
            "b and c share a round, oldest first"
        );
        queue.done(&[a], &HashSet::new());
        assert!(
            queue.take().is_empty(),
            "nothing asked: the first round ends"
        );
        assert_eq!(queue.rounds, 1);
    }

    #[test]
    fn a_project_in_a_round_asked_again_waits_for_the_next_and_a_full_one_goes_on() {
        let mut queue = Queue::default();
        let (a, b) = (ProjectId::new(), ProjectId::new());
        assert!(queue.ask(a, Some(reply())));
        assert_eq!(queue.take().len(), 1);
        // Asked while its round runs: its rows may have been read already.
        assert!(queue.taken(a), "a busy project: a round to come takes it");
        assert!(
            !queue.ask(a, Some(reply())),
            "a busy project starts no round"
        );
        assert!(queue.ask(b, None));
        let other = queue.take();
        assert_eq!(other.len(), 1, "the second round takes b, not the busy a");
        assert_eq!(other[0].0, b);
        queue.done(&[b], &HashSet::from([b]));
        queue.done(&[a], &HashSet::new());
        let next: Vec<_> = queue
            .take()
            .into_iter()
            .map(|(p, r)| (p, r.len()))
            .collect();
        assert_eq!(
            next,
            [(a, 1), (b, 0)],
            "a's ask kept its place; full b goes on"
        );
        queue.done(&[a, b], &HashSet::new());
        assert!(queue.take().is_empty());
        assert!(queue.take().is_empty());
        assert_eq!(queue.rounds, 0);
        assert!(queue.asked.is_empty() && queue.order.is_empty() && queue.busy.is_empty());
    }

    #[test]
    fn a_round_task_that_ends_abnormally_frees_its_count_and_projects() {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let project = ProjectId::new();
        assert!(queue.lock().unwrap().ask(project, Some(reply())));
        let taken = queue.lock().unwrap().take();
        assert_eq!(taken.len(), 1);
        // Asked again while in its round: it waits in the queue for the next.
        assert!(!queue.lock().unwrap().ask(project, None));
        // The task unwinds mid-round: its guard still holds the round's projects.
        drop(Running {
            queue: queue.clone(),
            projects: vec![project],
            counted: true,
        });
        let mut queue = queue.lock().unwrap();
        assert_eq!(queue.rounds, 0);
        assert!(queue.busy.is_empty());
        assert!(queue.taken(project), "still asked for");
        assert!(
            queue.ask(project, None),
            "with no round running, the next ask starts one for it"
        );
    }

    #[test]
    fn a_round_takes_at_most_its_share_of_projects() {
        let mut queue = Queue::default();
        let projects: Vec<_> = (0..PROJECTS_PER_ROUND + 3)
            .map(|_| ProjectId::new())
            .collect();
        for project in &projects {
            queue.ask(*project, None);
        }
        let first: Vec<_> = queue.take().into_iter().map(|(p, _)| p).collect();
        assert_eq!(first, projects[..PROJECTS_PER_ROUND]);
        let rest: Vec<_> = queue.take().into_iter().map(|(p, _)| p).collect();
        assert_eq!(rest, projects[PROJECTS_PER_ROUND..]);
    }
}
