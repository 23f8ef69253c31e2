//! The model provider interface: async methods that draft the document for a prompt or
//! write a chat reply, streaming text pieces into a bounded channel as they come, and
//! typed errors that say whether another attempt can help. Also the parsing of an
//! answer (document, then the `---DRAFTLINE---` trailer) that every provider shares.

use super::chat::{ChatInput, ChatPrompt};
use super::prompt::{Prompt, PromptInput, TRAILER_MARKER, clip_to};
use crate::handler::JobError;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The capacity of the delta channel, in pieces. The caller drains it into `draft.delta`
/// batches (every 250 ms or 500 characters, DESIGN.md); at about 80 characters a piece,
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

/// A finished draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drafted {
    pub markdown: String,
    /// The titles of the document's sections, in order.
    pub sections: Vec<String>,
    /// One sentence on the document as it now stands.
    pub summary: String,
    pub usage: Usage,
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
    #[error("the model provider timed out")]
    Timeout,
    #[error("the model provider refused the credentials")]
    Auth,
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
            Self::RateLimited { .. } | Self::Timeout | Self::Unavailable(_)
        )
    }
}

impl From<ProviderError> for JobError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Cancelled => JobError::Cancelled,
            e if e.retryable() => JobError::Retryable(e.to_string()),
            e => JobError::Permanent(e.to_string()),
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
    #[serde(default)]
    sections: Option<Vec<String>>,
}

/// The longest summary kept, in characters: a sentence, not a page (a model that
/// ignores the instruction should not fill the job's `generated_summary`).
const MAX_SUMMARY_CHARS: usize = 300;

