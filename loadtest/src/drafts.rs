//! The drafting scenarios, through a hub and an embedded worker in this process, with
//! the built-in `compose` model: (a) queue-to-document latency, from sending
//! `queue_draft_update` to receiving `document.updated`, over N drafts one after another
//! (p50, p95); (b) tool-call latency (p50, p99) from several clients, first with no draft
//! running, then while N slow drafts run (compose pausing per piece, seconds per draft);
//! (c) first words: from a model's first token to the client's first `draft.delta`, with
//! the `openai` provider against a local model server in this process (one clock); (d)
//! tokens per update against a full redraft on a long document (compose, which follows
//! the revision contract a model does, counting the prompt and its answer).

use crate::Install;
use crate::record::percentile_duration_ms;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "draftline-loadtest-drafts-secret-0123456789";

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    #[command(flatten)]
    services: crate::Services,
    /// Drafts of the latency scenario (one project each, one after another).
    #[arg(long, default_value_t = 100)]
    drafts: usize,
    /// Tool calls per measurement of the tool-call scenario.
    #[arg(long, default_value_t = 2_000)]
    calls: usize,
    /// Clients making those calls at once.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Slow drafts running during the second measurement.
    #[arg(long, default_value_t = 20)]
    slow_drafts: usize,
    /// `compose`'s pause per streamed piece for the slow drafts (about 60 pieces each).
    #[arg(long, default_value_t = 100)]
    slow_delay_ms: u64,
    /// Drafts of the first-words scenario, one after another.
    #[arg(long, default_value_t = 50)]
    first_words: usize,
    /// How long the local model waits before its first token (a model reading its
    /// prompt), in milliseconds.
    #[arg(long, default_value_t = 20)]
    model_first_token_ms: u64,
    /// Long documents of the tokens-per-update scenario, each drafted whole and then
    /// updated after one new note.
    #[arg(long, default_value_t = 5)]
    long_documents: usize,
}

/// A protocol client (the test kit's) that notes when drafts' events arrive.
struct Client {
    ws: testkit::Ws,
    /// `document.updated` seen: (job id, when).
    landed: Vec<(String, Instant)>,
    /// The first `draft.delta` (seq 0) seen of each job: (job id, when).
    first_delta: Vec<(String, Instant)>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<Self> {
        let mut ws = testkit::Ws::open(&format!("ws://{addr}/v1/ws"), None)
            .await?
            .with_wait(Duration::from_secs(60));
        ws.try_hello(token, "loadtest").await?;
        Ok(Self {
            ws,
            landed: Vec::new(),
            first_delta: Vec::new(),
        })
    }

    async fn recv(&mut self) -> anyhow::Result<Value> {
        let value = self.ws.try_recv().await?;
        note(&mut self.landed, &mut self.first_delta, &value);
        Ok(value)
    }

    async fn request(&mut self, frame: Value) -> anyhow::Result<Value> {
        let Self {
            ws,
            landed,
            first_delta,
        } = self;
        Ok(ws
            .try_request_seeing(frame, |value| note(landed, first_delta, value))
            .await?)
    }

    async fn call(&mut self, name: &str, arguments: Value) -> anyhow::Result<Value> {
        let reply = self
            .request(
                json!({"type": "tool.call", "call_id": name, "name": name, "arguments": arguments}),
            )
            .await?;
        if reply["ok"] != true {
            bail!("{name} failed: {reply}");
        }
        Ok(reply["output"].clone())
    }

    /// Waits for the `document.updated` of `job`; answers when it arrived.
    async fn landed(&mut self, job: &str) -> anyhow::Result<Instant> {
        loop {
            if let Some((_, at)) = self.landed.iter().find(|(j, _)| j == job) {
                return Ok(*at);
            }
            self.recv().await?;
        }
    }
}

/// Notes when a message that ends a draft, or starts its preview, arrived.
fn note(
    landed: &mut Vec<(String, Instant)>,
    first_delta: &mut Vec<(String, Instant)>,
    value: &Value,
) {
    let received = Instant::now();
    if value["type"] != "event" {
        return;
    }
    let event = &value["event"];
    if event["kind"] == "draft.delta" && event["seq"] == 0 {
        let job = event["job_id"].as_str().unwrap_or_default();
        first_delta.push((job.to_owned(), received));
    }
    if event["kind"] == "document.updated" {
        let job = event["source"]["job_id"].as_str().unwrap_or_default();
        landed.push((job.to_owned(), received));
    }
    // A draft with nothing to change writes no version: its completion is where it
    // lands. (A draft that wrote one published `document.updated` just before, which
    // `landed` finds first.)
    if event["kind"] == "tool.progress" && event["status"] == "completed" {
        let job = event["job_id"].as_str().unwrap_or_default();
        landed.push((job.to_owned(), received));
    }
}

