//! Chat replies from `openai` (the conversation sent, trailer-like text kept, usage
//! estimated when missing, empty replies refused, cancellation) and from `compose`.

use super::*;

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
    let (deltas, rx) = delta_channel();
    let collector = collect(rx);
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
