//! Todos of a project.

use crate::{StoreError, enum_str, parse_enum};
use chrono::{DateTime, Utc};
use protocol::entities::{Priority, Todo, TodoStatus};
use protocol::{ProjectId, SessionId, TodoId};
use sqlx::PgConnection;

#[derive(sqlx::FromRow)]
struct TodoRow {
    id: TodoId,
    project_id: ProjectId,
    title: String,
    details: String,
    status: String,
    priority: String,
    session_id: Option<SessionId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TodoRow> for Todo {
    type Error = StoreError;
    fn try_from(r: TodoRow) -> Result<Self, StoreError> {
        Ok(Todo {
            id: r.id,
            project_id: r.project_id,
            title: r.title,
            details: r.details,
            status: parse_enum("todos.status", r.id, &r.status)?,
            priority: parse_enum("todos.priority", r.id, &r.priority)?,
            session_id: r.session_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "id, project_id, title, details, status, priority, session_id, created_at, updated_at";

pub async fn create(
    conn: &mut PgConnection,
    project: ProjectId,
    session: Option<SessionId>,
    title: &str,
    details: &str,
    priority: Priority,
) -> Result<Todo, StoreError> {
    let sql = format!(
        "INSERT INTO todos (id, project_id, session_id, title, details, priority) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row: TodoRow = sqlx::query_as(&sql)
        .bind(TodoId::new())
        .bind(project)
        .bind(session)
        .bind(title)
        .bind(details)
        .bind(enum_str(&priority))
        .fetch_one(&mut *conn)
        .await?;
    row.try_into()
}

pub async fn get(conn: &mut PgConnection, id: TodoId) -> Result<Todo, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM todos WHERE id = $1");
    let row: Option<TodoRow> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("todo", id))?
        .try_into()
}

async fn get_for_update(
    conn: &mut PgConnection,
    project: ProjectId,
    id: TodoId,
) -> Result<Todo, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM todos WHERE id = $1 AND project_id = $2 FOR UPDATE");
    let row: Option<TodoRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("todo", id))?
        .try_into()
}

/// The fields `update` may change; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct TodoChanges<'a> {
    pub title: Option<&'a str>,
    pub details: Option<&'a str>,
    pub status: Option<TodoStatus>,
    pub priority: Option<Priority>,
}

/// Changes the given fields of the project's todo; returns (before, after). A todo of
/// another project is not found.
pub async fn update(
    conn: &mut PgConnection,
    project: ProjectId,
    id: TodoId,
    changes: TodoChanges<'_>,
) -> Result<(Todo, Todo), StoreError> {
    let before = get_for_update(conn, project, id).await?;
    let sql = format!(
        "UPDATE todos SET title = COALESCE($2, title), details = COALESCE($3, details), \
         status = COALESCE($4, status), priority = COALESCE($5, priority), updated_at = now() \
         WHERE id = $1 AND project_id = $6 RETURNING {COLUMNS}"
    );
    let after: TodoRow = sqlx::query_as(&sql)
        .bind(id)
        .bind(changes.title)
        .bind(changes.details)
        .bind(changes.status.as_ref().map(enum_str))
        .bind(changes.priority.as_ref().map(enum_str))
        .bind(project)
        .fetch_one(&mut *conn)
        .await?;
    Ok((before, after.try_into()?))
}

/// Deletes the project's todo; returns it as it was. A todo of another project is not
/// found.
pub async fn delete(
    conn: &mut PgConnection,
    project: ProjectId,
    id: TodoId,
) -> Result<Todo, StoreError> {
    let sql = format!("DELETE FROM todos WHERE id = $1 AND project_id = $2 RETURNING {COLUMNS}");
    let row: Option<TodoRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(project)
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or_else(|| StoreError::not_found("todo", id))?
        .try_into()
}

/// The project's todos: unfinished first, then by priority, then oldest first.
pub async fn list(
    conn: &mut PgConnection,
    project: ProjectId,
    status: Option<TodoStatus>,
) -> Result<Vec<Todo>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM todos WHERE project_id = $1 AND ($2::text IS NULL OR status = $2) \
         ORDER BY (status = 'done'), \
           CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, created_at, id \
         LIMIT 1000"
    );
    let rows: Vec<TodoRow> = sqlx::query_as(&sql)
        .bind(project)
        .bind(status.as_ref().map(enum_str))
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Todo::try_from).collect()
}

/// The project's todo, locked for the rest of the transaction; `None` when it is not
/// there (rollback compares it with what an operation left).
pub async fn lock(
    conn: &mut PgConnection,
    project: ProjectId,
    id: TodoId,
) -> Result<Option<Todo>, StoreError> {
    match get_for_update(conn, project, id).await {
        Ok(todo) => Ok(Some(todo)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Puts a deleted todo back in `project` with its id and creation time (its session
/// only if that still exists); `None` when a todo with its id is there.
pub async fn reinsert(
    conn: &mut PgConnection,
    project: ProjectId,
    todo: &Todo,
) -> Result<Option<Todo>, StoreError> {
    let sql = format!(
        "INSERT INTO todos (id, project_id, session_id, title, details, status, priority, \
           created_at) \
         VALUES ($1, $2, (SELECT id FROM sessions WHERE id = $3), $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
    );
    let row: Option<TodoRow> = sqlx::query_as(&sql)
        .bind(todo.id)
        .bind(project)
        .bind(todo.session_id)
        .bind(&todo.title)
        .bind(&todo.details)
        .bind(enum_str(&todo.status))
        .bind(enum_str(&todo.priority))
        .bind(todo.created_at)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Todo::try_from).transpose()
}
