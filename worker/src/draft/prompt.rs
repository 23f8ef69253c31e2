//! The prompt builder: a pure function from what a draft job loaded (project,
//! blueprint, todos, notes, transcript excerpts, the current document section by section,
//! and when it was last drafted) to the `{system, user, tokens}` package sent to a model,
//! trimmed to a token budget. The model revises: it sees the document and the material
//! new since its last draft, and answers only the sections that change (`revision`).

use chrono::{DateTime, Utc};
use protocol::SessionId;
use protocol::blueprint::{self, Blueprint, BlueprintField};
use protocol::entities::{
    MemoryEntry, MemoryKind, Note, Priority, Project, Todo, TodoStatus, TranscriptItem,
    TranscriptRole, Urgency,
};
use std::cmp::Reverse;
use std::fmt::Write as _;
use store::sections::Chunk;

/// The line that separates the document from the JSON trailer in a model's answer.
pub const TRAILER_MARKER: &str = "---DRAFTLINE---";

/// The default prompt budget in estimated tokens, what `ModelConfig::prompt_budget`
/// derives from the default context (8,192 tokens, the smallest window we expect behind
/// `OPENAI_BASE_URL`) less the default completion limit (2,048) and a tenth for the
/// estimate's error.
pub const DEFAULT_TOKEN_BUDGET: usize = 5_529;

/// Characters per token for the estimate: OpenAI's rule of thumb for English text
/// ("one token is about four characters").
const CHARS_PER_TOKEN: usize = 4;

/// The longest a single excerpt or note may be in the prompt, in characters (about 500
/// tokens, a twelfth of the default budget), so one long monologue cannot push every
/// other piece of context out.
const MAX_ITEM_CHARS: usize = 2_000;

/// What the model is asked to do. It does not depend on the job, so providers that
/// cache prompt prefixes can reuse it across jobs.
const SYSTEM: &str = "\
You are Draftline's drafter. You keep one document up to date together with the people \
of a project, from what they told a voice assistant and what they wrote down.

You get the project's blueprint and todos, the current document section by section \
(each section under a line `<!-- section: KEY -->` naming its key), and the material \
that is new since the document was last drafted. Revise the document with the new \
material:
- Answer only the sections the new material changes, and the sections you add. Every \
section you leave out of your answer stays exactly as it is, so never repeat one \
unchanged.
- Start each section you change with its line `<!-- section: KEY -->` (the key as given), \
then its heading line as it is, then its whole new text. People wrote or edited parts of \
the document: keep their words unless the new material contradicts them.
- Start each section you add with a line `<!-- new after: KEY -->` naming the section it \
follows, then its heading (`## Title`) and its text.
- Do not revise a section whose text was left out of the prompt.
- Start your answer with the first `<!--` line. No preamble, no code fence around the \
answer, no comment on what you did.

