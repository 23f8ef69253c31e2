//! `openai`: drafts and writes chat replies with any OpenAI-compatible chat completions
//! endpoint (OpenAI, vLLM, llama.cpp server, Ollama) over a streamed request, forwarding
//! the text as it arrives, with typed errors and a few attempts for failures that happen
//! before any text was streamed. Reads what real servers send besides the text: the
//! `finish_reason` (an answer cut at the completion limit is never a draft), reasoning
//! deltas (`reasoning_content`, `reasoning`) that show a model is thinking, error bodies
//! of any JSON shape, and `Retry-After` in seconds or as a date.

use super::chat::{ChatInput, ChatPrompt};
use super::prompt::{Prompt, PromptInput, estimate_tokens};
use super::provider::{
    Deltas, Drafted, PreviewGate, Provider, ProviderError, Reply, Usage, parse_answer, pause,
    send_delta,
};
use futures_util::future::BoxFuture;
use protocol::entities::ChatRole;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Each retry waits this many times longer than the one before (500 ms, 2 s with the
/// default base), the usual exponential backoff of OpenAI's own client libraries.
const BACKOFF_FACTOR: u32 = 4;

/// The most of an error body kept in an error message, in characters: enough for the
/// provider's explanation, not a whole HTML error page.
const MAX_ERROR_CHARS: usize = 300;

/// Reported prompt tokens below this share of the estimate mean the server read less
/// than it was sent (Ollama cuts a prompt over its `num_ctx` from the front without a
/// word). The characters / 4 estimate stays within about ±25% of GPT-4o's, Llama 3's
/// and Qwen's tokenizers on English prose, so 60% is far outside its error.
const TRUNCATION_SUSPECT_RATIO: f64 = 0.6;

/// The request field that carries the completion limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LimitField {
    /// `max_tokens`: vLLM, llama.cpp's server, Ollama, and OpenAI's chat models.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI's reasoning models (o1, o3, ...) require.
    MaxCompletionTokens,
}

/// How to reach the endpoint, and how patient to be.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    /// From sending the request to the response's headers (connecting included).
    pub first_byte_timeout: Duration,
    /// From sending the request to the first streamed token (text or reasoning): a
    /// reasoning model thinks, and a CPU server reads a long prompt, before it.
    pub first_token_timeout: Duration,
    /// The longest silence between two pieces of the stream after the first token.
    pub idle_timeout: Duration,
    /// Attempts per draft (docs/protocol.md section 10.3: 3).
    pub attempts: u32,
    /// The pause before the first retry; later ones grow by `BACKOFF_FACTOR`.
    pub backoff: Duration,
    /// The longest pause between attempts. A `Retry-After` longer than this is not
    /// waited out here: the error goes back to the job, whose retry comes later.
    pub max_backoff: Duration,
    /// The completion limit sent with each request (`None`: the server's default).
    pub max_tokens: Option<u32>,
    pub limit_field: LimitField,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("model", &self.model)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_tokens", &self.max_tokens)
            .field("limit_field", &self.limit_field)
            .finish()
    }
}

/// What `Debug` shows of a secret: whether there is one.
pub(crate) fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// The `openai` provider.
#[derive(Clone, Debug)]
pub struct OpenAi {
    config: OpenAiConfig,
    client: reqwest::Client,
    url: String,
}

