//! `draft.update`: revise a project's document with the configured model. Loads the
//! document and the material new since the last draft (what that draft saw is in its
//! job's result), streams the revised sections to the project as `draft.delta` batches,
//! and applies the result in the transaction that completes the job: a new document
//! version with the job as its source, merged per section with whatever people changed
//! since the draft began. An answer cut off at the completion limit is never stored:
//! the draft asks once more for a shorter revision, then fails saying so. Narrates
//! itself with `tool.progress` (running, completed with a sentence to say aloud,
//! retrying, failed), and raises an alert when the last attempt fails.

use super::deltas::{self, Batching};
use crate::draft::{
    Deltas, Drafted, Excerpt, Prompt, PromptInput, Provider, ProviderError, build_prompt,
    delta_channel, merge,
};
use crate::handler::{Done, Handler, JobContext, JobError, Reported, Writes, Written};
use crate::narrate;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use protocol::entities::{Document, Job, JobStatus, Section, Source};
use protocol::event::{DocumentUpdated, DraftDelta, Event, ToolProgress};
use protocol::{JobId, ProjectId, SessionId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use store::PgConnection;
use store::jobs::draft::DraftPayload;

pub const KIND: store::jobs::JobKind = store::jobs::JobKind::DraftUpdate;

/// Recent transcript items given to every draft beside the ones the job names: enough
/// for the last few exchanges of a conversation.
const RECENT_ITEMS: i64 = 20;

/// Document versions looked through for the last one a draft wrote. People's edits in
/// between each make a version; a draft further back than this counts as none (the next
/// draft then sees all the material, which costs tokens but loses nothing).
const VERSIONS_SEARCHED: i64 = 50;

/// The instruction added when an answer was cut off at the completion limit.
const SHORTER: &str = "Your previous answer was cut off at the length limit. Change only \
the few sections that matter most for the new material, and keep them short.";

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

/// What a draft records in its job's result for the next one: when it read the
/// material, and the last transcript item it saw of each session.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Seen {
    #[serde(default)]
    material_as_of: Option<DateTime<Utc>>,
    #[serde(default)]
    transcript_seen: Vec<(SessionId, i64)>,
}

/// What the draft is made from, as loaded.
struct Loaded {
    input: PromptInput,
    base: Document,
    session: Option<SessionId>,
    /// What this draft saw, for the next one.
    seen: Seen,
}

