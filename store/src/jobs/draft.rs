//! The dedup rules of draft requests (docs/protocol.md section 9.5, `queue_draft_update`):
//! a request for a project with a draft job still waiting merges into it; the same
//! project and summary within the throttle window, at no higher urgency, answers the
//! job already made; otherwise a new job is queued (behind a running one, so at most
//! one waits per project).

use super::lifecycle::{NewJob, enqueue};
use super::{COLUMNS, JobKind, JobRow, log};
use crate::StoreError;
use protocol::entities::{Job, Urgency};
use protocol::tools::args::TranscriptAnchor;
use protocol::{ProjectId, SessionId};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use std::time::Duration;

/// Most message pointers a waiting job accumulates over merged requests: what one
/// request may carry (`MAX_POINTERS`), so merging buys no more than asking once.
pub const MAX_MERGED_POINTERS: usize = protocol::tools::args::MAX_POINTERS;
/// Most transcript anchors a waiting job accumulates, for the same reason.
pub const MAX_MERGED_ANCHORS: usize = protocol::tools::args::MAX_POINTERS;
/// Most characters of anchor quotes a waiting job accumulates: the default WebSocket
/// frame (64 KiB), so a job's quotes stay what one message could carry, well inside the
/// prompt's budget before it trims.
pub const MAX_MERGED_QUOTE_CHARS: usize = 64 * 1024;
/// Most asking sessions a job records; beyond, the oldest are forgotten (they only
/// widen the transcript the draft reads).
pub const MAX_MERGED_SESSIONS: usize = 32;

/// What a draft job's payload holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftPayload {
    pub urgency: Option<Urgency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default)]
    pub message_pointers: Vec<String>,
    #[serde(default)]
    pub transcript_anchors: Vec<TranscriptAnchor>,
    /// The sessions that asked, in order.
    #[serde(default)]
    pub sessions: Vec<SessionId>,
    /// How many requests this job answers.
    #[serde(default)]
    pub requests: u32,
    /// Where the conversation stood when the last request came: the asking session's
    /// mode, phase and blueprint dimensions covered, and the document's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

/// One request for a draft.
#[derive(Clone, Debug)]
pub struct DraftRequest {
    pub project_id: ProjectId,
    pub session_id: Option<SessionId>,
    pub urgency: Urgency,
    pub summary: Option<String>,
    pub message_pointers: Vec<String>,
    pub transcript_anchors: Vec<TranscriptAnchor>,
    pub context: Option<serde_json::Value>,
}

/// How a request was answered (the wire's `queue_draft_update` status).
pub use protocol::tools::output::DraftOutcome;

/// A draft job's stored payload; one that does not decode is an error naming the job.
fn stored_payload(job: &Job) -> Result<DraftPayload, StoreError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| StoreError::Decode(format!("jobs.payload of job {}: {e}", job.id)))
}