When the document is empty, write it whole instead (no `<!--` lines), in this order:
1. A title line: `# ` and the project's name.
2. `## Overview`: what the document is about and why, in a short paragraph (the \
blueprint's Summary field feeds this section rather than one of its own).
3. One `##` section per filled blueprint field, in the order the blueprint lists them, \
titled with the field's name exactly as given (for example `## Goals & momentum`).
4. `## Open questions`: what is still missing or unclear, as a list.
5. `## Next steps`: the open todos and whatever else should happen next, as a list.
6. `## Sources`: the transcript excerpts you drew on, each quoted as `> quote` followed \
by the speaker and the item id.
Later material goes into the section it belongs to, or a new one in that spirit.

Use only what the material and the document say: do not invent facts, names or \
numbers. Write in the voice the blueprint asks for, if it names one.

After the last section, write a line containing only `---DRAFTLINE---`, then one line \
of JSON and nothing after it:
{\"summary\": \"<one sentence on the whole document as it now stands>\"}
When nothing needs to change, answer only that line and the JSON.
";

/// A transcript item a job names (by a message pointer or an anchor), with the words
/// that matter when an anchor quoted them.
#[derive(Clone, Debug, PartialEq)]
pub struct Excerpt {
    pub item: TranscriptItem,
    pub quote: Option<String>,
}

/// Everything a draft is made from. The job handler loads it; the prompt builder and
/// the `compose` provider only read it.
#[derive(Clone, Debug)]
pub struct PromptInput {
    pub project: Project,
    /// The project's todos; those not done are used.
    pub todos: Vec<Todo>,
    /// Recent notes, in any order.
    pub notes: Vec<Note>,
    /// The excerpts the job's message pointers and anchors name.
    pub pinned: Vec<Excerpt>,
    /// The most recent transcript items, for context (repeats of pinned items are
    /// ignored).
    pub recent: Vec<TranscriptItem>,
    /// The document's summary before this draft (empty for a new document).
    pub previous_summary: String,
    /// The current document: what the draft revises.
    pub document: String,
    /// The document as the last draft left it, to tell which sections people edited
    /// since (`None`: never drafted, or that version is gone).
    pub last_drafted: Option<String>,
    /// When the material of the last draft was read: notes, todos and blueprint changes
    /// after it are new (`None`: never drafted, everything is new).
    pub since: Option<DateTime<Utc>>,
    /// The last transcript item (by `seq`) of each session the last draft saw; later
    /// items are new. A session not listed is new throughout.
    pub transcript_seen: Vec<(SessionId, i64)>,
    /// What the update should cover (`queue_draft_update`'s `summary`).
    pub summary: Option<String>,
    pub urgency: Urgency,
    /// The prompt's budget in estimated tokens (see [`estimate_tokens`]).
    pub token_budget: usize,
    /// What earlier conversations learned about the person and the project, newest
    /// first, already bounded by the loader (`store::memory::CONTEXT_ENTRIES`).
    pub memory: Vec<MemoryEntry>,
}

/// The prompt package sent to a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
    /// The estimated tokens of `system` and `user` together.
    pub tokens: usize,
    /// Keys of the sections whose text was left out to fit the budget: the answer may
    /// not revise them.
    pub omitted: Vec<String>,
}

/// Which blueprint a draft is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlueprintSource {
    Committed {
        version: i32,
    },
    /// The blueprint being filled during intake (nothing committed yet).
    Draft,
}

/// An estimate of the tokens `text` costs: characters divided by four, rounded up.
/// Real tokenizers differ by model; the budget only has to be roughly right, and a
/// pure estimate keeps the prompt builder free of model-specific tables.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(CHARS_PER_TOKEN)
}

impl PromptInput {
    /// An input with nothing but the project, at normal urgency and the default budget.
    pub fn new(project: Project) -> Self {
        Self {
            project,
            todos: Vec::new(),
            notes: Vec::new(),
            pinned: Vec::new(),
            recent: Vec::new(),
            previous_summary: String::new(),
            document: String::new(),
            last_drafted: None,
            since: None,
            transcript_seen: Vec::new(),
            summary: None,
            urgency: Urgency::Normal,
            token_budget: DEFAULT_TOKEN_BUDGET,
            memory: Vec::new(),
        }
    }

    /// The blueprint in use: see [`blueprint_in_use`].
    pub fn blueprint(&self) -> (&Blueprint, BlueprintSource) {
        blueprint_in_use(&self.project)
    }

    /// The filled fields of the blueprint in use, in the blueprint's order.
    pub fn filled_fields(&self) -> Vec<(BlueprintField, &str)> {
        filled_fields(&self.project)
    }

    /// The todos not done, most important first (then oldest first).
    pub fn open_todos(&self) -> Vec<&Todo> {
        let mut todos: Vec<&Todo> = self
            .todos
            .iter()
            .filter(|t| t.status != TodoStatus::Done)
            .collect();
        todos.sort_by_key(|t| (Reverse(priority_rank(t.priority)), t.created_at, t.id));
        todos
    }

    /// The notes, oldest first.
    pub fn notes_by_age(&self) -> Vec<&Note> {
        let mut notes: Vec<&Note> = self.notes.iter().collect();
        notes.sort_by_key(|n| (n.created_at, n.id));
        notes
    }

