//! Tests of the model providers: `openai` against a local OpenAI-compatible server
//! that streams the documented chunk format (and misbehaves on cue), and `compose`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use protocol::blueprint::{Blueprint, BlueprintField};
use protocol::entities::{
    ChatMessage, ChatRole, Priority, Project, ProjectStatus, Todo, TodoStatus, TranscriptItem,
    TranscriptRole,
};
use protocol::{MessageId, ProjectId, SessionId, TodoId, UserId};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use worker::draft::{
    ChatInput, Compose, Drafted, Excerpt, LimitField, OpenAi, OpenAiConfig, PromptInput, Provider,
    ProviderError, Reply as ChatReply, build_chat_prompt, build_prompt, compose, delta_channel,
    estimate_tokens,
};

mod fake_model;
use fake_model::*;

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
        first_token_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(5),
        max_tokens: Some(1_500),
        limit_field: LimitField::MaxTokens,
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
    assert!(
        matches!(result, Err(ProviderError::Timeout(_))),
        "{result:?}"
    );
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
    assert!(
        matches!(result, Err(ProviderError::Timeout(_))),
        "{result:?}"
    );
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
// openai: revisions, and the stream shapes of real servers

/// The document as the last draft left it, and an input revising it.
fn revising() -> PromptInput {
    let mut input = input();
    input.document = DOC.to_owned();
    input.last_drafted = Some(DOC.to_owned());
    input.since = Some(at(2));
    input
}

/// An answer that changes Audience and adds Lease, in the pieces a model streams.
const REVISION: [&str; 7] = [
    "<!-- section: harbour-workshop/audience -->\n",
    "## Audience\n\nThe planning committee",
    " and the harbour trust.\n",
    "<!-- new after: harbour-workshop/audience -->\n## Lease\n\n",
    "Ten years.\n",
    "---DRAFTLINE---\n",
    "{\"summary\": \"A plan with its lease.\"}",
];

const REVISED: &str = "# Harbour Workshop\n\n## Overview\n\nA community workshop in the old warehouse.\n\n## Audience\n\nThe planning committee and the harbour trust.\n\n## Lease\n\nTen years.\n";

#[tokio::test]
async fn every_servers_stream_shape_gives_the_same_revision() {
    for shape in SHAPES {
        let steps = recorded(shape, &REVISION, "stop", (900, 40));
        let (url, script) = server(vec![Reply::Stream(steps)]).await;
        let provider = OpenAi::new(config(&url)).unwrap();
        let input = revising();
        let (result, pieces) = draft(&provider, &input, &CancellationToken::new()).await;
        let drafted = result.unwrap_or_else(|e| panic!("{shape:?}: {e}"));
        assert_eq!(drafted.markdown, REVISED, "{shape:?}");
        assert_eq!(drafted.summary, "A plan with its lease.", "{shape:?}");
        assert_eq!(
            drafted.touched,
            ["harbour-workshop/audience", "harbour-workshop/lease"],
            "{shape:?}"
        );
        assert_eq!(drafted.usage.prompt_tokens, 900, "{shape:?}");
        assert_eq!(drafted.usage.completion_tokens, 40, "{shape:?}");
        // The preview is the sections, without markers, thinking or trailer.
        assert_eq!(
            pieces.concat(),
            "## Audience\n\nThe planning committee and the harbour trust.\n## Lease\n\nTen years.\n",
            "{shape:?}"
        );
        // The model saw the document's sections under their keys.
        let (_, body) = &script.requests()[0];
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.contains("<!-- section: harbour-workshop/audience -->\n## Audience\n\nThe planning committee.\n"),
            "{user}"
        );
        assert_eq!(body["max_tokens"], 1_500);
    }
}

#[tokio::test]
async fn a_cut_off_answer_is_never_a_draft_in_any_shape() {
    for shape in SHAPES {
        let steps = recorded(shape, &REVISION[..3], "length", (900, 1_500));
        let (url, script) = server(vec![Reply::Stream(steps)]).await;
        let provider = OpenAi::new(config(&url)).unwrap();
        let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
        assert!(
            matches!(result, Err(ProviderError::Truncated)),
            "{shape:?}: {result:?}"
        );
        assert_eq!(script.requests().len(), 1, "{shape:?}: not retried here");
    }
}

