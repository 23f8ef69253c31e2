//! `compose`: the built-in drafter. It writes a structured document from the
//! blueprint, notes, todos and transcript excerpts without any model, the same
//! answer for the same input, and streams it in pieces like a model would (with an
//! optional pause per piece to stand in for a slow one). It follows the revision
//! contract a model follows: a first draft whole, later ones only the sections whose
//! material changed since the last draft and that people did not edit meanwhile. The
//! default provider, and the one that works offline.

use super::chat::{ChatInput, ChatPrompt};
use super::prompt::TRAILER_MARKER;
use super::prompt::{
    ExcerptRef, Prompt, PromptInput, clip_to, count, estimate_tokens, one_line, priority_name,
    role_name, status_name,
};
use super::provider::{
    Deltas, Drafted, PreviewGate, Provider, ProviderError, Reply, Usage, parse_answer, pause,
    send_delta,
};
use super::revision::{ADD_MARKER, REVISE_MARKER};
use futures_util::future::BoxFuture;
use protocol::blueprint::{self, BlueprintField};
use protocol::entities::{ChatRole, TodoStatus};
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

    /// The draft for `input`, all at once: [`Compose::answer`] applied to the
    /// document. `prompt_tokens` goes into the usage; the completion tokens are the
    /// answer's estimate.
    pub fn write(input: &PromptInput, prompt_tokens: usize) -> Drafted {
        let answer = Self::answer_text(input);
        let mut drafted = parse_answer(&answer, &input.document, &[]);
        drafted.usage = Usage {
            prompt_tokens: prompt_tokens as u64,
            completion_tokens: estimate_tokens(&answer) as u64,
        };
        drafted
    }

    /// What compose answers, in the format the prompt asks a model for: the whole
    /// document when it is empty; else each section whose material is new since the
    /// last draft, under its marker, unless people edited it since (their text stands),
    /// then the trailer.
    pub fn answer_text(input: &PromptInput) -> String {
        Self::answer_within(input, &[])
    }

    /// [`Compose::answer_text`] without revising the sections in `omitted` (those whose
    /// text the prompt left out), as the prompt asks of a model.
    pub fn answer_within(input: &PromptInput, omitted: &[String]) -> String {
        let full = document(input);
        let trailer = format!(
            "{TRAILER_MARKER}\n{}\n",
            serde_json::json!({"summary": summary(input)})
        );
        let current = store::sections::split(&input.document);
        if !current.iter().any(|c| c.level > 0) {
            return format!("{full}{trailer}");
        }
        let edited = input.edited_sections();
        let project = input.project_changed();
        let notes = !input.new_notes().is_empty();
        let todos = input.todos_changed();
        let sources = !input.new_excerpts().is_empty();
        let mut out = String::new();
        // The last section of the full document that the current one has: where the
        // next added sections go.
        let mut after = String::new();
        let mut adding = false;
        for chunk in store::sections::split(&full) {
            if chunk.level == 0 {
                continue;
            }
            let touched = match chunk.title.as_str() {
                _ if chunk.level == 1 => project,
                "Notes" => notes,
                "Next steps" => todos,
                "Sources" => sources,
                // Overview, the blueprint's fields, the open questions.
                _ => project,
            };
            match current.iter().find(|c| c.key == chunk.key) {
                Some(now) => {
                    adding = false;
                    after = chunk.key.clone();
                    if touched
                        && !edited.contains(&chunk.key)
                        && !omitted.contains(&chunk.key)
                        && now.text.trim_end() != chunk.text.trim_end()
                    {
                        let _ = writeln!(out, "{REVISE_MARKER} {} -->", chunk.key);
                        let _ = writeln!(out, "{}\n", chunk.text.trim_end());
                    }
                }
                None if touched => {
                    // Consecutive added sections share one marker, so they keep their
                    // order after the section they follow.
                    if !adding {
                        let _ = writeln!(out, "{ADD_MARKER} {after} -->");
                        adding = true;
                    }
                    let _ = writeln!(out, "{}\n", chunk.text.trim_end());
                }
                None => adding = false,
            }
        }
        out.push_str(&trailer);
        out
    }
}

impl Provider for Compose {
    fn name(&self) -> &'static str {
        "compose"
    }

    fn reply<'a>(
        &'a self,
        prompt: &'a ChatPrompt,
        input: &'a ChatInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Reply, ProviderError>> {
        Box::pin(async move {
            let reply = Self::answer(input, prompt.tokens);
            self.stream(&reply.text, deltas, cancel).await?;
            Ok(reply)
        })
    }

    fn draft<'a>(
        &'a self,
        prompt: &'a Prompt,
        input: &'a PromptInput,
        deltas: &'a Deltas,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Drafted, ProviderError>> {
        Box::pin(async move {
            let answer = Self::answer_within(input, &prompt.omitted);
            // The preview a model's answer would give: sections without their markers.
            let mut gate = PreviewGate::default();
            for piece in pieces(&answer, PIECE_CHARS) {
                if !self.delay.is_zero() {
                    pause(self.delay, cancel).await?;
                } else if cancel.is_cancelled() {
                    return Err(ProviderError::Cancelled);
                }
                let shown = gate.push(piece);
                if !shown.is_empty() {
                    send_delta(deltas, shown, cancel).await?;
                }
            }
            let rest = gate.finish();
            if !rest.is_empty() {
                send_delta(deltas, rest, cancel).await?;
            }
            let mut drafted = parse_answer(&answer, &input.document, &prompt.omitted);
            drafted.usage = Usage {
                prompt_tokens: prompt.tokens as u64,
                completion_tokens: estimate_tokens(&answer) as u64,
            };
            Ok(drafted)
        })
    }
}

