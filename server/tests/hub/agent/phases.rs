//! Session phases: set and read by tools, seen by every client, steering the next question.

use super::*;

#[tokio::test]
async fn phase_changes_reach_every_client_and_pick_the_next_question() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    assert_eq!(
        alice.welcome["session"]["metadata"]["phase"], "gathering",
        "{}",
        alice.welcome
    );
    let project = alice.project_in_mode("Memoir", "intake").await;
    let session = alice.session_id();
    let mut project_watcher = server.watcher("alice", &project).await;
    let mut session_watcher = server.connect("alice").await;
    let reply = session_watcher
        .request(json!({"type": "subscribe", "topic": format!("session:{session}")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");

    // Gathering, nothing open: the most important gap.
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["phase"], "gathering");
    assert_eq!(gaps["next"]["field"], "summary", "{gaps}");

    let out = alice
        .call_ok(
            "set_session_phase",
            json!({"phase": "clarifying", "dimensions_open": ["voice", "people_bonds", "voice"]}),
        )
        .await;
    assert_eq!(
        out,
        json!({"phase": "clarifying", "dimensions_covered": [], "dimensions_open": ["voice", "people_bonds"]})
    );
    for client in [&mut project_watcher, &mut session_watcher] {
        let event = client.ws.next_event_of("session.phase").await;
        assert_eq!(event["session_id"], session.as_str());
        assert_eq!(event["project_id"], project.as_str());
        assert_eq!(event["phase"], "clarifying");
        assert_eq!(event["dimensions_open"], json!(["voice", "people_bonds"]));
    }
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "voice", "{gaps}");

    // Filling an open field covers it and takes it off, and every client is told.
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "voice", "value": "Warm, plain"}),
        )
        .await;
    let event = project_watcher.ws.next_event_of("session.phase").await;
    assert_eq!(event["dimensions_covered"], json!(["voice"]));
    assert_eq!(event["dimensions_open"], json!(["people_bonds"]));
    let phase = alice.call_ok("get_session_phase", json!({})).await;
    assert_eq!(phase["dimensions_open"], json!(["people_bonds"]));
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "people_bonds", "{gaps}");

    // Finalizing asks only what the document cannot do without.
    alice
        .call_ok("set_session_phase", json!({"phase": "finalizing"}))
        .await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"]["field"], "summary", "{gaps}");
    assert_eq!(gaps["next"]["priority"], "high");
    alice
        .call_ok("set_session_phase", json!({"phase": "completed"}))
        .await;
    let gaps = alice.call_ok("get_blueprint_gaps", json!({})).await;
    assert_eq!(gaps["next"], Value::Null, "{gaps}");
    assert!(!gaps["gaps"].as_array().unwrap().is_empty());

    // The phase belongs to the session: resuming it finds it there.
    let (_, welcome) = server.resume("alice", &session).await;
    assert_eq!(
        welcome["session"]["metadata"]["phase"], "completed",
        "{welcome}"
    );
    assert_eq!(
        welcome["session"]["metadata"]["dimensions_covered"],
        json!(["voice"])
    );
}

#[tokio::test]
async fn the_phase_tools_check_their_mode_and_arguments() {
    let server = TestServer::start().await;
    let mut alice = server.connect("alice").await;
    let error = alice
        .call_err("set_session_phase", json!({"phase": "clarifying"}))
        .await;
    assert_eq!(error["code"], "tool_not_allowed", "{error}");
    alice.project_in_mode("Memoir", "audit").await;
    alice
        .call_ok("set_session_phase", json!({"phase": "finalizing"}))
        .await;
    assert_eq!(
        alice.call_ok("get_session_phase", json!({})).await["phase"],
        "finalizing"
    );
    let error = alice.call_err("set_session_phase", json!({})).await;
    assert_eq!(error["code"], "invalid_arguments");
    assert_eq!(error["details"]["field"], "phase", "{error}");
    let error = alice
        .call_err("set_session_phase", json!({"phase": "dreaming"}))
        .await;
    assert_eq!(error["details"]["field"], "phase", "{error}");
    let error = alice
        .call_err("set_session_phase", json!({"dimensions_open": ["nope"]}))
        .await;
    assert_eq!(error["code"], "invalid_arguments", "{error}");
    // A mode change leaves the phase where the conversation put it.
    let session = alice.configure(json!({"mode": "forecast"})).await;
    assert_eq!(session["metadata"]["phase"], "finalizing");
}
