//! The drafting pipeline end to end, through real WebSocket clients, a hub and a worker
//! on the same Postgres and Redis: `queue_draft_update` answers at once; every client of
//! the project sees the draft run, stream, land and get narrated; people's edits made
//! during a draft survive its merge; a model that fails is retried and an alert raised
//! when it fails for good; tool calls do not wait for drafts.

use crate::support::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use testkit::model::{Reply, Script, plain_stream, server_then};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use worker::WorkerConfig;

/// A worker and a scheduler on the test server's database and Redis prefix.
pub(crate) struct Jobs {
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub(crate) async fn start(server: &TestServer, tune: impl FnOnce(&mut WorkerConfig)) -> Self {
        let mut config = WorkerConfig {
            concurrency: 4,
            backoff_ms: vec![50],
            ..WorkerConfig::default()
        };
        tune(&mut config);
        let store = store::Store::connect(&server.db.url, 5).await.unwrap();
        let redis = redis::Client::open(server.config.redis_url.as_str()).unwrap();
        let manager = redis::aio::ConnectionManager::new_with_config(
            redis.clone(),
            server::redis_manager_config(),
        )
        .await
        .unwrap();
        let dispatch = store::dispatch::Dispatch::new(manager, server.config.redis_prefix.clone());
        let registry = worker::handlers::builtin(&config).unwrap();
        let shutdown = CancellationToken::new();
        let scheduler = worker::Scheduler::new(
            store.clone(),
            dispatch.clone(),
            worker::SchedulerConfig {
                tick: Duration::from_millis(50),
                ..worker::SchedulerConfig::default()
            },
        );
        let worker = worker::Worker::new(store, dispatch, redis, config, registry);
        let tasks = vec![
            tokio::spawn(scheduler.run(shutdown.clone())),
            tokio::spawn({
                let token = shutdown.clone();
                async move { worker.run(token).await.unwrap() }
            }),
        ];
        Self { shutdown, tasks }
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A project taken through selection and intake to ghostwriting, with a committed
/// blueprint, a todo, a note and a short transcript; answers its id.
pub(crate) async fn ready_project(client: &mut Client) -> String {
    assert_eq!(client.welcome["session"]["mode"], "selection");
    let project = client.project_in_mode("Harbour Workshop", "intake").await;
    for (field, value) in [
        (
            "summary",
            "Turn the old harbour warehouse into a community workshop.",
        ),
        ("audience", "The town council's planning committee."),
        ("goals_momentum", "Open by spring with three local makers."),
    ] {
        client
            .call_ok(
                "sync_blueprint_field",
                json!({"field": field, "value": value}),
            )
            .await;
    }
    client
        .call_ok(
            "create_todo",
            json!({"title": "Get a fire safety quote", "priority": "high"}),
        )
        .await;
    client
        .call_ok(
            "create_note",
            json!({"body": "The roof was inspected in 2023."}),
        )
        .await;
    let appended = client
        .request(json!({"type": "transcript.append", "items": [
            {"item_id": "item-1", "role": "user", "text": "Young people can learn a trade there.", "at": "2026-11-22T10:00:00Z"},
            {"item_id": "item-2", "role": "assistant", "text": "Who else is involved?", "at": "2026-11-22T10:00:05Z"},
            {"item_id": "item-3", "role": "user", "text": "Mara from the boatyard.", "at": "2026-11-22T10:00:09Z"}
        ]}))
        .await;
    assert_eq!(appended["data"]["appended"], 3, "{appended}");
    client
        .call_ok(
            "record_transcript_pointer",
            json!({"item_id": "item-1", "label": "why"}),
        )
        .await;
    client.call_ok("commit_blueprint", json!({})).await;
    client.configure(json!({"mode": "ghostwriting"})).await;
    project
}

/// Queues a draft that must be accepted; answers its job id.
pub(crate) async fn queue_draft(client: &mut Client, arguments: Value) -> String {
    let queued = client.call_ok("queue_draft_update", arguments).await;
    queued["job_id"].as_str().unwrap().to_owned()
}

/// Events about `job` until its `tool.progress` reaches `last` (completed or failed).
pub(crate) async fn job_events(ws: &mut Ws, job: &str, last: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let message = ws.recv().await;
        if message["type"] != "event" {
            continue;
        }
        let event = message["event"].clone();
        if event["job_id"] != job && event["source"]["job_id"] != job {
            continue;
        }
        let done = event["kind"] == "tool.progress" && event["status"] == last;
        events.push(event);
        if done {
            return events;
        }
    }
}

/// Queues a draft and answers its job id and its `running` progress event. On a busy
/// machine the worker can start the job before the tool's result reaches the client, so
/// a `running` event that arrives first is kept, not skipped.
async fn queue_draft_running(client: &mut Client, arguments: Value) -> (String, Value) {
    let mut early = None;
    let reply = client
        .ws
        .try_request_seeing(
            json!({"type": "tool.call", "call_id": "draft", "name": "queue_draft_update", "arguments": arguments}),
            |message| {
                let event = &message["event"];
                if message["type"] == "event"
                    && event["kind"] == "tool.progress"
                    && event["status"] == "running"
                    && early.is_none()
                {
                    early = Some(event.clone());
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    let job = reply["output"]["job_id"].as_str().unwrap().to_owned();
    let running = match early {
        Some(running) => running,
        None => next_progress(&mut client.ws, "running").await,
    };
    (job, running)
}

/// The next `tool.progress` with `status` (other events are skipped).
async fn next_progress(ws: &mut Ws, status: &str) -> Value {
    loop {
        let message = ws.recv().await;
        let event = &message["event"];
        if message["type"] == "event"
            && event["kind"] == "tool.progress"
            && event["status"] == status
        {
            return event.clone();
        }
    }
}

fn position(events: &[Value], kind: &str, status: Option<&str>) -> usize {
    events
        .iter()
        .position(|e| e["kind"] == kind && status.is_none_or(|s| e["status"] == s))
        .unwrap_or_else(|| panic!("no {kind} {status:?} in {events:#?}"))
}

#[tokio::test]
async fn a_queued_draft_streams_to_every_client_and_lands_narrated() {
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |c| c.delta_chars = 200).await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    let mut other = server.connect("alice").await;
    other.subscribe_project(&project).await;
    // The asking session's own topic carries its jobs' progress.
    let own = alice
        .request(json!({"type": "subscribe", "topic": format!("session:{}", alice.session_id())}))
        .await;
    assert_eq!(own["type"], "subscribed", "{own}");

    // On a busy machine the worker can start before the tool's result reaches the
    // client: the session-topic events that arrive first are kept, not skipped.
    let mut early = Vec::new();
    let session_topic = format!("session:{}", alice.session_id());
    let reply = alice
        .ws
        .try_request_seeing(
            json!({"type": "tool.call", "call_id": "draft", "name": "queue_draft_update", "arguments": {
                "urgency": "normal",
                "summary": "A first full draft",
                "message_pointers": ["item-3"],
                "transcript_anchors": [{"item_id": "item-2", "quote": "Who else"}]
            }}),
            |message| {
                if message["type"] == "event" && message["topic"] == session_topic.as_str() {
                    early.push(message["event"].clone());
                }
            },
        )
        .await
        .unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    let queued = &reply["output"];
    assert_eq!(queued["status"], "queued");
    let job = queued["job_id"].as_str().unwrap().to_owned();

    let events = job_events(&mut other.ws, &job, "completed").await;
    let running = position(&events, "tool.progress", Some("running"));
    let first_delta = position(&events, "draft.delta", None);
    let updated = position(&events, "document.updated", None);
    let completed = position(&events, "tool.progress", Some("completed"));
    assert!(position(&events, "tool.progress", Some("queued")) < running);
    assert!(position(&events, "job.status", Some("running")) < first_delta);
    assert!(running < first_delta && first_delta < updated && updated < completed);
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "draft.delta")
        .collect();
    assert!(deltas.len() > 1, "the draft streams in batches");
    for (i, delta) in deltas.iter().enumerate() {
        assert_eq!(delta["seq"], i as u64);
        assert!(delta["text"].as_str().unwrap().chars().count() <= 200 + 200);
    }
    let streamed: String = deltas.iter().map(|d| d["text"].as_str().unwrap()).collect();

    let finished_early = early
        .iter()
        .any(|e| e["job_id"] == job.as_str() && e["status"] == "completed");
    let mut mine: Vec<Value> = early
        .into_iter()
        .filter(|e| e["job_id"] == job.as_str())
        .collect();
    if !finished_early {
        mine.extend(job_events(&mut alice.ws, &job, "completed").await);
    }
    // `queued` is published before the tool's result is sent; whether it reaches the
    // session's topic before or after that result is a race the request helper may read
    // past, so it is not counted here (the project's topic check above covers it).
    let statuses: Vec<&str> = mine
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .filter(|s| *s != "queued")
        .collect();
    assert_eq!(statuses, ["running", "completed"], "{mine:#?}");
    assert!(mine.iter().all(|e| e["kind"] == "tool.progress"));

    let done = &events[completed];
    assert!(!done["summary"].as_str().unwrap().is_empty());
    assert!(done["sections"].as_array().unwrap().len() >= 4, "{done}");
    let narration = done["narration"].as_str().unwrap();
    assert!(narration.starts_with("I updated the draft"), "{narration}");
    assert_eq!(done["session_id"], alice.session_id());
    let update = &events[updated];
    assert_eq!(update["version"], 1);
    assert_eq!(update["source"]["job_id"], job);
    assert!(update.get("conflicts").is_none());

    let document = alice.call_ok("get_document", json!({})).await["document"].clone();
    let markdown = document["markdown"].as_str().unwrap();
    assert_eq!(markdown, streamed, "the deltas are the document");
    for expected in [
        "# Harbour Workshop",
        "Turn the old harbour warehouse into a community workshop.",
        "The town council's planning committee.",
        "Open by spring with three local makers.",
        "Get a fire safety quote",
        "The roof was inspected in 2023.",
        "Mara from the boatyard.",
        "Young people can learn a trade there.",
    ] {
        assert!(
            markdown.contains(expected),
            "missing {expected:?} in\n{markdown}"
        );
    }
    assert_eq!(document["summary"], done["summary"]);

    let status = alice.call_ok("get_draft_status", json!({})).await["job"].clone();
    assert_eq!(status["id"], job);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["generated_summary"], done["summary"]);
    assert!(status["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    let db = server.db().await;
    let source = json_rows(
        &db,
        "SELECT to_jsonb(source_job_id::text) FROM document_versions v JOIN documents d ON d.id = v.document_id WHERE d.project_id = $1::uuid",
        &project,
    )
    .await;
    assert_eq!(source, vec![json!(job)]);
    let payload = json_rows(&db, "SELECT payload FROM jobs WHERE id = $1::uuid", &job).await;
    assert_eq!(payload[0]["message_pointers"], json!(["item-3"]));
    assert_eq!(payload[0]["sessions"], json!([alice.session_id()]));
    assert_eq!(payload[0]["context"]["mode"], "ghostwriting");
    assert_eq!(payload[0]["context"]["document_version"], 0);
    let log = json_rows(
        &db,
        "SELECT jsonb_build_object('kind', kind, 'data', data) FROM job_events WHERE job_id = $1::uuid AND kind IN ('usage', 'artifact') ORDER BY id",
        &job,
    )
    .await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["data"]["version"], 1);
    assert!(log[0]["data"]["duration_ms"].is_u64());
    assert!(log[1]["data"]["completion_tokens"].as_u64().unwrap() > 0);

    // The draft's metrics are on the hub's /metrics (the worker runs in this process).
    let metrics = server.metrics().await;
    for name in [
        "draftline_draft_duration_seconds_bucket",
        "draftline_draft_tokens_total{kind=\"completion\"}",
        "draftline_job_attempts_total{kind=\"draft.update\"}",
        "draftline_tool_call_duration_seconds_bucket{tool=\"queue_draft_update\"",
        "draftline_events_published_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    // The same request again within the throttle window is answered with the same job.
    let again = alice
        .call_ok(
            "queue_draft_update",
            json!({"urgency": "normal", "summary": "a first  full draft"}),
        )
        .await;
    assert_eq!(again["status"], "throttled");
    assert_eq!(again["job_id"], job);
}

#[tokio::test]
async fn a_persons_edit_during_a_draft_survives_the_merge() {
    let server = TestServer::start().await;
    // Slow enough to edit while it runs: 25 ms per streamed piece.
    let _jobs = Jobs::start(&server, |c| c.model.compose_delay_ms = 25).await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.subscribe_project(&project).await;
    let first = queue_draft(&mut alice, json!({"urgency": "normal"})).await;
    job_events(&mut alice.ws, &first, "completed").await;
    let v1 = alice.call_ok("get_document", json!({})).await["document"].clone();
    assert_eq!(v1["version"], 1);

    // New material for the next draft: a voice, and a changed summary.
    alice.configure(json!({"mode": "intake"})).await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "voice", "value": "Warm and plain."}),
        )
        .await;
    alice
        .call_ok(
            "sync_blueprint_field",
            json!({"field": "summary", "value": "A workshop for the whole town."}),
        )
        .await;
    alice.call_ok("commit_blueprint", json!({})).await;
    alice.configure(json!({"mode": "ghostwriting"})).await;
    let (second, running) = queue_draft_running(&mut alice, json!({"urgency": "high"})).await;
    assert_eq!(running["job_id"], second);

