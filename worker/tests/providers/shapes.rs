//! `openai` revising a document: the same revision from every real server's stream
//! shape (OpenAI, vLLM, llama.cpp, Ollama), cut-off and fenced answers, reasoning
//! models' silences, the completion limit field, errors that fail at once, long documents.

use super::*;

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
