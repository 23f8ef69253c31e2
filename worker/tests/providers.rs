//! Tests of the model providers: `openai` against a local OpenAI-compatible server
//! that streams the documented chunk format (and misbehaves on cue), and `compose`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use protocol::blueprint::{Blueprint, BlueprintField};
use protocol::entities::{
    ChatMessage, ChatRole, Priority, Project, ProjectStatus, Todo, TodoStatus, TranscriptItem,
    TranscriptRole,
};
use protocol::{MessageId, ProjectId, SessionId, TodoId, UserId};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker::draft::{
    ChatInput, Compose, Drafted, Excerpt, OpenAi, OpenAiConfig, PromptInput, Provider,
    ProviderError, Reply as ChatReply, build_chat_prompt, build_prompt, compose, delta_channel,
    estimate_tokens,
};

// ---------------------------------------------------------------------------------
// A scripted OpenAI-compatible server.

/// One step of a streamed body.
#[derive(Clone)]
enum Step {
    /// Bytes sent as they are.
    Send(String),
    /// A pause before the next step.
    Wait(Duration),
    /// The connection breaks off (the body fails, so the chunked encoding never ends).
    Break,
}

/// What the server answers to one request.
#[derive(Clone)]
enum Reply {
    /// 200 with an event stream made of the steps.
    Stream(Vec<Step>),
    /// Another status, with headers and a body.
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// No answer for a long time.
    Hang,
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    /// Each request's authorization header and JSON body, in order.
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Script {
    fn requests(&self) -> Vec<(String, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

async fn chat(State(script): State<Script>, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    script.requests.lock().unwrap().push((auth, body));
    let reply = script.replies.lock().unwrap().pop_front();
    match reply {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no reply scripted").into_response(),
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(Reply::Status(code, headers, body)) => {
            let mut response = (StatusCode::from_u16(code).unwrap(), body).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Some(Reply::Stream(steps)) => {
            let body = futures_util::stream::iter(steps)
                .then(|step| async move {
                    match step {
                        Step::Send(bytes) => Some(Ok(bytes)),
                        Step::Wait(pause) => {
                            tokio::time::sleep(pause).await;
                            Some(Ok(String::new()))
                        }
                        Step::Break => Some(Err(std::io::Error::other("broken off"))),
                    }
                })
                .filter_map(|item| async move { item });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(body))
                .unwrap()
        }
    }
}

/// Starts the server on a free port; answers with `replies` in order.
async fn server(replies: Vec<Reply>) -> (String, Script) {
    let script = Script {
        replies: Arc::new(Mutex::new(replies.into())),
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), script)
}

/// An SSE event carrying one content delta, as OpenAI streams them.
fn content(text: &str) -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_741_082_400,
        "model": "test-model",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
        "usage": null,
    }))
}

/// The first event of a stream: the role, no content.
fn role() -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}],
    }))
}

fn finish() -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }))
}

/// The usage event `stream_options.include_usage` asks for: no choices.
fn usage(prompt: u64, completion: u64) -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }))
}

fn done() -> Step {
    Step::Send("data: [DONE]\n\n".into())
}

fn event(data: Value) -> Step {
    Step::Send(format!("data: {data}\n\n"))
}

const DOC: &str = "# Harbour Workshop\n\n## Overview\n\nA community workshop in the old warehouse.\n\n## Audience\n\nThe planning committee.\n";

/// A complete answer: the document in small deltas, the trailer, usage, [DONE].
fn answer() -> Vec<Step> {
    let mut steps = vec![role()];
    for piece in [
        "# Harbour Workshop\n\n## Over",
        "view\n\nA community workshop ",
        "in the old warehouse.\n\n",
        "## Audience\n\nThe planning committee.\n",
        "---DRAFT",
        "LINE---\n",
        "{\"summary\": \"A workshop plan for the committee.\", ",
        "\"sections\": [\"Overview\", \"Audience\"]}",
    ] {
        steps.push(content(piece));
    }
    steps.extend([finish(), usage(321, 54), done()]);
    steps
}

fn config(base_url: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base_url.to_owned(),
        api_key: "sk-test".into(),
        model: "test-model".into(),
        first_byte_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(5),
    }
}

// ---------------------------------------------------------------------------------
// Inputs.

fn at(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 10, minute, 0).unwrap()
}