impl Draft {
    async fn load(&self, cx: &JobContext, project: ProjectId) -> Result<Loaded, JobError> {
        let payload: DraftPayload = serde_json::from_value(cx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("payload: {e}")))?;
        // The claim's time, on the database's clock like every `updated_at` it is
        // compared with: whatever changed before it is read below. What changes between
        // the claim and the reads is read too, and offered again next time (harmless).
        let material_as_of = cx.job.started_at.unwrap_or_else(Utc::now);
        let mut conn = cx.store.acquire().await?;
        let project_row = store::projects::get(&mut conn, project).await?;
        let base = store::documents::get(&mut conn, project).await?;
        // The last version a draft wrote, and what that draft saw.
        let versions = store::documents::versions(&mut conn, project, VERSIONS_SEARCHED).await?;
        let mut previous = Seen::default();
        let mut last_drafted = None;
        if let Some(version) = versions.iter().find(|v| v.source.job_id.is_some()) {
            last_drafted = store::documents::version(&mut conn, project, version.version)
                .await?
                .markdown;
            if let Some(job) = version.source.job_id {
                previous = match store::jobs::get(&mut conn, job).await {
                    Ok(Job {
                        result: Some(result),
                        ..
                    }) => serde_json::from_value(result).map_err(|e| {
                        JobError::Permanent(format!("jobs.result of job {job}: {e}"))
                    })?,
                    // No result, or the job was pruned: the draft starts from the
                    // version alone.
                    Ok(_) | Err(store::StoreError::NotFound { .. }) => Seen::default(),
                    Err(e) => return Err(e.into()),
                };
            }
            previous.material_as_of = previous.material_as_of.or(Some(version.created_at));
        }
        let todos = store::todos::list(&mut conn, project, None).await?;
        let notes = store::notes::list(&mut conn, project).await?;
        // Named by the job (pointers and anchors, said in the asking sessions) or marked
        // during the conversation, each resolved in its own session: an item id said
        // elsewhere, or by someone who may not write to the project, is not picked up.
        let pointers = store::transcript::pointers(&mut conn, project).await?;
        let mut named: Vec<(SessionId, String)> = pointers
            .into_iter()
            .map(|p| (p.session_id, p.item_id))
            .collect();
        let asked = payload
            .message_pointers
            .iter()
            .chain(payload.transcript_anchors.iter().map(|a| &a.item_id));
        for item_id in asked {
            named.extend(payload.sessions.iter().map(|s| (*s, item_id.clone())));
        }
        named.sort();
        named.dedup();
        let pinned = store::transcript::pointed_items(&mut conn, project, &named)
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
            store::transcript::recent_items(&mut conn, project, &payload.sessions, RECENT_ITEMS)
                .await?;
        let memory =
            store::memory::list(&mut conn, project, None, store::memory::CONTEXT_ENTRIES).await?;
        drop(conn);
        let mut input = PromptInput::new(project_row);
        // Done todos stay in: finishing one is a change the next steps should show.
        input.todos = todos;
        input.notes = notes;
        input.pinned = pinned;
        input.recent = recent;
        input.previous_summary = base.summary.clone();
        input.document = base.markdown.clone();
        input.last_drafted = last_drafted;
        input.since = previous.material_as_of;
        input.transcript_seen = previous.transcript_seen.clone();
        input.summary = payload.summary.clone();
        if let Some(urgency) = payload.urgency {
            input.urgency = urgency;
        }
        input.token_budget = self.token_budget;
        input.memory = memory;
        let mut transcript_seen = previous.transcript_seen;
        for item in input
            .recent
            .iter()
            .chain(input.pinned.iter().map(|e| &e.item))
        {
            match transcript_seen
                .iter_mut()
                .find(|(s, _)| *s == item.session_id)
            {
                Some((_, seq)) => *seq = (*seq).max(item.seq),
                None => transcript_seen.push((item.session_id, item.seq)),
            }
        }
        Ok(Loaded {
            input,
            base,
            session: payload.sessions.last().copied(),
            seen: Seen {
                material_as_of: Some(material_as_of),
                transcript_seen,
            },
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
    ) -> Result<Drafted, ProviderError> {
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
        drafted
    }

    /// Runs the model without a preview (the second request after a cut-off answer:
    /// clients already saw the first one's beginning).
    async fn quietly(
        &self,
        cx: &JobContext,
        prompt: &Prompt,
        input: &PromptInput,
    ) -> Result<Drafted, ProviderError> {
        let (tx, mut rx) = delta_channel();
        let drain = async { while rx.recv().await.is_some() {} };
        let drafting = async {
            let deltas: Deltas = tx;
            self.provider
                .draft(prompt, input, &deltas, &cx.cancel)
                .await
        };
        let (drafted, ()) = tokio::join!(drafting, drain);
        drafted
    }

    /// Drafts; an answer cut off at the completion limit is asked for once more with
    /// the instruction to change less, then fails for good.
    async fn draft(
        &self,
        cx: &JobContext,
        project: ProjectId,
        input: &PromptInput,
    ) -> Result<Drafted, JobError> {
        let prompt = build_prompt(input);
        match self.stream(cx, project, &prompt, input).await {
            Err(ProviderError::Truncated) => {
                tracing::warn!("the answer was cut off at the completion limit; asking for less");
                let mut shorter = input.clone();
                shorter.summary = Some(match &input.summary {
                    Some(focus) => format!("{focus} {SHORTER}"),
                    None => SHORTER.to_owned(),
                });
                let prompt = build_prompt(&shorter);
                Ok(self.quietly(cx, &prompt, &shorter).await?)
            }
            other => Ok(other?),
        }
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
                seen,
            } = self.load(cx, project).await?;
            let mut running = Self::progress(cx, project, session, JobStatus::Running);
            running.narration = Some(narrate::draft_started());
            cx.topics
                .publish_project(project, &[Event::ToolProgress(running)])
                .await;

            let drafted = self.draft(cx, project, &input).await?;
            if drafted.markdown.trim().is_empty() {
                return Err(JobError::Retryable(
                    "the model answered an empty document".into(),
                ));
            }
            for warning in &drafted.warnings {
                tracing::warn!(warning = %warning, "draft warning");
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
                    seen,
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
        error: &'a Reported,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(project) = cx.job.project_id else {
                return;
            };
            let mut progress = Self::progress(cx, project, None, status);
            progress.error = Some(error.message.clone());
            progress.narration = Some(narrate::draft_failed(status == JobStatus::Retrying));
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
    seen: Seen,
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
                seen,
                started,
                mut progress,
            } = *self;
            // Locked until the commit: no edit lands between the merge and the write.
            let current = store::documents::get_for_update(conn, project).await?;
            let merged = merge(&base.markdown, &current.markdown, &drafted.markdown);
            let elapsed = started.elapsed();
            for warning in &drafted.warnings {
                store::jobs::log(conn, job, "log", &format!("warning: {warning}"), None).await?;
            }
            if merged.markdown == current.markdown {
                // Nothing new to say (or only what people already wrote): no version.
                metrics::histogram!(DRAFT_SECONDS).record(elapsed.as_secs_f64());
                progress.summary = Some(current.summary.clone());
                progress.sections = Some(titles(&current.sections));
                progress.narration = Some(narrate::draft_unchanged());
                let mut result = json!({
                    "document_id": current.id,
                    "version": current.version,
                    "base_version": base.version,
                    "unchanged": true,
                    "changed": [],
                    "conflicts": [],
                    "duration_ms": elapsed.as_millis() as u64,
                });
                extend(&mut result, &seen);
                return Ok(Written {
                    events: vec![Event::ToolProgress(progress)],
                    result: Some(result),
                });
            }
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
            metrics::histogram!(DRAFT_SECONDS).record(elapsed.as_secs_f64());
            metrics::counter!(DRAFT_CONFLICTS).increment(conflicts.len() as u64);
            let mut result = json!({
                "document_id": after.id,
                "version": after.version,
                "base_version": base.version,
                "merged_over_version": (current.version != base.version).then_some(current.version),
                "conflicts": conflicts,
                "changed": changed,
                "sections": drafted.sections,
                "touched": drafted.touched,
                "duration_ms": elapsed.as_millis() as u64,
            });
            extend(&mut result, &seen);
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
            progress.narration = Some(narrate::draft_finished(&drafted.summary, &changed, &kept));
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

/// Adds what the draft saw to its result, where the next draft reads it.
fn extend(result: &mut serde_json::Value, seen: &Seen) {
    if let (Some(object), Ok(serde_json::Value::Object(seen))) =
        (result.as_object_mut(), serde_json::to_value(seen))
    {
        object.extend(seen);
    }
}
