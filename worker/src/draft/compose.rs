//! `compose`: the built-in drafter. It writes a structured document from the
//! blueprint, notes, todos and transcript excerpts without any model, the same
//! document for the same input, and streams it in pieces like a model would (with an
//! optional pause per piece to stand in for a slow one). The default provider, and
//! the one that works offline.

use super::prompt::{
    ExcerptRef, Prompt, PromptInput, clip_to, count, estimate_tokens, one_line, priority_name,
    role_name, status_name,
};
use super::provider::{Deltas, Drafted, Provider, ProviderError, Usage, pause, send_delta};
use futures_util::future::BoxFuture;
use protocol::blueprint::{self, BlueprintField};
use protocol::entities::TodoStatus;
use std::fmt::Write as _;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest piece streamed, in characters: about a line of prose, and about what a
/// model's stream delivers in a few hundred milliseconds, so previews move like one.
pub const PIECE_CHARS: usize = 80;

/// The longest quote in `## Sources`, in characters: a sentence or two, enough to
/// recognise what was said without copying the transcript into the document.
const MAX_QUOTE_CHARS: usize = 300;

/// The built-in drafter.
#[derive(Clone, Debug, Default)]
pub struct Compose {
    /// The pause before each piece (`DRAFTLINE_COMPOSE_DELAY_MS`).
    pub delay: Duration,
}

impl Compose {
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }

    /// The document for `input`, all at once. `prompt_tokens` goes into the usage,
    /// which is otherwise estimated from the document.
    pub fn write(input: &PromptInput, prompt_tokens: usize) -> Drafted {
        let markdown = document(input);
        let sections = store::sections::outline(&markdown)
            .into_iter()
            .filter(|s| s.level == 2)
            .map(|s| s.title)
            .collect();
        let usage = Usage {
            prompt_tokens: prompt_tokens as u64,
            completion_tokens: estimate_tokens(&markdown) as u64,
        };
        Drafted {
            summary: summary(input),
            markdown,
            sections,
            usage,
        }
    }
}

impl Provider for Compose {
    fn name(&self) -> &'static str {
        "compose"
    }

    fn draft<'a>(
        &'a self,
        prompt: &'a Prompt,
        input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>> {
        Box::pin(async move {
            let drafted = Self::write(input, prompt.tokens);
            for piece in pieces(&drafted.markdown, PIECE_CHARS) {
                if !self.delay.is_zero() {
                    pause(self.delay, cancel).await?;
                } else if cancel.is_cancelled() {
                    return Err(ProviderError::Cancelled);
                }
                send_delta(deltas, piece.to_owned(), cancel).await?;
            }
            Ok(drafted)
        })
    }
}

/// `text` in pieces of at most `max` characters, each ending at a line end or, inside
/// a long line, after a space where there is one. The pieces concatenate to `text`.
pub fn pieces(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(1);
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        while !rest.is_empty() {
            let cut = match rest.char_indices().nth(max) {
                None => rest.len(),
                Some((limit, _)) => match rest[..limit].rfind(' ') {
                    Some(space) if space > 0 => space + 1,
                    _ => limit,
                },
            };
            out.push(&rest[..cut]);
            rest = &rest[cut..];
        }
    }
    out
}

