//! The project chat, shared by `chat.send` (WebSocket) and `/v1/projects/{id}/chat`
//! (HTTP): a person's message is stored and its reply job enqueued in one transaction,
//! so the answer can name both at once; the reply streams from a worker as `chat.delta`
//! and lands as `chat.message`.

use crate::access::{self, Need};
use crate::hub::Hub;
use protocol::entities::{ChatMessage, ChatRole, JobStatus};
use protocol::event::{Event, JobStatusEvent};
use protocol::{ErrorBody, JobId, MessageId, ProjectId, SessionId, UserId};
use store::chat::NewMessage;
use store::jobs::lifecycle::{self, Dispatchable};

/// The longest message, in characters: the limit of every body and value
/// (docs/protocol.md section 8.4).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Messages a listing answers when the caller names no limit: the default of the
/// HTTP API's other listings (document versions, admin jobs).
pub const DEFAULT_LIST: i64 = 100;

/// What `chat.send` answers: the message stored and the job writing its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatSent {
    pub message_id: MessageId,
    pub job_id: JobId,
}

/// Stores `user`'s message in the project's chat and enqueues its reply, then publishes
/// the message as `chat.message` (and the job as `job.status` queued). `session` is the
/// one the message was sent in, when there is one.
pub async fn send(
    hub: &Hub,
    user: &UserId,
    session: Option<SessionId>,
    project: ProjectId,
    text: &str,
) -> Result<ChatSent, ErrorBody> {
    let text = check_text(text)?;
    let mut tx = hub.store.begin().await?;
    access::require(&mut tx, project, user, Need::Write).await?;
    // A reply costs a model call: counted against the user's quota once they may ask.
    hub.limits.job(user)?;
    let message = store::chat::insert(
        &mut tx,
        &NewMessage {
            id: MessageId::new(),
            project_id: project,
            role: ChatRole::User,
            author_id: Some(user),
            session_id: session,
            reply_to: None,
            text,
            job_id: None,
            created_at: None,
        },
    )
    .await?;
    let enqueued = lifecycle::enqueue(
        &mut tx,
        &store::chat::reply_job(project, session, message.id),
    )
    .await?;
    let job = enqueued.job;
    let sent = ChatSent {
        message_id: message.id,
        job_id: job.id,
    };
    let queued = JobStatusEvent::of(&job, project, JobStatus::Queued);
    store::outbox::record(&mut tx, project, &[Event::ChatMessage { message }, queued]).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    // The message is new, so its job is too: the key is the message's id.
    hub.queue
        .after_commit(&[Dispatchable {
            id: job.id,
            queue: job.queue.clone(),
        }])
        .await;
    hub.flush(Some(project)).await;
    Ok(sent)
}

/// The project's newest `limit` messages (1 to [`store::chat::MAX_LIST`]), oldest first,
/// for anyone in the project.
pub async fn list(
    hub: &Hub,
    user: &UserId,
    project: ProjectId,
    limit: i64,
) -> Result<Vec<ChatMessage>, ErrorBody> {
    let mut conn = hub.store.acquire().await?;
    access::require(&mut conn, project, user, Need::Read).await?;
    Ok(store::chat::list(&mut conn, project, limit).await?)
}

/// The message's text without surrounding whitespace, when it says something and is
/// not too long.
fn check_text(text: &str) -> Result<&str, ErrorBody> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ErrorBody::invalid_field("text", "must not be blank"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ErrorBody::invalid_field(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.contains('\0') {
        return Err(ErrorBody::invalid_field(
            "text",
            protocol::error::NUL_PROBLEM,
        ));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_checked_and_trimmed() {
        assert_eq!(check_text("  hello \n"), Ok("hello"));
        for blank in ["", "   ", "\n\t"] {
            let e = check_text(blank).unwrap_err();
            assert_eq!(e.code, protocol::ErrorCode::InvalidArguments);
            assert_eq!(e.details, Some(serde_json::json!({"field": "text"})));
        }
        let longest = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(check_text(&longest), Ok(longest.as_str()));
        let e = check_text(&format!("{longest}x")).unwrap_err();
        assert!(
            e.message.starts_with("text: at most 20000"),
            "{}",
            e.message
        );
    }
}
