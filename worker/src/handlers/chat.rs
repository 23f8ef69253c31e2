//! `chat.reply`: answers a person's chat message with the configured model. Loads the
//! message, the project, the document's summary and the recent chat; streams the reply
//! to the project as `chat.delta` batches; stores the reply in the transaction that
//! completes the job and publishes it as `chat.message` once that has committed.

use super::deltas::{self, Batching};
use crate::config::WorkerConfig;
use crate::draft::{ChatInput, ChatPrompt, Provider, Reply, build_chat_prompt, delta_channel};
use crate::handler::{Done, Handler, JobContext, JobError, Writes, Written};
use futures_util::future::BoxFuture;
use protocol::entities::ChatRole;
use protocol::event::Event;
use protocol::{JobId, MessageId, ProjectId, SessionId};
use serde_json::json;
use std::sync::Arc;
use store::PgConnection;
use store::chat::{NewMessage, ReplyPayload};

pub const KIND: store::jobs::JobKind = store::jobs::JobKind::ChatReply;

/// Messages of the chat a reply sees, the one it answers included: about ten exchanges,
/// enough for a follow-up question to make sense; the prompt's token budget trims
/// further when they are long.
const CONTEXT_MESSAGES: i64 = 20;

/// The `chat.reply` handler.
pub struct ChatReply {
    pub provider: Arc<dyn Provider>,
    /// How the reply's text is batched into `chat.delta` events.
    pub batching: Batching,
    /// The prompt's budget in estimated tokens.
    pub token_budget: usize,
}

impl ChatReply {
    /// A handler with the worker's delta batching (the same as drafts': docs/protocol.md section 10.3, at
    /// most every 250 ms or 500 characters by default) and prompt budget.
    pub fn new(provider: Arc<dyn Provider>, config: &WorkerConfig) -> Self {
        Self {
            provider,
            batching: Batching::of(config),
            // `builtin` checked the budget before; the default stands in for a config
            // that was never checked.
            token_budget: config
                .model
                .prompt_budget()
                .unwrap_or(crate::draft::prompt::DEFAULT_TOKEN_BUDGET),
        }
    }

    /// What the reply is made from. The connection goes back to the pool before the
    /// model is called: a reply can take seconds, a pooled connection should not.
    async fn load(
        &self,
        cx: &JobContext,
        project: ProjectId,
        payload: &ReplyPayload,
    ) -> Result<ChatInput, JobError> {
        let mut conn = cx.store.acquire().await?;
        let message = store::chat::get(&mut conn, payload.message_id).await?;
        if message.project_id != project {
            return Err(JobError::Permanent(format!(
                "chat message {} belongs to another project",
                message.id
            )));
        }
        let history = store::chat::context(&mut conn, &message, CONTEXT_MESSAGES).await?;
        let document = store::documents::get(&mut conn, project).await?;
        let memory =
            store::memory::list(&mut conn, project, None, store::memory::CONTEXT_ENTRIES).await?;
        let project = store::projects::get(&mut conn, project).await?;
        let mut input = ChatInput::new(project);
        input.memory = memory;
        input.document_summary = document.summary;
        input.document_version = document.version;
        input.outline = document.sections;
        input.history = history;
        input.token_budget = self.token_budget;
        Ok(input)
    }

    /// Runs the model while its text goes out in batches; answers the reply.
    async fn stream(
        &self,
        cx: &JobContext,
        project: ProjectId,
        reply_id: MessageId,
        prompt: &ChatPrompt,
        input: &ChatInput,
    ) -> Result<Reply, JobError> {
        let (tx, rx) = delta_channel();
        let publishing = deltas::publish(cx, project, rx, self.batching, |seq, text| {
            Event::ChatDelta {
                message_id: reply_id,
                seq,
                text,
            }
        });
        let writing = async {
            let deltas = tx;
            self.provider
                .reply(prompt, input, &deltas, &cx.cancel)
                .await
            // `deltas` drops here: the batcher sends what is left and ends.
        };
        let (reply, ()) = tokio::join!(writing, publishing);
        Ok(reply?)
    }
}

impl Handler for ChatReply {
    fn run<'a>(&'a self, cx: &'a JobContext) -> BoxFuture<'a, Result<Done, JobError>> {
        Box::pin(async move {
            let payload: ReplyPayload = serde_json::from_value(cx.job.payload.clone())
                .map_err(|e| JobError::Permanent(format!("payload: {e}")))?;
            let project = cx
                .job
                .project_id
                .ok_or_else(|| JobError::Permanent("a chat reply needs a project".into()))?;
            let input = self.load(cx, project, &payload).await?;
            let prompt = build_chat_prompt(&input);
            let reply = self
                .stream(cx, project, payload.reply_id, &prompt, &input)
                .await?;
            tracing::debug!(
                provider = self.provider.name(),
                chars = reply.text.chars().count(),
                prompt_tokens = reply.usage.prompt_tokens,
                completion_tokens = reply.usage.completion_tokens,
                "chat reply written"
            );
            Ok(Done {
                result: Some(json!({
                    "message_id": payload.reply_id,
                    "reply_to": payload.message_id,
                    "provider": self.provider.name(),
                })),
                usage: serde_json::to_value(reply.usage).ok(),
                summary: None,
                writes: Some(Box::new(StoreReply {
                    id: payload.reply_id,
                    project,
                    session: cx.job.session_id,
                    reply_to: payload.message_id,
                    job: cx.job.id,
                    text: reply.text,
                })),
                // `chat.message` comes from the write, with the row as stored.
                events: Vec::new(),
            })
        })
    }
}

/// The reply's row, written in the completing transaction.
struct StoreReply {
    id: MessageId,
    project: ProjectId,
    session: Option<SessionId>,
    reply_to: MessageId,
    job: JobId,
    text: String,
}

impl Writes for StoreReply {
    fn apply<'a>(
        self: Box<Self>,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<Written, JobError>> {
        Box::pin(async move {
            let message = store::chat::insert(
                conn,
                &NewMessage {
                    id: self.id,
                    project_id: self.project,
                    role: ChatRole::Assistant,
                    author_id: None,
                    session_id: self.session,
                    reply_to: Some(self.reply_to),
                    text: &self.text,
                    job_id: Some(self.job),
                    created_at: None,
                },
            )
            .await?;
            Ok(Written {
                events: vec![Event::ChatMessage { message }],
                result: None,
            })
        })
    }
}