/// The summary as the throttle compares it: trimmed, lower case, single spaces.
fn normalize(summary: Option<&str>) -> String {
    summary
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl DraftPayload {
    /// Folds a later request into this one: pointers and anchors added (no repeats),
    /// urgency raised, summary replaced when the request has one. What accumulates is
    /// capped, the newest kept: a client that keeps asking while a job waits cannot
    /// grow its payload (and the draft's prompt) without bound.
    fn merge(&mut self, req: &DraftRequest) {
        self.urgency = Some(self.urgency.map_or(req.urgency, |u| u.max(req.urgency)));
        if req.summary.is_some() {
            self.summary = req.summary.clone();
        }
        for p in &req.message_pointers {
            if !self.message_pointers.contains(p) {
                self.message_pointers.push(p.clone());
            }
        }
        for a in &req.transcript_anchors {
            if !self.transcript_anchors.contains(a) {
                self.transcript_anchors.push(a.clone());
            }
        }
        if let Some(s) = req.session_id
            && !self.sessions.contains(&s)
        {
            self.sessions.push(s);
        }
        self.requests = self.requests.saturating_add(1);
        if req.context.is_some() {
            self.context = req.context.clone();
        }
        self.cap();
    }

    /// Drops the oldest pointers, anchors and sessions beyond the caps.
    fn cap(&mut self) {
        keep_newest(&mut self.message_pointers, MAX_MERGED_POINTERS);
        keep_newest(&mut self.transcript_anchors, MAX_MERGED_ANCHORS);
        keep_newest(&mut self.sessions, MAX_MERGED_SESSIONS);
        let quote_chars = |anchors: &[TranscriptAnchor]| -> usize {
            anchors
                .iter()
                .filter_map(|a| a.quote.as_deref())
                .map(|q| q.chars().count())
                .sum()
        };
        let mut chars = quote_chars(&self.transcript_anchors);
        while chars > MAX_MERGED_QUOTE_CHARS && !self.transcript_anchors.is_empty() {
            let dropped = self.transcript_anchors.remove(0);
            chars -= dropped.quote.as_deref().map_or(0, |q| q.chars().count());
        }
    }
}

/// Keeps the last `max` items.
fn keep_newest<T>(items: &mut Vec<T>, max: usize) {
    if items.len() > max {
        items.drain(..items.len() - max);
    }
}

/// Applies the rules in the caller's transaction. Requests for one project are
/// serialized by a transaction-scoped advisory lock, so two at once cannot both queue.
/// A `Queued` job must be dispatched after the commit.
pub async fn request(
    conn: &mut PgConnection,
    req: &DraftRequest,
    throttle: Duration,
) -> Result<(Job, DraftOutcome), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('draft:' || $1::text, 0))")
        .bind(req.project_id)
        .execute(&mut *conn)
        .await?;
    let hash = normalize(req.summary.as_deref());

    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id = $1 AND kind = $2 AND status = 'queued' \
         ORDER BY created_at LIMIT 1 FOR UPDATE"
    );
    let waiting: Option<JobRow> = sqlx::query_as(&sql)
        .bind(req.project_id)
        .bind(JobKind::DraftUpdate.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(waiting) = waiting {
        let job: Job = waiting.try_into()?;
        let mut payload = stored_payload(&job)?;
        payload.merge(req);
        let urgency = payload.urgency.unwrap_or(req.urgency);
        let sql = format!(
            "UPDATE jobs SET payload = $2, priority = GREATEST(priority, $3), \
               dedup_hash = md5($4), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        );
        let row: JobRow = sqlx::query_as(&sql)
            .bind(job.id)
            .bind(Json(&payload))
            .bind(urgency.priority())
            .bind(normalize(payload.summary.as_deref()))
            .fetch_one(&mut *conn)
            .await?;
        log(conn, job.id, "log", "merged a draft request", None).await?;
        return Ok((row.try_into()?, DraftOutcome::Merged));
    }

    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id = $1 AND kind = $2 AND dedup_hash = md5($3) \
           AND created_at > now() - $4 * interval '1 millisecond' \
           AND status IN ('queued', 'running', 'completed') \
         ORDER BY created_at DESC LIMIT 1"
    );
    let recent: Option<JobRow> = sqlx::query_as(&sql)
        .bind(req.project_id)
        .bind(JobKind::DraftUpdate.as_str())
        .bind(&hash)
        .bind(throttle.as_secs_f64() * 1000.0)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(recent) = recent {
        let job: Job = recent.try_into()?;
        let payload = stored_payload(&job)?;
        if req.urgency <= payload.urgency.unwrap_or(Urgency::Normal) {
            return Ok((job, DraftOutcome::Throttled));
        }
    }

    let mut payload = DraftPayload::default();
    payload.merge(req);
    let mut new = NewJob::new(
        JobKind::DraftUpdate,
        serde_json::to_value(&payload).map_err(|e| StoreError::Decode(e.to_string()))?,
    );
    new.project_id = Some(req.project_id);
    new.session_id = req.session_id;
    new.priority = req.urgency.priority();
    let enqueued = enqueue(conn, &new).await?;
    sqlx::query("UPDATE jobs SET dedup_hash = md5($2) WHERE id = $1")
        .bind(enqueued.job.id)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok((enqueued.job, DraftOutcome::Queued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_compare_without_case_or_spacing() {
        assert_eq!(normalize(Some("  Add the  Goals ")), "add the goals");
        assert_eq!(normalize(None), "");
    }

    #[test]
    fn merging_adds_without_repeats_and_raises_urgency() {
        let mut payload = DraftPayload::default();
        let mut req = DraftRequest {
            project_id: ProjectId::new(),
            session_id: None,
            urgency: Urgency::High,
            summary: Some("first".into()),
            message_pointers: vec!["a".into()],
            transcript_anchors: vec![],
            context: None,
        };
        payload.merge(&req);
        req.urgency = Urgency::Low;
        req.summary = None;
        req.message_pointers = vec!["a".into(), "b".into()];
        payload.merge(&req);
        assert_eq!(payload.urgency, Some(Urgency::High));
        assert_eq!(payload.summary.as_deref(), Some("first"));
        assert_eq!(payload.message_pointers, ["a", "b"]);
        assert_eq!(payload.requests, 2);
    }

    #[test]
    fn merged_requests_accumulate_no_more_than_the_caps_keeping_the_newest() {
        let mut payload = DraftPayload::default();
        for round in 0..5 {
            let mut req = DraftRequest {
                project_id: ProjectId::new(),
                session_id: None,
                urgency: Urgency::Normal,
                summary: None,
                message_pointers: (0..MAX_MERGED_POINTERS)
                    .map(|i| format!("p{round}-{i}"))
                    .collect(),
                transcript_anchors: (0..100)
                    .map(|i| TranscriptAnchor {
                        item_id: format!("a{round}-{i}"),
                        quote: Some("q".repeat(1_000)),
                    })
                    .collect(),
                context: None,
            };
            for _ in 0..10 {
                req.session_id = Some(SessionId::new());
                payload.merge(&req);
            }
        }
        assert_eq!(payload.message_pointers.len(), MAX_MERGED_POINTERS);
        assert_eq!(payload.message_pointers[0], "p4-0", "the newest are kept");
        let chars: usize = payload
            .transcript_anchors
            .iter()
            .filter_map(|a| a.quote.as_ref())
            .map(String::len)
            .sum();
        assert!(chars <= MAX_MERGED_QUOTE_CHARS, "{chars}");
        assert!(payload.transcript_anchors.len() <= MAX_MERGED_ANCHORS);
        assert_eq!(
            payload
                .transcript_anchors
                .last()
                .map(|a| a.item_id.as_str()),
            Some("a4-99")
        );
        assert_eq!(payload.sessions.len(), MAX_MERGED_SESSIONS);
        assert_eq!(payload.requests, 50);
    }
}