fn input() -> PromptInput {
    let mut blueprint = Blueprint::new();
    blueprint.insert(
        BlueprintField::Summary,
        "A community workshop in the old warehouse.".into(),
    );
    blueprint.insert(BlueprintField::Audience, "The planning committee.".into());
    blueprint.insert(
        BlueprintField::PowerResources,
        "A lottery grant covers half.".into(),
    );
    let project = Project {
        id: ProjectId(Uuid::from_u128(1)),
        owner_id: UserId("ana".into()),
        name: "Harbour Workshop".into(),
        description: String::new(),
        status: ProjectStatus::Active,
        blueprint,
        blueprint_draft: Blueprint::new(),
        blueprint_version: 1,
        role: None,
        created_at: at(0),
        updated_at: at(0),
    };
    let mut input = PromptInput::new(project);
    input.todos = vec![Todo {
        id: TodoId(Uuid::from_u128(2)),
        project_id: ProjectId(Uuid::from_u128(1)),
        title: "Get a fire safety quote".into(),
        details: String::new(),
        status: TodoStatus::Open,
        priority: Priority::High,
        session_id: None,
        created_at: at(1),
        updated_at: at(1),
    }];
    input.pinned = vec![Excerpt {
        item: TranscriptItem {
            session_id: SessionId(Uuid::from_u128(3)),
            seq: 4,
            item_id: "item_4".into(),
            role: TranscriptRole::User,
            text: "Young people should be able to learn a trade there.".into(),
            at: at(4),
        },
        quote: None,
    }];
    input
}

/// Runs a draft while collecting its deltas.
async fn draft(
    provider: &dyn Provider,
    input: &PromptInput,
    cancel: &CancellationToken,
) -> (Result<Drafted, ProviderError>, Vec<String>) {
    let prompt = build_prompt(input);
    let (deltas, mut rx) = delta_channel();
    let collector = tokio::spawn(async move {
        let mut pieces = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        pieces
    });
    let result = provider.draft(&prompt, input, &deltas, cancel).await;
    drop(deltas);
    (result, collector.await.unwrap())
}

// ---------------------------------------------------------------------------------
// openai

#[tokio::test]
async fn openai_streams_the_document_and_reads_the_trailer_and_usage() {
    let (url, script) = server(vec![Reply::Stream(answer())]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let input = input();
    let (result, pieces) = draft(&provider, &input, &CancellationToken::new()).await;
    let drafted = result.unwrap();

    assert_eq!(drafted.markdown, DOC);
    assert_eq!(drafted.summary, "A workshop plan for the committee.");
    assert_eq!(drafted.sections, ["Overview", "Audience"]);
    assert_eq!(drafted.usage.prompt_tokens, 321);
    assert_eq!(drafted.usage.completion_tokens, 54);
    // The deltas are the document, in more than one piece, and never the trailer.
    assert!(pieces.len() > 1, "{pieces:?}");
    assert_eq!(pieces.concat(), DOC);

    let requests = script.requests();
    assert_eq!(requests.len(), 1);
    let (auth, body) = &requests[0];
    assert_eq!(auth, "Bearer sk-test");
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    let prompt = build_prompt(&input);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], prompt.system.as_str());
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["messages"][1]["content"], prompt.user.as_str());
}