    /// The pinned and recent excerpts together, without repeats (a pinned item wins,
    /// keeping its quote), oldest first.
    pub fn excerpts(&self) -> Vec<ExcerptRef<'_>> {
        let mut out: Vec<ExcerptRef<'_>> = Vec::new();
        for e in &self.pinned {
            if !out.iter().any(|o| same_item(o.item, &e.item)) {
                out.push(ExcerptRef {
                    item: &e.item,
                    quote: e.quote.as_deref().filter(|q| !q.trim().is_empty()),
                    pinned: true,
                });
            }
        }
        for item in &self.recent {
            if !out.iter().any(|o| same_item(o.item, item)) {
                out.push(ExcerptRef {
                    item,
                    quote: None,
                    pinned: false,
                });
            }
        }
        out.sort_by(|a, b| {
            (a.item.at, a.item.seq, &a.item.item_id).cmp(&(b.item.at, b.item.seq, &b.item.item_id))
        });
        out
    }
}

impl PromptInput {
    /// Whether something dated `at` came after the last draft read its material.
    fn is_new(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|since| at > since)
    }

    /// Whether the project (its blueprint, name or description) changed since the last
    /// draft.
    pub fn project_changed(&self) -> bool {
        self.is_new(self.project.updated_at)
    }

    /// The notes written or edited since the last draft, oldest first.
    pub fn new_notes(&self) -> Vec<&Note> {
        let mut notes: Vec<&Note> = self
            .notes
            .iter()
            .filter(|n| self.is_new(n.updated_at))
            .collect();
        notes.sort_by_key(|n| (n.created_at, n.id));
        notes
    }

    /// Whether a todo was added or changed since the last draft.
    pub fn todos_changed(&self) -> bool {
        self.todos.iter().any(|t| self.is_new(t.updated_at))
    }

    /// Whether `item` came after the last item the last draft saw of its session.
    fn item_is_new(&self, item: &TranscriptItem) -> bool {
        self.transcript_seen
            .iter()
            .find(|(session, _)| *session == item.session_id)
            .is_none_or(|(_, seq)| item.seq > *seq)
    }

    /// The excerpts the draft works from: those the job names, and the recent items
    /// that came after the last draft. Oldest first.
    pub fn new_excerpts(&self) -> Vec<ExcerptRef<'_>> {
        self.excerpts()
            .into_iter()
            .filter(|e| e.pinned || self.item_is_new(e.item))
            .collect()
    }

    /// Keys of the sections whose text people changed since the last draft wrote them
    /// (all of them when the document was never drafted).
    pub fn edited_sections(&self) -> Vec<String> {
        let chunks = store::sections::split(&self.document);
        let Some(last) = &self.last_drafted else {
            return chunks
                .into_iter()
                .filter(|c| c.level > 0)
                .map(|c| c.key)
                .collect();
        };
        let before = store::sections::split(last);
        chunks
            .into_iter()
            .filter(|c| c.level > 0)
            .filter(|c| {
                before
                    .iter()
                    .find(|b| b.key == c.key)
                    .is_none_or(|b| b.text.trim_end() != c.text.trim_end())
            })
            .map(|c| c.key)
            .collect()
    }
}

/// The blueprint a project's drafts and chat replies are made from: the committed one
/// once one was committed and it says something; until then the draft being filled
/// during intake.
pub fn blueprint_in_use(project: &Project) -> (&Blueprint, BlueprintSource) {
    let committed = &project.blueprint;
    if project.blueprint_version > 0 && committed.values().any(|v| !v.trim().is_empty()) {
        (
            committed,
            BlueprintSource::Committed {
                version: project.blueprint_version,
            },
        )
    } else {
        (&project.blueprint_draft, BlueprintSource::Draft)
    }
}

/// The filled fields of the project's blueprint in use, in the blueprint's order.
pub fn filled_fields(project: &Project) -> Vec<(BlueprintField, &str)> {
    let (bp, _) = blueprint_in_use(project);
    BlueprintField::ALL
        .into_iter()
        .filter_map(|f| {
            bp.get(&f)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| (f, v))
        })
        .collect()
}

