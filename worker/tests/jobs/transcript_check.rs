//! The nightly transcript check: every break in a recent session's numbering or timing
//! is logged on the job; old sessions and clean ones are left alone.

use crate::support::*;
use serde_json::json;
use std::time::Duration;
use store::jobs::lifecycle::NewJob;

/// A session with items (seq, item id, seconds after 10:00), updated `days_ago`.
async fn session(env: &Env, items: &[(i64, &str, i64)], days_ago: i64) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, mode, transcript_seq, updated_at) \
         VALUES ($1, 'alice', 'intake', $2, now() - $3 * interval '1 day')",
    )
    .bind(id)
    .bind(items.len() as i64)
    .bind(days_ago as f64)
    .execute(&env.store.pool)
    .await
    .unwrap();
    for (seq, item, second) in items {
        sqlx::query(
            "INSERT INTO transcript_items (session_id, seq, item_id, role, text, at) \
             VALUES ($1, $2, $3, 'user', 'hi', '2026-11-21T10:00:00Z'::timestamptz + $4 * interval '1 second')",
        )
        .bind(id)
        .bind(seq)
        .bind(item)
        .bind(*second as f64)
        .execute(&env.store.pool)
        .await
        .unwrap();
    }
    id
}

#[tokio::test]
async fn breaks_in_recent_transcripts_are_logged_as_job_events() {
    let env = Env::new().await;
    session(&env, &[(1, "a", 0), (2, "b", 5), (3, "c", 9)], 0).await;
    let gap = session(&env, &[(1, "a", 0), (2, "b", 5), (4, "d", 9)], 0).await;
    let reversed = session(&env, &[(1, "a", 0), (2, "b", 30), (3, "c", 10)], 0).await;
    let late_start = session(&env, &[(2, "b", 0)], 1).await;
    session(&env, &[(1, "a", 0), (5, "e", 9)], 5).await; // outside the window

    let registry = worker::handlers::builtin(&fast_config()).unwrap();
    let (stop, handle) = env.worker(fast_config(), registry);
    let job = env
        .enqueue(NewJob::new("transcript.check", json!({})))
        .await;
    let done = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == protocol::entities::JobStatus::Completed
        })
        .await;
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(done.result.as_ref().unwrap()["anomalies"], 3);
    assert_eq!(done.result.as_ref().unwrap()["sessions"], 4);
    assert_eq!(done.result.as_ref().unwrap()["truncated"], false);

    let logged: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT data FROM job_events WHERE job_id = $1 AND kind = 'log' ORDER BY id",
    )
    .bind(job.id)
    .fetch_all(&env.store.pool)
    .await
    .unwrap();
    let found: Vec<(String, String, i64)> = logged
        .iter()
        .map(|d| {
            (
                d["session_id"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (gap.to_string(), "seq_gap".to_owned(), 4),
        (reversed.to_string(), "time_reversal".to_owned(), 3),
        (late_start.to_string(), "seq_gap".to_owned(), 2),
    ];
    want.sort();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    assert_eq!(found_sorted, want);
}
