//! The model provider interface: async methods that draft the document for a prompt or
//! write a chat reply, streaming text pieces into a bounded channel as they come, and
//! typed errors that say whether another attempt can help. Also the parsing of an
//! answer (document, then the `---DRAFTLINE---` trailer) that every provider shares.

use super::chat::{ChatInput, ChatPrompt};
use super::prompt::{Prompt, PromptInput, TRAILER_MARKER, clip_to};
use super::revision;
use crate::handler::{Failure, JobError};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The capacity of the delta channel, in pieces. The caller drains it into `draft.delta`
/// batches (every 250 ms or 500 characters, docs/protocol.md section 10.3); at about 80 characters a piece,
/// 64 pieces are ten batches of slack, enough to ride out a slow publish without the
/// provider waiting, and small enough that a stalled publisher pushes back on the model
/// stream (the provider waits on `send`) instead of buffering a whole document.
pub const DELTA_CHANNEL_CAPACITY: usize = 64;

/// Where a provider streams its text pieces. Pieces concatenate to the document (not
/// the trailer); the final [`Drafted::markdown`] is what counts, the pieces are a preview.
pub type Deltas = mpsc::Sender<String>;

/// A delta channel of [`DELTA_CHANNEL_CAPACITY`].
pub fn delta_channel() -> (Deltas, mpsc::Receiver<String>) {
    mpsc::channel(DELTA_CHANNEL_CAPACITY)
}

/// Tokens a draft used, as the model reported them or (without a report) as estimated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A finished draft: the answer applied to the document it revised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drafted {
    /// The whole revised document (sections the answer did not name as they were).
    pub markdown: String,
    /// The titles of the document's sections, in order.
    pub sections: Vec<String>,
    /// One sentence on the document as it now stands.
    pub summary: String,
    pub usage: Usage,
    /// Keys of the sections the answer changed or added.
    pub touched: Vec<String>,
    /// Things people on call should know (a prompt the server seems to have cut, a
    /// revision of a section the model was not shown); logged on the job.
    pub warnings: Vec<String>,
}

/// A finished chat reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply's text, trimmed; never empty.
    pub text: String,
    pub usage: Usage,
}

/// Why a draft or a reply failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("rate limited by the model provider")]
    RateLimited { retry_after: Option<Duration> },
    /// OpenAI's `insufficient_quota` (also a 429): no retry helps until someone pays.
    #[error("the model provider's account has no quota left: {0}")]
    QuotaExhausted(String),
    #[error("the model provider timed out ({0})")]
    Timeout(&'static str),
    #[error("the model provider refused the credentials")]
    Auth,
    #[error("the model provider does not serve the configured model: {0}")]
    UnknownModel(String),
    #[error("the prompt does not fit the model's context window: {0}")]
    ContextOverflow(String),
    /// `finish_reason: "length"`: the answer stopped at the completion limit.
    #[error("the answer was cut off at the completion limit")]
    Truncated,
    /// The provider answered something we cannot use (a malformed chunk, an empty
    /// answer, a rejected request); the same request is unlikely to fare better.
    #[error("bad response from the model provider: {0}")]
    BadResponse(String),
    /// The provider could not be reached or broke off (connection errors, 5xx, a
    /// stream that ended early).
    #[error("model provider unavailable: {0}")]
    Unavailable(String),
    #[error("cancelled")]
    Cancelled,
}

impl ProviderError {
    /// Whether a later attempt may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Timeout(_) | Self::Unavailable(_)
        )
    }

    /// What clients may see: the kind of trouble, without the provider's own words
    /// (which can name accounts, keys' prefixes or internal hosts).
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "the model provider is rate limiting requests",
            Self::QuotaExhausted(_) => "the model provider's account has no quota left",
            Self::Timeout(_) => "the model provider timed out",
            Self::Auth => "the model provider refused the credentials",
            Self::UnknownModel(_) => "the model provider does not serve the configured model",
            Self::ContextOverflow(_) => "the prompt does not fit the model's context window",
            Self::Truncated => {
                "the model's answer was cut off at its length limit; nothing was stored"
            }
            Self::BadResponse(_) => "the model provider gave an answer that could not be used",
            Self::Unavailable(_) => "the model provider is unavailable",
            Self::Cancelled => "cancelled",
        }
    }
}