impl OpenAi {
    pub fn new(config: OpenAiConfig) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.first_byte_timeout)
            .build()
            .map_err(|e| ProviderError::Unavailable(format!("http client: {e}")))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            config,
            client,
            url,
        })
    }

    /// The pause before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = BACKOFF_FACTOR.saturating_pow(attempt.saturating_sub(1));
        self.config
            .backoff
            .saturating_mul(factor)
            .min(self.config.max_backoff)
    }

    /// Drafts: the sections streamed as a preview, then the answer applied to the
    /// document.
    async fn draft_document(
        &self,
        prompt: &Prompt,
        input: &PromptInput,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<Drafted, ProviderError> {
        let messages = [
            Message {
                role: "system",
                content: &prompt.system,
            },
            Message {
                role: "user",
                content: &prompt.user,
            },
        ];
        let answer = self.run(&messages, Gate::Preview, deltas, cancel).await?;
        let mut drafted = parse_answer(&answer.text, &input.document, &prompt.omitted);
        if drafted.markdown.trim().is_empty() {
            return Err(ProviderError::BadResponse(
                "the answer has no document".into(),
            ));
        }
        if let Some(reported) = answer.usage
            && (reported.prompt_tokens as f64) < prompt.tokens as f64 * TRUNCATION_SUSPECT_RATIO
        {
            let warning = format!(
                "the server reported {} prompt tokens for a prompt estimated at {}: it may \
                 have cut the prompt to fit its context window (raise the server's context \
                 size, e.g. Ollama's num_ctx, or lower DRAFTLINE_MODEL_CONTEXT)",
                reported.prompt_tokens, prompt.tokens
            );
            tracing::warn!(
                reported = reported.prompt_tokens,
                estimated = prompt.tokens,
                "prompt tokens far below the estimate"
            );
            drafted.warnings.push(warning);
        }
        drafted.usage = answer.usage.unwrap_or(Usage {
            prompt_tokens: prompt.tokens as u64,
            completion_tokens: estimate_tokens(&answer.text) as u64,
        });
        Ok(drafted)
    }

    /// Writes a chat reply: the system prompt, then the conversation's turns.
    async fn write_reply(
        &self,
        prompt: &ChatPrompt,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<Reply, ProviderError> {
        let messages: Vec<Message<'_>> = std::iter::once(Message {
            role: "system",
            content: &prompt.system,
        })
        .chain(prompt.turns.iter().map(|turn| Message {
            role: match turn.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            },
            content: &turn.text,
        }))
        .collect();
        let answer = self.run(&messages, Gate::None, deltas, cancel).await?;
        let text = answer.text.trim();
        if text.is_empty() {
            return Err(ProviderError::BadResponse("the answer is empty".into()));
        }
        Ok(Reply {
            text: text.to_owned(),
            usage: answer.usage.unwrap_or(Usage {
                prompt_tokens: prompt.tokens as u64,
                completion_tokens: estimate_tokens(text) as u64,
            }),
        })
    }

    /// Attempts until one succeeds, or fails in a way a retry here cannot fix: not
    /// retryable, out of attempts, or after text was streamed. A retry after that
    /// would send the answer's beginning again into the delta channel, so such a
    /// failure goes back to the job (whose next attempt starts a fresh preview).
    async fn run(
        &self,
        messages: &[Message<'_>],
        gate: Gate,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<Answer, ProviderError> {
        let attempts = self.config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut streamed = false;
            let error = match self
                .attempt(messages, gate, deltas, cancel, &mut streamed)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            if streamed || !error.retryable() || attempt >= attempts {
                return Err(error);
            }
            let wait = match &error {
                ProviderError::RateLimited {
                    retry_after: Some(after),
                } => {
                    if *after > self.config.max_backoff {
                        return Err(error);
                    }
                    *after
                }
                _ => self.backoff(attempt),
            };
            tracing::warn!(
                attempt,
                error = %error,
                wait_ms = wait.as_millis() as u64,
                "model request failed; retrying"
            );
            pause(wait, cancel).await?;
            attempt += 1;
        }
    }

    /// One request. `streamed` is set once a piece went to `deltas`.
    async fn attempt(
        &self,
        messages: &[Message<'_>],
        gate: Gate,
        deltas: &Deltas,
        cancel: &CancellationToken,
        streamed: &mut bool,
    ) -> Result<Answer, ProviderError> {
        let (max_tokens, max_completion_tokens) = match self.config.limit_field {
            LimitField::MaxTokens => (self.config.max_tokens, None),
            LimitField::MaxCompletionTokens => (None, self.config.max_tokens),
        };
        let body = ChatRequest {
            model: &self.config.model,
            messages,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            max_tokens,
            max_completion_tokens,
        };
        let sent_at = Instant::now();
        let request = self
            .client
            .post(&self.url)
            .bearer_auth(&self.config.api_key)
            .json(&body)
            .send();
        let mut response = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(ProviderError::Cancelled),
            sent = tokio::time::timeout(self.config.first_byte_timeout, request) => match sent {
                Err(_) => return Err(ProviderError::Timeout("no response headers")),
                Ok(Err(e)) => return Err(request_error(&e)),
                Ok(Ok(response)) => response,
            },
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers(), chrono::Utc::now());
            let text = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                text = tokio::time::timeout(self.config.idle_timeout, response.text()) => {
                    text.ok().and_then(Result::ok).unwrap_or_default()
                }
            };
            return Err(status_error(status, retry_after, &text));
        }

        // A server that ignored `stream: true` answers with one JSON completion; it
        // would do so again, so that is a bad response rather than a broken stream.
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if content_type.starts_with("application/json") {
            return Err(ProviderError::BadResponse(
                "expected an event stream, got a JSON body (does the server stream?)".into(),
            ));
        }

        let mut lines = SseLines::default();
        // Everything received, when no gate keeps it.
        let mut text = String::new();
        let mut preview = match gate {
            Gate::Preview => Some(PreviewGate::default()),
            Gate::None => None,
        };
        let mut usage = None;
        let mut finish_reason: Option<String> = None;
        // Until the first token (text or reasoning) the first-token deadline applies,
        // counted from sending the request; after it, the idle timeout between pieces.
        let first_token_deadline = sent_at + self.config.first_token_timeout;
        let mut first_token = false;
        let mut done = false;
        while !done {
            let wait = if first_token {
                Instant::now() + self.config.idle_timeout
            } else {
                first_token_deadline
            };
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                chunk = tokio::time::timeout_at(wait, response.chunk()) => chunk,
            };
            let bytes = match chunk {
                Err(_) if first_token => {
                    return Err(ProviderError::Timeout("the stream went quiet"));
                }
                Err(_) => return Err(ProviderError::Timeout("no first token")),
                Ok(Err(e)) => return Err(stream_error(&e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(bytes))) => bytes,
            };
            for data in lines.push(&bytes) {
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                let chunk: ChatChunk = serde_json::from_str(&data).map_err(|e| {
                    ProviderError::BadResponse(format!("malformed stream chunk: {e}"))
                })?;
                if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
                    // An error reported inside an accepted stream is the server's
                    // trouble (overload, a crashed backend), not the request's.
                    let (_, message) = error_fields(&error);
                    return Err(ProviderError::Unavailable(format!(
                        "error in stream: {message}"
                    )));
                }
                if let Some(u) = chunk.usage {
                    usage = Some(Usage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    });
                }
                let Some(choice) = chunk.choices.into_iter().next() else {
                    continue;
                };
                if let Some(reason) = choice.finish_reason {
                    finish_reason = Some(reason);
                }
                let delta = choice.delta.unwrap_or_default();
                // Reasoning is not the answer, but it shows the model is at work.
                if delta
                    .reasoning_content
                    .as_deref()
                    .or(delta.reasoning.as_deref())
                    .is_some_and(|r| !r.is_empty())
                {
                    first_token = true;
                }
                let content = delta.content.unwrap_or_default();
                if content.is_empty() {
                    continue;
                }
                first_token = true;
                let piece = match &mut preview {
                    Some(gate) => gate.push(&content),
                    None => {
                        text.push_str(&content);
                        content
                    }
                };
                if !piece.is_empty() {
                    send_delta(deltas, piece, cancel).await?;
                    *streamed = true;
                }
            }
        }
        if !done {
            return Err(ProviderError::Unavailable(
                "the stream ended before [DONE]".into(),
            ));
        }
        match finish_reason.as_deref() {
            Some("length") => return Err(ProviderError::Truncated),
            Some("content_filter") => {
                return Err(ProviderError::BadResponse(
                    "the provider's content filter stopped the answer".into(),
                ));
            }
            _ => {}
        }
        let rest = preview
            .as_mut()
            .map(PreviewGate::finish)
            .unwrap_or_default();
        if !rest.is_empty() {
            send_delta(deltas, rest, cancel).await?;
            *streamed = true;
        }
        // The gate keeps the whole text itself (trailer included).
        let text = preview.map_or(text, |gate| gate.text().to_owned());
        Ok(Answer { text, usage })
    }
}