    // Meanwhile a person rewrites the audience (the draft leaves it as it was) and the
    // overview (the draft rewrites it too).
    let edited = v1["markdown"]
        .as_str()
        .unwrap()
        .replace(
            "The town council's planning committee.",
            "The council, and the harbour trust's board.",
        )
        .replace(
            "Turn the old harbour warehouse into a community workshop.",
            "Our own words about the workshop.",
        );
    let mut editor = server.connect("alice").await;
    editor
        .call_ok("assign_project_to_session", json!({"project_id": project}))
        .await;
    editor.configure(json!({"mode": "update"})).await;
    let v2 = editor
        .call_ok(
            "apply_document_edits",
            json!({"base_version": 1, "markdown": edited}),
        )
        .await;
    assert_eq!(v2["document"]["version"], 2);

    let events = job_events(&mut alice.ws, &second, "completed").await;
    let update = &events[position(&events, "document.updated", None)];
    assert_eq!(update["version"], 3);
    let conflicts: Vec<&str> = update["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        conflicts,
        ["harbour-workshop/overview"],
        "both changed the overview"
    );
    let done = &events[position(&events, "tool.progress", Some("completed"))];
    assert!(
        done["narration"]
            .as_str()
            .unwrap()
            .contains("kept your edits"),
        "{done}"
    );

