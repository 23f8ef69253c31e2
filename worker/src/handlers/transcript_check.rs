//! `transcript.check`: the nightly integrity check of transcripts. In every session
//! active in the window, items must be numbered 1, 2, 3, ... without gap or repeat, and
//! their times must not run backwards. Each anomaly is logged as a job event (the job's
//! log is where an operator looks, `GET /v1/jobs/{id}`); the job's result counts them.
//! Anomalies are reported, not repaired: the transcript is the record of what was said.

use crate::handler::{Done, Handler, JobContext, JobError};
use futures_util::future::BoxFuture;
use serde_json::json;

pub const KIND: store::jobs::JobKind = store::jobs::JobKind::TranscriptCheck;

/// Sessions active in the last two days are checked: a nightly run covers the day
/// since the last one, with a day of overlap for a run that was missed.
const DEFAULT_WINDOW_HOURS: i64 = 48;

/// Anomalies logged per run; more are counted as truncated (a broken importer can
/// produce millions, and the log is for people).
const MAX_LOGGED: i64 = 1_000;

#[derive(Clone, Copy, Debug, Default)]
pub struct TranscriptCheck;

impl Handler for TranscriptCheck {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let hours = cx
                .job
                .payload
                .get("window_hours")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(DEFAULT_WINDOW_HOURS)
                .clamp(1, 24 * 366);
            let since = chrono::Utc::now() - chrono::Duration::hours(hours);
            let mut conn = cx.store.acquire().await?;
            let (sessions, anomalies) =
                store::transcript::check_order(&mut conn, since, MAX_LOGGED + 1).await?;
            let truncated = anomalies.len() as i64 > MAX_LOGGED;
            for anomaly in anomalies.iter().take(MAX_LOGGED as usize) {
                let message = format!(
                    "{}: session {} item {} (seq {} after {})",
                    anomaly.kind(),
                    anomaly.session_id,
                    anomaly.item_id,
                    anomaly.seq,
                    anomaly.previous_seq
                );
                tracing::warn!(session_id = %anomaly.session_id, kind = anomaly.kind(), "transcript anomaly");
                let mut data = serde_json::to_value(anomaly).unwrap_or_default();
                data["kind"] = json!(anomaly.kind());
                store::jobs::log(&mut conn, cx.job.id, "log", &message, Some(data)).await?;
            }
            let found = anomalies.len().min(MAX_LOGGED as usize);
            tracing::info!(
                sessions,
                anomalies = found,
                truncated,
                "transcripts checked"
            );
            Ok(Done {
                result: Some(json!({
                    "sessions": sessions,
                    "anomalies": found,
                    "truncated": truncated,
                    "window_hours": hours,
                })),
                ..Done::default()
            })
        })
    }
}