/// Splits a model's answer into the document and the trailer, and reads the summary
/// and section titles from the trailer. A missing or broken trailer is not an error:
/// the sections then come from the document's headings and the summary is its first
/// sentence.
pub fn parse_answer(text: &str) -> Drafted {
    let (document, trailer) = match find_marker(text) {
        Some((start, end)) => (&text[..start], Some(&text[end..])),
        None => (text, None),
    };
    let markdown = match document.trim_end() {
        "" => String::new(),
        body => format!("{}\n", body.trim_start_matches(['\n', '\r'])),
    };
    let trailer = trailer.and_then(parse_trailer).unwrap_or_default();
    let sections = trailer
        .sections
        .map(|s| {
            s.into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| section_titles(&markdown));
    let summary = trailer
        .summary
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| first_sentence(&markdown));
    Drafted {
        markdown,
        sections,
        summary: clip_to(&summary, MAX_SUMMARY_CHARS),
        usage: Usage::default(),
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

/// Holds back the end of a stream that may be the start of the trailer marker, so the
/// trailer never reaches the delta channel. The marker is recognised on a line of its
/// own; everything after it is swallowed.
#[derive(Debug, Default)]
pub(crate) struct TrailerGate {
    text: String,
    /// Bytes of `text` already released.
    released: usize,
    /// Set once the marker line was seen: nothing more is released.
    closed: bool,
}

impl TrailerGate {
    /// Adds `piece` and returns what can be released now (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        self.text.push_str(piece);
        if self.closed {
            return String::new();
        }
        // Lines complete since the last release: release them up to a marker line.
        let mut upto = self.released;
        for line in self.text[self.released..].split_inclusive('\n') {
            if !line.ends_with('\n') {
                break;
            }
            if line.trim() == TRAILER_MARKER {
                self.closed = true;
                break;
            }
            upto += line.len();
        }
        // The unfinished last line is released unless it may still become the marker.
        if !self.closed {
            let tail = &self.text[upto..];
            if !tail.contains('\n') && !TRAILER_MARKER.starts_with(tail.trim()) {
                upto = self.text.len();
            }
        }
        let out = self.text[self.released..upto].to_owned();
        self.released = upto;
        out
    }

    /// At the end of the stream: whatever was held back and is not the trailer.
    pub fn finish(&mut self) -> String {
        if self.closed {
            return String::new();
        }
        let tail = &self.text[self.released..];
        let out = if tail.trim() == TRAILER_MARKER {
            String::new()
        } else {
            tail.to_owned()
        };
        self.released = self.text.len();
        out
    }

    /// Everything received, trailer included.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const DOC: &str = "# Harbour\n\n## Overview\n\nA workshop. For everyone.\n\n## Goals & momentum\n\nOpen by spring.\n";

    #[test]
    fn the_trailer_gives_summary_and_sections() {
        let text = format!(
            "{DOC}\n---DRAFTLINE---\n{{\"summary\": \"A workshop plan.\", \"sections\": [\"Overview\", \"Goals & momentum\"]}}\n"
        );
        let d = parse_answer(&text);
        assert_eq!(d.markdown, DOC);
        assert_eq!(d.summary, "A workshop plan.");
        assert_eq!(d.sections, ["Overview", "Goals & momentum"]);
    }

    #[test]
    fn a_fenced_trailer_is_read_too() {
        let text = format!(
            "{DOC}---DRAFTLINE---\n```json\n{{\"summary\": \"S.\", \"sections\": []}}\n```"
        );
        let d = parse_answer(&text);
        assert_eq!(d.markdown, DOC);
        assert_eq!(d.summary, "S.");
        // An empty list is no better than none: the headings stand in.
        assert_eq!(d.sections, ["Overview", "Goals & momentum"]);
    }

    #[test]
    fn without_a_usable_trailer_headings_and_first_sentence_stand_in() {
        for text in [
            DOC.to_owned(),
            format!("{DOC}---DRAFTLINE---\n{{\"summary\": "),
            format!("{DOC}---DRAFTLINE---\nnot json"),
        ] {
            let d = parse_answer(&text);
            assert_eq!(d.markdown, DOC, "{text}");
            assert_eq!(d.summary, "A workshop.");
            assert_eq!(d.sections, ["Overview", "Goals & momentum"]);
        }
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

    #[test]
    fn the_gate_holds_back_the_trailer_wherever_the_pieces_split() {
        let text = format!("{DOC}---DRAFTLINE---\n{{\"summary\": \"x\"}}\n");
        for size in [1, 2, 3, 7, 16, 100] {
            let mut gate = TrailerGate::default();
            let mut out = String::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(size) {
                out.push_str(&gate.push(&piece.iter().collect::<String>()));
            }
            out.push_str(&gate.finish());
            assert_eq!(out, DOC, "pieces of {size}");
            assert_eq!(gate.text(), text);
        }
    }

    #[test]
    fn the_gate_releases_lines_that_only_look_like_the_marker_at_first() {
        let mut gate = TrailerGate::default();
        assert_eq!(gate.push("intro\n---"), "intro\n");
        assert_eq!(gate.push("-\n"), "----\n");
        assert_eq!(gate.push("---DRAFT"), "");
        assert_eq!(gate.push("ING is fun"), "---DRAFTING is fun");
        assert_eq!(gate.push("\n---DRAFT"), "\n");
        assert_eq!(gate.finish(), "---DRAFT");
    }

    #[test]
    fn errors_say_whether_to_retry() {
        assert!(ProviderError::RateLimited { retry_after: None }.retryable());
        assert!(ProviderError::Timeout.retryable());
        assert!(ProviderError::Unavailable("503".into()).retryable());
        assert!(!ProviderError::Auth.retryable());
        assert!(!ProviderError::BadResponse("x".into()).retryable());
        assert!(!ProviderError::Cancelled.retryable());
        assert!(matches!(
            JobError::from(ProviderError::Timeout),
            JobError::Retryable(_)
        ));
        assert!(matches!(
            JobError::from(ProviderError::Auth),
            JobError::Permanent(_)
        ));
        assert!(matches!(
            JobError::from(ProviderError::Cancelled),
            JobError::Cancelled
        ));
    }
}