    let v3 = alice.call_ok("get_document", json!({})).await["document"].clone();
    let markdown = v3["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("The council, and the harbour trust's board."),
        "{markdown}"
    );
    assert!(
        markdown.contains("Our own words about the workshop."),
        "{markdown}"
    );
    assert!(
        !markdown.contains("A workshop for the whole town."),
        "people's overview kept"
    );
    assert!(
        markdown.contains("## Voice\n\nWarm and plain."),
        "the draft's new section: {markdown}"
    );
    let result = alice
        .call_ok("get_draft_status", json!({"job_id": second}))
        .await["job"]["result"]
        .clone();
    assert_eq!(result["base_version"], 1);
    assert_eq!(result["merged_over_version"], 2);
}

/// A model endpoint speaking the OpenAI chat completions stream that answers 503 to its
/// first `failures` requests, then a short draft; its script counts the requests.
async fn flaky_model(failures: usize) -> (String, Script) {
    let overloaded = Reply::Status(503, vec![], "overloaded");
    if failures == usize::MAX {
        return server_then(vec![], overloaded).await;
    }
    let answer = plain_stream(
        &[
            "# Harbour Workshop\n\n",
            "## Overview\n\nA workshop for the town.\n",
            "\n---DRAFTLINE---\n",
            r#"{"summary": "A short draft from the model.", "sections": ["Overview"]}"#,
        ],
        Some((120, 30)),
    );
    server_then(vec![overloaded; failures], Reply::Stream(answer)).await
}

