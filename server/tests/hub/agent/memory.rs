//! Memory kept across sessions, listed and forgotten, and given to drafts and chat replies.

use super::*;
use testkit::model::{Reply, Script, plain_stream, server_then};

/// A model endpoint that keeps every request it is sent (the prompts) and answers each
/// with a short draft.
async fn capturing_model() -> (String, Script) {
    let answer = plain_stream(
        &[
            "# Harbour Workshop\n\n## Overview\n\nShort and plain.\n",
            "\n---DRAFTLINE---\n",
            r#"{"summary": "A short draft.", "sections": ["Overview"]}"#,
        ],
        None,
    );
    server_then(vec![], Reply::Stream(answer)).await
}

/// The request bodies the model was sent, oldest first, as JSON text.
fn prompts_of(script: &Script) -> Vec<String> {
    script
        .requests()
        .into_iter()
        .map(|(_, body)| body.to_string())
        .collect()
}

#[tokio::test]
async fn memory_survives_a_new_session_and_reaches_drafts_and_chat_replies() {
    let (url, prompts) = capturing_model().await;
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |c| {
        c.model.kind = worker::draft::ModelKind::Openai;
        c.model.openai_base_url = url.clone();
        c.model.openai_api_key = Some("test-key".into());
    })
    .await;
    let db = server.db().await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.configure(json!({"mode": "update"})).await;
    let note = id_of(
        &alice
            .call_ok("create_note", json!({"body": "The budget is fixed"}))
            .await,
        "note",
    );
    let older = alice
        .call_ok(
            "remember",
            json!({"kind": "fact", "body": "The budget is fixed at 40k",
                   "source": {"kind": "note", "id": note}}),
        )
        .await;
    assert_eq!(
        older["entry"]["source"],
        json!({"kind": "note", "id": note})
    );
    let newer = alice
        .call_ok(
            "remember",
            json!({"kind": "preference", "body": "Prefers short plain sentences",
                   "source": {"kind": "transcript_item", "id": "item-7"}}),
        )
        .await;
    assert_eq!(newer["entry"]["user_id"], "alice");
    assert_eq!(newer["entry"]["session_id"], alice.session_id().as_str());
    // Remembering is a change like any other: an operation of kind create.
    let op = operation_of(&db, "remember", newer["entry"]["id"].as_str().unwrap()).await;
    assert_eq!(
        (op["kind"].clone(), op["entity"].clone()),
        (json!("create"), json!("memory"))
    );

    // A new session, another day: assigning the project gives it the memory, newest
    // first.
    drop(alice);
    let mut later = server.connect("alice").await;
    let assigned = later
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    let bodies: Vec<&str> = assigned["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Prefers short plain sentences",
            "The budget is fixed at 40k"
        ]
    );
    later.configure(json!({"mode": "audit"})).await;
    let listed = later
        .call_ok("list_memory", json!({"kind": "preference"}))
        .await;
    assert_eq!(listed["memory"].as_array().unwrap().len(), 1, "{listed}");
    let error = later
        .call_err("remember", json!({"kind": "fact", "body": "x"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");

    // The draft's prompt carries it.
    later.configure(json!({"mode": "ghostwriting"})).await;
    later.subscribe_project(&project).await;
    let job = queue_draft(&mut later, json!({"urgency": "high"})).await;
    job_events(&mut later.ws, &job, "completed").await;
    let prompt = prompts_of(&prompts).pop().expect("the draft's prompt");
    assert!(
        prompt.contains("Remembered from earlier conversations"),
        "{prompt}"
    );
    let preference = prompt
        .find("Prefers short plain sentences")
        .expect("the preference");
    let fact = prompt.find("The budget is fixed at 40k").expect("the fact");
    assert!(preference < fact, "newest first");

    // And so does a chat reply's.
    let reply = later
        .request(
            json!({"type": "chat.send", "project_id": project, "text": "How long should it be?"}),
        )
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let chat_prompt = prompts_of(&prompts)
            .into_iter()
            .find(|p| p.contains("How long should it be?"));
        if let Some(chat_prompt) = chat_prompt {
            assert!(
                chat_prompt.contains("Prefers short plain sentences"),
                "{chat_prompt}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no chat reply was asked for"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Forgotten, it is gone for the next session, and every client is told.
    let mut watcher = server.watcher("alice", &project).await;
    later.configure(json!({"mode": "update"})).await;
    let forgotten = later
        .call_ok("forget_memory", json!({"memory_id": newer["entry"]["id"]}))
        .await;
    assert_eq!(forgotten["entry"]["id"], newer["entry"]["id"]);
    let event = watcher.ws.next_event_of("memory.deleted").await;
    assert_eq!(event["entry"]["id"], newer["entry"]["id"]);
    let mut next_day = server.connect("alice").await;
    let assigned = next_day
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    assert_eq!(assigned["memory"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn memory_over_http_and_its_checks() {
    let server = TestServer::start().await;
    let mut carol = server.connect("carol").await;
    carol.project_in_mode("Theirs", "update").await;
    let their_note = id_of(
        &carol
            .call_ok("create_note", json!({"body": "Private"}))
            .await,
        "note",
    );
    let mut alice = server.connect("alice").await;
    let project = alice.project_in_mode("Garden", "update").await;
    let mut watcher = server.watcher("alice", &project).await;
    let url = server.url(&format!("/v1/projects/{project}/memory"));
    let post = |body: Value| {
        server
            .http
            .post(&url)
            .bearer_auth(server.token("alice"))
            .json(&body)
            .send()
    };
    let response = post(json!({"kind": "decision", "body": "No pesticides"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["entry"]["kind"], "decision");
    assert_eq!(created["entry"]["session_id"], Value::Null);
    let event = watcher.ws.next_event_of("memory.created").await;
    assert_eq!(event["entry"]["id"], created["entry"]["id"]);

    for (body, field) in [
        (json!({"kind": "whim", "body": "x"}), "kind"),
        (json!({"kind": "fact", "body": "  "}), "body"),
        (
            json!({"kind": "fact", "body": "x", "source": {"kind": "note", "id": their_note}}),
            "source.id",
        ),
        (
            json!({"kind": "fact", "body": "x", "source": {"kind": "operation", "id": "nope"}}),
            "source.id",
        ),
        (
            json!({"kind": "fact", "body": "x", "project_id": project}),
            "project_id",
        ),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["details"]["field"], field, "{body}: {error}");
    }
    let listed = server
        .get_json(
            &format!("/v1/projects/{project}/memory?kind=decision"),
            Some("alice"),
        )
        .await;
    assert_eq!(listed["memory"].as_array().unwrap().len(), 1, "{listed}");
    let entry = str_of(&created["entry"]["id"]);
    let delete = |id: String| {
        server
            .http
            .delete(format!("{url}/{id}"))
            .bearer_auth(server.token("alice"))
            .send()
    };
    assert_eq!(delete(entry.clone()).await.unwrap().status(), 204);
    assert_eq!(delete(entry.clone()).await.unwrap().status(), 404);
    // The tool refuses the same source checks, naming the argument.
    let error = alice
        .call_err(
            "remember",
            json!({"kind": "fact", "body": "x", "source": {"kind": "note", "id": their_note}}),
        )
        .await;
    assert_eq!(error["details"]["field"], "source.id", "{error}");
}
