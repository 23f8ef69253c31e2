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

/// Fixed inputs shared by the unit tests of the draft modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use chrono::TimeZone;
    use protocol::entities::{ProjectStatus, TranscriptRole};
    use protocol::{NoteId, ProjectId, SessionId, TodoId, UserId};
    use uuid::Uuid;

    pub fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, 10, minute, 0)
            .single()
            .unwrap_or_default()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    pub fn project() -> Project {
        let mut blueprint = Blueprint::new();
        blueprint.insert(
            BlueprintField::Summary,
            "A proposal to turn the old harbour warehouse into a community workshop.".into(),
        );
        blueprint.insert(
            BlueprintField::Audience,
            "The town council's planning committee.".into(),
        );
        blueprint.insert(BlueprintField::Voice, "Warm but precise.".into());
        blueprint.insert(
            BlueprintField::GoalsMomentum,
            "Open by spring; three local makers already signed letters of support.".into(),
        );
        blueprint.insert(BlueprintField::TrustSafeguards, "   ".into());
        Project {
            id: ProjectId(id(1)),
            owner_id: UserId("ana".into()),
            name: "Harbour Workshop".into(),
            description: "Community workshop proposal".into(),
            status: ProjectStatus::Active,
            blueprint,
            blueprint_draft: Blueprint::new(),
            blueprint_version: 2,
            role: None,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    pub fn item(n: u32, role: TranscriptRole, text: &str) -> TranscriptItem {
        TranscriptItem {
            session_id: SessionId(id(3)),
            seq: i64::from(n),
            item_id: format!("item_{n}"),
            role,
            text: text.into(),
            at: at(n),
        }
    }

    pub fn note(n: u32, body: &str) -> Note {
        Note {
            id: NoteId(id(100 + u128::from(n))),
            project_id: ProjectId(id(1)),
            body: body.into(),
            tags: vec!["budget".into()],
            author_id: UserId("ana".into()),
            session_id: None,
            created_at: at(n),
            updated_at: at(n),
        }
    }

    pub fn todo(n: u32, title: &str, priority: Priority, status: TodoStatus) -> Todo {
        Todo {
            id: TodoId(id(200 + u128::from(n))),
            project_id: ProjectId(id(1)),
            title: title.into(),
            details: String::new(),
            status,
            priority,
            session_id: None,
            created_at: at(n),
            updated_at: at(n),
        }
    }

    pub fn input() -> PromptInput {
        let mut input = PromptInput::new(project());
        input.todos = vec![
            todo(
                1,
                "Ask the council for the lease terms",
                Priority::Medium,
                TodoStatus::Open,
            ),
            todo(
                2,
                "Get a fire safety quote",
                Priority::High,
                TodoStatus::InProgress,
            ),
            todo(3, "Pick a name", Priority::Low, TodoStatus::Done),
        ];
        input.notes = vec![
            note(
                5,
                "Renovation estimate is 80k; the lottery fund covers up to half.",
            ),
            note(2, "The roof was inspected in 2023 and is sound."),
        ];
        input.pinned = vec![Excerpt {
            item: item(
                7,
                TranscriptRole::User,
                "What matters most is that young people can learn a trade there.",
            ),
            quote: Some("young people can learn a trade".into()),
        }];
        input.recent = vec![
            item(
                8,
                TranscriptRole::Assistant,
                "Got it. Who else is involved?",
            ),
            item(
                9,
                TranscriptRole::User,
                "Mara from the boatyard, and the library.",
            ),
            item(
                7,
                TranscriptRole::User,
                "What matters most is that young people can learn a trade there.",
            ),
        ];
        input.previous_summary = "A first outline of the workshop proposal.".into();
        input.document = "# Harbour Workshop\n\n## Overview\n\nA community workshop in the old harbour warehouse.\n".into();
        input.summary = Some("Add the people involved and the learning goal.".into());
        input.urgency = Urgency::High;
        // Drafted at minute 4 from the transcript up to item 7: note 5 and items 8 and
        // 9 are new, the pinned item 7 is shown because the job names it.
        input.last_drafted = Some(input.document.clone());
        input.since = Some(at(4));
        input.transcript_seen = vec![(SessionId(id(3)), 7)];
        input
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::fixtures::*;
    use super::*;

    #[test]
    fn the_prompt_for_a_fixed_input() {
        let prompt = build(&input());
        insta::assert_snapshot!("system", prompt.system);
        insta::assert_snapshot!("user", prompt.user);
        assert_eq!(
            prompt.tokens,
            estimate_tokens(&prompt.system) + estimate_tokens(&prompt.user)
        );
        assert!(prompt.tokens <= DEFAULT_TOKEN_BUDGET);
    }

    #[test]
    fn tokens_are_characters_over_four_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Characters, not bytes: four two-byte letters are one token.
        assert_eq!(estimate_tokens("éééé"), 1);
    }

    #[test]
    fn the_draft_blueprint_is_used_until_one_is_committed() {
        let mut input = input();
        input.project.blueprint_draft =
            Blueprint::from([(BlueprintField::Outline, "Intro, plan, budget".to_owned())]);
        assert!(matches!(
            input.blueprint().1,
            BlueprintSource::Committed { version: 2 }
        ));

        input.project.blueprint_version = 0;
        assert_eq!(input.blueprint().1, BlueprintSource::Draft);
        let user = build(&input).user;
        assert!(user.contains(
            "# Blueprint (draft, not yet committed, unchanged since the last draft)\n## Outline\nIntro, plan, budget\n"
        ), "{user}");
        assert!(!user.contains("Warm but precise"));

        // A committed blueprint with nothing in it does not hide the draft either.
        input.project.blueprint_version = 3;
        input.project.blueprint = Blueprint::from([(BlueprintField::Summary, "  ".to_owned())]);
        assert_eq!(input.blueprint().1, BlueprintSource::Draft);
    }

    #[test]
    fn pinned_items_are_not_repeated_and_keep_their_quote() {
        let input = input();
        let excerpts = input.excerpts();
        let ids: Vec<_> = excerpts.iter().map(|e| e.item.item_id.as_str()).collect();
        assert_eq!(ids, ["item_7", "item_8", "item_9"]);
        assert!(excerpts[0].pinned);
        assert_eq!(excerpts[0].quote, Some("young people can learn a trade"));
    }

    /// An input whose trimmable context is many same-sized items, to watch the order
    /// in which they go.
    fn crowded() -> PromptInput {
        let mut input = input();
        let filler = "word ".repeat(60);
        input.recent = (10..20)
            .map(|n| item(n, TranscriptRole::User, &format!("recent {n} {filler}")))
            .collect();
        input.pinned = (1..4)
            .map(|n| Excerpt {
                item: item(n, TranscriptRole::User, &format!("pinned {n} {filler}")),
                quote: None,
            })
            .collect();
        input.notes = (30..35)
            .map(|n| note(n, &format!("note {n} {filler}")))
            .collect();
        input
    }

    fn budget_for(input: &PromptInput) -> usize {
        build(&PromptInput {
            token_budget: usize::MAX,
            ..input.clone()
        })
        .tokens
    }

    #[test]
    fn nothing_is_trimmed_within_budget() {
        let input = crowded();
        let full = budget_for(&input);
        let prompt = build(&PromptInput {
            token_budget: full,
            ..input
        });
        assert_eq!(prompt.tokens, full);
        assert!(!prompt.user.contains("left out"));
    }

    #[test]
    fn the_oldest_recent_items_go_first() {
        let input = crowded();
        let full = budget_for(&input);
        // Each item costs about 89 tokens and the "left out" line about 10: 200 fewer
        // drops three recent items.
        let prompt = build(&PromptInput {
            token_budget: full - 200,
            ..input
        });
        assert!(prompt.tokens <= full - 200);
        assert!(
            prompt
                .user
                .contains("(3 excerpts left out to fit the prompt.)")
        );
        for n in 10..13 {
            assert!(!prompt.user.contains(&format!("recent {n} ")), "recent {n}");
        }
        for n in 13..20 {
            assert!(prompt.user.contains(&format!("recent {n} ")), "recent {n}");
        }
        assert!(!prompt.user.contains("notes left out"));
    }

    #[test]
    fn notes_go_after_recent_items_and_pinned_excerpts_last() {
        let input = crowded();
        let full = budget_for(&input);
        // Ten recent items (about 890 tokens, less the "left out" line) are not enough;
        // two notes (about 85 each) more are.
        let prompt = build(&PromptInput {
            token_budget: full - 1_000,
            ..input.clone()
        });
        assert!(
            prompt
                .user
                .contains("(10 excerpts left out to fit the prompt.)")
        );
        assert!(
            prompt
                .user
                .contains("(2 older notes left out to fit the prompt.)")
        );
        assert!(!prompt.user.contains("note 30 ") && !prompt.user.contains("note 31 "));
        assert!(prompt.user.contains("note 32 "));
        for n in 1..4 {
            assert!(prompt.user.contains(&format!("pinned {n} ")), "pinned {n}");
        }

        // A budget that only the fixed context fits: everything trimmable is gone,
        // the blueprint and todos are still there.
        let prompt = build(&PromptInput {
            token_budget: 1,
            ..input
        });
        assert!(
            prompt
                .user
                .contains("(13 excerpts left out to fit the prompt.)")
        );
        assert!(
            prompt
                .user
                .contains("(5 older notes left out to fit the prompt.)")
        );
        assert!(!prompt.user.contains("pinned 3 "));
        assert!(prompt.user.contains("Warm but precise."));
        assert!(prompt.user.contains("Get a fire safety quote"));
    }

    #[test]
    fn over_budget_the_longest_sections_lose_their_text_before_pinned_excerpts() {
        let mut input = input();
        let long = "A long chapter. ".repeat(200);
        input.document = format!(
            "# Harbour Workshop\n\n## Overview\n\nShort.\n\n## History\n\n{long}\n\n## Plan\n\nBuild it.\n"
        );
        let full = budget_for(&input);
        let prompt = build(&PromptInput {
            token_budget: full - 300,
            ..input.clone()
        });
        assert_eq!(prompt.omitted, ["harbour-workshop/history"]);
        assert!(prompt.user.contains(
            "<!-- section: harbour-workshop/history -->\n## History\n(text left out to fit the prompt)\n"
        ));
        assert!(
            prompt
                .user
                .contains("<!-- section: harbour-workshop/plan -->\n## Plan\n\nBuild it.\n")
        );
        assert!(
            prompt
                .user
                .contains("(1 section's text is left out to fit the prompt; do not revise those.)")
        );
        assert!(
            prompt.user.contains("young people can learn a trade"),
            "pinned kept"
        );
        assert!(!prompt.user.contains("A long chapter."));
    }

    #[test]
    fn only_material_new_since_the_last_draft_is_offered() {
        let mut input = input();
        input.since = Some(at(6));
        let user = build(&input).user;
        assert!(user.contains("# New since the last draft (2025-03-04 10:06 UTC)"));
        assert!(!user.contains("Renovation estimate"), "note 5 is older");
        assert!(user.contains("item `item_8`") && user.contains("item `item_7` (pinned)"));
        input.transcript_seen = vec![(protocol::SessionId(uuid::Uuid::from_u128(3)), 9)];
        input.pinned.clear();
        let user = build(&input).user;
        assert!(
            user.contains("No new notes or transcript excerpts."),
            "{user}"
        );
        // People edited Overview since the last draft: the model is told to keep it.
        input.document = input
            .document
            .replace("community workshop", "shared workshop");
        let user = build(&input).user;
        assert!(user.contains(
            "People edited these sections since the last draft; keep their words: harbour-workshop/overview"
        ));
    }

    #[test]
    fn long_items_are_clipped() {
        let mut input = input();
        input.pinned[0].item.text = "x".repeat(10_000);
        let user = build(&input).user;
        assert!(user.contains(&format!("{}…", "x".repeat(MAX_ITEM_CHARS))));
        assert!(!user.contains(&"x".repeat(MAX_ITEM_CHARS + 1)));
    }
}