impl From<ProviderError> for JobError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Cancelled => JobError::Cancelled,
            e => JobError::Failed(Failure {
                public: e.public_message().to_owned(),
                detail: e.to_string(),
                retryable: e.retryable(),
                retry_after: match &e {
                    ProviderError::RateLimited { retry_after } => *retry_after,
                    _ => None,
                },
            }),
        }
    }
}

/// A model that drafts documents.
pub trait Provider: Send + Sync {
    /// The provider's name for logs and usage records (`compose`, `openai`).
    fn name(&self) -> &'static str;

    /// Drafts the document for `prompt` (built from `input`), sending text pieces to
    /// `deltas` as they come. A closed `deltas` is not an error: the pieces are only a
    /// preview. Returns [`ProviderError::Cancelled`] soon after `cancel` fires.
    fn draft<'a>(
        &'a self,
        prompt: &'a Prompt,
        input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>>;

    /// Writes the reply to the last turn of `prompt` (built from `input`), sending text
    /// pieces to `deltas` as they come; the pieces concatenate to the reply (before
    /// trimming). Same contract as [`Provider::draft`] for `deltas` and `cancel`.
    fn reply<'a>(
        &'a self,
        prompt: &'a ChatPrompt,
        input: &'a ChatInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>>;
}

/// Sends one piece, waiting while the channel is full, unless cancelled first.
pub(crate) async fn send_delta(
    deltas: &Deltas,
    piece: String,
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(ProviderError::Cancelled),
        // A closed receiver means nobody watches the preview; the draft still counts.
        _ = deltas.send(piece) => Ok(()),
    }
}

/// Sleeps for `pause` unless cancelled first.
pub(crate) async fn pause(
    pause: Duration,
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(ProviderError::Cancelled),
        () = tokio::time::sleep(pause) => Ok(()),
    }
}

/// The JSON after the trailer marker.
#[derive(Debug, Default, Deserialize)]
struct Trailer {
    #[serde(default)]
    summary: Option<String>,
}

/// The longest summary kept, in characters: a sentence, not a page (a model that
/// ignores the instruction should not fill the job's `generated_summary`).
const MAX_SUMMARY_CHARS: usize = 300;

/// Reads a model's answer to a revision prompt: cleans it (a `<think>` block, a
/// wrapping fence, a preamble), applies its sections to `document` (see
/// [`revision::apply`]; `omitted` are the keys whose text the prompt left out), and reads
/// the summary from the trailer. A missing or broken trailer is not an error: the
/// summary is then the document's first sentence. The section titles are the revised
/// document's.
pub fn parse_answer(text: &str, document: &str, omitted: &[String]) -> Drafted {
    let (answer, trailer) = match find_marker(text) {
        Some((start, end)) => (&text[..start], Some(&text[end..])),
        None => (text, None),
    };
    let blocks = revision::blocks(&revision::clean(answer));
    let applied = revision::apply(document, &blocks, omitted);
    let markdown = applied.markdown;
    let trailer = trailer.and_then(parse_trailer).unwrap_or_default();
    let summary = trailer
        .summary
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| first_sentence(&markdown));
    let mut warnings = Vec::new();
    if !applied.refused.is_empty() {
        warnings.push(format!(
            "the answer revised sections whose text its prompt left out; they were kept: {}",
            applied.refused.join(", ")
        ));
    }
    Drafted {
        sections: section_titles(&markdown),
        markdown,
        summary: clip_to(&summary, MAX_SUMMARY_CHARS),
        usage: Usage::default(),
        touched: applied.touched,
        warnings,
    }
}