#[tokio::test]
async fn openai_without_a_trailer_or_usage_falls_back() {
    let text = "# T\n\n## Plan\n\nBuild it. Then open it.\n";
    let steps = vec![content(text), done()];
    let (url, _) = server(vec![Reply::Stream(steps)]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    let drafted = result.unwrap();
    assert_eq!(drafted.sections, ["Plan"]);
    assert_eq!(drafted.summary, "Build it.");
    // Estimated: the prompt's own estimate and characters / 4 of the answer.
    assert_eq!(
        drafted.usage.prompt_tokens,
        build_prompt(&input()).tokens as u64
    );
    assert_eq!(
        drafted.usage.completion_tokens,
        estimate_tokens(text) as u64
    );
}

#[tokio::test]
async fn openai_waits_out_retry_after_on_429_then_succeeds() {
    let (url, script) = server(vec![
        Reply::Status(
            429,
            vec![("retry-after", "1")],
            "{\"error\": {\"message\": \"slow down\"}}",
        ),
        Reply::Stream(answer()),
    ])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let started = Instant::now();
    let (result, pieces) = draft(&provider, &input(), &CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert_eq!(result.unwrap().markdown, DOC);
    assert_eq!(pieces.concat(), DOC);
    assert_eq!(script.requests().len(), 2);
    // Retry-After: 1, not the 10 ms backoff.
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
}

#[tokio::test]
async fn openai_gives_a_long_retry_after_back_to_the_job() {
    let (url, script) = server(vec![Reply::Status(429, vec![("retry-after", "60")], "")]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let started = Instant::now();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    match result {
        Err(ProviderError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(script.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn openai_retries_a_stream_broken_before_any_text_then_gives_up() {
    let broken = Reply::Stream(vec![role(), Step::Break]);
    let (url, script) = server(vec![broken.clone(), broken.clone(), broken]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, pieces) = draft(&provider, &input(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
    assert!(error.retryable());
    assert_eq!(script.requests().len(), 3);
    assert!(pieces.is_empty());
}

#[tokio::test]
async fn openai_recovers_from_a_broken_stream_on_the_next_attempt() {
    let (url, script) = server(vec![
        Reply::Stream(vec![role(), Step::Break]),
        Reply::Stream(answer()),
    ])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, pieces) = draft(&provider, &input(), &CancellationToken::new()).await;
    assert_eq!(result.unwrap().markdown, DOC);
    assert_eq!(pieces.concat(), DOC, "no piece is sent twice");
    assert_eq!(script.requests().len(), 2);
}

#[tokio::test]
async fn openai_does_not_retry_once_text_was_streamed() {
    let (url, script) = server(vec![
        // The pause lets the text reach the client before the connection breaks (the
        // server would otherwise drop its unflushed bytes with the connection).
        Reply::Stream(vec![
            role(),
            content("# Harbour Workshop\n\n"),
            Step::Wait(Duration::from_millis(100)),
            Step::Break,
        ]),
        Reply::Stream(answer()),
    ])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, pieces) = draft(&provider, &input(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
    assert_eq!(script.requests().len(), 1);
    assert_eq!(pieces.concat(), "# Harbour Workshop\n\n");
}

#[tokio::test]
async fn openai_a_stream_that_ends_without_done_is_an_error() {
    let (url, script) = server(vec![Reply::Stream(vec![
        content("# Harbour Workshop\n\n"),
        finish(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
    assert_eq!(script.requests().len(), 1);
}

#[tokio::test]
async fn openai_a_json_answer_instead_of_a_stream_is_a_bad_response() {
    let (url, script) = server(vec![Reply::Status(
        200,
        vec![("content-type", "application/json")],
        "{\"choices\": [{\"message\": {\"content\": \"# T\"}}]}",
    )])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(ProviderError::BadResponse(_))),
        "{result:?}"
    );
    assert_eq!(script.requests().len(), 1);
}

#[tokio::test]
async fn openai_a_malformed_chunk_is_a_bad_response() {
    let (url, script) = server(vec![Reply::Stream(vec![
        Step::Send("data: {\"choices\": [\n\n".into()),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::BadResponse(_)), "{error:?}");
    assert!(!error.retryable());
    assert_eq!(script.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn openai_times_out_when_the_server_does_not_answer() {
    let (url, script) = server(vec![Reply::Hang, Reply::Hang, Reply::Hang]).await;
    let provider = OpenAi::new(OpenAiConfig {
        first_byte_timeout: Duration::from_millis(200),
        ..config(&url)
    })
    .unwrap();
    let started = Instant::now();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(ProviderError::Timeout)), "{result:?}");
    assert_eq!(
        script.requests().len(),
        3,
        "a timeout before any text is retried"
    );
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn openai_times_out_when_the_stream_goes_quiet() {
    let (url, script) = server(vec![Reply::Stream(vec![
        content("# Harbour Workshop\n\n"),
        Step::Wait(Duration::from_secs(30)),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(OpenAiConfig {
        idle_timeout: Duration::from_millis(200),
        ..config(&url)
    })
    .unwrap();
    let started = Instant::now();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    assert!(matches!(result, Err(ProviderError::Timeout)), "{result:?}");
    assert_eq!(script.requests().len(), 1, "text was streamed: no retry");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn openai_401_is_auth_without_retry() {
    let (url, script) = server(vec![
        Reply::Status(401, vec![], "{\"error\": {\"message\": \"bad key\"}}"),
        Reply::Stream(answer()),
    ])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    assert!(matches!(result, Err(ProviderError::Auth)), "{result:?}");
    assert_eq!(script.requests().len(), 1);
}

#[tokio::test]
async fn openai_5xx_is_unavailable_after_three_attempts() {
    let error = Reply::Status(503, vec![], "{\"error\": {\"message\": \"overloaded\"}}");
    let (url, script) = server(vec![error.clone(), error.clone(), error]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    match result {
        Err(ProviderError::Unavailable(message)) => assert!(message.contains("overloaded")),
        other => panic!("{other:?}"),
    }
    assert_eq!(script.requests().len(), 3);
}

#[tokio::test]
async fn openai_stops_when_cancelled() {
    let (url, _) = server(vec![Reply::Stream(vec![
        content("# Harbour Workshop\n\n"),
        Step::Wait(Duration::from_secs(30)),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let (result, _) = draft(&provider, &input(), &cancel).await;
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn openai_a_refused_connection_is_unavailable() {
    // A port that was free a moment ago: nothing listens there now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = OpenAi::new(OpenAiConfig {
        attempts: 1,
        ..config(&format!("http://{addr}/v1"))
    })
    .unwrap();
    let (result, _) = draft(&provider, &input(), &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable(_))),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------
// compose

#[tokio::test]
async fn compose_is_deterministic_and_uses_every_filled_field() {
    let input = input();
    let (first, pieces) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let (second, _) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let first = first.unwrap();
    assert_eq!(first, second.unwrap());
    for value in input.project.blueprint.values() {
        assert!(first.markdown.contains(value.as_str()), "{value}");
    }
    assert!(
        first
            .markdown
            .starts_with("# Harbour Workshop\n\n## Overview\n")
    );
    assert!(first.markdown.contains("## Power & resources\n"));
    assert!(
        first
            .markdown
            .contains("- [ ] Get a fire safety quote (high priority)")
    );
    assert!(first.markdown.contains("> — user, item `item_4`"));
    assert!(first.markdown.contains("- **Voice**: "));
    assert_eq!(
        first.sections,
        [
            "Overview",
            "Audience",
            "Power & resources",
            "Open questions",
            "Next steps",
            "Sources"
        ]
    );
    assert!(!first.summary.is_empty() && !first.summary.contains('\n'));
    assert!(pieces.len() > 10, "{}", pieces.len());
    assert_eq!(pieces.concat(), first.markdown);
}

#[tokio::test]
async fn compose_pauses_per_piece() {
    let input = input();
    let (quick, pieces) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let delay = Duration::from_millis(5);
    let started = Instant::now();
    let (slow, _) = draft(&Compose::new(delay), &input, &CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert_eq!(quick.unwrap(), slow.unwrap());
    assert!(
        elapsed >= delay * pieces.len() as u32,
        "{elapsed:?} for {} pieces",
        pieces.len()
    );
}

#[tokio::test]
async fn compose_stops_when_cancelled() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let (result, pieces) = draft(&Compose::new(Duration::from_millis(40)), &input(), &cancel).await;
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let all = compose::pieces(&Compose::write(&input(), 0).markdown, compose::PIECE_CHARS).len();
    assert!(pieces.len() < all / 2, "{} of {all} pieces", pieces.len());
}

// ---------------------------------------------------------------------------------
// chat replies

fn chat_message(n: u128, role: ChatRole, text: &str) -> ChatMessage {
    ChatMessage {
        id: MessageId(Uuid::from_u128(100 + n)),
        project_id: ProjectId(Uuid::from_u128(1)),
        role,
        author_id: (role == ChatRole::User).then(|| UserId("ana".into())),
        text: text.into(),
        job_id: None,
        created_at: at(u32::try_from(n).unwrap()),
    }
}

fn chat_input() -> ChatInput {
    let mut input = ChatInput::new(input().project);
    input.document_summary = "A workshop plan for the committee.".into();
    input.document_version = 2;
    input.history = vec![
        chat_message(1, ChatRole::User, "Who reads this?"),
        chat_message(2, ChatRole::Assistant, "The planning committee."),
        chat_message(3, ChatRole::User, "What is still missing?"),
    ];
    input
}

/// Runs a reply while collecting its deltas.
async fn reply(
    provider: &dyn Provider,
    input: &ChatInput,
    cancel: &CancellationToken,
) -> (Result<ChatReply, ProviderError>, Vec<String>) {
    let prompt = build_chat_prompt(input);
    let (deltas, mut rx) = delta_channel();
    let collector = tokio::spawn(async move {
        let mut pieces = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        pieces
    });
    let result = provider.reply(&prompt, input, &deltas, cancel).await;
    drop(deltas);
    (result, collector.await.unwrap())
}

#[tokio::test]
async fn openai_streams_a_chat_reply_with_the_conversation() {
    // Text that looks like a draft's trailer is only text in a reply: streamed and kept.
    let steps = vec![
        role(),
        content("The voice "),
        content("and the outline.\n---DRAFT"),
        content("LINE---\n"),
        finish(),
        usage(120, 9),
        done(),
    ];
    let (url, script) = server(vec![Reply::Status(503, vec![], ""), Reply::Stream(steps)]).await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let input = chat_input();
    let (result, pieces) = reply(&provider, &input, &CancellationToken::new()).await;
    let written = result.unwrap();
    assert_eq!(
        written.text, "The voice and the outline.\n---DRAFTLINE---",
        "trimmed"
    );
    assert_eq!(written.usage.prompt_tokens, 120);
    assert_eq!(written.usage.completion_tokens, 9);
    assert_eq!(
        pieces.concat(),
        "The voice and the outline.\n---DRAFTLINE---\n"
    );

    // Retried once after the 503, with the same request.
    let requests = script.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].1, requests[1].1);
    let body = &requests[1].1;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    let prompt = build_chat_prompt(&input);
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(messages[0]["content"], prompt.system.as_str());
    assert!(prompt.system.contains("Name: Harbour Workshop"));
    assert_eq!(messages[1]["content"], "Who reads this?");
    assert_eq!(messages[2]["content"], "The planning committee.");
    assert_eq!(messages[3]["content"], "What is still missing?");
}

#[tokio::test]
async fn openai_a_chat_reply_without_usage_is_estimated() {
    let (url, _) = server(vec![Reply::Stream(vec![
        content("  Short answer. "),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let input = chat_input();
    let (result, _) = reply(&provider, &input, &CancellationToken::new()).await;
    let written = result.unwrap();
    assert_eq!(written.text, "Short answer.");
    assert_eq!(
        written.usage.prompt_tokens,
        build_chat_prompt(&input).tokens as u64
    );
    assert_eq!(
        written.usage.completion_tokens,
        estimate_tokens("Short answer.") as u64
    );
}

#[tokio::test]
async fn openai_an_empty_chat_reply_is_a_bad_response() {
    let (url, script) = server(vec![Reply::Stream(vec![
        role(),
        content(" \n"),
        finish(),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = reply(&provider, &chat_input(), &CancellationToken::new()).await;
    assert!(
        matches!(result, Err(ProviderError::BadResponse(_))),
        "{result:?}"
    );
    assert_eq!(script.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn openai_a_chat_reply_stops_when_cancelled() {
    let (url, _) = server(vec![Reply::Stream(vec![
        content("The voice "),
        Step::Wait(Duration::from_secs(30)),
        done(),
    ])])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let (result, pieces) = reply(&provider, &chat_input(), &cancel).await;
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert_eq!(pieces.concat(), "The voice ");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn compose_replies_from_the_project_state_in_pieces() {
    let input = chat_input();
    let (result, pieces) = reply(&Compose::default(), &input, &CancellationToken::new()).await;
    let written = result.unwrap();
    assert!(written.text.starts_with("Noted: “What is still missing?”"));
    assert!(written.text.contains("The draft (version 2)"));
    assert!(written.text.contains("A workshop plan for the committee."));
    assert!(
        written
            .text
            .contains("The blueprint has Summary, Audience and Power & resources filled in")
    );
    assert!(written.text.contains("still open: Voice, Outline, "));
    assert!(pieces.len() > 1, "{pieces:?}");
    assert_eq!(pieces.concat(), written.text);
    let (again, _) = reply(&Compose::default(), &input, &CancellationToken::new()).await;
    assert_eq!(again.unwrap(), written, "deterministic");
}
