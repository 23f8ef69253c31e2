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
        "INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3) \
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

/// Removes a member (not the owner). Returns whether there was one.
pub async fn remove(
    conn: &mut PgConnection,
    project: ProjectId,
    user: &UserId,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2 AND role <> 'owner'",
    )
    .bind(project)
    .bind(user)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