/// An excerpt as the prompt and `compose` use it.
#[derive(Clone, Copy, Debug)]
pub struct ExcerptRef<'a> {
    pub item: &'a TranscriptItem,
    pub quote: Option<&'a str>,
    /// Named by the job (a pointer or an anchor) rather than just recent.
    pub pinned: bool,
}

fn same_item(a: &TranscriptItem, b: &TranscriptItem) -> bool {
    a.session_id == b.session_id && a.item_id == b.item_id
}

/// Builds the prompt for `input`, trimmed to `input.token_budget`.
///
/// When the prompt is over budget, context goes in this order: the new recent
/// transcript items, oldest first (background the job did not ask for), then the new
/// notes, oldest first, then the text of the document's sections, longest first (each
/// keeps its heading, and the answer may not revise it), then the pinned excerpts
/// (what the assistant pointed the draft at, so they are kept longest). The project,
/// the blueprint, its gaps, the todos and the document's headings are never trimmed.
/// What was left out is said in the prompt, so the model knows its context is partial.
pub fn build(input: &PromptInput) -> Prompt {
    let system = SYSTEM.to_owned();
    let system_tokens = estimate_tokens(&system);
    let excerpts = input.new_excerpts();
    let notes = input.new_notes();
    let sections: Vec<Chunk> = store::sections::split(&input.document)
        .into_iter()
        .filter(|c| !c.text.trim().is_empty())
        .collect();

    let mut keep = Keep {
        excerpt: vec![true; excerpts.len()],
        note: vec![true; notes.len()],
        section: vec![true; sections.len()],
    };
    let mut by_length: Vec<usize> = (0..sections.len())
        .filter(|i| sections[*i].level > 0)
        .collect();
    by_length.sort_by_key(|i| (Reverse(sections[*i].text.len()), *i));
    let drop_order: Vec<Trim> = excerpts
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.pinned)
        .map(|(i, _)| Trim::Excerpt(i))
        .chain((0..notes.len()).map(Trim::Note))
        .chain(by_length.into_iter().map(Trim::Section))
        .chain(
            excerpts
                .iter()
                .enumerate()
                .filter(|(_, e)| e.pinned)
                .map(|(i, _)| Trim::Excerpt(i)),
        )
        .collect();
    // Rendering again after each drop is quadratic in the items, which is fine for the
    // tens of notes, excerpts and sections a job loads, and keeps the estimate exact.
    let mut next_drop = drop_order.into_iter();
    loop {
        let context = Context {
            excerpts: &excerpts,
            notes: &notes,
            sections: &sections,
            keep: &keep,
        };
        let user = render_user(input, &context);
        let tokens = system_tokens + estimate_tokens(&user);
        let drop = if tokens <= input.token_budget {
            None
        } else {
            next_drop.next()
        };
        match drop {
            Some(Trim::Excerpt(i)) => keep.excerpt[i] = false,
            Some(Trim::Note(i)) => keep.note[i] = false,
            Some(Trim::Section(i)) => keep.section[i] = false,
            // Within budget, or nothing left to trim: the fixed context alone is over
            // budget. Send it anyway; the budget is an estimate with a margin.
            None => {
                let omitted = sections
                    .iter()
                    .zip(&keep.section)
                    .filter(|(_, k)| !**k)
                    .map(|(c, _)| c.key.clone())
                    .collect();
                return Prompt {
                    system,
                    user,
                    tokens,
                    omitted,
                };
            }
        }
    }
}

enum Trim {
    Excerpt(usize),
    Note(usize),
    Section(usize),
}

/// Which pieces of trimmable context are kept.
struct Keep {
    excerpt: Vec<bool>,
    note: Vec<bool>,
    section: Vec<bool>,
}

struct Context<'a> {
    excerpts: &'a [ExcerptRef<'a>],
    notes: &'a [&'a Note],
    sections: &'a [Chunk],
    keep: &'a Keep,
}