impl Compose {
    /// Streams `text` in pieces, pausing before each like a slow model would.
    async fn stream(
        &self,
        text: &str,
        deltas: &Deltas,
        cancel: &CancellationToken,
    ) -> Result<(), ProviderError> {
        for piece in pieces(text, PIECE_CHARS) {
            if !self.delay.is_zero() {
                pause(self.delay, cancel).await?;
            } else if cancel.is_cancelled() {
                return Err(ProviderError::Cancelled);
            }
            send_delta(deltas, piece.to_owned(), cancel).await?;
        }
        Ok(())
    }

    /// The reply to the last message of `input`, all at once: without a model it cannot
    /// understand the message, so it answers from the project's state (what the draft
    /// covers, which blueprint fields are still open) and suggests the next question.
    /// `prompt_tokens` goes into the usage.
    pub fn answer(input: &ChatInput, prompt_tokens: usize) -> Reply {
        let text = reply_text(input);
        Reply {
            usage: Usage {
                prompt_tokens: prompt_tokens as u64,
                completion_tokens: estimate_tokens(&text) as u64,
            },
            text,
        }
    }
}

/// The longest quote of the message being answered, in characters: enough to show
/// which message the reply is about without repeating a pasted page.
const MAX_ECHO_CHARS: usize = 160;

/// Field names listed by name in a reply before the rest are counted: a sentence a
/// person can read (or an assistant say) in one breath.
const MAX_LISTED: usize = 4;

/// A reply in three short paragraphs: the message acknowledged, what the draft covers,
/// where the blueprint stands with the next question to ask.
fn reply_text(input: &ChatInput) -> String {
    let mut out = String::new();
    match input
        .question()
        .filter(|m| m.role == ChatRole::User)
        .map(|m| one_line(&m.text))
        .filter(|t| !t.is_empty())
    {
        Some(text) => {
            let _ = write!(out, "Noted: “{}”", clip_to(&text, MAX_ECHO_CHARS));
        }
        None => out.push_str("Here is where the project stands."),
    }
    out.push_str("\n\n");

    let titles = input.section_titles();
    if input.document_version == 0 && titles.is_empty() {
        out.push_str(
            "Nothing is drafted yet: ask for a draft update once there is enough to go on.",
        );
    } else {
        let _ = write!(out, "The draft (version {})", input.document_version);
        if titles.is_empty() {
            out.push_str(" has no sections yet.");
        } else {
            let _ = write!(out, " covers {}.", listing(&titles));
        }
        let summary = one_line(&input.document_summary);
        if !summary.is_empty() {
            let _ = write!(out, " {}", ending(&summary));
        }
    }
    out.push_str("\n\n");

    let project = &input.project;
    let filled: Vec<&str> = super::prompt::filled_fields(project)
        .into_iter()
        .map(|(f, _)| f.title())
        .collect();
    let (bp, _) = super::prompt::blueprint_in_use(project);
    let gaps = blueprint::gaps(bp);
    if filled.is_empty() {
        out.push_str("No blueprint field is filled yet");
    } else {
        let _ = write!(out, "The blueprint has {} filled in", listing(&filled));
    }
    match gaps.first() {
        None => out.push_str(
            ", and every field is filled. Next, ask for a draft update so the document \
             reflects the latest conversation.",
        ),
        Some(next) => {
            let open: Vec<&str> = gaps.iter().map(|g| g.field.title()).collect();
            let _ = write!(
                out,
                "; still open: {}. A good next question: {}",
                listing(&open),
                next.question
            );
        }
    }
    out
}

