//! `openai` against the scripted server: streaming, the trailer and usage, retries
//! (`Retry-After`, broken streams, 5xx), timeouts, cancellation and error statuses.

use super::*;

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