#[tokio::test]
async fn a_fenced_answer_is_read_as_markdown_sections() {
    let fenced = [
        "Here is the updated document:\n\n```markdown\n",
        "# Harbour Workshop\n\n## Overview\n\nA community workshop in the old warehouse.\n\n",
        "## Audience\n\nThe planning committee.\n```\n",
        "---DRAFTLINE---\n{\"summary\": \"S.\"}",
    ];
    let (url, _) = server(vec![Reply::Stream(recorded(
        Shape::OpenAi,
        &fenced,
        "stop",
        (10, 10),
    ))])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, pieces) = draft(&provider, &input(), &CancellationToken::new()).await;
    let drafted = result.unwrap();
    assert_eq!(drafted.markdown, DOC);
    assert_eq!(drafted.sections, ["Overview", "Audience"]);
    assert!(!pieces.concat().contains("```"), "{pieces:?}");
    assert!(!pieces.concat().contains("Here is"), "{pieces:?}");
}

#[tokio::test]
async fn a_reasoning_models_silence_before_its_first_token_does_not_time_out() {
    // OpenAI's reasoning models stream nothing while they think: 700 ms of silence
    // before the first token, with a 200 ms idle timeout.
    let mut silent = vec![Step::Wait(Duration::from_millis(700))];
    silent.extend(recorded(Shape::OpenAi, &REVISION, "stop", (900, 40)));
    // vLLM with a reasoning parser streams its thoughts, each within the idle timeout.
    let mut thinking = recorded(Shape::VllmReasoning, &REVISION, "stop", (900, 40));
    for at in [5, 4, 3, 2] {
        thinking.insert(at, Step::Wait(Duration::from_millis(120)));
    }
    for steps in [silent.clone(), thinking] {
        let (url, script) = server(vec![Reply::Stream(steps)]).await;
        let provider = OpenAi::new(OpenAiConfig {
            idle_timeout: Duration::from_millis(200),
            first_token_timeout: Duration::from_secs(5),
            ..config(&url)
        })
        .unwrap();
        let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
        assert_eq!(result.unwrap().markdown, REVISED);
        assert_eq!(script.requests().len(), 1);
    }
    // Past the first-token timeout it is a timeout, and retried (nothing was shown).
    let (url, script) = server(vec![
        Reply::Stream(silent.clone()),
        Reply::Stream(recorded(Shape::OpenAi, &REVISION, "stop", (900, 40))),
    ])
    .await;
    let provider = OpenAi::new(OpenAiConfig {
        idle_timeout: Duration::from_secs(5),
        first_token_timeout: Duration::from_millis(300),
        ..config(&url)
    })
    .unwrap();
    let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
    assert_eq!(result.unwrap().markdown, REVISED);
    assert_eq!(script.requests().len(), 2);
}