fn openai(config: &mut WorkerConfig, url: &str) {
    config.model.kind = worker::draft::ModelKind::Openai;
    config.model.openai_base_url = url.to_owned();
    config.model.openai_api_key = Some("test-key".into());
    // One request per job attempt: the job's own retries are under test.
    config.model.model_attempts = 1;
}

#[tokio::test]
async fn a_model_that_fails_twice_then_succeeds_gives_one_version_after_three_attempts() {
    let (url, calls) = flaky_model(2).await;
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |c| openai(c, &url)).await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.subscribe_project(&project).await;
    let job = queue_draft(&mut alice, json!({"urgency": "normal"})).await;
    let events = job_events(&mut alice.ws, &job, "completed").await;
    let retries: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "tool.progress" && e["status"] == "retrying")
        .collect();
    assert_eq!(retries.len(), 2, "{events:#?}");
    // Clients get the kind of trouble and an error id; the server's own words ("overloaded")
    // stay in the worker's log.
    let error = retries[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the model provider is unavailable (error "),
        "{}",
        retries[0]
    );
    assert!(!error.contains("overloaded"), "{error}");
    assert_eq!(calls.requests().len(), 3);
    let status = alice.call_ok("get_draft_status", json!({})).await["job"].clone();
    assert_eq!(status["attempts"], 3);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["generated_summary"], "A short draft from the model.");
    assert_eq!(status["usage"]["prompt_tokens"], 120);
    let db = server.db().await;
    let versions = count(
        &db,
        "SELECT count(*) FROM document_versions v JOIN documents d ON d.id = v.document_id WHERE d.project_id = $1::uuid",
        &project,
    )
    .await;
    assert_eq!(versions, 1);
}

