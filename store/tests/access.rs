//! A change's membership check against a real Postgres (a fresh database): removing a
//! member, or changing their role, waits for every change of theirs already past its
//! check, and a change checked while it is under way waits for it and reads the
//! membership as it left it. So after a removal commits, no change of the removed member
//! does.
// clippy.toml allows unwrap in `#[test]` functions only, not in this file's helpers.
#![allow(clippy::unwrap_used)]

use protocol::entities::Role;
use protocol::{ProjectId, UserId};
use store::Store;

/// The statements that wait: the removal's, the role change's and a change's check.
const REMOVE: &str =
    "WITH locked AS MATERIALIZED (SELECT draftline_lock_membership($1, $2)) DELETE";
const PUT: &str = "WITH locked AS MATERIALIZED (SELECT draftline_lock_membership($1, $2)) INSERT";
const CHECK: &str = "SELECT draftline_role_for_change";

/// Waits until `statement` waits for the membership's lock.
async fn blocked(store: &Store, statement: &str) {
    testkit::database::until_a_statement_waits(&store.pool, "advisory", statement).await;
}

/// A fresh database with a project of an owner's, and a member who may write.
async fn project_with_a_member(name: &str) -> (testkit::Database, Store, ProjectId, UserId) {
    let db = testkit::Database::create().await;
    let store = Store::connect(&db.url, 6).await.unwrap();
    let member = UserId::from("member");
    let mut conn = store.acquire().await.unwrap();
    let project = store::projects::create(&mut conn, &UserId::from("owner"), name, "")
        .await
        .unwrap()
        .id;
    store::members::put(&mut conn, project, &member, Role::Editor)
        .await
        .unwrap();
    drop(conn);
    (db, store, project, member)
}

#[tokio::test]
async fn a_removal_waits_for_the_changes_past_their_check_and_the_changes_after_wait_and_find_no_membership()
 {
    let (_db, store, project, member) = project_with_a_member("Locked").await;

    // A change of the member's, past its check and not yet committed.
    let mut change = store.begin().await.unwrap();
    let role = store::projects::role_for_change(&mut change, project, &member)
        .await
        .unwrap();
    assert_eq!(role, Some(Role::Editor));

    // The owner removes the member: the removal waits for the change.
    let removal = tokio::spawn({
        let store = store.clone();
        let member = member.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let removed = store::members::remove(&mut tx, project, &member)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            removed
        }
    });
    blocked(&store, REMOVE).await;
    assert!(!removal.is_finished(), "the removal waits for the change");

    // A second change of the member's, checked while the removal waits: it waits behind
    // the removal.
    let second = tokio::spawn({
        let store = store.clone();
        let member = member.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let role = store::projects::role_for_change(&mut tx, project, &member)
                .await
                .unwrap();
            tx.rollback().await.unwrap();
            role
        }
    });
    blocked(&store, CHECK).await;
    assert!(
        !second.is_finished(),
        "a change checked now waits for the removal"
    );

    // The first change commits; then the removal does, and the second change reads the
    // membership as the removal left it: gone.
    change.commit().await.unwrap();
    assert!(removal.await.unwrap(), "the member was removed");
    assert_eq!(
        second.await.unwrap(),
        None,
        "no membership after the removal"
    );

    // A plain read does not wait for anyone: a reader's check never holds up a removal.
    let mut conn = store.acquire().await.unwrap();
    assert_eq!(
        store::projects::role_of(&mut conn, project, &member)
            .await
            .unwrap(),
        None
    );
    drop(conn);
    store.pool.close().await;
}

#[tokio::test]
async fn a_role_change_waits_for_changes_past_their_check_and_the_next_change_reads_the_new_role() {
    let (_db, store, project, member) = project_with_a_member("Lowered").await;

    let mut change = store.begin().await.unwrap();
    store::projects::role_for_change(&mut change, project, &member)
        .await
        .unwrap();
    let lowering = tokio::spawn({
        let store = store.clone();
        let member = member.clone();
        async move {
            let mut conn = store.acquire().await.unwrap();
            store::members::put(&mut conn, project, &member, Role::Viewer)
                .await
                .unwrap()
        }
    });
    blocked(&store, PUT).await;
    assert!(
        !lowering.is_finished(),
        "the role change waits for the change"
    );
    change.commit().await.unwrap();
    assert_eq!(lowering.await.unwrap().role, Role::Viewer);

    let mut next = store.begin().await.unwrap();
    assert_eq!(
        store::projects::role_for_change(&mut next, project, &member)
            .await
            .unwrap(),
        Some(Role::Viewer)
    );
    next.rollback().await.unwrap();
    store.pool.close().await;
}
