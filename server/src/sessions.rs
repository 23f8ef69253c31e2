//! Session handling shared by the transports: opening (new or resumed), configuring,
//! and appending to the transcript.

use crate::access::{self, Need};
use crate::hub::Hub;
use crate::tools::{self, Caller};
use protocol::client::TranscriptItemInput;
use protocol::entities::{ClientInfo, Session};
use protocol::tools::args::{MAX_NAME, MAX_TEXT};
use protocol::{ErrorBody, ErrorCode, Mode, ProjectId, SessionId, TodoId, UserId};

/// Most transcript items one `transcript.append` may carry.
pub const MAX_APPEND: usize = 500;

/// A new session, or the caller's own session resumed. Another user's session is
/// `forbidden`.
pub async fn open(
    hub: &Hub,
    user: &UserId,
    resume: Option<SessionId>,
    client: &ClientInfo,
) -> Result<Session, ErrorBody> {
    let mut conn = tools::conn(hub).await?;
    match resume {
        None => Ok(store::sessions::create(&mut conn, user, Some(client)).await?),
        Some(id) => {
            let session = store::sessions::get(&mut conn, id).await?;
            if &session.user_id != user {
                return Err(ErrorBody::new(
                    ErrorCode::Forbidden,
                    format!("session {id} belongs to another user"),
                ));
            }
            store::sessions::touch(&mut conn, id, Some(client)).await?;
            Ok(session)
        }
    }
}

/// `session.configure`: change mode, project, auto-accept or the todo in focus. A
/// project must be one the caller can see; a todo, one of the session's project (after
/// any project change), checked before anything changes.
pub async fn configure(
    hub: &Hub,
    caller: &mut Caller,
    mode: Option<Mode>,
    project: Option<ProjectId>,
    auto_accept: Option<bool>,
    todo: Option<TodoId>,
) -> Result<Session, ErrorBody> {
    let mut conn = tools::conn(hub).await?;
    if let Some(project) = project {
        access::require(&mut conn, project, &caller.user, Need::Read).await?;
    }
    if let Some(todo) = todo {
        let scoped = Caller {
            user: caller.user.clone(),
            session: Session {
                project_id: project.or(caller.session.project_id),
                ..caller.session.clone()
            },
        };
        crate::focus::check_todo(&mut conn, &scoped, todo).await?;
    }
    let mut session =
        store::sessions::configure(&mut conn, caller.session.id, mode, project, auto_accept)
            .await?;
    if let Some(todo) = todo {
        session = store::sessions::set_focus(&mut conn, caller.session.id, Some(todo)).await?;
    } else if project.is_some_and(|p| Some(p) != caller.session.project_id) {
        // A todo of the project left behind is not one to stay on.
        session = store::sessions::set_focus(&mut conn, caller.session.id, None).await?;
    }
    caller.session = session.clone();
    Ok(session)
}

/// `transcript.append`: checks every item, then appends the new ones in one transaction.
pub async fn append_transcript(
    hub: &Hub,
    caller: &Caller,
    items: &[TranscriptItemInput],
) -> Result<u64, ErrorBody> {
    if items.len() > MAX_APPEND {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            format!("items: at most {MAX_APPEND} per message"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.item_id.trim().is_empty() || item.item_id.len() > MAX_NAME {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!("items[{i}].item_id: must be 1 to {MAX_NAME} bytes"),
            ));
        }
        if item.text.len() > MAX_TEXT {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!("items[{i}].text: at most {MAX_TEXT} bytes"),
            ));
        }
    }
    let mut tx = hub.store.begin().await?;
    let appended = store::transcript::append(&mut tx, caller.session.id, items).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    Ok(appended)
}

/// Marks the session as seen when a connection ends; a failure is only logged.
pub async fn seen(hub: &Hub, id: SessionId) {
    let result = async {
        let mut conn = hub.store.acquire().await?;
        store::sessions::touch(&mut conn, id, None).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(session_id = %id, error = %e, "could not mark the session seen");
    }
}
