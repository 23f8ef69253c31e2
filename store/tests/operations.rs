//! A tool call's operation recorded in one statement with its events, against a real
//! Postgres (a fresh database): the change's first statement checks the caller's role and
//! numbers the operation (`operations::open`), and the last writes the operation and the
//! outbox rows (`operations::insert_announced`). What it answers and what its
//! `operation.created` carries are the row as Postgres keeps it.
// clippy.toml allows unwrap in `#[test]` functions only, not in this file's helpers.
#![allow(clippy::unwrap_used)]

use protocol::entities::{Entity, Operation, OperationKind, OperationStatus, Role};
use protocol::event::Event;
use protocol::{OperationId, ProjectId, SessionId, UserId};
use serde_json::json;
use store::Store;
use store::operations::{NewOperation, Outcome, Slot};

fn new_operation(session: SessionId, project: ProjectId) -> NewOperation {
    NewOperation {
        session_id: session,
        project_id: Some(project),
        tool: "create_note".to_owned(),
        kind: OperationKind::Create,
        entity: Entity::Note,
        data: json!({ "body": "ünïcode and \"quotes\"", "n": 1.5, "big": 9_007_199_254_740_993_u64 }),
        suggestion: false,
        reason: None,
        recovers: None,
    }
}

/// One change as the hub makes it: the check that numbers it, a note, the operation
/// with the note's event, commit. Answers the operation recorded and its slot.
async fn change(
    store: &Store,
    user: &UserId,
    session: SessionId,
    project: ProjectId,
    status: OperationStatus,
) -> (Operation, Slot) {
    let mut tx = store.begin().await.unwrap();
    let (role, slot) = store::operations::open(&mut tx, project, user, session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role, Role::Owner);
    let note = store::notes::create(&mut tx, project, user, Some(session), "a note", &[])
        .await
        .unwrap();
    let outcome = Outcome {
        entity_id: Some(note.id.to_string()),
        after: Some(serde_json::to_value(&note).unwrap()),
        duration_ms: Some(3),
        ..Outcome::status(status)
    };
    let operation = store::operations::insert_announced(
        &mut tx,
        new_operation(session, project),
        outcome,
        slot,
        vec![Event::NoteCreated { note }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (operation, slot)
}

/// The operation's row as Postgres keeps it.
async fn kept(store: &Store, id: OperationId) -> Operation {
    let mut conn = store.acquire().await.unwrap();
    store::operations::get(&mut conn, id).await.unwrap()
}

/// The outbox rows of `project`, in id order: (kind, tail).
async fn outbox(store: &Store, project: ProjectId) -> Vec<(String, String)> {
    let mut conn = store.acquire().await.unwrap();
    sqlx::query_as("SELECT kind, tail FROM event_outbox WHERE project_id = $1 ORDER BY id")
        .bind(project)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_numbered_by_its_check_records_the_operation_and_its_events_in_one_statement() {
    let db = testkit::Database::create().await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    let owner = UserId::from("owner");
    let viewer = UserId::from("viewer");
    let mut conn = store.acquire().await.unwrap();
    let project = store::projects::create(&mut conn, &owner, "Numbered", "")
        .await
        .unwrap()
        .id;
    store::members::put(&mut conn, project, &viewer, Role::Viewer)
        .await
        .unwrap();
    let session = store::sessions::create(&mut conn, &owner, None)
        .await
        .unwrap()
        .id;
    drop(conn);

    // Two changes in turn, then a pending proposal (no execution time): numbered 1 to
    // 3, each answered and announced as Postgres keeps it, after the note's event.
    for (seq, status) in [
        (1, OperationStatus::Completed),
        (2, OperationStatus::Completed),
        (3, OperationStatus::Pending),
    ] {
        let (operation, slot) = change(&store, &owner, session, project, status).await;
        let kept = kept(&store, operation.id).await;
        assert_eq!(operation, kept, "the answer is the row as kept");
        assert_eq!((kept.seq, kept.created_at), (seq, slot.at));
        let executed = (status == OperationStatus::Completed).then_some(slot.at);
        assert_eq!(kept.executed_at, executed);

        let rows = outbox(&store, project).await;
        let kinds: Vec<&str> = rows.iter().map(|(kind, _)| kind.as_str()).collect();
        assert_eq!(kinds.len(), 2 * seq as usize);
        assert_eq!(
            kinds[kinds.len() - 2..],
            ["note.created", "operation.created"]
        );
        let kept_json = serde_json::to_string(&kept).unwrap();
        let (_, tail) = rows.last().unwrap();
        assert!(
            tail.contains(&kept_json),
            "the event carries the row as kept: {tail} does not hold {kept_json}"
        );
    }

    // A stranger is no member: nothing numbered. A read-only member gets a role (the
    // caller refuses it) and a number its rolled-back transaction gives back.
    let mut tx = store.begin().await.unwrap();
    let stranger = store::operations::open(&mut tx, project, &UserId::from("nobody"), session)
        .await
        .unwrap();
    assert_eq!(stranger, None);
    let (role, _) = store::operations::open(&mut tx, project, &viewer, session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role, Role::Viewer);
    tx.rollback().await.unwrap();

    // A session that does not exist is `not_found`.
    let mut tx = store.begin().await.unwrap();
    let missing = store::operations::open(&mut tx, project, &owner, SessionId::new())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, store::StoreError::NotFound { .. }),
        "{missing:?}"
    );
    tx.rollback().await.unwrap();

    // The next number follows the last one kept.
    let mut tx = store.begin().await.unwrap();
    let (_, slot) = store::operations::open(&mut tx, project, &owner, session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slot.seq, 4);
    tx.rollback().await.unwrap();
    store.pool.close().await;
}
