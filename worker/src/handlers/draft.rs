//! `draft.update`: redraft a project's document with the configured model. Loads what
//! the draft is made from, streams the model's text to the project as `draft.delta`
//! batches, and applies the result in the transaction that completes the job: a new
//! document version with the job as its source, merged per section with whatever people
//! changed since the draft began. Narrates itself with `tool.progress` (running,
//! completed with a sentence to say aloud, retrying, failed), and raises an alert when
//! the last attempt fails.

use super::deltas::{self, Batching};
use crate::draft::{
    Deltas, Drafted, Excerpt, Prompt, PromptInput, Provider, build_prompt, delta_channel, merge,
    narration,
};
use crate::handler::{Done, Handler, JobContext, JobError, Writes, Written};
use futures_util::future::BoxFuture;
use protocol::entities::{Document, JobStatus, Section, Source, TodoStatus};
use protocol::event::{DocumentUpdated, DraftDelta, Event, ToolProgress};
use protocol::{JobId, ProjectId, SessionId};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use store::PgConnection;
use store::jobs::draft::DraftPayload;

pub use store::jobs::DRAFT_KIND as KIND;

/// Recent transcript items given to every draft beside the ones the job names: enough
/// for the last few exchanges of a conversation.
const RECENT_ITEMS: i64 = 20;

/// Draft duration, by outcome.
pub const DRAFT_SECONDS: &str = "draftline_draft_duration_seconds";
/// Model tokens used by drafts, by `kind` (prompt, completion).
pub const DRAFT_TOKENS: &str = "draftline_draft_tokens_total";
/// Sections kept as people wrote them because a draft changed them too.
pub const DRAFT_CONFLICTS: &str = "draftline_draft_conflicts_total";

pub struct Draft {
    pub provider: Arc<dyn Provider>,
    pub batching: Batching,
    pub token_budget: usize,
    /// Where an alert goes when a draft's last attempt fails.
    pub alert: Option<super::alert::Alert>,
}

/// What the draft is made from, as loaded.
struct Loaded {
    input: PromptInput,
    base: Document,
    session: Option<SessionId>,
}

impl Draft {
    async fn load(&self, cx: &JobContext, project: ProjectId) -> Result<Loaded, JobError> {
        let payload: DraftPayload = serde_json::from_value(cx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("payload: {e}")))?;
        let mut conn = cx.store.acquire().await?;
        let project_row = store::projects::get(&mut conn, project).await?;
        let base = store::documents::get(&mut conn, project).await?;
        let todos = store::todos::list(&mut conn, project, None).await?;
        let notes = store::notes::list(&mut conn, project).await?;
        // Named by the job (pointers, anchors) or marked during the conversation.
        let pointers = store::transcript::pointers(&mut conn, project).await?;
        let mut named: Vec<String> = payload.message_pointers.clone();
        named.extend(payload.transcript_anchors.iter().map(|a| a.item_id.clone()));
        named.extend(pointers.into_iter().map(|p| p.item_id));
        named.sort();
        named.dedup();
        let pinned = store::transcript::items_named(&mut conn, project, &named)
            .await?
            .into_iter()
            .map(|item| {
                let quote = payload
                    .transcript_anchors
                    .iter()
                    .find(|a| a.item_id == item.item_id)
                    .and_then(|a| a.quote.clone());
                Excerpt { item, quote }
            })
            .collect();
        let recent =
            store::transcript::recent_items(&mut conn, &payload.sessions, RECENT_ITEMS).await?;
        let memory =
            store::memory::list(&mut conn, project, None, store::memory::CONTEXT_ENTRIES).await?;
        drop(conn);
        let mut input = PromptInput::new(project_row);
        input.todos = todos
            .into_iter()
            .filter(|t| t.status != TodoStatus::Done)
            .collect();
        input.notes = notes;
        input.pinned = pinned;
        input.recent = recent;
        input.previous_summary = base.summary.clone();
        input.outline = base.sections.clone();
        input.summary = payload.summary.clone();
        if let Some(urgency) = payload.urgency {
            input.urgency = urgency;
        }
        input.token_budget = self.token_budget;
        input.memory = memory;
        Ok(Loaded {
            input,
            base,
            session: payload.sessions.last().copied(),
        })
    }

    fn progress(
        cx: &JobContext,
        project: ProjectId,
        session: Option<SessionId>,
        status: JobStatus,
    ) -> ToolProgress {
        ToolProgress {
            job_id: cx.job.id,
            project_id: project,
            session_id: session.or(cx.job.session_id),
            status,
            summary: None,
            error: None,
            sections: None,
            narration: None,
        }
    }

    /// Runs the model while its text goes out in batches; answers what it drafted.
    async fn stream(
        &self,
        cx: &JobContext,
        project: ProjectId,
        prompt: &Prompt,
        input: &PromptInput,
    ) -> Result<Drafted, JobError> {
        let (tx, rx) = delta_channel();
        let job = cx.job.id;
        let batches = deltas::publish(cx, project, rx, self.batching, |seq, text| {
            Event::DraftDelta(DraftDelta {
                job_id: job,
                seq,
                text,
            })
        });
        let drafting = async {
            let deltas: Deltas = tx;
            self.provider
                .draft(prompt, input, &deltas, &cx.cancel)
                .await
            // `deltas` drops here, so the batcher sends what is left and ends.
        };
        let (drafted, ()) = tokio::join!(drafting, batches);
        Ok(drafted?)
    }
}

