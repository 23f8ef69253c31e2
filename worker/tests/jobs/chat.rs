//! `chat.reply` end to end: a worker answers a stored message, streaming `chat.delta`
//! under the reply's id in order, then storing the reply and publishing `chat.message`;
//! a retried attempt keeps the reply's id and stores one row; a cancelled job stores
//! nothing.

use crate::support::*;
use futures_util::future::BoxFuture;
use protocol::client::Position;
use protocol::entities::{ChatMessage, ChatRole, JobStatus};
use protocol::event::project_topic;
use protocol::{MessageId, ProjectId, UserId};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use store::chat::{NewMessage, ReplyPayload};
use store::topics::{Retention, Topics};
use tokio_util::sync::CancellationToken;
use worker::Registry;
use worker::draft::{
    ChatInput, ChatPrompt, Compose, Deltas, Drafted, Prompt, PromptInput, Provider, ProviderError,
    Reply,
};
use worker::handlers::chat::{ChatReply, KIND};

/// The chat handler with small batches, so a reply makes several deltas.
fn registry(provider: Arc<dyn Provider>) -> Registry {
    Registry::new().register(
        KIND,
        ChatReply {
            provider,
            batching: worker::handlers::deltas::Batching {
                interval: Duration::from_millis(20),
                chars: 40,
            },
            token_budget: 6_000,
        },
    )
}

/// A person's message in the project's chat.
async fn say(env: &Env, project: ProjectId, text: &str) -> ChatMessage {
    let mut conn = env.store.acquire().await.unwrap();
    store::chat::insert(
        &mut conn,
        &NewMessage {
            id: MessageId::new(),
            project_id: project,
            role: ChatRole::User,
            author_id: Some(&UserId::from("tester")),
            session_id: None,
            reply_to: None,
            text,
            job_id: None,
            created_at: None,
        },
    )
    .await
    .unwrap()
}

fn topics(env: &Env) -> Topics {
    env.dispatch.topics(Retention::default())
}

/// The events published on the project's topic after `since`, in order.
async fn events_since(env: &Env, project: ProjectId, since: &Position) -> Vec<Value> {
    let history = topics(env)
        .since(&project_topic(project), since, 10_000)
        .await
        .unwrap();
    assert!(history.recovered);
    history
        .events
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.frame).unwrap()["event"].clone())
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

async fn chat(env: &Env, project: ProjectId) -> Vec<ChatMessage> {
    let mut conn = env.store.acquire().await.unwrap();
    store::chat::list(&mut conn, project, 100).await.unwrap()
}

fn payload(job: &protocol::entities::Job) -> ReplyPayload {
    serde_json::from_value(job.payload.clone()).unwrap()
}

