//! Alerts for people on call: when a draft's last attempt fails, a Slack-compatible JSON
//! message (`text` plus the fields as `blocks`) is POSTed to `DRAFTLINE_ALERT_WEBHOOK`.
//! Any service that takes Slack incoming-webhook payloads (Slack, Mattermost, Discord's
//! `/slack` endpoint, most alert routers) can receive it.

use crate::handler::{JobContext, Reported};
use protocol::ProjectId;
use serde_json::{Value, json};
use std::time::Duration;

/// Longest an alert may take: the worker is waiting on it before its next job.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Alert {
    url: String,
    http: reqwest::Client,
}

/// The webhook's URL is its credential (Slack's carry the secret in the path).
impl std::fmt::Debug for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alert").field("url", &"<redacted>").finish()
    }
}

impl Alert {
    /// A webhook client that gives up after [`TIMEOUT`] and follows no redirect: a
    /// redirect would send the alert (and its job details) to a host nobody configured.
    pub fn new(url: impl Into<String>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url: url.into(),
            http,
        })
    }

    /// The message for a draft that failed for good.
    pub fn draft_payload(
        project: ProjectId,
        job: protocol::JobId,
        attempts: i32,
        summary: &str,
        error: &str,
    ) -> Value {
        let summary = if summary.is_empty() {
            "(no summary yet)"
        } else {
            summary
        };
        let text = format!(
            ":warning: Draft failed after {attempts} attempts. Project {project}, job {job}: {error}"
        );
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": format!("*Project*\n{project}")},
                    {"type": "mrkdwn", "text": format!("*Job*\n{job}")},
                    {"type": "mrkdwn", "text": format!("*Last summary*\n{summary}")},
                    {"type": "mrkdwn", "text": format!("*Error*\n{error}")},
                ]},
            ],
            "project_id": project,
            "job_id": job,
            "last_summary": summary,
            "error": error,
        })
    }

    /// Sends the alert for a failed draft; a webhook that fails is logged, never retried
    /// in a loop (the job's failure is already recorded and visible in the admin API).
    /// People on call get the detail and the error id; clients only ever see the id and
    /// the public message.
    pub async fn draft_failed(&self, cx: &JobContext, project: ProjectId, error: &Reported) {
        let summary = match cx.store.acquire().await {
            Ok(mut conn) => store::documents::get(&mut conn, project)
                .await
                .map(|d| d.summary)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let error = format!("{} (error {})", error.detail, error.error_id);
        let payload = Self::draft_payload(project, cx.job.id, cx.job.attempts, &summary, &error);
        match self.http.post(&self.url).json(&payload).send().await {
            Ok(response) if response.status().is_success() => {
                tracing::info!(job_id = %cx.job.id, "alert sent")
            }
            Ok(response) => {
                tracing::warn!(job_id = %cx.job.id, status = %response.status(), "alert refused")
            }
            Err(e) => tracing::warn!(job_id = %cx.job.id, error = %e, "alert not sent"),
        }
    }
}