/// The byte range of the trailer marker: preferably on a line of its own (the last
/// such line), else anywhere in the text.
fn find_marker(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut found = None;
    for line in text.split_inclusive('\n') {
        if line.trim() == TRAILER_MARKER {
            found = Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    found.or_else(|| {
        text.rfind(TRAILER_MARKER)
            .map(|start| (start, start + TRAILER_MARKER.len()))
    })
}

/// The trailer's JSON, tolerating a code fence or stray text around the object.
fn parse_trailer(text: &str) -> Option<Trailer> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// The titles of the document's `##`-and-deeper sections (the `#` title names the
/// document, not a section); all headings when there are no deeper ones.
pub fn section_titles(markdown: &str) -> Vec<String> {
    let outline = store::sections::outline(markdown);
    let deeper: Vec<String> = outline
        .iter()
        .filter(|s| s.level >= 2)
        .map(|s| s.title.clone())
        .collect();
    if deeper.is_empty() {
        outline.into_iter().map(|s| s.title).collect()
    } else {
        deeper
    }
}

/// The first sentence of the document's prose: the first line that is not a heading,
/// a fence, a rule or a quote, up to its first full stop.
pub fn first_sentence(markdown: &str) -> String {
    let line = markdown
        .lines()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.starts_with("```")
                && !l.starts_with("~~~")
                && !l.starts_with('>')
                && !l.starts_with("---")
        })
        .unwrap_or("");
    let line = ["- ", "* ", "+ "]
        .iter()
        .find_map(|marker| line.strip_prefix(marker))
        .unwrap_or(line);
    let end = line
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | '!' | '?')
                && line[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        })
        .map_or(line.len(), |(i, c)| i + c.len_utf8());
    line[..end].to_owned()
}

/// Turns a streamed answer into its preview: what clients see of the sections as they
/// come. Drops a leading `<think>` block, a preamble, a wrapping fence's opening line, the
/// section markers, and everything from the trailer marker on. Works by lines; the
/// unfinished last line is released at once unless it may still become one of those, so
/// the first words go out as soon as they exist.
#[derive(Debug, Default)]
pub(crate) struct PreviewGate {
    /// Everything received.
    text: String,
    /// Where the current (unfinished) line starts in `text`.
    line_start: usize,
    /// Bytes of the current line already released.
    line_released: usize,
    state: GateState,
    /// The answer came wrapped in a code fence (its opening line was seen).
    fenced: bool,
    /// Code fences opened inside the answer and not yet closed.
    inner_fences: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum GateState {
    /// Before the first section: blank lines, a preamble, a fence, a `<think>` block.
    #[default]
    Start,
    Thinking,
    Body,
    /// After the trailer marker: nothing more.
    Closed,
}

/// Starts of lines the gate must see whole before it can tell what they are.
const HELD_PREFIXES: [&str; 6] = ["<!--", "<think>", "</think>", "```", "~~~", TRAILER_MARKER];

impl PreviewGate {
    /// Adds `piece` and returns what can be released now (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        self.text.push_str(piece);
        let mut out = String::new();
        while let Some(nl) = self.text[self.line_start..].find('\n') {
            let end = self.line_start + nl + 1;
            self.line(end, &mut out);
            self.line_start = end;
            self.line_released = 0;
        }
        self.partial(&mut out);
        out
    }