#[tokio::test]
async fn a_reply_streams_in_order_then_is_stored_and_published() {
    let env = Env::new().await;
    let project = env.project().await;
    let question = say(&env, project, "What should we cover next?").await;
    let start = topics(&env)
        .position(&project_topic(project))
        .await
        .unwrap();

    let job = env
        .enqueue(store::chat::reply_job(project, None, question.id))
        .await;
    // Enqueueing the same message's reply again answers the same job.
    let again = env
        .enqueue(store::chat::reply_job(project, None, question.id))
        .await;
    assert_eq!(again.id, job.id);
    assert_eq!(job.kind, "chat.reply");
    let reply_id = payload(&job).reply_id;
    assert_eq!(payload(&job).message_id, question.id);

    let provider = Arc::new(Compose::new(Duration::from_millis(2)));
    let (stop, handle) = env.worker(fast_config(), registry(provider));
    let done = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == JobStatus::Completed
        })
        .await;
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(done.attempts, 1);

    // The reply is stored after the question, written by the job.
    let messages = chat(&env, project).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0], question);
    let reply = &messages[1];
    assert_eq!(reply.id, reply_id);
    assert_eq!(reply.role, ChatRole::Assistant);
    assert_eq!(reply.author_id, None);
    assert_eq!(reply.job_id, Some(job.id));
    assert!(
        reply
            .text
            .starts_with("Noted: “What should we cover next?”")
    );
    assert!(reply.text.contains("A good next question: "));

    // Deltas under the reply's id, numbered from 0, that spell the reply; then the
    // stored message, once, after every delta.
    let events = events_since(&env, project, &start).await;
    let deltas = of_kind(&events, "chat.delta");
    assert!(deltas.len() > 3, "{} deltas", deltas.len());
    let seqs: Vec<u64> = deltas.iter().map(|d| d["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..deltas.len() as u64).collect::<Vec<_>>());
    assert!(
        deltas
            .iter()
            .all(|d| d["message_id"] == reply_id.to_string())
    );
    let text: String = deltas.iter().map(|d| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, reply.text);
    let published = of_kind(&events, "chat.message");
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0]["message"],
        serde_json::to_value(reply).unwrap()
    );
    let last_delta = events.iter().rposition(|e| e["kind"] == "chat.delta");
    let message_at = events.iter().position(|e| e["kind"] == "chat.message");
    assert!(
        message_at > last_delta,
        "chat.message comes after the deltas"
    );

    // The job's result and usage say what was written.
    let result = done.result.unwrap();
    assert_eq!(result["message_id"], reply_id.to_string());
    assert_eq!(result["reply_to"], question.id.to_string());
    assert!(done.usage.unwrap()["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_reply_sees_the_chat_up_to_its_message() {
    let env = Env::new().await;
    let project = env.project().await;
    say(&env, project, "First question").await;
    let question = say(&env, project, "Second question").await;
    // Sent while the reply waits: not part of the conversation it answers.
    let later = say(&env, project, "Third question").await;

    let job = env
        .enqueue(store::chat::reply_job(project, None, question.id))
        .await;
    let (stop, handle) = env.worker(fast_config(), registry(Arc::new(Compose::default())));
    env.wait_for(job.id, Duration::from_secs(10), |j| {
        j.status == JobStatus::Completed
    })
    .await;
    stop.cancel();
    handle.await.unwrap();

    let messages = chat(&env, project).await;
    let reply = messages.last().unwrap();
    assert!(
        reply.text.starts_with("Noted: “Second question”"),
        "{}",
        reply.text
    );
    let mut conn = env.store.acquire().await.unwrap();
    let context = store::chat::context(&mut conn, &later, 2).await.unwrap();
    assert_eq!(
        context.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["Second question", "Third question"],
        "the newest messages up to the one answered, oldest first"
    );
}

/// Streams part of a reply and fails (a broken model stream) on its first call; writes
/// the reply with `compose` after that.
struct BreaksOnce {
    calls: AtomicUsize,
    compose: Compose,
}

impl Provider for BreaksOnce {
    fn name(&self) -> &'static str {
        "breaks-once"
    }

    fn draft<'a>(
        &'a self,
        prompt: &'a Prompt,
        input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>> {
        self.compose.draft(prompt, input, deltas, cancel)
    }

    fn reply<'a>(
        &'a self,
        prompt: &'a ChatPrompt,
        input: &'a ChatInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = deltas.send("Noted: ".into()).await;
                // Time for the batch to go out before the attempt fails.
                tokio::time::sleep(Duration::from_millis(60)).await;
                return Err(ProviderError::Unavailable("the stream broke off".into()));
            }
            self.compose.reply(prompt, input, deltas, cancel).await
        })
    }
}

