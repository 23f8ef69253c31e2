//! Drafts revising a stored document, end to end through a worker, Postgres and the
//! local fake model server (replaying real servers' stream shapes): a long document
//! revised by several drafts keeps every earlier section; a person's edit made before a
//! draft survives it; a cut-off answer changes nothing; a fenced answer is stored as
//! Markdown sections; the material a draft saw is not offered to the next one as new.

use crate::support::*;
use protocol::entities::{Document, JobStatus, Source, Urgency};
use protocol::{ProjectId, UserId};
use serde_json::Value;
use std::time::Duration;
use store::jobs::draft::{self, DraftRequest};
use store::jobs::lifecycle::Dispatchable;
use testkit::model::*;
use worker::WorkerConfig;

/// A worker whose drafts go to the fake model at `url`, one request per attempt and
/// one attempt per job (the tests count requests).
fn openai(url: &str) -> WorkerConfig {
    let mut config = fast_config();
    config.model.kind = worker::draft::ModelKind::Openai;
    config.model.openai_base_url = url.to_owned();
    config.model.openai_api_key = Some("sk-test".into());
    config.model.model_attempts = 1;
    config.model.model_context = 128_000;
    config
}

/// Queues and dispatches a draft of `project`; answers its job once it settled.
async fn draft_once(env: &Env, project: ProjectId, round: usize) -> protocol::entities::Job {
    let mut tx = env.store.begin().await.unwrap();
    let (job, _) = draft::request(
        &mut tx,
        &DraftRequest {
            project_id: project,
            session_id: None,
            urgency: Urgency::Normal,
            summary: Some(format!("round {round}")),
            message_pointers: Vec::new(),
            transcript_anchors: Vec::new(),
            context: None,
        },
        Duration::from_secs(90),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.dispatch
        .send(&[Dispatchable {
            id: job.id,
            queue: job.queue.clone(),
        }])
        .await
        .unwrap();
    env.wait_for(job.id, Duration::from_secs(15), |j| {
        matches!(j.status, JobStatus::Completed | JobStatus::Failed)
    })
    .await
}

async fn document(env: &Env, project: ProjectId) -> Document {
    let mut conn = env.store.acquire().await.unwrap();
    store::documents::get(&mut conn, project).await.unwrap()
}

/// A version written by a person (no job as its source).
async fn edit(env: &Env, project: ProjectId, markdown: &str) {
    let mut conn = env.store.acquire().await.unwrap();
    store::documents::write(
        &mut conn,
        project,
        store::documents::NewVersion {
            base_version: None,
            markdown,
            summary: None,
            source: Source::default(),
        },
    )
    .await
    .unwrap();
}

async fn note(env: &Env, project: ProjectId, body: &str) {
    let mut conn = env.store.acquire().await.unwrap();
    store::notes::create(&mut conn, project, &UserId::from("ana"), None, body, &[])
        .await
        .unwrap();
}

/// The user prompt of request `n`.
fn user_prompt(script: &Script, n: usize) -> String {
    let requests = script.requests();
    requests[n].1["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn answer(text: &str) -> Reply {
    let pieces: Vec<&str> = text.split_inclusive('\n').collect();
    Reply::Stream(recorded(Shape::OpenAi, &pieces, "stop", (2_000, 80)))
}

#[tokio::test]
async fn a_long_document_revised_by_several_drafts_keeps_every_earlier_section() {
    let env = Env::new().await;
    let project = env.project().await;
    let mut long = String::from("# Test project\n\n");
    for n in 1..=40 {
        long.push_str(&format!(
            "## Chapter {n}\n\nWhat happened in part {n}, in the words it was told.\n\n"
        ));
    }
    edit(&env, project, &long).await;
    let replies = (1..=3)
        .map(|round| {
            answer(&format!(
                "<!-- section: test-project/chapter-{round} -->\n## Chapter {round}\n\nPart {round}, now with note {round}.\n\n\
                 <!-- new after: test-project/chapter-40 -->\n## Afterword {round}\n\nWritten in round {round}.\n\
                 ---DRAFTLINE---\n{{\"summary\": \"Round {round}.\"}}\n"
            ))
        })
        .collect();
    let (url, script) = server(replies).await;
    let (stop, worker) = env.worker(
        openai(&url),
        worker::handlers::builtin(&openai(&url)).unwrap(),
    );
    for round in 1..=3 {
        note(&env, project, &format!("Note {round} for chapter {round}.")).await;
        let job = draft_once(&env, project, round).await;
        assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
        // The model saw every chapter's text, and only the note new since the last draft.
        let user = user_prompt(&script, round - 1);
        assert!(user.contains("What happened in part 40"), "round {round}");
        assert!(user.contains(&format!("Note {round} for chapter {round}.")));
        if round > 1 {
            assert!(
                !user.contains(&format!("Note {} for", round - 1)),
                "round {round} was offered an older note again"
            );
        }
    }
    let doc = document(&env, project).await;
    assert_eq!(doc.version, 4);
    let titles: Vec<&str> = doc.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles.len(), 1 + 40 + 3, "{titles:?}");
    for n in 1..=3 {
        assert!(
            doc.markdown
                .contains(&format!("Part {n}, now with note {n}."))
        );
    }
    // The chapters no draft touched are byte for byte what people wrote.
    for chunk in store::sections::split(&long).into_iter().skip(4) {
        assert!(
            doc.markdown.contains(chunk.text.trim_end()),
            "{} was changed",
            chunk.key
        );
    }
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_persons_edit_before_a_draft_survives_it() {
    let env = Env::new().await;
    let project = env.project().await;
    let (url, script) = server(vec![
        // A first draft of the empty document, as vLLM streams it.
        Reply::Stream(recorded(
            Shape::Vllm,
            &[
                "# Test project\n\n## Overview\n\nA workshop.\n\n",
                "## Audience\n\nThe council.\n\n## Budget\n\nUnknown.\n",
                "---DRAFTLINE---\n{\"summary\": \"A start.\"}",
            ],
            "stop",
            (500, 30),
        )),
        // The second draft revises Budget only.
        answer(
            "<!-- section: test-project/budget -->\n## Budget\n\n80k, half from the lottery fund.\n---DRAFTLINE---\n{\"summary\": \"Now with a budget.\"}",
        ),
    ])
    .await;
    let config = openai(&url);
    let (stop, worker) = env.worker(config.clone(), worker::handlers::builtin(&config).unwrap());
    assert_eq!(
        draft_once(&env, project, 1).await.status,
        JobStatus::Completed
    );
    let first = document(&env, project).await;
    let edited = first.markdown.replace(
        "The council.",
        "The council, and the harbour trust who own the building.",
    );
    edit(&env, project, &edited).await;
    note(&env, project, "The budget is 80k.").await;
    let job = draft_once(&env, project, 2).await;
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);

    let doc = document(&env, project).await;
    assert!(
        doc.markdown
            .contains("the harbour trust who own the building")
    );
    assert!(doc.markdown.contains("80k, half from the lottery fund."));
    assert_eq!(doc.summary, "Now with a budget.");
    // The model was shown the person's text and told it is theirs.
    let user = user_prompt(&script, 1);
    assert!(user.contains("the harbour trust who own the building"));
    assert!(
        user.contains("keep their words: test-project/audience"),
        "{user}"
    );
    let result = job.result.unwrap();
    assert_eq!(
        result["touched"],
        serde_json::json!(["test-project/budget"])
    );
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_cut_off_answer_changes_nothing() {
    let env = Env::new().await;
    let project = env.project().await;
    let start = "# Test project\n\n## Overview\n\nA workshop.\n\n## Audience\n\nThe council.\n";
    edit(&env, project, start).await;
    let cut = || {
        Reply::Stream(recorded(
            Shape::LlamaCpp,
            &[
                "<!-- section: test-project/audience -->\n",
                "## Audience\n\nThe coun",
            ],
            "length",
            (400, 2_048),
        ))
    };
    let (url, script) = server(vec![cut(), cut()]).await;
    let config = openai(&url);
    let (stop, worker) = env.worker(config.clone(), worker::handlers::builtin(&config).unwrap());
    let job = draft_once(&env, project, 1).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.attempts, 1,
        "a cut-off answer is not retried by the job"
    );
    let error = job.error.unwrap();
    assert!(
        error.starts_with(
            "the model's answer was cut off at its length limit; nothing was stored (error "
        ),
        "{error}"
    );
    // Asked once more for less before giving up.
    assert_eq!(script.requests().len(), 2);
    assert!(user_prompt(&script, 1).contains("Your previous answer was cut off"));
    let doc = document(&env, project).await;
    assert_eq!(doc.version, 1);
    assert_eq!(doc.markdown, start);
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_shorter_answer_after_a_cut_off_one_is_stored() {
    let env = Env::new().await;
    let project = env.project().await;
    edit(
        &env,
        project,
        "# Test project\n\n## Audience\n\nThe council.\n",
    )
    .await;
    let (url, _) = server(vec![
        Reply::Stream(recorded(Shape::Ollama, &["<!-- section: test-project/audience -->\n## Aud"], "length", (300, 2_048))),
        answer("<!-- section: test-project/audience -->\n## Audience\n\nThe council and the trust.\n---DRAFTLINE---\n{\"summary\": \"S.\"}"),
    ])
    .await;
    let config = openai(&url);
    let (stop, worker) = env.worker(config.clone(), worker::handlers::builtin(&config).unwrap());
    let job = draft_once(&env, project, 1).await;
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    let doc = document(&env, project).await;
    assert_eq!(
        doc.markdown,
        "# Test project\n\n## Audience\n\nThe council and the trust.\n"
    );
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_fenced_answer_is_stored_as_markdown_sections() {
    let env = Env::new().await;
    let project = env.project().await;
    let (url, _) = server(vec![Reply::Stream(recorded(
        Shape::VllmThinkInContent,
        &[
            "Here is the document:\n\n```markdown\n# Test project\n\n## Overview\n\nA workshop.\n\n",
            "## Audience\n\nThe council.\n```\n---DRAFTLINE---\n{\"summary\": \"A start.\"}",
        ],
        "stop",
        (300, 40),
    ))])
    .await;
    let config = openai(&url);
    let (stop, worker) = env.worker(config.clone(), worker::handlers::builtin(&config).unwrap());
    let job = draft_once(&env, project, 1).await;
    assert_eq!(job.status, JobStatus::Completed, "{:?}", job.error);
    let doc = document(&env, project).await;
    assert_eq!(
        doc.markdown,
        "# Test project\n\n## Overview\n\nA workshop.\n\n## Audience\n\nThe council.\n"
    );
    let titles: Vec<&str> = doc.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Test project", "Overview", "Audience"]);
    let result: Value = job.result.unwrap();
    assert_eq!(result["version"], 1);
    stop.cancel();
    worker.await.unwrap();
}
