//! A viewer's transcript is never drawn into a draft of the project they view.

use super::*;

#[tokio::test]
async fn a_viewers_transcript_never_reaches_a_draft() {
    use crate::drafting::{Jobs, job_events, queue_draft, ready_project};
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |_| {}).await;
    let mut alice = server.connect("alice").await;
    // Alice's transcript has item-1 (pointed at) and item-3; her draft names item-3.
    let project = ready_project(&mut alice).await;
    put_member(&server, "alice", &project, "bob", "viewer").await;

    // Bob may read A, so his session may work on it; he says things under the same
    // item ids, hoping the draft picks them up.
    let mut bob = server.connect("bob").await;
    bob.call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let appended = bob
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "item-1", "role": "user", "text": "Bob planted this sentence.", "at": "2026-11-22T10:01:00Z"},
            {"item_id": "item-3", "role": "user", "text": "Bob planted this one too.", "at": "2026-11-22T10:01:05Z"},
            {"item_id": "bob-only", "role": "user", "text": "Bob planted a third.", "at": "2026-11-22T10:01:09Z"}
        ]}))
        .await;
    assert_eq!(appended["data"]["appended"], 3, "{appended}");
    // A viewer cannot point at them or ask for a draft himself.
    bob.configure(json!({"mode": "ghostwriting"})).await;
    let e = bob
        .call_err("record_transcript_pointer", json!({"item_id": "bob-only"}))
        .await;
    assert_eq!(e["code"], "forbidden", "{e}");
    let e = bob
        .call_err("queue_draft_update", json!({"urgency": "normal"}))
        .await;
    assert_eq!(e["code"], "forbidden", "{e}");

    alice.subscribe_project(&project).await;
    let job = queue_draft(
        &mut alice,
        json!({"urgency": "normal", "message_pointers": ["item-3", "bob-only"],
               "transcript_anchors": [{"item_id": "item-1"}]}),
    )
    .await;
    job_events(&mut alice.ws, &job, "completed").await;
    let document = alice.call_ok("get_document", json!({})).await["document"].clone();
    let markdown = document["markdown"].as_str().unwrap();
    assert!(markdown.contains("Mara from the boatyard."), "{markdown}");
    assert!(
        !markdown.contains("Bob planted"),
        "a viewer's words in the draft:\n{markdown}"
    );

    // By pointer, each item comes from its own session, and never from a viewer's.
    let store = store::Store::connect(&server.db.url, 1).await.unwrap();
    let mut conn = store.acquire().await.unwrap();
    let session = |c: &Client| c.session_id().parse::<protocol::SessionId>().unwrap();
    let pointers = [
        (session(&alice), "item-3".to_owned()),
        (session(&bob), "item-1".to_owned()),
        (session(&bob), "bob-only".to_owned()),
    ];
    let items = store::transcript::pointed_items(&mut conn, project.parse().unwrap(), &pointers)
        .await
        .unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["Mara from the boatyard."]);
}
