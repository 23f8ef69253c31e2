//! A tool call's operation recorded in one statement with its events, against a real
//! Postgres (a fresh database): the change's first statement checks the caller's role and
//! numbers the operation (`operations::open`), and the last writes the operation and the
//! outbox rows (`operations::insert_announced`). What it answers and what its
//! `operation.created` carries are the row as Postgres keeps it.
// clippy.toml allows unwrap in `#[test]` functions only, not in this file's helpers.
#![allow(clippy::unwrap_used)]

use protocol::entities::{Entity, OperationKind, OperationStatus, Role};
use protocol::{ProjectId, UserId};
use serde_json::json;
use store::Store;
use store::operations::{NewOperation, Outcome};

fn new_operation(session: protocol::SessionId, project: ProjectId) -> NewOperation {
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

    // Two changes in turn: numbered 1 and 2, each answered as Postgres keeps it.
    for seq in 1..=2 {
        let mut tx = store.begin().await.unwrap();
        let (role, slot) = store::operations::open(&mut tx, project, &owner, session)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((role, slot.seq), (Role::Owner, seq));
        let outcome = Outcome {
            entity_id: Some(format!("note-{seq}")),
            after: Some(json!({ "id": format!("note-{seq}"), "tags": ["a", "b"] })),
            duration_ms: Some(3),
            ..Outcome::status(OperationStatus::Completed)
        };
        let operation = store::operations::insert_announced(
            &mut tx,
            new_operation(session, project),
            outcome,
            slot,
            project,
            Vec::new(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut conn = store.acquire().await.unwrap();
        let kept = store::operations::get(&mut conn, operation.id)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(operation, kept, "the answer is the row as kept");
        assert_eq!(kept.created_at, slot.at);
        assert_eq!(kept.executed_at, Some(slot.at));

        let rows = outbox(&store, project).await;
        let (kind, tail) = rows.last().unwrap();
        assert_eq!(kind, "operation.created");
        let kept_json = serde_json::to_string(&kept).unwrap();
        assert!(
            tail.contains(&kept_json),
            "the event carries the row as kept: {tail} does not hold {kept_json}"
        );
    }

    // A pending proposal: no execution time.
    let mut tx = store.begin().await.unwrap();
    let (_, slot) = store::operations::open(&mut tx, project, &owner, session)
        .await
        .unwrap()
        .unwrap();
    let pending = store::operations::insert_announced(
        &mut tx,
        new_operation(session, project),
        Outcome::status(OperationStatus::Pending),
        slot,
        project,
        Vec::new(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut conn = store.acquire().await.unwrap();
    assert_eq!(
        pending,
        store::operations::get(&mut conn, pending.id).await.unwrap()
    );
    assert_eq!((pending.seq, pending.executed_at), (3, None));

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
    let missing = store::operations::open(&mut tx, project, &owner, protocol::SessionId::new())
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
    drop(conn);
    store.pool.close().await;
}
