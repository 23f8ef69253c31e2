//! Task focus: a session working on one todo. The todo tools default to it and may not
//! name another until the person moves on (`focus_todo` without a todo), notes written
//! meanwhile are tagged with it, and the assistant is given its context.

use crate::tools::{self, Caller};
use protocol::entities::{Note, Todo, TranscriptItem};
use protocol::{ErrorBody, TodoId};
use store::PgConnection;

/// Transcript items a task's context carries: the recent conversation about it, not
/// its history.
const CONTEXT_ITEMS: i64 = 20;
/// Notes a task's context carries, newest first.
const CONTEXT_NOTES: usize = 20;

/// The todo a todo tool works on: the one named, which the operations engine fills in
/// from the focus before the call is checked.
pub(crate) fn focused(todo: Option<TodoId>) -> Result<TodoId, ErrorBody> {
    todo.ok_or_else(|| {
        ErrorBody::invalid_field(
            "todo_id",
            "required: this session is focused on no todo (call focus_todo, or pass todo_id)",
        )
    })
}

/// The tag of a note written while the session is focused on `todo`.
pub(crate) fn tag(todo: TodoId) -> String {
    format!("todo:{todo}")
}

/// The todo, when it is one of the caller's session's project; another project's (or a
/// missing one) answers as not found, a todo of a project the caller is in but the
/// session is not on is `invalid_arguments`.
pub(crate) async fn check_todo(
    conn: &mut PgConnection,
    caller: &Caller,
    todo: TodoId,
) -> Result<Todo, ErrorBody> {
    let project = tools::project_of(caller, None)?;
    let found = crate::tools::todo_project(conn, caller, todo).await?;
    if found != Some(project) {
        return Err(ErrorBody::invalid_field(
            "todo_id",
            "not a todo of this session's project",
        ));
    }
    Ok(store::todos::get(conn, todo).await?)
}

/// Scopes a todo tool's checked arguments to the todo in focus: it is the default, and
/// another is refused (naming `todo_id`) until the person moves on.
pub(crate) fn scope_todo(named: &mut Option<TodoId>, todo: TodoId) -> Result<(), ErrorBody> {
    match named {
        None => *named = Some(todo),
        Some(named) if *named == todo => {}
        Some(_) => {
            return Err(ErrorBody::invalid_field(
                "todo_id",
                format!("this session is focused on todo {todo}; call focus_todo to move on first"),
            ));
        }
    }
    Ok(())
}

/// Tags a note written while the session is focused on `todo` with it.
pub(crate) fn tag_note(tags: &mut Option<Vec<String>>, todo: TodoId) {
    let tag = tag(todo);
    let tags = tags.get_or_insert_with(Vec::new);
    if !tags.contains(&tag) {
        tags.push(tag);
    }
}

/// What the assistant is given about the todo in focus: the notes tagged with it or
/// mentioning its title (newest first), and recent transcript items mentioning its
/// title (from people who may write to the project, as drafts draw on).
pub(crate) async fn context(
    conn: &mut PgConnection,
    todo: &Todo,
) -> Result<(Vec<Note>, Vec<TranscriptItem>), ErrorBody> {
    let tag = tag(todo.id);
    let title = todo.title.trim().to_lowercase();
    let notes = store::notes::list(conn, todo.project_id)
        .await?
        .into_iter()
        .filter(|n| n.tags.contains(&tag) || n.body.to_lowercase().contains(&title))
        .take(CONTEXT_NOTES)
        .collect();
    let transcript =
        store::transcript::mentioning(conn, todo.project_id, &todo.title, CONTEXT_ITEMS).await?;
    Ok((notes, transcript))
}
