//! Who may do what in a project, checked in Postgres on every call (nothing caches a
//! role, so a lowered role binds the next call). Tools, HTTP handlers and subscriptions
//! all ask here: [`require`] a [`Need`] of a project and get a [`Grant`] naming the
//! project and role, or the error to answer. A project the caller is not in answers
//! exactly like one that does not exist.

use crate::hub::Hub;
use protocol::entities::{Operation, Role};
use protocol::event::Topic;
use protocol::{ErrorBody, ErrorCode, ProjectId, SessionId, UserId};
use store::PgConnection;
use store::operations::Slot;

/// What a caller needs of a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Any member: reads.
    Read,
    /// A role that may change the project (owner or editor).
    Write,
    /// The project's owner: managing members.
    Own,
}

/// Proof that the caller has a [`Need`] of a project: what a check answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub project: ProjectId,
    pub role: Role,
}

/// Checks that `user` has `need` of `project`. Not a member reads as `not_found`
/// (naming the project the caller named, nothing more); a member without the need is
/// `forbidden`. For a write or an owner's act, in the transaction that makes the
/// change, the check holds the membership's lock to its end
/// ([`store::projects::role_for_change`]): a removal of the member, or a change of
/// their role, commits only after every change past this check, and a change checked
/// while one is under way waits for it and sees it.
pub(crate) async fn require(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
    need: Need,
) -> Result<Grant, ErrorBody> {
    let role = match need {
        Need::Read => store::projects::role_of(conn, project, user).await?,
        Need::Write | Need::Own => store::projects::role_for_change(conn, project, user).await?,
    }
    .ok_or_else(|| not_member(project))?;
    grant(project, role, need)
}

/// [`require`] of [`Need::Write`] for a tool call's change from `session`, which also
/// numbers the operation the change records ([`store::operations::open`]): the change's
/// first statement.
pub(crate) async fn require_change(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
    session: SessionId,
) -> Result<(Grant, Slot), ErrorBody> {
    let (role, slot) = store::operations::open(conn, project, user, session)
        .await?
        .ok_or_else(|| not_member(project))?;
    Ok((grant(project, role, Need::Write)?, slot))
}

/// A project the caller is not in, answered as one that does not exist.
fn not_member(project: ProjectId) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("project {project} not found"))
}

/// What a member's `role` grants of `need`.
fn grant(project: ProjectId, role: Role, need: Need) -> Result<Grant, ErrorBody> {
    let refused = |message: String| Err(ErrorBody::new(ErrorCode::Forbidden, message));
    match need {
        Need::Read => {}
        Need::Write if !role.can_write() => {
            return refused(format!("your role in project {project} is read-only"));
        }
        Need::Own if role != Role::Owner => {
            return refused("only the project's owner manages members".to_owned());
        }
        Need::Write | Need::Own => {}
    }
    Ok(Grant { project, role })
}

/// The project of an entity the caller named by id, when the caller is in it. An entity
/// of a project the caller is not in answers exactly like one that does not exist
/// (`hidden`), so ids of other projects can be neither probed nor traced to their
/// project.
pub(crate) async fn entity(
    conn: &mut PgConnection,
    user: &UserId,
    project: ProjectId,
    hidden: store::StoreError,
) -> Result<Grant, ErrorBody> {
    match store::projects::role_of(conn, project, user).await? {
        Some(role) => Ok(Grant { project, role }),
        None => Err(hidden.into()),
    }
}

/// Checks that `user` may read `topic`: a member of its project, or the owner of its
/// session.
pub(crate) async fn topic(hub: &Hub, user: &UserId, topic: Topic) -> Result<(), ErrorBody> {
    let mut conn = hub.store.acquire().await?;
    match topic {
        Topic::Project(project) => require(&mut conn, project, user, Need::Read)
            .await
            .map(|_| ()),
        Topic::Session(session) => store::sessions::get_owned(&mut conn, session, user)
            .await
            .map(|_| ())
            .map_err(ErrorBody::from),
    }
}

/// A person may decide an operation on a project they may change; an operation that
/// creates a project may be decided by the user who proposed it. Anyone else's answers
/// as a missing operation, naming no project.
pub(crate) async fn decide(
    conn: &mut PgConnection,
    user: &UserId,
    op: &Operation,
) -> Result<(), ErrorBody> {
    match op.project_id {
        Some(project) => {
            entity(
                conn,
                user,
                project,
                store::StoreError::not_found("operation", op.id),
            )
            .await?;
            require(conn, project, user, Need::Write).await.map(|_| ())
        }
        None => {
            let session = store::sessions::get(conn, op.session_id).await?;
            if session.user_id == *user {
                Ok(())
            } else {
                Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("operation {} not found", op.id),
                ))
            }
        }
    }
}
