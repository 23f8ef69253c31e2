//! Projects and their blueprints.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::blueprint::{Blueprint, BlueprintField};
use protocol::entities::{Project, ProjectStatus, Role};
use protocol::{DocumentId, ProjectId, UserId};
use sqlx::PgConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: ProjectId,
    owner_id: UserId,
    name: String,
    description: String,
    status: String,
    blueprint: Json<Blueprint>,
    blueprint_draft: Json<Blueprint>,
    blueprint_version: i32,
    role: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> Result<Self, StoreError> {
        Ok(Project {
            id: r.id,
            owner_id: r.owner_id,
            name: r.name,
            description: r.description,
            status: parse_enum("projects.status", r.id, &r.status)?,
            blueprint: r.blueprint.0,
            blueprint_draft: r.blueprint_draft.0,
            blueprint_version: r.blueprint_version,
            role: r
                .role
                .as_deref()
                .map(|s| parse_enum("project_members.role", r.id, s))
                .transpose()?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str = "p.id, p.owner_id, p.name, p.description, p.status, p.blueprint, \
    p.blueprint_draft, p.blueprint_version, p.created_at, p.updated_at";

/// Creates a project owned by `owner`, its owner membership and its empty document
/// (version 0), in the caller's transaction.
pub async fn create(
    conn: &mut PgConnection,
    owner: &UserId,
    name: &str,
    description: &str,
) -> Result<Project, StoreError> {
    let id = ProjectId::new();
    sqlx::query("INSERT INTO projects (id, owner_id, name, description) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(owner)
        .bind(name)
        .bind(description)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO documents (id, project_id) VALUES ($1, $2)")
        .bind(DocumentId::new())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    get_for(conn, id, owner).await
}

/// The project as `user` sees it (with their role). Not found when `user` is not a
/// member, so a project's existence is not leaked.
pub async fn get_for(
    conn: &mut PgConnection,
    id: ProjectId,
    user: &UserId,
) -> Result<Project, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, m.role FROM projects p \
         JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 WHERE p.id = $1"
    );
    let row: Option<ProjectRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("project", id))?
        .try_into()
}

/// The project whatever the caller's role, for internal use (workers, events).
pub async fn get(conn: &mut PgConnection, id: ProjectId) -> Result<Project, StoreError> {
    let sql = format!("SELECT {COLUMNS}, NULL::text AS role FROM projects p WHERE p.id = $1");
    let row: Option<ProjectRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("project", id))?
        .try_into()
}

/// Same as [`get`], locking the row for the rest of the transaction.
async fn get_for_update(conn: &mut PgConnection, id: ProjectId) -> Result<Project, StoreError> {
    let sql =
        format!("SELECT {COLUMNS}, NULL::text AS role FROM projects p WHERE p.id = $1 FOR UPDATE");
    let row: Option<ProjectRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("project", id))?
        .try_into()
}

/// The projects `user` owns or is a member of, most recently updated first.
pub async fn list_for(
    conn: &mut PgConnection,
    user: &UserId,
    status: Option<ProjectStatus>,
) -> Result<Vec<Project>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, m.role FROM projects p \
         JOIN project_members m ON m.project_id = p.id AND m.user_id = $1 \
         WHERE ($2::text IS NULL OR p.status = $2) \
         ORDER BY p.updated_at DESC, p.id LIMIT 500"
    );
    let rows: Vec<ProjectRow> = sqlx::query_as(&sql)
        .bind(user)
        .bind(status.as_ref().map(enum_str))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Project::try_from).collect()
}

/// The caller's role in the project, or `None` when they are not a member.
pub async fn role_of(
    conn: &mut PgConnection,
    id: ProjectId,
    user: &UserId,
) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?;
    parse_role(id, user, role)
}

/// [`role_of`] for a change about to write, in its transaction: it holds the
/// membership's lock (shared) to the end of the transaction, taken before the role is
/// read. Removing the member or changing their role ([`crate::members`]) takes the lock
/// exclusively, so it commits only after every change past this check, and a change
/// checked while it is under way waits for it and reads the membership as it left it.
/// Once a removal has committed, no change of the removed member's commits after it.
pub async fn role_for_change(
    conn: &mut PgConnection,
    id: ProjectId,
    user: &UserId,
) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = sqlx::query_scalar("SELECT draftline_role_for_change($1, $2)")
        .bind(id)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    parse_role(id, user, role)
}

pub(crate) fn parse_role(
    id: ProjectId,
    user: &UserId,
    role: Option<String>,
) -> Result<Option<Role>, StoreError> {
    role.as_deref()
        .map(|r| parse_enum("project_members.role", format_args!("{id}/{user}"), r))
        .transpose()
}

/// Changes the given fields; returns (before, after).
pub async fn update(
    conn: &mut PgConnection,
    id: ProjectId,
    name: Option<&str>,
    description: Option<&str>,
    status: Option<ProjectStatus>,
) -> Result<(Project, Project), StoreError> {
    let before = get_for_update(conn, id).await?;
    sqlx::query(
        "UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description), \
         status = COALESCE($4, status), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .bind(status.as_ref().map(enum_str))
    .execute(&mut *conn)
    .await?;
    let after = get(conn, id).await?;
    Ok((before, after))
}

/// Sets one field of the draft blueprint (an empty value removes it); returns
/// (before, after).
pub async fn sync_blueprint_field(
    conn: &mut PgConnection,
    id: ProjectId,
    field: BlueprintField,
    value: &str,
) -> Result<(Project, Project), StoreError> {
    let before = get_for_update(conn, id).await?;
    let sql = if value.trim().is_empty() {
        "UPDATE projects SET blueprint_draft = blueprint_draft - $2, updated_at = now() \
         WHERE id = $1"
    } else {
        "UPDATE projects SET blueprint_draft = blueprint_draft || jsonb_build_object($2::text, $3::text), \
         updated_at = now() WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(id)
        .bind(field.as_str())
        .bind(value)
        .execute(&mut *conn)
        .await?;
    let after = get(conn, id).await?;
    Ok((before, after))
}

/// Makes the draft blueprint the committed one, as a new version; a draft equal to the
/// committed blueprint changes nothing (voice assistants repeat calls). Returns
/// (before, after).
pub async fn commit_blueprint(
    conn: &mut PgConnection,
    id: ProjectId,
) -> Result<(Project, Project), StoreError> {
    let before = get_for_update(conn, id).await?;
    if before.blueprint_draft != before.blueprint || before.blueprint_version == 0 {
        sqlx::query(
            "UPDATE projects SET blueprint = blueprint_draft, \
             blueprint_version = blueprint_version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    let after = get(conn, id).await?;
    Ok((before, after))
}
