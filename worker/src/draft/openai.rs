//! `openai`: drafts and writes chat replies with any OpenAI-compatible chat completions
//! endpoint (OpenAI, vLLM, llama.cpp server, Ollama) over a streamed request, forwarding
//! the text as it arrives, with typed errors and a few attempts for failures that happen
//! before any text was streamed.

use super::chat::{ChatInput, ChatPrompt};
use super::prompt::{Prompt, PromptInput, estimate_tokens};
use super::provider::{
    Deltas, Drafted, Provider, ProviderError, Reply, TrailerGate, Usage, parse_answer, pause,
    send_delta,
};
use futures_util::future::BoxFuture;
use protocol::entities::ChatRole;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Each retry waits this many times longer than the one before (500 ms, 2 s with the
/// default base), the usual exponential backoff of OpenAI's own client libraries.
const BACKOFF_FACTOR: u32 = 4;

/// The most of an error body kept in an error message, in characters: enough for the
/// provider's explanation, not a whole HTML error page.
const MAX_ERROR_CHARS: usize = 300;

/// How to reach the endpoint, and how patient to be.
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    /// From sending the request to the response's headers (connecting included).
    pub first_byte_timeout: Duration,
    /// The longest silence between two pieces of the streamed body.
    pub idle_timeout: Duration,
    /// Attempts per draft (DESIGN.md: 3).
    pub attempts: u32,
    /// The pause before the first retry; later ones grow by `BACKOFF_FACTOR`.
    pub backoff: Duration,
    /// The longest pause between attempts. A `Retry-After` longer than this is not
    /// waited out here: the error goes back to the job, whose retry comes later.
    pub max_backoff: Duration,
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

    /// Drafts: the document streamed without its trailer, then read with it.
    async fn draft_document(
        &self,
        prompt: &Prompt,
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
        let answer = self.run(&messages, Trailer::Held, deltas, cancel).await?;
        let mut drafted = parse_answer(&answer.text);
        if drafted.markdown.is_empty() {
            return Err(ProviderError::BadResponse(
                "the answer has no document".into(),
            ));
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
        let answer = self.run(&messages, Trailer::Absent, deltas, cancel).await?;
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
        trailer: Trailer,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<Answer, ProviderError> {
        let attempts = self.config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut streamed = false;
            let error = match self
                .attempt(messages, trailer, deltas, cancel, &mut streamed)
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
        trailer: Trailer,
        deltas: &Deltas,
        cancel: &CancellationToken,
        streamed: &mut bool,
    ) -> Result<Answer, ProviderError> {
        let body = ChatRequest {
            model: &self.config.model,
            messages,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
        };
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
                Err(_) => return Err(ProviderError::Timeout),
                Ok(Err(e)) => return Err(request_error(&e)),
                Ok(Ok(response)) => response,
            },
        };
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
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
        let mut gate = match trailer {
            Trailer::Held => Some(TrailerGate::default()),
            Trailer::Absent => None,
        };
        let mut usage = None;
        let mut done = false;
        while !done {
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProviderError::Cancelled),
                chunk = tokio::time::timeout(self.config.idle_timeout, response.chunk()) => chunk,
            };
            let bytes = match chunk {
                Err(_) => return Err(ProviderError::Timeout),
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
                if let Some(error) = chunk.error {
                    // An error reported inside an accepted stream is the server's
                    // trouble (overload, a crashed backend), not the request's.
                    return Err(ProviderError::Unavailable(format!(
                        "error in stream: {}",
                        error.message
                    )));
                }
                if let Some(u) = chunk.usage {
                    usage = Some(Usage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    });
                }
                let content = chunk
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.delta)
                    .and_then(|d| d.content)
                    .unwrap_or_default();
                let piece = match &mut gate {
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
        let rest = gate.as_mut().map(TrailerGate::finish).unwrap_or_default();
        if !rest.is_empty() {
            send_delta(deltas, rest, cancel).await?;
            *streamed = true;
        }
        // The gate keeps the whole text itself (trailer included).
        let text = gate.map_or(text, |gate| gate.text().to_owned());
        Ok(Answer { text, usage })
    }
}

/// Whether an answer ends with the draft's trailer, which the preview must not show.
#[derive(Clone, Copy, Debug)]
enum Trailer {
    /// Held back from `deltas` (drafts).
    Held,
    /// There is none (chat replies): everything is streamed.
    Absent,
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
        _input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>> {
        Box::pin(self.draft_document(prompt, deltas, cancel))
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
/// clients read first), else `Retry-After` in seconds. The HTTP-date form is ignored:
/// rate limiters answer in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    value("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| value(RETRY_AFTER.as_str()).map(Duration::from_secs_f64))
}

fn status_error(status: StatusCode, retry_after: Option<Duration>, body: &str) -> ProviderError {
    let detail = || {
        let message = serde_json::from_str::<ErrorBody>(body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| body.trim().to_owned());
        format!(
            "HTTP {status}: {}",
            super::prompt::clip_to(&message, MAX_ERROR_CHARS)
        )
    };
    match status {
        StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited { retry_after },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Auth,
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ProviderError::Timeout,
        s if s.is_server_error() => ProviderError::Unavailable(detail()),
        // Any other answer rejects the request itself (an unknown model, a prompt over
        // the context window): sending it again would be rejected again.
        _ => ProviderError::BadResponse(detail()),
    }
}

fn request_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::Unavailable(e.to_string())
    }
}

fn stream_error(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
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
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
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
    fn retry_after_in_seconds_or_milliseconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let e =
            |code: u16, body: &str| status_error(StatusCode::from_u16(code).unwrap(), None, body);
        assert!(matches!(e(429, ""), ProviderError::RateLimited { .. }));
        assert!(matches!(e(401, ""), ProviderError::Auth));
        assert!(matches!(e(403, ""), ProviderError::Auth));
        assert!(matches!(e(504, ""), ProviderError::Timeout));
        match e(503, "{\"error\": {\"message\": \"overloaded\"}}") {
            ProviderError::Unavailable(m) => assert!(m.contains("overloaded"), "{m}"),
            other => panic!("{other:?}"),
        }
        match e(404, "model not found") {
            ProviderError::BadResponse(m) => {
                assert!(m.contains("404") && m.contains("model not found"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_grows_by_four_and_is_capped() {
        let provider = OpenAi::new(OpenAiConfig {
            base_url: "http://127.0.0.1:1/v1/".into(),
            api_key: "k".into(),
            model: "m".into(),
            first_byte_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(provider.url, "http://127.0.0.1:1/v1/chat/completions");
        let waits: Vec<_> = (1..5).map(|a| provider.backoff(a).as_millis()).collect();
        assert_eq!(waits, [500, 2_000, 8_000, 10_000]);
    }
}