/// The document: title, overview, one section per filled field, notes, open
/// questions, next steps and sources.
fn document(input: &PromptInput) -> String {
    let project = &input.project;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", one_line(&project.name));

    // The Summary field makes the overview (the prompt asks models the same), so it
    // has no section of its own; the project's one-line description stands in until
    // it is filled.
    out.push_str("## Overview\n\n");
    let fields = input.filled_fields();
    let overview = fields
        .iter()
        .find(|(f, _)| *f == BlueprintField::Summary)
        .map(|(_, v)| *v)
        .or(Some(input.project.description.trim()).filter(|d| !d.is_empty()));
    match overview {
        Some(text) => {
            let _ = writeln!(out, "{}\n", body(text));
        }
        None => out.push_str(
            "This document is just getting started: nobody has said yet what it is about.\n\n",
        ),
    }

    for (field, value) in fields.iter().filter(|(f, _)| *f != BlueprintField::Summary) {
        let _ = writeln!(out, "## {}\n\n{}\n", field.title(), body(value));
    }

    let notes = input.notes_by_age();
    if !notes.is_empty() {
        out.push_str("## Notes\n\n");
        for note in notes {
            let _ = writeln!(out, "- {}", one_line(&note.body));
        }
        out.push('\n');
    }

    out.push_str("## Open questions\n\n");
    let (bp, _) = input.blueprint();
    let gaps = blueprint::gaps(bp);
    if gaps.is_empty() {
        out.push_str("Every blueprint field is filled.\n\n");
    } else {
        for gap in gaps {
            let _ = writeln!(out, "- **{}**: {}", gap.field.title(), gap.question);
        }
        out.push('\n');
    }

    out.push_str("## Next steps\n\n");
    let todos = input.open_todos();
    if todos.is_empty() {
        out.push_str("No open todos.\n\n");
    } else {
        for todo in todos {
            let _ = write!(
                out,
                "- [ ] {} ({} priority",
                one_line(&todo.title),
                priority_name(todo.priority)
            );
            if todo.status != TodoStatus::Open {
                let _ = write!(out, ", {}", status_name(todo.status));
            }
            out.push(')');
            if !todo.details.trim().is_empty() {
                let _ = write!(out, ": {}", one_line(&todo.details));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    out.push_str("## Sources\n\n");
    let excerpts = input.excerpts();
    if excerpts.is_empty() {
        out.push_str("No transcript excerpts yet.\n");
    }
    for e in &excerpts {
        let _ = writeln!(out, "> {}\n>", quote(e));
        let _ = writeln!(
            out,
            "> — {}, item `{}`\n",
            role_name(e.item.role),
            one_line(&e.item.item_id)
        );
    }
    format!("{}\n", out.trim_end())
}

/// What `## Sources` quotes of an excerpt: the anchor's words, else the item's text.
fn quote(e: &ExcerptRef<'_>) -> String {
    clip_to(&one_line(e.quote.unwrap_or(&e.item.text)), MAX_QUOTE_CHARS)
}

/// A field value as a section body: lines that would read as headings are escaped and
/// an unclosed code fence is closed, so a value cannot change the document's sections.
fn body(value: &str) -> String {
    let mut out = String::new();
    let mut fence_open = false;
    for line in value.trim().lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence_open = !fence_open;
        } else if !fence_open && trimmed.starts_with('#') {
            out.push('\\');
        }
        out.push_str(line);
        out.push('\n');
    }
    if fence_open {
        out.push_str("```\n");
    }
    out.trim_end().to_owned()
}

/// One sentence on the document.
fn summary(input: &PromptInput) -> String {
    let filled = input
        .filled_fields()
        .iter()
        .filter(|(f, _)| *f != BlueprintField::Summary)
        .count();
    let (bp, _) = input.blueprint();
    let questions = blueprint::gaps(bp).len();
    let steps = input.open_todos().len();
    format!(
        "A structured draft of {} covering {} of the blueprint, with {} and {}.",
        one_line(&input.project.name),
        count(filled, "field", "fields"),
        count(questions, "open question", "open questions"),
        count(steps, "next step", "next steps"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::prompt::fixtures::input;
    use super::*;

    #[test]
    fn the_document_for_a_fixed_input() {
        let drafted = Compose::write(&input(), 42);
        insta::assert_snapshot!(drafted.markdown);
        assert_eq!(
            drafted.sections,
            [
                "Overview",
                "Audience",
                "Voice",
                "Goals & momentum",
                "Notes",
                "Open questions",
                "Next steps",
                "Sources"
            ]
        );
        assert_eq!(
            drafted.summary,
            "A structured draft of Harbour Workshop covering 3 fields of the blueprint, with 9 open questions and 2 next steps."
        );
        assert_eq!(drafted.usage.prompt_tokens, 42);
        assert_eq!(
            drafted.usage.completion_tokens,
            estimate_tokens(&drafted.markdown) as u64
        );
    }

    #[test]
    fn an_empty_project_still_has_its_structure() {
        let mut input = input();
        input.project.blueprint.clear();
        input.project.description.clear();
        input.todos.clear();
        input.notes.clear();
        input.pinned.clear();
        input.recent.clear();
        let md = Compose::write(&input, 0).markdown;
        assert_eq!(
            store::sections::outline(&md)
                .into_iter()
                .map(|s| s.title)
                .collect::<Vec<_>>(),
            [
                "Harbour Workshop",
                "Overview",
                "Open questions",
                "Next steps",
                "Sources"
            ]
        );
        assert!(md.contains("No open todos."));
    }

    #[test]
    fn field_values_cannot_add_sections() {
        let mut input = input();
        input.project.blueprint.insert(
            BlueprintField::Outline,
            "# Part one\n## Part two\n```\n# in code".into(),
        );
        let md = Compose::write(&input, 0).markdown;
        assert!(md.contains("\\# Part one\n\\## Part two\n```\n# in code\n```\n"));
        assert!(
            !store::sections::outline(&md)
                .iter()
                .any(|s| s.title.starts_with("Part"))
        );
    }

    #[test]
    fn pieces_concatenate_and_stay_short() {
        let text = format!("# T\n\n{}\nend", "word ".repeat(50));
        let split = pieces(&text, 20);
        assert_eq!(split.concat(), text);
        assert!(split.iter().all(|p| p.chars().count() <= 20));
        assert_eq!(split[0], "# T\n");
        assert_eq!(split[2], "word word word word ");
        assert_eq!(pieces(&"x".repeat(45), 20).len(), 3);
    }
}
