//! Project members: who may see and change a project.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::entities::{Member, Role};
use protocol::{ProjectId, UserId};
use sqlx::PgConnection;

#[derive(sqlx::FromRow)]
struct MemberRow {
    project_id: ProjectId,
    user_id: UserId,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;
    fn try_from(r: MemberRow) -> Result<Self, StoreError> {
        let role = parse_enum(
            "project_members.role",
            format_args!("{}/{}", r.project_id, r.user_id),
            &r.role,
        )?;
        Ok(Member {
            project_id: r.project_id,
            user_id: r.user_id,
            role,
            created_at: r.created_at,
        })
    }
}

pub async fn list(conn: &mut PgConnection, project: ProjectId) -> Result<Vec<Member>, StoreError> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT project_id, user_id, role, created_at FROM project_members \
         WHERE project_id = $1 ORDER BY created_at, user_id",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Member::try_from).collect()
}

/// Adds a member or changes their role. The owner's role cannot be changed here.
///
/// In order with the member's changes: the statement takes the membership's lock
/// exclusively (`draftline_lock_membership`, held to the end of the transaction, or of
/// the statement outside one), so the changes past their access check commit first, and
/// the ones checked after wait for it and read the new role
/// ([`crate::projects::role_for_change`]).
pub async fn put(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
    role: Role,
) -> Result<Member, StoreError> {
    if role == Role::Owner {
        return Err(StoreError::Conflict("a project has one owner".into()));
    }
    let row: Option<MemberRow> = sqlx::query_as(
        "WITH locked AS MATERIALIZED (SELECT draftline_lock_membership($1, $2)) \
         INSERT INTO project_members (project_id, user_id, role) SELECT $1, $2, $3 FROM locked \
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role \
         WHERE project_members.role <> 'owner' \
         RETURNING project_id, user_id, role, created_at",
    )
    .bind(project)
    .bind(user)
    .bind(enum_str(&role))
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| StoreError::Conflict("the owner's role cannot be changed".into()))?
        .try_into()
}

/// Removes a member (not the owner), in order with their changes as [`put`] is. Returns
/// whether there was one.
pub async fn remove(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "WITH locked AS MATERIALIZED (SELECT draftline_lock_membership($1, $2)) \
         DELETE FROM project_members \
         WHERE project_id = $1 AND user_id = $2 AND role <> 'owner' \
           AND EXISTS (SELECT 1 FROM locked)",
    )
    .bind(project)
    .bind(user)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
