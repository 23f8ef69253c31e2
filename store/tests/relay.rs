//! The outbox relay against a real Postgres and Redis (a fresh database and key prefix):
//! rows the committing processes left behind reach their topics once and in order, and a
//! tick reads no more than its look, however many rows wait.

use protocol::client::Position;
use protocol::event::{DraftDelta, Event, project_topic};
use protocol::{JobId, ProjectId};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::outbox::{Outbox, RelayConfig, relay};
use store::topics::{Retention, Topics};
use tokio_util::sync::CancellationToken;

const PROJECTS: usize = 6;
const EVENTS_EACH: u64 = 5;
/// Fewer rows than one project holds: every tick sees part of the backlog only.
const LOOK: i64 = 3;

#[tokio::test]
async fn a_backlog_larger_than_a_tick_looks_at_drains_tick_by_tick_each_topic_in_order() {
    let db = testkit::Database::create().await;
    let prefix = testkit::Prefix::new("relay");
    let store = store::Store::connect(&db.url, 4).await.unwrap();
    let redis = redis::Client::open(testkit::redis_url()).unwrap();
    let topics = Topics::new(
        redis.get_connection_manager().await.unwrap(),
        prefix.as_str(),
        Retention::default(),
    );

    // Changes committed with their events by processes that never published them.
    let projects: Vec<ProjectId> = (0..PROJECTS).map(|_| ProjectId::new()).collect();
    let job = JobId::new();
    for project in &projects {
        let events: Vec<Event> = (0..EVENTS_EACH)
            .map(|seq| {
                Event::DraftDelta(DraftDelta {
                    job_id: job,
                    seq,
                    text: format!("piece {seq}"),
                })
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        store::outbox::record(&mut tx, *project, &events)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // Older than the grace: the relay's to publish.
    sqlx::query("UPDATE event_outbox SET created_at = now() - interval '1 minute'")
        .execute(&store.pool)
        .await
        .unwrap();

    let backlogs = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(relay(
        Outbox::new(store.clone(), topics.clone()),
        RelayConfig {
            tick: Duration::from_millis(20),
            election_every: Duration::from_millis(20),
            look: LOOK,
            ..RelayConfig::default()
        },
        shutdown.clone(),
        {
            let backlogs = backlogs.clone();
            move |tick| backlogs.lock().unwrap().push((tick.backlog, tick.failed))
        },
    ));
    testkit::database::until_outbox_empty(&store.pool, testkit::WAIT).await;
    shutdown.cancel();
    running.await.unwrap();

    // Each tick counted at most its look; it took a tick per project at least (the look
    // names one project's rows at a time here), and none failed.
    let backlogs = backlogs.lock().unwrap().clone();
    assert_eq!(backlogs.first(), Some(&(LOOK, 0)), "{backlogs:?}");
    assert!(
        backlogs
            .iter()
            .all(|&(rows, failed)| rows <= LOOK && failed == 0),
        "{backlogs:?}"
    );
    let busy = backlogs.iter().filter(|&&(rows, _)| rows > 0).count();
    assert!(busy >= PROJECTS, "{backlogs:?}");

    // Every project's events on its topic, once each and in order.
    for project in &projects {
        let topic = project_topic(*project);
        let now = topics.position(&topic).await.unwrap();
        assert_eq!(now.offset, EVENTS_EACH, "{topic}");
        let start = Position {
            epoch: now.epoch.clone(),
            offset: 0,
        };
        let history = topics.since(&topic, &start, 100).await.unwrap();
        assert!(history.recovered, "{topic}");
        let pieces: Vec<u64> = history
            .events
            .iter()
            .map(|stored| {
                let frame: serde_json::Value = serde_json::from_str(&stored.frame).unwrap();
                frame["event"]["seq"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(pieces, (0..EVENTS_EACH).collect::<Vec<_>>(), "{topic}");
    }
    store.pool.close().await;
    prefix.clean().await.unwrap();
}