fn render_user(input: &PromptInput, cx: &Context<'_>) -> String {
    let mut out = String::new();
    let project = &input.project;

    out.push_str("# Project\n");
    let _ = writeln!(out, "Name: {}", one_line(&project.name));
    if !project.description.trim().is_empty() {
        let _ = writeln!(out, "Description: {}", one_line(&project.description));
    }

    let (bp, source) = input.blueprint();
    let changed = if input.since.is_none() {
        ""
    } else if input.project_changed() {
        ", changed since the last draft"
    } else {
        ", unchanged since the last draft"
    };
    match source {
        BlueprintSource::Committed { version } => {
            let _ = writeln!(out, "\n# Blueprint (committed, version {version}{changed})");
        }
        BlueprintSource::Draft => {
            let _ = writeln!(out, "\n# Blueprint (draft, not yet committed{changed})");
        }
    }
    let filled = input.filled_fields();
    if filled.is_empty() {
        out.push_str("No field is filled yet.\n");
    }
    for (field, value) in filled {
        let _ = writeln!(out, "## {}\n{}", field.title(), value);
    }

    let gaps = blueprint::gaps(bp);
    if !gaps.is_empty() {
        out.push_str("\n# Missing blueprint fields (most important first)\n");
        for gap in gaps {
            let _ = writeln!(out, "- {}: {}", gap.field.title(), gap.question);
        }
    }

    out.push_str("\n# Open todos (most important first)\n");
    let todos = input.open_todos();
    if todos.is_empty() {
        out.push_str("None.\n");
    }
    for todo in todos {
        let _ = write!(
            out,
            "- [{}, {}] {}",
            priority_name(todo.priority),
            status_name(todo.status),
            one_line(&todo.title)
        );
        if !todo.details.trim().is_empty() {
            let _ = write!(out, ": {}", clip(&one_line(&todo.details)));
        }
        if input.since.is_some() && input.is_new(todo.updated_at) {
            out.push_str(" (new or changed since the last draft)");
        }
        out.push('\n');
    }

    render_memory(&mut out, &input.memory);
    render_document(input, cx, &mut out);
    while out.ends_with("\n\n") {
        out.pop();
    }

    match input.since {
        Some(since) => {
            let _ = writeln!(out, "\n# New since the last draft ({})", timestamp(since));
        }
        None => out.push_str("\n# Material (the document was never drafted)\n"),
    }
    if cx.notes.is_empty() && cx.excerpts.is_empty() {
        out.push_str("No new notes or transcript excerpts.\n");
    }
    if !cx.notes.is_empty() {
        out.push_str("## Notes (oldest first)\n");
        let dropped = cx.keep.note.iter().filter(|k| !**k).count();
        if dropped > 0 {
            let _ = writeln!(
                out,
                "({} left out to fit the prompt.)",
                count(dropped, "older note", "older notes")
            );
        }
        for (note, _) in cx.notes.iter().zip(&cx.keep.note).filter(|(_, k)| **k) {
            let _ = write!(out, "- {}", timestamp(note.created_at));
            if !note.tags.is_empty() {
                let _ = write!(out, " [{}]", note.tags.join(", "));
            }
            let _ = writeln!(out, ": {}", clip(&one_line(&note.body)));
        }
    }
    if !cx.excerpts.is_empty() {
        out.push_str("## Transcript excerpts (oldest first)\n");
        let dropped = cx.keep.excerpt.iter().filter(|k| !**k).count();
        if dropped > 0 {
            let _ = writeln!(
                out,
                "({} left out to fit the prompt.)",
                count(dropped, "excerpt", "excerpts")
            );
        }
        for (e, _) in cx
            .excerpts
            .iter()
            .zip(&cx.keep.excerpt)
            .filter(|(_, k)| **k)
        {
            let _ = write!(
                out,
                "- {}, {}, item `{}`",
                timestamp(e.item.at),
                role_name(e.item.role),
                e.item.item_id
            );
            if e.pinned {
                out.push_str(" (pinned)");
            }
            let _ = writeln!(out, ": {}", clip(&one_line(&e.item.text)));
            if let Some(quote) = e.quote {
                let _ = writeln!(out, "  Quote: \"{}\"", clip(&one_line(quote)));
            }
        }
    }

    out.push_str("\n# This update\n");
    let _ = writeln!(out, "Urgency: {}", urgency_name(input.urgency));
    match input
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(hint) => {
            let _ = writeln!(out, "Focus: {}", one_line(hint));
        }
        None => out.push_str("Focus: whatever the new material changes.\n"),
    }
    if cx.sections.iter().any(|c| c.level > 0) {
        out.push_str("Answer the sections you change or add, then the trailer.\n");
    } else {
        out.push_str("The document is empty: write it whole, then the trailer.\n");
    }
    out
}

