//! A local OpenAI-compatible chat completions server for tests: it answers each request
//! with the next scripted reply (an event stream built step by step, another status, or
//! silence), records what it was sent, and builds chunks in the documented stream shapes
//! of OpenAI, vLLM (with and without a reasoning parser), llama.cpp's server and Ollama's
//! OpenAI-compatible endpoint. Shared by the provider tests, the job tests and the hub's
//! drafting tests; each uses a part of it.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// One step of a streamed body.
#[derive(Clone)]
pub enum Step {
    /// Bytes sent as they are.
    Send(String),
    /// A pause before the next step.
    Wait(Duration),
    /// The connection breaks off (the body fails, so the chunked encoding never ends).
    Break,
}

/// What the server answers to one request.
#[derive(Clone)]
pub enum Reply {
    /// 200 with an event stream made of the steps.
    Stream(Vec<Step>),
    /// Another status, with headers and a body.
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// No answer for a long time.
    Hang,
}

#[derive(Clone, Default)]
pub struct Script {
    pub replies: Arc<Mutex<VecDeque<Reply>>>,
    /// What every request gets once `replies` is used up; none: a 500 saying so.
    pub then: Option<Reply>,
    /// Each request's authorization header and JSON body, in order.
    pub requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Script {
    pub fn requests(&self) -> Vec<(String, Value)> {
        locked(&self.requests).clone()
    }

    /// The next reply: the next scripted one, else the standing one.
    fn next_reply(&self) -> Option<Reply> {
        locked(&self.replies)
            .pop_front()
            .or_else(|| self.then.clone())
    }
}

/// A test that panicked while holding the lock leaves data that is still worth reading.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn chat(State(script): State<Script>, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    locked(&script.requests).push((auth, body));
    match script.next_reply() {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no reply scripted").into_response(),
        Some(Reply::Hang) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(Reply::Status(code, headers, body)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            for (name, value) in headers {
                if let Ok(value) = value.parse() {
                    response.headers_mut().insert(name, value);
                }
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
            let mut response = Body::from_stream(body).into_response();
            response.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("text/event-stream"),
            );
            response
        }
    }
}

/// Starts the server on a free port; answers with `replies` in order, then 500s. Answers
/// its base URL (`http://127.0.0.1:port/v1`) and the script.
pub async fn server(replies: Vec<Reply>) -> (String, Script) {
    start(replies, None).await
}

/// Like [`server`], but every request after `replies` gets `then`.
pub async fn server_then(replies: Vec<Reply>, then: Reply) -> (String, Script) {
    start(replies, Some(then)).await
}

async fn start(replies: Vec<Reply>, then: Option<Reply>) -> (String, Script) {
    let script = Script {
        replies: Arc::new(Mutex::new(replies.into())),
        then,
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind the model server: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("the model server's address: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), script)
}

/// A short streamed draft in the plainest chunk shape (content deltas only, then the
/// usage), `pieces` being the answer text.
pub fn plain_stream(pieces: &[&str], usage: Option<(u64, u64)>) -> Vec<Step> {
    let mut steps: Vec<Step> = pieces
        .iter()
        .map(|piece| event(json!({"choices": [{"index": 0, "delta": {"content": piece}}]})))
        .collect();
    if let Some((prompt, completion)) = usage {
        steps.push(event(json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}})));
    }
    steps.push(done());
    steps
}

/// An SSE event carrying one content delta, as OpenAI streams them.
pub fn content(text: &str) -> Step {
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
pub fn role() -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}],
    }))
}

pub fn finish() -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }))
}

/// The usage event `stream_options.include_usage` asks for: no choices.
pub fn usage(prompt: u64, completion: u64) -> Step {
    event(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }))
}

pub fn done() -> Step {
    Step::Send("data: [DONE]\n\n".into())
}

pub fn event(data: Value) -> Step {
    Step::Send(format!("data: {data}\n\n"))
}

/// The servers whose stream shapes the tests replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// OpenAI's API: a role chunk, content chunks with `"usage": null`, a finish
    /// chunk, then a usage chunk with no choices (`stream_options.include_usage`).
    OpenAi,
    /// vLLM without a reasoning parser: like OpenAI without `usage: null`; the
    /// finish chunk carries `stop_reason`.
    Vllm,
    /// vLLM with `--reasoning-parser`: `reasoning_content` deltas before the content.
    VllmReasoning,
    /// vLLM serving a reasoning model without a parser: `<think>...</think>` in
    /// `content`.
    VllmThinkInContent,
    /// llama.cpp's `llama-server`: `content: null` in the role chunk, the usage (and
    /// `timings`) on the finish chunk itself.
    LlamaCpp,
    /// Ollama's `/v1/chat/completions`: the role on every delta, an empty content on
    /// the finish chunk, a usage chunk with no choices.
    Ollama,
    /// Ollama with a thinking model: `reasoning` deltas before the content.
    OllamaReasoning,
}