#[tokio::test]
async fn a_draft_that_fails_for_good_is_narrated_and_alerted() {
    let (url, _) = flaky_model(usize::MAX).await;
    let alerts = Arc::new(tokio::sync::Mutex::new(Vec::<Value>::new()));
    let received = alerts.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let received = received.clone();
            async move {
                received.lock().await.push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let server = TestServer::start().await;
    let _jobs = Jobs::start(&server, |c| {
        openai(c, &url);
        c.alert_webhook = Some(hook_url.clone());
    })
    .await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.subscribe_project(&project).await;
    let job = queue_draft(&mut alice, json!({"urgency": "low"})).await;
    let events = job_events(&mut alice.ws, &job, "failed").await;
    let failed = events.last().unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("the model provider is unavailable (error "),
        "{failed}"
    );
    assert!(!error.contains("overloaded"), "{failed}");
    let error_id = error
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        failed["narration"],
        "I couldn't update the draft this time."
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let alert = loop {
        if let Some(alert) = alerts.lock().await.first().cloned() {
            break alert;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alert["project_id"], project);
    assert_eq!(alert["job_id"], job);
    assert!(
        alert["text"].as_str().unwrap().contains("after 3 attempts"),
        "{alert}"
    );
    // People on call get the detail, under the id the client saw.
    let detail = alert["error"].as_str().unwrap();
    assert!(detail.contains("overloaded"), "{alert}");
    assert!(detail.contains(&error_id), "{alert}");
    let status = alice.call_ok("get_draft_status", json!({})).await["job"].clone();
    assert_eq!(status["status"], "failed");
    assert_eq!(
        alice.call_ok("get_document", json!({})).await["document"]["version"],
        0
    );
}

#[tokio::test]
async fn tool_calls_do_not_wait_for_slow_drafts() {
    let server = TestServer::start().await;
    // About two seconds per draft.
    let _jobs = Jobs::start(&server, |c| c.model.compose_delay_ms = 40).await;
    let mut alice = server.connect("alice").await;
    let project = ready_project(&mut alice).await;
    alice.subscribe_project(&project).await;
    let (job, running) = queue_draft_running(&mut alice, json!({"urgency": "normal"})).await;
    assert_eq!(running["job_id"], job);
    let mut other = server.connect("bob").await;
    for _ in 0..20 {
        other.call_ok("list_projects", json!({})).await;
        alice.call_ok("get_project", json!({})).await;
    }
    // Forty calls answered, and the draft is still running: nothing waited for it.
    let status = alice
        .call_ok("get_draft_status", json!({"job_id": job}))
        .await["job"]
        .clone();
    assert_eq!(status["status"], "running", "{status}");
    // The scheduler reports the queue's depth (here, the running draft) every tick.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("draftline_job_queue_depth{status=\"running\",kind=\"draft.update\"}"),
        "{metrics}"
    );
}