/// `a`, `a and b`, `a, b and c`, or the first [`MAX_LISTED`] and how many more.
fn listing(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        _ if items.len() > MAX_LISTED => format!(
            "{} and {} more",
            items[..MAX_LISTED].join(", "),
            items.len() - MAX_LISTED
        ),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `text` ending with a full stop (or the stop it has).
fn ending(text: &str) -> String {
    if text.ends_with(['.', '!', '?', '…']) {
        text.to_owned()
    } else {
        format!("{text}.")
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
    use super::super::prompt::fixtures::{at, input, note};
    use super::*;
    use protocol::SessionId;

    /// The fixture's input as a first draft: an empty document, never drafted.
    fn first() -> PromptInput {
        let mut input = input();
        input.document.clear();
        input.last_drafted = None;
        input.since = None;
        input.transcript_seen.clear();
        input
    }

    #[test]
    fn the_document_for_a_fixed_input() {
        let drafted = Compose::write(&first(), 42);
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
            estimate_tokens(&Compose::answer_text(&first())) as u64
        );
    }

    /// A first draft, then people edit a section, then a note arrives: the next draft
    /// answers the Notes section alone, the edit and every other section stay byte for
    /// byte; with nothing new after that, the answer is the trailer alone.
    #[test]
    fn a_later_draft_revises_only_what_the_new_material_touches() {
        let v1 = Compose::write(&first(), 0).markdown;
        let edited = v1.replace(
            "The town council's planning committee.",
            "The planning committee and the harbour trust.",
        );
        assert_ne!(edited, v1);
        let mut later = input();
        later.document = edited.clone();
        later.last_drafted = Some(v1.clone());
        later.since = Some(at(30));
        later.transcript_seen = vec![(SessionId(uuid::Uuid::from_u128(3)), 9)];
        later
            .notes
            .push(note(40, "The trust wants a 10-year lease."));

        let answer = Compose::answer_text(&later);
        assert!(
            answer.starts_with("<!-- section: harbour-workshop/notes -->\n## Notes\n"),
            "{answer}"
        );
        assert_eq!(answer.matches("<!--").count(), 1, "{answer}");
        let drafted = Compose::write(&later, 0);
        assert!(
            drafted
                .markdown
                .contains("- The trust wants a 10-year lease.")
        );
        assert!(drafted.markdown.contains("the harbour trust."));
        assert_eq!(drafted.touched, ["harbour-workshop/notes"]);
        for chunk in store::sections::split(&edited) {
            if chunk.key != "harbour-workshop/notes" {
                assert!(drafted.markdown.contains(&chunk.text), "{}", chunk.key);
            }
        }
        assert!(
            drafted.usage.completion_tokens * 4 < estimate_tokens(&drafted.markdown) as u64,
            "a revision costs a fraction of the document"
        );

        let mut quiet = later.clone();
        quiet.document = drafted.markdown.clone();
        quiet.last_drafted = Some(drafted.markdown.clone());
        quiet.since = Some(at(50));
        let answer = Compose::answer_text(&quiet);
        assert!(answer.starts_with("---DRAFTLINE---\n"), "{answer}");
        assert_eq!(Compose::write(&quiet, 0).markdown, drafted.markdown);
    }

    #[test]
    fn an_empty_project_still_has_its_structure() {
        let mut input = first();
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
        let mut input = first();
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
    fn the_reply_for_a_fixed_input() {
        use super::super::chat::fixtures;
        let input = fixtures::input();
        let reply = Compose::answer(&input, 42);
        let want = format!(
            "Noted: “What should we cover next?”\n\n\
             The draft (version 3) covers Overview and Audience. A proposal for a community workshop.\n\n\
             The blueprint has Summary, Audience, Voice and Goals & momentum filled in; \
             still open: Outline, Integrity & ideals, People & bonds, Meaning & identity and 5 more. \
             A good next question: {}",
            BlueprintField::Outline.question()
        );
        assert_eq!(reply.text, want);
        assert_eq!(reply.usage.prompt_tokens, 42);
        assert_eq!(
            reply.usage.completion_tokens,
            estimate_tokens(&reply.text) as u64
        );
        assert_eq!(Compose::answer(&input, 42), reply, "deterministic");
    }

    #[test]
    fn the_reply_for_an_empty_project() {
        use super::super::chat::fixtures;
        let mut input = fixtures::input();
        input.project.blueprint.clear();
        input.project.blueprint_version = 0;
        input.document_version = 0;
        input.outline.clear();
        input.history[2].text = format!("  {}  ", "long ".repeat(100));
        let text = Compose::answer(&input, 0).text;
        let paragraphs: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(paragraphs.len(), 3, "{text}");
        assert!(paragraphs[0].starts_with("Noted: “long long"));
        assert!(paragraphs[0].ends_with("…”"), "the echo is clipped");
        assert!(paragraphs[1].starts_with("Nothing is drafted yet"));
        assert!(
            paragraphs[2].starts_with("No blueprint field is filled yet; still open: Summary, ")
        );
        assert!(paragraphs[2].ends_with(BlueprintField::Summary.question()));
    }

    #[test]
    fn a_full_blueprint_suggests_a_draft_update() {
        use super::super::chat::fixtures;
        let mut input = fixtures::input();
        for field in BlueprintField::ALL {
            input.project.blueprint.insert(field, "Set.".into());
        }
        let text = Compose::answer(&input, 0).text;
        assert!(
            text.contains("and 9 more filled in, and every field is filled."),
            "{text}"
        );
        assert!(
            text.ends_with(
                "ask for a draft update so the document reflects the latest conversation."
            )
        );
    }

    #[test]
    fn listings_read_as_a_sentence() {
        assert_eq!(listing(&[]), "");
        assert_eq!(listing(&["a"]), "a");
        assert_eq!(listing(&["a", "b"]), "a and b");
        assert_eq!(listing(&["a", "b", "c", "d"]), "a, b, c and d");
        assert_eq!(
            listing(&["a", "b", "c", "d", "e", "f"]),
            "a, b, c, d and 2 more"
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