    /// At the end of the stream: the unfinished last line, if it belongs to the preview.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        if self.line_start < self.text.len() {
            let end = self.text.len();
            self.line(end, &mut out);
            self.line_start = end;
            self.line_released = 0;
        }
        out
    }

    /// Everything received, trailer included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Handles the whole line `line_start..end`.
    fn line(&mut self, end: usize, out: &mut String) {
        let line = &self.text[self.line_start..end];
        let trimmed = line.trim();
        match self.state {
            GateState::Closed => {}
            GateState::Thinking => {
                if let Some(at) = line.find("</think>") {
                    self.state = GateState::Start;
                    let rest = line[at + 8..].to_owned();
                    if !rest.trim().is_empty() {
                        self.start_line(&rest, out);
                    }
                }
            }
            GateState::Start => {
                let line = line.to_owned();
                self.start_line(&line, out);
            }
            GateState::Body => {
                let fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
                if trimmed == TRAILER_MARKER {
                    self.state = GateState::Closed;
                } else if fence && self.fenced && self.inner_fences == 0 && trimmed.len() == 3 {
                    // The wrapper's closing fence: what follows is not the document.
                    self.state = GateState::Closed;
                } else if revision::marker(line).is_none() {
                    if fence {
                        // A fence with an info string opens a block; a bare one closes
                        // the innermost open block, else opens one.
                        if trimmed.len() > 3 || self.inner_fences == 0 {
                            self.inner_fences += 1;
                        } else {
                            self.inner_fences -= 1;
                        }
                    }
                    out.push_str(&line[self.line_released..]);
                }
            }
        }
    }

    /// A whole line before the first section.
    fn start_line(&mut self, line: &str, out: &mut String) {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<think>") {
            self.state = GateState::Thinking;
            if let Some(at) = rest.find("</think>") {
                self.state = GateState::Start;
                let after = rest[at + 8..].to_owned();
                if !after.trim().is_empty() {
                    self.start_line(&after, out);
                }
            }
        } else if trimmed == TRAILER_MARKER {
            self.state = GateState::Closed;
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            self.fenced = true;
        } else if revision::marker(line).is_some() {
            self.state = GateState::Body;
        } else if trimmed.starts_with('#') {
            self.state = GateState::Body;
            out.push_str(&line[self.line_released.min(line.len())..]);
        }
        // Anything else (blank lines, a fence, a preamble) is not shown.
    }

    /// The unfinished last line: released unless it may still become a line the
    /// preview leaves out.
    fn partial(&mut self, out: &mut String) {
        let line = &self.text[self.line_start..];
        let trimmed = line.trim_start();
        let release = match self.state {
            GateState::Body => {
                !trimmed.is_empty()
                    && !HELD_PREFIXES
                        .iter()
                        .any(|p| p.starts_with(trimmed) || trimmed.starts_with(p))
            }
            // Before the first section only a heading is shown, and it can go out as
            // soon as its `#` is there.
            GateState::Start => trimmed.starts_with('#'),
            GateState::Thinking | GateState::Closed => false,
        };
        if release {
            if self.state == GateState::Start {
                self.state = GateState::Body;
            }
            out.push_str(&line[self.line_released..]);
            self.line_released = line.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Harbour\n\n## Overview\n\nA workshop. For everyone.\n\n## Goals & momentum\n\nOpen by spring.\n";

    #[test]
    fn the_trailer_gives_the_summary_and_the_document_the_sections() {
        let text = format!(
            "{DOC}\n---DRAFTLINE---\n{{\"summary\": \"A workshop plan.\", \"sections\": [\"Overview\"]}}\n"
        );
        let d = parse_answer(&text, "", &[]);
        assert_eq!(d.markdown, DOC);
        assert_eq!(d.summary, "A workshop plan.");
        assert_eq!(d.sections, ["Overview", "Goals & momentum"]);
        assert_eq!(
            d.touched,
            ["harbour", "harbour/overview", "harbour/goals-momentum"]
        );
    }

    #[test]
    fn a_fenced_trailer_is_read_too() {
        let text = format!(
            "{DOC}---DRAFTLINE---\n```json\n{{\"summary\": \"S.\", \"sections\": []}}\n```"
        );
        let d = parse_answer(&text, "", &[]);
        assert_eq!(d.markdown, DOC);
        assert_eq!(d.summary, "S.");
    }

    #[test]
    fn without_a_usable_trailer_the_first_sentence_stands_in() {
        for text in [
            DOC.to_owned(),
            format!("{DOC}---DRAFTLINE---\n{{\"summary\": "),
            format!("{DOC}---DRAFTLINE---\nnot json"),
        ] {
            let d = parse_answer(&text, "", &[]);
            assert_eq!(d.markdown, DOC, "{text}");
            assert_eq!(d.summary, "A workshop.");
            assert_eq!(d.sections, ["Overview", "Goals & momentum"]);
        }
    }

    #[test]
    fn a_revision_changes_only_its_sections() {
        let text = "<!-- section: harbour/goals-momentum -->\n## Goals & momentum\n\nOpen by May.\n---DRAFTLINE---\n{\"summary\": \"Sooner.\"}";
        let d = parse_answer(text, DOC, &[]);
        assert_eq!(
            d.markdown,
            "# Harbour\n\n## Overview\n\nA workshop. For everyone.\n\n## Goals & momentum\n\nOpen by May.\n"
        );
        assert_eq!(d.touched, ["harbour/goals-momentum"]);
        // Only the trailer: nothing changes.
        let d = parse_answer("---DRAFTLINE---\n{\"summary\": \"Same.\"}", DOC, &[]);
        assert_eq!(d.markdown, DOC);
        assert!(d.touched.is_empty());
    }

    #[test]
    fn first_sentences() {
        assert_eq!(first_sentence("# T\n\n- Point one. Two"), "Point one.");
        assert_eq!(
            first_sentence("Version 1.5 is out! Yes."),
            "Version 1.5 is out!"
        );
        assert_eq!(first_sentence("No stop at all"), "No stop at all");
        assert_eq!(first_sentence("# Only a title\n"), "");
    }

    fn preview(text: &str, size: usize) -> String {
        let mut gate = PreviewGate::default();
        let mut out = String::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(size) {
            out.push_str(&gate.push(&piece.iter().collect::<String>()));
        }
        out.push_str(&gate.finish());
        assert_eq!(gate.text(), text);
        out
    }

    #[test]
    fn the_preview_leaves_out_the_trailer_wherever_the_pieces_split() {
        let text = format!("{DOC}---DRAFTLINE---\n{{\"summary\": \"x\"}}\n");
        for size in [1, 2, 3, 7, 16, 100] {
            assert_eq!(preview(&text, size), DOC, "pieces of {size}");
        }
    }

    #[test]
    fn the_preview_leaves_out_thinking_preambles_fences_and_markers() {
        let text = "<think>\nB needs a date.\n</think>\nSure, here it is:\n```markdown\n<!-- section: harbour/b -->\n## B\n\nb2\n<!-- new after: harbour/b -->\n## C\n\nc\n---DRAFTLINE---\n{}";
        for size in [1, 3, 7, 100] {
            assert_eq!(
                preview(text, size),
                "## B\n\nb2\n## C\n\nc\n",
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn the_first_words_are_released_before_their_line_ends() {
        let mut gate = PreviewGate::default();
        assert_eq!(gate.push("<!-- section: a -->\n"), "");
        assert_eq!(gate.push("## Ov"), "## Ov");
        assert_eq!(gate.push("erview\n\nA work"), "erview\n\nA work");
        assert_eq!(gate.push("shop.\n---DRAFT"), "shop.\n");
        assert_eq!(gate.push("ING is fun"), "---DRAFTING is fun");
        assert_eq!(gate.push("\n---DRAFTLINE---\n{}"), "\n");
        assert_eq!(gate.finish(), "");
    }

    #[test]
    fn errors_say_whether_to_retry() {
        assert!(ProviderError::RateLimited { retry_after: None }.retryable());
        assert!(ProviderError::Timeout("headers").retryable());
        assert!(ProviderError::Unavailable("503".into()).retryable());
        assert!(!ProviderError::Auth.retryable());
        assert!(!ProviderError::BadResponse("x".into()).retryable());
        assert!(!ProviderError::Cancelled.retryable());
        assert!(matches!(
            JobError::from(ProviderError::Timeout("headers")),
            JobError::Failed(Failure {
                retryable: true,
                ..
            })
        ));
        assert!(!ProviderError::Truncated.retryable());
        assert!(!ProviderError::QuotaExhausted("x".into()).retryable());
        let auth = JobError::from(ProviderError::Auth);
        assert!(!auth.retryable());
        let limited = JobError::from(ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        });
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        let unavailable = JobError::from(ProviderError::Unavailable(
            "HTTP 503: db at 10.0.0.4".into(),
        ));
        assert_eq!(
            unavailable.public_message(),
            "the model provider is unavailable"
        );
        assert!(unavailable.detail().contains("10.0.0.4"));
        assert!(matches!(
            JobError::from(ProviderError::Cancelled),
            JobError::Cancelled
        ));
    }
}