/// A project through intake to ghostwriting, with a committed blueprint, a todo, a note
/// and a transcript; the client subscribed to its topic. Answers the project id.
async fn ready(client: &mut Client, n: usize) -> anyhow::Result<String> {
    client
        .request(json!({"type": "session.configure", "mode": "selection"}))
        .await?;
    let project = client
        .call("create_project", json!({"name": format!("Project {n}")}))
        .await?["project"]["id"]
        .as_str()
        .context("project id")?
        .to_owned();
    client
        .call("assign_project_to_session", json!({"project_id": project}))
        .await?;
    client
        .request(json!({"type": "session.configure", "mode": "intake"}))
        .await?;
    for (field, value) in [
        (
            "summary",
            "A community workshop in the old harbour warehouse.",
        ),
        ("audience", "The town council's planning committee."),
        ("voice", "Warm but precise."),
        (
            "goals_momentum",
            "Open by spring; three makers signed letters of support.",
        ),
    ] {
        client
            .call(
                "sync_blueprint_field",
                json!({"field": field, "value": value}),
            )
            .await?;
    }
    client
        .call(
            "create_todo",
            json!({"title": "Get a fire safety quote", "priority": "high"}),
        )
        .await?;
    client
        .call(
            "create_note",
            json!({"body": "The roof was inspected in 2023."}),
        )
        .await?;
    let items: Vec<Value> = (0..6)
        .map(|i| {
            json!({"item_id": format!("item-{i}"), "role": if i % 2 == 0 {"user"} else {"assistant"},
                   "text": format!("Line {i} of the conversation about the workshop."),
                   "at": format!("2026-11-22T10:00:{:02}Z", i * 5)})
        })
        .collect();
    client
        .request(json!({"type": "transcript.append", "items": items}))
        .await?;
    client.call("commit_blueprint", json!({})).await?;
    client
        .request(json!({"type": "session.configure", "mode": "ghostwriting"}))
        .await?;
    let subscribed = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await?;
    anyhow::ensure!(subscribed["type"] == "subscribed", "{subscribed}");
    Ok(project)
}

impl Install {
    /// A worker and scheduler drafting with `compose` at `delay` per piece.
    async fn worker(
        &self,
        concurrency: usize,
        delay: Duration,
    ) -> anyhow::Result<CancellationToken> {
        let mut config = worker::WorkerConfig {
            concurrency,
            ..worker::WorkerConfig::default()
        };
        config.model.compose_delay_ms = u64::try_from(delay.as_millis())?;
        self.worker_with(config).await
    }

    /// A worker and scheduler with `config`.
    async fn worker_with(&self, config: worker::WorkerConfig) -> anyhow::Result<CancellationToken> {
        let store = store::Store::connect(&self.db.url, 10).await?;
        let redis = redis::Client::open(self.redis_url.as_str())?;
        let manager = redis::aio::ConnectionManager::new(redis.clone()).await?;
        let dispatch = store::dispatch::Dispatch::new(manager, self.prefix.prefix.clone());
        let registry = worker::handlers::builtin(&config)?;
        let stop = CancellationToken::new();
        let scheduler = worker::Scheduler::new(
            store.clone(),
            dispatch.clone(),
            worker::SchedulerConfig::default(),
        );
        tokio::spawn(scheduler.run(stop.clone()));
        let worker = worker::Worker::new(store, dispatch, redis, config, registry);
        let token = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = worker.run(token).await {
                eprintln!("worker failed: {e}");
            }
        });
        Ok(stop)
    }

    async fn client(&self) -> anyhow::Result<Client> {
        Client::connect(self.addr, &self.token).await
    }
}