/// How an answer's text reaches the delta channel.
#[derive(Clone, Copy, Debug)]
enum Gate {
    /// Through a [`PreviewGate`] (drafts: markers, thinking and the trailer are left out).
    Preview,
    /// As it comes (chat replies).
    None,
}

/// A streamed answer: all of its text (a trailer included), and the usage the server
/// reported, if it did.
struct Answer {
    text: String,
    usage: Option<Usage>,
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn draft<'a>(
        &'a self,
        prompt: &'a Prompt,
        input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>> {
        Box::pin(self.draft_document(prompt, input, deltas, cancel))
    }

    fn reply<'a>(
        &'a self,
        prompt: &'a ChatPrompt,
        _input: &'a ChatInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(self.write_reply(prompt, deltas, cancel))
    }
}

/// The `Retry-After` pause: OpenAI's `retry-after-ms` when present (what its own
/// clients read first), else `Retry-After` in seconds or as an HTTP date (RFC 9110
/// allows both; proxies and some gateways send the date).
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let number = |v: &str| v.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    if let Some(ms) = text("retry-after-ms").and_then(number) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = text(RETRY_AFTER.as_str())?;
    if let Some(secs) = number(value) {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The code and message of an error body of any shape: OpenAI's
/// `{"error": {"message", "type", "code"}}`, vLLM's top-level
/// `{"object": "error", "message", "type", "code"}`, `{"error": "text"}`, FastAPI's
/// `{"detail": ...}`, or not JSON at all.
fn error_fields(value: &Value) -> (String, String) {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let inner = match value.get("error") {
        Some(Value::Object(_)) => value.get("error"),
        _ => Some(value),
    };
    let inner = inner.unwrap_or(value);
    let code = [inner.get("code"), inner.get("type")]
        .into_iter()
        .filter_map(text)
        .collect::<Vec<_>>()
        .join(" ");
    let message = match value {
        Value::String(s) => Some(s.clone()),
        _ => text(inner.get("message"))
            .or_else(|| text(value.get("error")))
            .or_else(|| {
                value
                    .get("detail")
                    .map(|d| text(Some(d)).unwrap_or_else(|| d.to_string()))
            }),
    }
    .unwrap_or_else(|| value.to_string());
    (code, message)
}

fn status_error(status: StatusCode, retry_after: Option<Duration>, body: &str) -> ProviderError {
    let (code, message) = match serde_json::from_str::<Value>(body) {
        Ok(value) => error_fields(&value),
        Err(_) => (String::new(), body.trim().to_owned()),
    };
    let detail = format!(
        "HTTP {status}: {}",
        super::prompt::clip_to(&message, MAX_ERROR_CHARS)
    );
    let lower = format!("{code} {message}").to_ascii_lowercase();
    let overflow = lower.contains("context_length_exceeded")
        || lower.contains("exceed_context_size")
        || lower.contains("maximum context length")
        || lower.contains("context size")
        || lower.contains("context window")
        || lower.contains("too many tokens");
    let unknown_model = lower.contains("model_not_found")
        || (lower.contains("model")
            && (lower.contains("does not exist")
                || lower.contains("not found")
                || lower.contains("unknown")));
    match status {
        StatusCode::TOO_MANY_REQUESTS if lower.contains("insufficient_quota") => {
            ProviderError::QuotaExhausted(detail)
        }
        StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited { retry_after },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Auth,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ProviderError::Timeout("the server gave up waiting")
        }
        // llama.cpp's server before it had a typed error answered 500 for a prompt
        // over its context.
        _ if overflow => ProviderError::ContextOverflow(detail),
        s if s.is_server_error() => ProviderError::Unavailable(detail),
        _ if unknown_model => ProviderError::UnknownModel(detail),
        // Any other answer rejects the request itself (a wrong path, a bad field):
        // sending it again would be rejected again.
        _ => ProviderError::BadResponse(detail),
    }
}