#[tokio::test]
async fn a_retried_reply_keeps_its_id_and_is_stored_once() {
    let env = Env::new().await;
    let project = env.project().await;
    let question = say(&env, project, "Is the outline settled?").await;
    let start = topics(&env)
        .position(&project_topic(project))
        .await
        .unwrap();
    let job = env
        .enqueue(store::chat::reply_job(project, None, question.id))
        .await;
    let reply_id = payload(&job).reply_id;

    let provider = Arc::new(BreaksOnce {
        calls: AtomicUsize::new(0),
        compose: Compose::default(),
    });
    let (stop, handle) = env.worker(fast_config(), registry(provider.clone()));
    let (stop_scheduler, scheduler) = env.run_scheduler(fast_scheduler());
    let done = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == JobStatus::Completed
        })
        .await;
    stop.cancel();
    stop_scheduler.cancel();
    handle.await.unwrap();
    scheduler.await.unwrap();
    assert_eq!(done.attempts, 2, "the first attempt failed and was retried");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 2);

    let messages = chat(&env, project).await;
    let replies: Vec<&ChatMessage> = messages
        .iter()
        .filter(|m| m.role == ChatRole::Assistant)
        .collect();
    assert_eq!(replies.len(), 1, "one stored reply: {messages:?}");
    assert_eq!(replies[0].id, reply_id);

    // Both attempts streamed under the reply's id; the second started again from 0.
    let events = events_since(&env, project, &start).await;
    let deltas = of_kind(&events, "chat.delta");
    assert!(
        deltas
            .iter()
            .all(|d| d["message_id"] == reply_id.to_string())
    );
    let restarts = deltas.iter().filter(|d| d["seq"] == 0).count();
    assert_eq!(restarts, 2, "each attempt streams from seq 0");
    assert_eq!(of_kind(&events, "chat.message").len(), 1);

    // Storing the reply again (a second attempt that got as far) keeps the first.
    let mut conn = env.store.acquire().await.unwrap();
    let again = store::chat::insert(
        &mut conn,
        &NewMessage {
            id: reply_id,
            project_id: project,
            role: ChatRole::Assistant,
            author_id: None,
            session_id: None,
            reply_to: Some(question.id),
            text: "another text",
            job_id: Some(job.id),
            created_at: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(&again, replies[0]);
    drop(conn);
    assert_eq!(chat(&env, project).await.len(), 2);
}

#[tokio::test]
async fn a_cancelled_reply_stores_nothing() {
    let env = Env::new().await;
    let project = env.project().await;
    let question = say(&env, project, "Take your time.").await;
    let start = topics(&env)
        .position(&project_topic(project))
        .await
        .unwrap();
    let job = env
        .enqueue(store::chat::reply_job(project, None, question.id))
        .await;
    // Slow: a piece every 250 ms, so the reply is still streaming when the cancel lands.
    let provider = Arc::new(Compose::new(Duration::from_millis(250)));
    let config = fast_config();
    let heartbeat = Duration::from_millis(config.job_heartbeat_ms);
    let (stop, handle) = env.worker(config, registry(provider));
    env.wait_for(job.id, Duration::from_secs(10), |j| {
        j.status == JobStatus::Running
    })
    .await;
    {
        let mut conn = env.store.acquire().await.unwrap();
        store::jobs::cancel(&mut conn, job.id).await.unwrap();
    }
    // The worker notices at its next heartbeat and stops the handler: no delta after.
    tokio::time::sleep(heartbeat * 3).await;
    let streamed = of_kind(&events_since(&env, project, &start).await, "chat.delta").len();
    tokio::time::sleep(Duration::from_millis(750)).await;
    let later = of_kind(&events_since(&env, project, &start).await, "chat.delta").len();
    assert_eq!(later, streamed, "the reply kept streaming after the cancel");
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(env.job(job.id).await.status, JobStatus::Cancelled);
    let messages = chat(&env, project).await;
    assert_eq!(messages, [question], "no reply stored");
}

#[tokio::test]
async fn a_reply_to_a_missing_message_fails_at_once() {
    let env = Env::new().await;
    let project = env.project().await;
    let job = env
        .enqueue(store::chat::reply_job(project, None, MessageId::new()))
        .await;
    let (stop, handle) = env.worker(fast_config(), registry(Arc::new(Compose::default())));
    let failed = env
        .wait_for(job.id, Duration::from_secs(10), |j| {
            j.status == JobStatus::Failed
        })
        .await;
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(failed.attempts, 1, "not retried: {failed:?}");
    assert!(chat(&env, project).await.is_empty());
}