/// The current document, each section under its key line; sections over budget keep
/// only their heading.
fn render_document(input: &PromptInput, cx: &Context<'_>, out: &mut String) {
    out.push_str("\n# Current document\n");
    if input.previous_summary.trim().is_empty() {
        out.push_str("Summary: none yet.\n");
    } else {
        let _ = writeln!(out, "Summary: {}", one_line(&input.previous_summary));
    }
    if !cx.sections.iter().any(|c| c.level > 0) {
        out.push_str("The document is empty.\n");
        return;
    }
    let edited = input.edited_sections();
    if input.last_drafted.is_some() && !edited.is_empty() {
        let _ = writeln!(
            out,
            "People edited these sections since the last draft; keep their words: {}",
            edited.join(", ")
        );
    }
    let omitted = cx.keep.section.iter().filter(|k| !**k).count();
    if omitted > 0 {
        let _ = writeln!(
            out,
            "({} left out to fit the prompt; do not revise those.)",
            count(omitted, "section's text is", "sections' texts are")
        );
    }
    out.push('\n');
    for (chunk, keep) in cx.sections.iter().zip(&cx.keep.section) {
        if chunk.level == 0 {
            // Text before the first heading belongs to no section: shown, not revisable.
            out.push_str(chunk.text.trim_end());
            out.push_str("\n\n");
            continue;
        }
        let _ = writeln!(out, "<!-- section: {} -->", chunk.key);
        if *keep {
            out.push_str(chunk.text.trim_end());
            out.push_str("\n\n");
        } else {
            let heading = chunk.text.lines().next().unwrap_or_default();
            let _ = writeln!(out, "{heading}\n(text left out to fit the prompt)\n");
        }
    }
}

/// `text` on one line: runs of whitespace (newlines included) become one space, so a
/// list item stays one item.
/// The memory section of a prompt, newest first; nothing when there is none.
pub(crate) fn render_memory(out: &mut String, memory: &[MemoryEntry]) {
    if memory.is_empty() {
        return;
    }
    out.push_str("\n# Remembered from earlier conversations (newest first)\n");
    for entry in memory {
        let kind = match entry.kind {
            MemoryKind::Preference => "preference",
            MemoryKind::Fact => "fact",
            MemoryKind::Decision => "decision",
        };
        let _ = writeln!(out, "- [{kind}] {}", clip(&one_line(&entry.body)));
    }
}

pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to [`MAX_ITEM_CHARS`] characters, marked with an ellipsis when cut.
pub(crate) fn clip(text: &str) -> String {
    clip_to(text, MAX_ITEM_CHARS)
}

pub(crate) fn clip_to(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) fn role_name(role: TranscriptRole) -> &'static str {
    match role {
        TranscriptRole::User => "user",
        TranscriptRole::Assistant => "assistant",
        TranscriptRole::System => "system",
    }
}

/// Higher is more important (`Priority` itself has no order).
fn priority_rank(p: Priority) -> u8 {
    match p {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
    }
}

pub(crate) fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

pub(crate) fn status_name(s: TodoStatus) -> &'static str {
    match s {
        TodoStatus::Open => "open",
        TodoStatus::InProgress => "in progress",
        TodoStatus::Done => "done",
        TodoStatus::Blocked => "blocked",
    }
}

fn urgency_name(u: Urgency) -> &'static str {
    match u {
        Urgency::Low => "low (fold it into the next natural update)",
        Urgency::Normal => "normal",
        Urgency::High => "high (someone is waiting for this update)",
    }
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;
