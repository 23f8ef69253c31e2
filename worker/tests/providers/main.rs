//! Tests of the model providers: `openai` against a local OpenAI-compatible server
//! (the test kit's scripted model) that streams the documented chunk format and
//! misbehaves on cue, and `compose`. One module per family: `openai` (transport,
//! retries, timeouts, errors), `shapes` (revisions and the stream shapes of real
//! servers), `built_in` (`compose`), `chat` (replies). This file holds the inputs they share.
// clippy.toml allows unwrap/expect in `#[test]` functions only, not in the helpers a
// test crate is made of; allowed here once for the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod built_in;
mod chat;
mod openai;
mod shapes;

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

use testkit::model::*;

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
    let (deltas, rx) = delta_channel();
    let collector = collect(rx);
    let result = provider.draft(&prompt, input, &deltas, cancel).await;
    drop(deltas);
    (result, collector.await.unwrap())
}

/// Collects the streamed pieces until the sending side is dropped.
fn collect(mut rx: tokio::sync::mpsc::Receiver<String>) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut pieces = Vec::new();
        while let Some(piece) = rx.recv().await {
            pieces.push(piece);
        }
        pieces
    })
}