impl Handler for Draft {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let started = Instant::now();
            let project = cx
                .job
                .project_id
                .ok_or_else(|| JobError::Permanent("a draft job needs a project".into()))?;
            let Loaded {
                input,
                base,
                session,
            } = self.load(cx, project).await?;
            let mut running = Self::progress(cx, project, session, JobStatus::Running);
            running.narration = Some("I'm updating the draft now.".into());
            cx.topics
                .publish_project(project, &[Event::ToolProgress(running)])
                .await;

            let prompt = build_prompt(&input);
            let drafted = self.stream(cx, project, &prompt, &input).await?;
            if drafted.markdown.trim().is_empty() {
                return Err(JobError::Retryable(
                    "the model answered an empty document".into(),
                ));
            }
            metrics::counter!(DRAFT_TOKENS, "kind" => "prompt")
                .increment(drafted.usage.prompt_tokens);
            metrics::counter!(DRAFT_TOKENS, "kind" => "completion")
                .increment(drafted.usage.completion_tokens);
            let usage = serde_json::to_value(drafted.usage).ok();
            let summary = drafted.summary.clone();
            Ok(Done {
                result: None,
                usage,
                summary: Some(summary.clone()),
                writes: Some(Box::new(Apply {
                    job: cx.job.id,
                    project,
                    session,
                    base,
                    drafted,
                    started,
                    progress: Self::progress(cx, project, session, JobStatus::Completed),
                })),
                events: Vec::new(),
            })
        })
    }

    fn failed<'a>(
        &'a self,
        cx: &'a JobContext,
        status: JobStatus,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(project) = cx.job.project_id else {
                return;
            };
            let mut progress = Self::progress(cx, project, None, status);
            progress.error = Some(error.to_owned());
            progress.narration = Some(match status {
                JobStatus::Retrying => "The draft hit a problem; I'm trying again.".into(),
                _ => "I couldn't update the draft this time.".into(),
            });
            cx.topics
                .publish_project(project, &[Event::ToolProgress(progress)])
                .await;
            if status == JobStatus::Failed
                && let Some(alert) = &self.alert
            {
                alert.draft_failed(cx, project, error).await;
            }
        })
    }
}

/// The document write, in the completing transaction.
struct Apply {
    job: JobId,
    project: ProjectId,
    session: Option<SessionId>,
    base: Document,
    drafted: Drafted,
    started: Instant,
    progress: ToolProgress,
}

/// Section titles of `sections` that are `##` or deeper (the `#` title is the project's
/// name, not a section to narrate).
fn titles(sections: &[Section]) -> Vec<String> {
    sections
        .iter()
        .filter(|s| s.level >= 2)
        .map(|s| s.title.clone())
        .collect()
}

impl Writes for Apply {
    fn apply<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<Written, JobError>> {
        Box::pin(async move {
            let Apply {
                job,
                project,
                session,
                base,
                drafted,
                started,
                mut progress,
            } = *self;
            // Locked until the commit: no edit lands between the merge and the write.
            let current = store::documents::get_for_update(conn, project).await?;
            let merged = merge(&base.markdown, &current.markdown, &drafted.markdown);
            let conflicts: Vec<String> = merged.conflicts.iter().map(|s| s.key.clone()).collect();
            let source = Source {
                job_id: Some(job),
                session_id: session,
            };
            let change = store::documents::NewVersion {
                base_version: Some(current.version),
                markdown: &merged.markdown,
                summary: Some(&drafted.summary),
                source: source.clone(),
            };
            let (_, after) = store::documents::write(conn, project, change).await?;
            let changed = titles(&merged.changed);
            let kept = titles(&merged.conflicts);
            let elapsed = started.elapsed();
            metrics::histogram!(DRAFT_SECONDS).record(elapsed.as_secs_f64());
            metrics::counter!(DRAFT_CONFLICTS).increment(conflicts.len() as u64);
            let result = json!({
                "document_id": after.id,
                "version": after.version,
                "base_version": base.version,
                "merged_over_version": (current.version != base.version).then_some(current.version),
                "conflicts": conflicts,
                "changed": changed,
                "sections": drafted.sections,
                "duration_ms": elapsed.as_millis() as u64,
            });
            store::jobs::log(
                conn,
                job,
                "artifact",
                "document version written",
                Some(json!({
                    "version": after.version,
                    "conflicts": conflicts,
                    "duration_ms": elapsed.as_millis() as u64,
                })),
            )
            .await?;
            progress.summary = Some(drafted.summary.clone());
            progress.sections = Some(drafted.sections.clone());
            progress.narration = Some(narration(&drafted.summary, &changed, &kept));
            let document = Event::DocumentUpdated(DocumentUpdated {
                project_id: project,
                document_id: after.id,
                version: after.version,
                summary: after.summary.clone(),
                sections: after.sections.clone(),
                source,
                conflicts: (!conflicts.is_empty()).then_some(conflicts),
            });
            Ok(Written {
                events: vec![document, Event::ToolProgress(progress)],
                result: Some(result),
            })
        })
    }
}