fn request_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout("connecting")
    } else {
        ProviderError::Unavailable(e.to_string())
    }
}

fn stream_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout("reading the stream")
    } else {
        ProviderError::Unavailable(format!("the stream broke off: {e}"))
    }
}

/// Splits a server-sent event stream into the payloads of its `data:` lines.
///
/// OpenAI-compatible servers put one JSON chunk on one `data:` line, so each line is
/// taken on its own (instead of joining the lines of an event up to the blank line, as
/// the SSE spec has it): a server that forgets the blank lines still works. Comment
/// lines (`: keep-alive`) and other fields (`event:`, `id:`) are skipped. Bytes are
/// buffered up to the newline, so a character split across network chunks is whole.
#[derive(Debug, Default)]
struct SseLines {
    buf: Vec<u8>,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(len) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.buf[start..start + len]);
            let line = line.trim_end_matches('\r');
            if let Some(data) = line.strip_prefix("data:") {
                out.push(data.strip_prefix(' ').unwrap_or(data).to_owned());
            }
            start += len + 1;
        }
        self.buf.drain(..start);
        out
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message<'a>],
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// One streamed chunk (`chat.completion.chunk`); everything not used is ignored.
#[derive(Deserialize)]
struct ChatChunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    /// Any shape: see [`error_fields`].
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Default, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// vLLM and llama.cpp with a reasoning parser, DeepSeek's API.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Ollama's and OpenRouter's name for the same.
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines_survive_any_split() {
        let stream = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\nevent: x\ndata:[DONE]\n\n";
        let bytes = stream.as_bytes();
        for size in [1, 2, 5, 64] {
            let mut lines = SseLines::default();
            let mut out = Vec::new();
            for chunk in bytes.chunks(size) {
                out.extend(lines.push(chunk));
            }
            assert_eq!(out, ["{\"a\":\"é\"}", "[DONE]"], "chunks of {size}");
        }
    }

    #[test]
    fn retry_after_in_seconds_milliseconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_millis(250)));
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        // A date in the past: retry now.
        let later = now + chrono::Duration::minutes(5);
        assert_eq!(retry_after(&headers, later), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let e =
            |code: u16, body: &str| status_error(StatusCode::from_u16(code).unwrap(), None, body);
        assert!(matches!(e(429, ""), ProviderError::RateLimited { .. }));
        assert!(matches!(e(401, ""), ProviderError::Auth));
        assert!(matches!(e(403, ""), ProviderError::Auth));
        assert!(matches!(e(504, ""), ProviderError::Timeout(_)));
        match e(503, "{\"error\": {\"message\": \"overloaded\"}}") {
            ProviderError::Unavailable(m) => assert!(m.contains("overloaded"), "{m}"),
            other => panic!("{other:?}"),
        }
        match e(404, "not here") {
            ProviderError::BadResponse(m) => assert!(m.contains("404") && m.contains("not here")),
            other => panic!("{other:?}"),
        }
    }

    /// Error bodies as the servers document them.
    #[test]
    fn error_bodies_of_every_shape() {
        let e =
            |code: u16, body: &str| status_error(StatusCode::from_u16(code).unwrap(), None, body);
        // OpenAI
        let quota = r#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
        assert!(matches!(e(429, quota), ProviderError::QuotaExhausted(_)));
        let model = r#"{"error": {"message": "The model `gpt-5-nano-x` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}"#;
        assert!(matches!(e(404, model), ProviderError::UnknownModel(_)));
        let context = r#"{"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}"#;
        assert!(matches!(e(400, context), ProviderError::ContextOverflow(_)));
        // vLLM: the error object at the top level, the code a number.
        let vllm_model = r#"{"object": "error", "message": "The model `llama` does not exist.", "type": "NotFoundError", "param": null, "code": 404}"#;
        match e(404, vllm_model) {
            ProviderError::UnknownModel(m) => assert!(m.contains("The model `llama`"), "{m}"),
            other => panic!("{other:?}"),
        }
        let vllm_context = r#"{"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (3000 in the messages, 2000 in the completion). Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": null, "code": 400}"#;
        assert!(matches!(
            e(400, vllm_context),
            ProviderError::ContextOverflow(_)
        ));
        // llama.cpp's server, typed and (older) as a 500.
        let llama = r#"{"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}}"#;
        assert!(matches!(e(400, llama), ProviderError::ContextOverflow(_)));
        let old_llama = r#"{"error": {"code": 500, "message": "the request exceeds the available context size, try increasing the context size or enable context shift", "type": "server_error"}}"#;
        assert!(matches!(
            e(500, old_llama),
            ProviderError::ContextOverflow(_)
        ));
        // Ollama, and a plain string `error`.
        let ollama = r#"{"error": {"message": "model \"llama3.3\" not found, try pulling it first", "type": "api_error", "param": null, "code": null}}"#;
        assert!(matches!(e(404, ollama), ProviderError::UnknownModel(_)));
        match e(400, r#"{"error": "model 'x' not found"}"#) {
            ProviderError::UnknownModel(m) => assert!(m.contains("model 'x' not found"), "{m}"),
            other => panic!("{other:?}"),
        }
        match e(502, r#"{"detail": "upstream down"}"#) {
            ProviderError::Unavailable(m) => assert!(m.contains("upstream down"), "{m}"),
            other => panic!("{other:?}"),
        }
        match e(500, r#"["odd"]"#) {
            ProviderError::Unavailable(m) => assert!(m.contains("odd"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_api_key_is_not_in_debug_output() {
        let config = OpenAiConfig {
            api_key: "sk-secret-123".into(),
            ..test_config()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        assert!(shown.contains("<redacted>"));
        let provider = OpenAi::new(config).unwrap();
        assert!(!format!("{provider:?}").contains("sk-secret-123"));
    }

    fn test_config() -> OpenAiConfig {
        OpenAiConfig {
            base_url: "http://127.0.0.1:1/v1/".into(),
            api_key: "k".into(),
            model: "m".into(),
            first_byte_timeout: Duration::from_secs(1),
            first_token_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_tokens: None,
            limit_field: LimitField::MaxTokens,
        }
    }

    #[test]
    fn backoff_grows_by_four_and_is_capped() {
        let provider = OpenAi::new(test_config()).unwrap();
        assert_eq!(provider.url, "http://127.0.0.1:1/v1/chat/completions");
        let waits: Vec<_> = (1..5).map(|a| provider.backoff(a).as_millis()).collect();
        assert_eq!(waits, [500, 2_000, 8_000, 10_000]);
    }
}