/// Tool calls from `clients` clients at once; answers every call's latency, sorted.
async fn tool_calls(clients: &mut [Client], calls: usize) -> anyhow::Result<Vec<Duration>> {
    let per_client = calls.div_ceil(clients.len().max(1));
    let mut tasks = Vec::new();
    for client in clients.iter_mut() {
        tasks.push(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let started = Instant::now();
                if i % 2 == 0 {
                    client.call("get_project", json!({})).await?;
                } else {
                    client.call("list_projects", json!({})).await?;
                }
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    for result in futures_util::future::join_all(tasks).await {
        all.extend(result?);
    }
    all.sort();
    Ok(all)
}

/// `create_note` calls from `clients` clients at once, all on the project of their
/// sessions (one project: the per-project ordering of changes is at its busiest);
/// answers every call's latency, sorted. What a change costs, its events' publishing
/// (through the outbox) included.
async fn change_calls(clients: &mut [Client], calls: usize) -> anyhow::Result<Vec<Duration>> {
    let per_client = calls.div_ceil(clients.len().max(1));
    let mut tasks = Vec::new();
    for (c, client) in clients.iter_mut().enumerate() {
        tasks.push(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let started = Instant::now();
                client
                    .call("create_note", json!({"body": format!("load {c}.{i}")}))
                    .await?;
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    for result in futures_util::future::join_all(tasks).await {
        all.extend(result?);
    }
    all.sort();
    Ok(all)
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let install = Install::start(&options.services, SECRET, |config| {
        config.max_connections_per_user = 100_000;
        config.max_subscriptions = 100_000;
        config.messages_per_second = 100_000;
        config.message_burst = 100_000;
        // One user queues every draft, and every client connects from 127.0.0.1.
        config.jobs_per_minute = 100_000;
        config.max_handshakes_per_address = 100_000;
    })
    .await?;
    let result = scenarios(&install, &options).await;
    install.drop_all().await?;
    result
}

async fn scenarios(install: &Install, options: &Options) -> anyhow::Result<()> {
    println!("drafts: hub and worker in this process, model compose");

    // (a) Queue to document, one draft at a time on an idle worker.
    let stop = install.worker(4, Duration::ZERO).await?;
    let mut client = install.client().await?;
    let mut projects = Vec::new();
    for n in 0..options.drafts {
        projects.push(ready(&mut client, n).await?);
    }
    let mut latencies = Vec::with_capacity(options.drafts);
    for project in &projects {
        client
            .call("assign_project_to_session", json!({"project_id": project}))
            .await?;
        let started = Instant::now();
        let queued = client
            .call("queue_draft_update", json!({"urgency": "normal"}))
            .await?;
        anyhow::ensure!(queued["status"] == "queued", "{queued}");
        let job = queued["job_id"].as_str().context("job id")?.to_owned();
        let landed = client.landed(&job).await?;
        latencies.push(landed - started);
    }
    latencies.sort();
    println!(
        "(a) queue-to-document, {} drafts: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile_duration_ms(&latencies, 0.50),
        percentile_duration_ms(&latencies, 0.95),
        percentile_duration_ms(&latencies, 1.0),
    );
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // (b) Tool calls, without and with slow drafts running.
    let mut callers = Vec::new();
    for _ in 0..options.clients {
        let mut caller = install.client().await?;
        caller
            .call(
                "assign_project_to_session",
                json!({"project_id": projects[0]}),
            )
            .await?;
        caller
            .request(json!({"type": "session.configure", "mode": "ghostwriting"}))
            .await?;
        callers.push(caller);
    }
    tool_calls(&mut callers, options.calls.min(200)).await?; // warm-up
    let idle = tool_calls(&mut callers, options.calls).await?;
    println!(
        "(b) tool calls, no draft running: {} calls from {} clients: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        idle.len(),
        options.clients,
        percentile_duration_ms(&idle, 0.50),
        percentile_duration_ms(&idle, 0.99),
        percentile_duration_ms(&idle, 1.0),
    );
    // (c) Change tool calls: the same clients making notes.
    change_calls(&mut callers, options.calls.min(200)).await?; // warm-up
    for clients in [1, options.clients] {
        let changes = change_calls(&mut callers[..clients], options.calls).await?;
        println!(
            "(c) change tool calls (create_note), {} calls from {} clients on one project: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            changes.len(),
            clients,
            percentile_duration_ms(&changes, 0.50),
            percentile_duration_ms(&changes, 0.99),
            percentile_duration_ms(&changes, 1.0),
        );
    }

    let stop = install
        .worker(
            options.slow_drafts,
            Duration::from_millis(options.slow_delay_ms),
        )
        .await?;
    let mut slow = install.client().await?;
    // Projects never drafted: a first draft is written whole (a later one would only
    // revise what changed, and be quick).
    let mut fresh = Vec::new();
    for n in 0..options.slow_drafts {
        fresh.push(ready(&mut slow, options.drafts + n).await?);
    }
    slow.request(json!({"type": "session.configure", "mode": "ghostwriting"}))
        .await?;
    let mut jobs = Vec::new();
    for project in &fresh {
        slow.call("assign_project_to_session", json!({"project_id": project}))
            .await?;
        slow.request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
            .await?;
        let queued = slow
            .call(
                "queue_draft_update",
                json!({"urgency": "high", "summary": "slow"}),
            )
            .await?;
        jobs.push(queued["job_id"].as_str().context("job id")?.to_owned());
    }
    // Wait until every slow draft is running.
    let db = store::Store::connect(&install.db.url, 2).await?;
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'draft.update' AND status = 'running'",
        )
        .fetch_one(&db.pool)
        .await?;
        if running as usize >= jobs.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let busy = tool_calls(&mut callers, options.calls).await?;
    let took = started.elapsed();
    let still_running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'draft.update' AND status = 'running'",
    )
    .fetch_one(&db.pool)
    .await?;
    println!(
        "(b) tool calls, {} slow drafts running: {} calls in {:.2} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} drafts still running at the end)",
        jobs.len(),
        busy.len(),
        took.as_secs_f64(),
        percentile_duration_ms(&busy, 0.50),
        percentile_duration_ms(&busy, 0.99),
        percentile_duration_ms(&busy, 1.0),
        still_running,
    );
    // Let the slow drafts finish, so their duration is reported too.
    let finish = Instant::now();
    for job in &jobs {
        slow.landed(job).await?;
    }
    println!(
        "    the slow drafts finished {:.1} s after the calls (compose pausing {} ms per piece)",
        finish.elapsed().as_secs_f64(),
        options.slow_delay_ms
    );
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;

    first_words(install, options, &mut client).await?;
    tokens_per_update(install, options, &db).await?;
    db.pool.close().await;
    Ok(())
}

/// (c) From the model's first token to the client's first `draft.delta`.
async fn first_words(
    install: &Install,
    options: &Options,
    client: &mut Client,
) -> anyhow::Result<()> {
    // Projects of their own, never drafted, so every draft writes a version.
    let mut projects = Vec::new();
    for n in 0..options.first_words {
        projects.push(ready(client, 100_000 + n).await?);
    }
    let model = FakeModel::start(Duration::from_millis(options.model_first_token_ms)).await?;
    let mut config = worker::WorkerConfig {
        concurrency: 4,
        ..worker::WorkerConfig::default()
    };
    config.model.kind = worker::draft::ModelKind::Openai;
    config.model.openai_base_url = model.url.clone();
    config.model.openai_api_key = Some("loadtest".into());
    let stop = install.worker_with(config).await?;
    let mut latencies = Vec::new();
    let mut landed = Vec::new();
    for (n, project) in projects
        .iter()
        .cycle()
        .take(options.first_words)
        .enumerate()
    {
        client
            .call("assign_project_to_session", json!({"project_id": project}))
            .await?;
        let started = Instant::now();
        let queued = client
            .call(
                "queue_draft_update",
                json!({"urgency": "high", "summary": format!("first words {n}")}),
            )
            .await?;
        let job = queued["job_id"].as_str().context("job id")?.to_owned();
        let done = client.landed(&job).await?;
        let first = client
            .first_delta
            .iter()
            .find(|(j, _)| *j == job)
            .map(|(_, at)| *at)
            .context("no draft.delta")?;
        let token = model.first_token().context("the model sent no token")?;
        latencies.push(first.saturating_duration_since(token));
        landed.push(done - started);
    }
    latencies.sort();
    landed.sort();
    println!(
        "(c) model first token to client first draft.delta, {} drafts (model waits {} ms, then a piece every 5 ms): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; queue-to-document p50 {:.1} ms",
        latencies.len(),
        options.model_first_token_ms,
        percentile_duration_ms(&latencies, 0.50),
        percentile_duration_ms(&latencies, 0.95),
        percentile_duration_ms(&latencies, 1.0),
        percentile_duration_ms(&landed, 0.50),
    );
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

/// The context window of scenario (d), in tokens: a common size for current open
/// models (Llama 3.1, Qwen 2.5 run at 32k and more).
const LONG_CONTEXT: usize = 32_768;

/// (d) Tokens of an update (one new note) against a full redraft of a long document.
async fn tokens_per_update(
    install: &Install,
    options: &Options,
    db: &store::Store,
) -> anyhow::Result<()> {
    // A context that holds the long document and its material (the default 8,192
    // would leave the longest sections out of the prompt, and unrevisable).
    let mut config = worker::WorkerConfig {
        concurrency: 4,
        ..worker::WorkerConfig::default()
    };
    config.model.model_context = LONG_CONTEXT;
    let stop = install.worker_with(config).await?;
    let mut client = install.client().await?;
    let usage = async |job: &str| -> anyhow::Result<(u64, u64)> {
        let usage: Option<Value> = sqlx::query_scalar("SELECT usage FROM jobs WHERE id = $1::uuid")
            .bind(job)
            .fetch_one(&db.pool)
            .await?;
        let usage = usage.context("no usage")?;
        Ok((
            usage["prompt_tokens"].as_u64().unwrap_or(0),
            usage["completion_tokens"].as_u64().unwrap_or(0),
        ))
    };
    let (mut full_completion, mut full_total, mut update_completion, mut update_total) =
        (0u64, 0u64, 0u64, 0u64);
    let mut document_chars = 0usize;
    for n in 0..options.long_documents {
        let project = ready_long(&mut client, n).await?;
        let queued = client
            .call(
                "queue_draft_update",
                json!({"urgency": "normal", "summary": "whole"}),
            )
            .await?;
        let first = queued["job_id"].as_str().context("job id")?.to_owned();
        client.landed(&first).await?;
        let document = client.call("get_document", json!({})).await?;
        let markdown = document["document"]["markdown"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        document_chars += markdown.chars().count();
        client
            .call(
                "create_note",
                json!({"body": format!("Project {n}: the harbour trust wants a ten-year lease, reviewed every three years.")}),
            )
            .await?;
        let queued = client
            .call(
                "queue_draft_update",
                json!({"urgency": "normal", "summary": "the new note"}),
            )
            .await?;
        let update = queued["job_id"].as_str().context("job id")?.to_owned();
        client.landed(&update).await?;
        let after = client.call("get_document", json!({})).await?;
        let revised = after["document"]["markdown"].as_str().unwrap_or_default();
        anyhow::ensure!(
            revised.contains("ten-year lease"),
            "project {n}: the update did not add the new note"
        );
        let (prompt, completion) = usage(&update).await?;
        // A full redraft from the same prompt answers the whole document.
        let whole = worker::draft::estimate_tokens(&markdown) as u64;
        full_completion += whole;
        full_total += prompt + whole;
        update_completion += completion;
        update_total += prompt + completion;
        let _ = project;
    }
    let k = options.long_documents.max(1) as u64;
    println!(
        "(d) tokens per update after one new note, {} long documents (about {} characters each, context {LONG_CONTEXT}): completion {} vs {} for a full redraft ({:.1}%); prompt and completion {} vs {} ({:.1}%)",
        options.long_documents,
        document_chars / options.long_documents.max(1),
        update_completion / k,
        full_completion / k,
        100.0 * update_completion as f64 / full_completion.max(1) as f64,
        update_total / k,
        full_total / k,
        100.0 * update_total as f64 / full_total.max(1) as f64,
    );
    stop.cancel();
    Ok(())
}

/// A project with every blueprint field filled at length, a dozen notes and a long
/// transcript, in ghostwriting: its document runs to several thousand words.
async fn ready_long(client: &mut Client, n: usize) -> anyhow::Result<String> {
    client
        .request(json!({"type": "session.configure", "mode": "selection"}))
        .await?;
    let project = client
        .call(
            "create_project",
            json!({"name": format!("Long project {n}")}),
        )
        .await?["project"]["id"]
        .as_str()
        .context("project id")?
        .to_owned();
    client
        .call("assign_project_to_session", json!({"project_id": project}))
        .await?;
    client
        .request(json!({"type": "session.configure", "mode": "intake"}))
        .await?;
    let paragraph = "The workshop in the old harbour warehouse would give the town a place \
        to learn a trade, repair what it owns and meet across generations; the makers who \
        signed letters of support would each teach one evening a week. ";
    for field in [
        "summary",
        "audience",
        "voice",
        "outline",
        "integrity_ideals",
        "people_bonds",
        "goals_momentum",
        "meaning_identity",
        "reality_understanding",
        "trust_safeguards",
        "opportunity_freedom",
        "power_resources",
        "harmony_integration",
    ] {
        client
            .call(
                "sync_blueprint_field",
                json!({"field": field, "value": format!("{field}: {}", paragraph.repeat(4))}),
            )
            .await?;
    }
    for i in 0..12 {
        client
            .call(
                "create_note",
                json!({"body": format!("Note {i}: {}", paragraph.repeat(2))}),
            )
            .await?;
    }
    for i in 0..4 {
        client
            .call(
                "create_todo",
                json!({"title": format!("Follow-up {i}: ask the council about the lease terms"), "priority": "medium"}),
            )
            .await?;
    }
    let items: Vec<Value> = (0..24)
        .map(|i| {
            json!({"item_id": format!("long-{i}"), "role": if i % 2 == 0 {"user"} else {"assistant"},
                   "text": format!("Turn {i}: {}", paragraph),
                   "at": format!("2026-11-22T10:{:02}:00Z", i)})
        })
        .collect();
    client
        .request(json!({"type": "transcript.append", "items": items}))
        .await?;
    client.call("commit_blueprint", json!({})).await?;
    client
        .request(json!({"type": "session.configure", "mode": "ghostwriting"}))
        .await?;
    let subscribed = client
        .request(json!({"type": "subscribe", "topic": format!("project:{project}")}))
        .await?;
    anyhow::ensure!(subscribed["type"] == "subscribed", "{subscribed}");
    Ok(project)
}

/// A local OpenAI-compatible model over plain HTTP/1.1 (one request per connection):
/// answers every chat completion with a short streamed document, waiting before its
/// first token, and notes when it sent that token.
struct FakeModel {
    url: String,
    first_tokens: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl FakeModel {
    async fn start(first_token_after: Duration) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let first_tokens = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = first_tokens.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let noted = noted.clone();
                tokio::spawn(async move {
                    if let Err(e) = Self::answer(socket, first_token_after, noted).await {
                        eprintln!("fake model: {e}");
                    }
                });
            }
        });
        Ok(Self { url, first_tokens })
    }

    /// When the latest answer's first token went out.
    fn first_token(&self) -> Option<Instant> {
        self.first_tokens.lock().ok()?.last().copied()
    }

    async fn answer(
        mut socket: TcpStream,
        first_token_after: Duration,
        noted: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
    ) -> anyhow::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        socket.set_nodelay(true)?;
        // The request: headers, then Content-Length bytes of body (not needed here).
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let (head_end, length) = loop {
            let n = socket.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "closed before the request ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
        };
        while buf.len() < head_end + length {
            let n = socket.read(&mut chunk).await?;
            anyhow::ensure!(n > 0, "closed before the body ended");
            buf.extend_from_slice(&chunk[..n]);
        }
        socket
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            )
            .await?;
        let event = |content: &str| {
            format!(
                "data: {}\n\n",
                json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
            )
        };
        socket
            .write_all(format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})).as_bytes())
            .await?;
        tokio::time::sleep(first_token_after).await;
        let pieces = [
            "# Draft",
            "\n\n## Overview\n\n",
            "A community workshop ",
            "in the old harbour warehouse, ",
            "where young people learn a trade.\n\n",
            "## Next steps\n\n",
            "- Get a fire safety quote.\n",
            "---DRAFTLINE---\n",
            "{\"summary\": \"A short draft.\"}",
        ];
        for (i, piece) in pieces.iter().enumerate() {
            if i == 0 {
                if let Ok(mut noted) = noted.lock() {
                    noted.push(Instant::now());
                }
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            socket.write_all(event(piece).as_bytes()).await?;
        }
        let end = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        let usage =
            json!({"choices": [], "usage": {"prompt_tokens": 800, "completion_tokens": 40}});
        socket
            .write_all(format!("data: {end}\n\ndata: {usage}\n\ndata: [DONE]\n\n").as_bytes())
            .await?;
        socket.shutdown().await?;
        Ok(())
    }
}