pub const SHAPES: [Shape; 7] = [
    Shape::OpenAi,
    Shape::Vllm,
    Shape::VllmReasoning,
    Shape::VllmThinkInContent,
    Shape::LlamaCpp,
    Shape::Ollama,
    Shape::OllamaReasoning,
];

/// A streamed answer of `pieces` as `shape` sends it, ending with `finish_reason` and
/// the usage `(prompt, completion)`.
pub fn recorded(
    shape: Shape,
    pieces: &[&str],
    finish_reason: &str,
    usage: (u64, u64),
) -> Vec<Step> {
    let (prompt, completion) = usage;
    let total = prompt + completion;
    let id = "chatcmpl-8f2b";
    let created = 1_764_400_000;
    let mut steps = Vec::new();
    let chunk = |model: &str, choices: Value| json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices});
    match shape {
        Shape::OpenAi => {
            let model = "gpt-4o-mini-2024-07-18";
            let mut first = chunk(
                model,
                json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]),
            );
            first["system_fingerprint"] = json!("fp_06737a9306");
            first["usage"] = Value::Null;
            steps.push(event(first));
            for piece in pieces {
                let mut c = chunk(
                    model,
                    json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]),
                );
                c["usage"] = Value::Null;
                steps.push(event(c));
            }
            let mut end = chunk(
                model,
                json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason}]),
            );
            end["usage"] = Value::Null;
            steps.push(event(end));
            let mut u = chunk(model, json!([]));
            u["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}});
            steps.push(event(u));
        }
        Shape::Vllm | Shape::VllmReasoning | Shape::VllmThinkInContent => {
            let model = "Qwen/Qwen3-8B";
            steps.push(event(chunk(model, json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]))));
            if shape == Shape::VllmReasoning {
                for thought in ["Okay, the", " user added", " a note about", " the lease."] {
                    steps.push(event(chunk(model, json!([{"index": 0, "delta": {"reasoning_content": thought}, "logprobs": null, "finish_reason": null}]))));
                }
            }
            if shape == Shape::VllmThinkInContent {
                for thought in [
                    "<think>",
                    "\nOkay, the user",
                    " added a note.\n",
                    "</think>",
                    "\n\n",
                ] {
                    steps.push(event(chunk(model, json!([{"index": 0, "delta": {"content": thought}, "logprobs": null, "finish_reason": null}]))));
                }
            }
            for piece in pieces {
                steps.push(event(chunk(model, json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]))));
            }
            steps.push(event(chunk(model, json!([{"index": 0, "delta": {"content": ""}, "logprobs": null, "finish_reason": finish_reason, "stop_reason": null}]))));
            let mut u = chunk(model, json!([]));
            u["usage"] = json!({"prompt_tokens": prompt, "total_tokens": total, "completion_tokens": completion});
            steps.push(event(u));
        }
        Shape::LlamaCpp => {
            let model = "gpt-3.5-turbo";
            let extra = |mut c: Value| {
                c["system_fingerprint"] = json!("b6100-5c0eb5ef");
                c
            };
            steps.push(event(extra(chunk(model, json!([{"finish_reason": null, "index": 0, "delta": {"role": "assistant", "content": null}}])))));
            for piece in pieces {
                steps.push(event(extra(chunk(
                    model,
                    json!([{"finish_reason": null, "index": 0, "delta": {"content": piece}}]),
                ))));
            }
            let mut end = extra(chunk(
                model,
                json!([{"finish_reason": finish_reason, "index": 0, "delta": {}}]),
            ));
            end["usage"] = json!({"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": total});
            end["timings"] = json!({"prompt_n": prompt, "prompt_ms": 812.4, "predicted_n": completion, "predicted_ms": 2290.1});
            steps.push(event(end));
        }
        Shape::Ollama | Shape::OllamaReasoning => {
            let model = "llama3.2";
            let extra = |mut c: Value| {
                c["system_fingerprint"] = json!("fp_ollama");
                c
            };
            if shape == Shape::OllamaReasoning {
                for thought in ["The user", " wants the lease", " in the plan."] {
                    steps.push(event(extra(chunk(model, json!([{"index": 0, "delta": {"role": "assistant", "content": "", "reasoning": thought}, "finish_reason": null}])))));
                }
            }
            for piece in pieces {
                steps.push(event(extra(chunk(model, json!([{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": null}])))));
            }
            steps.push(event(extra(chunk(model, json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": finish_reason}])))));
            let mut u = extra(chunk(model, json!([])));
            u["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total});
            steps.push(event(u));
        }
    }
    steps.push(done());
    steps
}