#[tokio::test]
async fn the_completion_limit_goes_in_the_field_the_model_wants() {
    let (url, script) = server(vec![Reply::Stream(recorded(
        Shape::OpenAi,
        &REVISION,
        "stop",
        (1, 1),
    ))])
    .await;
    let provider = OpenAi::new(OpenAiConfig {
        max_tokens: Some(4_000),
        limit_field: LimitField::MaxCompletionTokens,
        ..config(&url)
    })
    .unwrap();
    let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
    result.unwrap();
    let (_, body) = &script.requests()[0];
    assert_eq!(body["max_completion_tokens"], 4_000);
    assert!(body.get("max_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn quota_unknown_models_and_context_overflow_fail_at_once() {
    /// A status, its body as the server documents it, and the error it must give.
    type Case = (u16, &'static str, fn(&ProviderError) -> bool);
    let cases: [Case; 4] = [
        (
            429,
            r#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#,
            |e| matches!(e, ProviderError::QuotaExhausted(_)),
        ),
        (
            404,
            r#"{"error": {"message": "The model `gpt-9` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}"#,
            |e| matches!(e, ProviderError::UnknownModel(_)),
        ),
        (
            400,
            r#"{"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 6000 tokens. Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": null, "code": 400}"#,
            |e| matches!(e, ProviderError::ContextOverflow(_)),
        ),
        (
            400,
            r#"{"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 6120, "n_ctx": 4096}}"#,
            |e| matches!(e, ProviderError::ContextOverflow(_)),
        ),
    ];
    for (status, body, expected) in cases {
        let (url, script) = server(vec![
            Reply::Status(status, vec![], body),
            Reply::Stream(recorded(Shape::OpenAi, &REVISION, "stop", (1, 1))),
        ])
        .await;
        let provider = OpenAi::new(config(&url)).unwrap();
        let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
        let error = result.unwrap_err();
        assert!(expected(&error), "{status} {body}: {error:?}");
        assert!(!error.retryable());
        assert_eq!(script.requests().len(), 1, "{status}: not retried");
    }
}

#[tokio::test]
async fn a_prompt_the_server_cut_short_is_warned_about() {
    // Ollama with its default num_ctx reports the tokens it kept, not those it was sent.
    let (url, _) = server(vec![Reply::Stream(recorded(
        Shape::Ollama,
        &REVISION,
        "stop",
        (40, 40),
    ))])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
    let drafted = result.unwrap();
    assert_eq!(drafted.warnings.len(), 1, "{:?}", drafted.warnings);
    assert!(
        drafted.warnings[0].contains("40 prompt tokens"),
        "{:?}",
        drafted.warnings
    );
    // Near the estimate: no warning.
    let tokens = build_prompt(&revising()).tokens as u64;
    let (url, _) = server(vec![Reply::Stream(recorded(
        Shape::Ollama,
        &REVISION,
        "stop",
        (tokens * 9 / 10, 40),
    ))])
    .await;
    let provider = OpenAi::new(config(&url)).unwrap();
    let (result, _) = draft(&provider, &revising(), &CancellationToken::new()).await;
    assert!(result.unwrap().warnings.is_empty());
}

#[tokio::test]
async fn a_long_document_revised_by_several_answers_keeps_every_section() {
    let mut document = String::from("# Memoir\n\n");
    for n in 1..=30 {
        document.push_str(&format!(
            "## Chapter {n}\n\nWhat happened in part {n}, as it was told.\n\n"
        ));
    }
    let original = document.clone();
    for round in 1..=3 {
        // Each epilogue follows the last one, as a model that read the document would say.
        let after = if round == 1 {
            "memoir/chapter-30".to_owned()
        } else {
            format!("memoir/epilogue-{}", round - 1)
        };
        let answer = format!(
            "<!-- section: memoir/chapter-{round} -->\n## Chapter {round}\n\nPart {round}, revised in round {round}.\n\n<!-- new after: {after} -->\n## Epilogue {round}\n\nAdded in round {round}.\n---DRAFTLINE---\n{{\"summary\": \"Round {round}.\"}}"
        );
        let pieces: Vec<&str> = answer.split_inclusive('\n').collect();
        let (url, _) = server(vec![Reply::Stream(recorded(
            Shape::Vllm,
            &pieces,
            "stop",
            (5_000, 60),
        ))])
        .await;
        let provider = OpenAi::new(config(&url)).unwrap();
        let mut input = revising();
        input.token_budget = 100_000;
        input.document = document.clone();
        input.last_drafted = Some(document.clone());
        let (result, _) = draft(&provider, &input, &CancellationToken::new()).await;
        document = result.unwrap().markdown;
    }
    let sections: Vec<_> = store::sections::outline(&document)
        .into_iter()
        .map(|s| s.title)
        .collect();
    assert_eq!(sections.len(), 1 + 30 + 3, "{sections:?}");
    for n in 1..=3 {
        assert!(document.contains(&format!("Part {n}, revised in round {n}.")));
        assert!(document.contains(&format!("## Epilogue {n}\n\nAdded in round {n}.")));
    }
    // Every chapter no round touched is byte for byte what it was.
    for chunk in store::sections::split(&original).into_iter().skip(4) {
        assert!(document.contains(chunk.text.trim_end()), "{}", chunk.key);
    }
    assert!(sections.ends_with(&[
        "Epilogue 1".into(),
        "Epilogue 2".into(),
        "Epilogue 3".into()
    ]));
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
