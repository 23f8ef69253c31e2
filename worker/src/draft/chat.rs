//! The chat reply's prompt: a pure function from what a `chat.reply` job loaded (the
//! project, its blueprint, the document's summary and headings, the recent chat) to the
//! system prompt and the conversation turns sent to a model, trimmed to a token budget.

use super::prompt::{
    BlueprintSource, DEFAULT_TOKEN_BUDGET, blueprint_in_use, clip, count, estimate_tokens,
    filled_fields, one_line, render_memory,
};
use protocol::blueprint;
use protocol::entities::{ChatMessage, ChatRole, MemoryEntry, Project, Section};
use std::fmt::Write as _;

/// What the model is asked to do; the project's state follows it in the system prompt.
const SYSTEM: &str = "\
You are Draftline's assistant in a project's chat. The people of the project write one \
document together: a voice assistant interviews them, a drafter writes the document, and \
here they talk to you about it. Answer the last message in a few sentences of plain text \
(a short list is fine), from what is below and what was said in the chat. Do not invent \
facts, names or numbers: when something is not known yet, say so, and ask the one \
question that would settle it. You cannot change the document yourself; when a change is \
wanted, suggest asking for a draft update.
";

/// Everything a reply is made from. The job handler loads it; the prompt builder and
/// the `compose` provider only read it.
#[derive(Clone, Debug)]
pub struct ChatInput {
    pub project: Project,
    /// The document's summary (empty for a new document).
    pub document_summary: String,
    /// 0 while nothing was written.
    pub document_version: i32,
    /// The document's headings (`store::sections::outline`).
    pub outline: Vec<Section>,
    /// The conversation, oldest first; the last message is the one to answer.
    pub history: Vec<ChatMessage>,
    /// The prompt's budget in estimated tokens (see [`estimate_tokens`]).
    pub token_budget: usize,
    /// What earlier conversations learned, newest first, bounded by the loader.
    pub memory: Vec<MemoryEntry>,
}

impl ChatInput {
    /// An input with nothing but the project and the default budget.
    pub fn new(project: Project) -> Self {
        Self {
            project,
            document_summary: String::new(),
            document_version: 0,
            outline: Vec::new(),
            history: Vec::new(),
            token_budget: DEFAULT_TOKEN_BUDGET,
            memory: Vec::new(),
        }
    }

    /// The message to answer: the last one.
    pub fn question(&self) -> Option<&ChatMessage> {
        self.history.last()
    }

    /// The titles of the document's sections below its title (`##` and deeper).
    pub fn section_titles(&self) -> Vec<&str> {
        self.outline
            .iter()
            .filter(|s| s.level >= 2)
            .map(|s| s.title.as_str())
            .collect()
    }
}

/// One turn of the conversation as a model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTurn {
    pub role: ChatRole,
    pub text: String,
}

/// The prompt package sent to a model for a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatPrompt {
    pub system: String,
    /// Oldest first; the last is the message to answer.
    pub turns: Vec<ChatTurn>,
    /// The estimated tokens of `system` and `turns` together.
    pub tokens: usize,
}

/// Builds the reply's prompt for `input`, trimmed to `input.token_budget`.
///
/// When the prompt is over budget the oldest turns go first; the message to answer is
/// always kept, whole. Earlier turns are clipped to a couple of thousand characters each
/// (one pasted page must not push the rest of the conversation out). The project's
/// state in the system prompt is never trimmed: without it there is nothing to answer
/// from.
pub fn build(input: &ChatInput) -> ChatPrompt {
    let system = render_system(input);
    let system_tokens = estimate_tokens(&system);
    let last = input.history.len().saturating_sub(1);
    let turns: Vec<ChatTurn> = input
        .history
        .iter()
        .enumerate()
        .map(|(i, m)| ChatTurn {
            role: m.role,
            text: if i == last {
                m.text.trim().to_owned()
            } else {
                clip(m.text.trim())
            },
        })
        .collect();
    let costs: Vec<usize> = turns.iter().map(|t| estimate_tokens(&t.text)).collect();
    let mut tokens = system_tokens + costs.iter().sum::<usize>();
    let mut first = 0;
    while tokens > input.token_budget && first < last {
        tokens -= costs[first];
        first += 1;
    }
    ChatPrompt {
        system,
        turns: turns.into_iter().skip(first).collect(),
        tokens,
    }
}

fn render_system(input: &ChatInput) -> String {
    let mut out = String::from(SYSTEM);
    let project = &input.project;
    out.push_str("\n# Project\n");
    let _ = writeln!(out, "Name: {}", one_line(&project.name));
    if !project.description.trim().is_empty() {
        let _ = writeln!(out, "Description: {}", one_line(&project.description));
    }

    let (bp, source) = blueprint_in_use(project);
    match source {
        BlueprintSource::Committed { version } => {
            let _ = writeln!(out, "\n# Blueprint (committed, version {version})");
        }
        BlueprintSource::Draft => out.push_str("\n# Blueprint (draft, not yet committed)\n"),
    }
    let filled = filled_fields(project);
    if filled.is_empty() {
        out.push_str("No field is filled yet.\n");
    }
    for (field, value) in filled {
        let _ = writeln!(out, "## {}\n{}", field.title(), clip(value));
    }
    let gaps = blueprint::gaps(bp);
    if !gaps.is_empty() {
        out.push_str("\n# Missing blueprint fields (most important first)\n");
        for gap in gaps {
            let _ = writeln!(out, "- {}: {}", gap.field.title(), gap.question);
        }
    }

    render_memory(&mut out, &input.memory);

    out.push_str("\n# Current document\n");
    if input.document_version == 0 && input.outline.is_empty() {
        out.push_str("Nothing is written yet.\n");
        return out;
    }
    let _ = writeln!(out, "Version: {}", input.document_version);
    match input.document_summary.trim() {
        "" => out.push_str("Summary: none yet.\n"),
        summary => {
            let _ = writeln!(out, "Summary: {}", one_line(summary));
        }
    }
    let titles = input.section_titles();
    if !titles.is_empty() {
        let _ = writeln!(
            out,
            "{}: {}",
            count(titles.len(), "section", "sections"),
            titles
                .iter()
                .map(|t| one_line(t))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    out
}

/// Fixed inputs shared by the unit tests of the chat modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::super::prompt::fixtures::{at, project};
    use super::*;
    use protocol::{MessageId, UserId};
    use uuid::Uuid;

    pub fn message(n: u128, role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            id: MessageId(Uuid::from_u128(100 + n)),
            project_id: project().id,
            role,
            author_id: (role == ChatRole::User).then(|| UserId("ana".into())),
            text: text.into(),
            job_id: None,
            created_at: at(u32::try_from(n).unwrap_or(0)),
        }
    }

    pub fn input() -> ChatInput {
        let mut input = ChatInput::new(project());
        input.document_summary = "A proposal for a community workshop.".into();
        input.document_version = 3;
        input.outline = vec![
            section("harbour-workshop", "Harbour Workshop", 1),
            section("harbour-workshop/overview", "Overview", 2),
            section("harbour-workshop/audience", "Audience", 2),
        ];
        input.history = vec![
            message(1, ChatRole::User, "Who is this for?"),
            message(
                2,
                ChatRole::Assistant,
                "The town council's planning committee.",
            ),
            message(3, ChatRole::User, "What should we cover next?"),
        ];
        input
    }

    fn section(key: &str, title: &str, level: u8) -> Section {
        Section {
            key: key.into(),
            title: title.into(),
            level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{input, message};
    use super::*;

    #[test]
    fn the_system_prompt_holds_the_project_state() {
        let prompt = build(&input());
        let system = &prompt.system;
        assert!(system.starts_with(SYSTEM));
        assert!(system.contains("Name: Harbour Workshop\n"));
        assert!(system.contains("Description: Community workshop proposal\n"));
        assert!(system.contains("# Blueprint (committed, version 2)\n"));
        assert!(system.contains("## Audience\nThe town council's planning committee.\n"));
        // Gaps, most important first: Outline is the only high-priority one left.
        let gaps = system.find("# Missing blueprint fields").unwrap();
        assert!(system[gaps..].contains("\n- Outline: "));
        assert!(!system[gaps..].contains("- Audience:"));
        assert!(system.contains("Version: 3\nSummary: A proposal for a community workshop.\n"));
        assert!(system.contains("2 sections: Overview; Audience\n"));
        assert_eq!(
            prompt.turns.iter().map(|t| t.role).collect::<Vec<_>>(),
            [ChatRole::User, ChatRole::Assistant, ChatRole::User]
        );
        assert_eq!(prompt.turns[2].text, "What should we cover next?");
        assert_eq!(
            prompt.tokens,
            estimate_tokens(system)
                + prompt
                    .turns
                    .iter()
                    .map(|t| estimate_tokens(&t.text))
                    .sum::<usize>()
        );
    }

    #[test]
    fn a_new_project_says_nothing_is_written() {
        let mut input = input();
        input.project.blueprint.clear();
        input.project.blueprint_version = 0;
        input.document_summary.clear();
        input.document_version = 0;
        input.outline.clear();
        let system = build(&input).system;
        assert!(
            system.contains("# Blueprint (draft, not yet committed)\nNo field is filled yet.\n")
        );
        assert!(system.ends_with("# Current document\nNothing is written yet.\n"));
    }

    #[test]
    fn old_turns_go_first_and_the_question_stays_whole() {
        let mut input = input();
        let long = "word ".repeat(3_000);
        input.history = vec![
            message(1, ChatRole::User, &long),
            message(2, ChatRole::Assistant, "Noted."),
            message(3, ChatRole::User, &long),
        ];
        // Room for the system prompt and a bit more than the question.
        input.token_budget = estimate_tokens(&build(&input).system) + 3_900;
        let prompt = build(&input);
        assert_eq!(prompt.turns.len(), 2, "the oldest turn was dropped");
        assert_eq!(prompt.turns[0].text, "Noted.");
        assert_eq!(
            prompt.turns[1].text,
            long.trim(),
            "the question is kept whole"
        );
        assert!(prompt.tokens <= input.token_budget);

        // Far over budget, the question is still sent.
        input.token_budget = 10;
        let prompt = build(&input);
        assert_eq!(prompt.turns.len(), 1);
        assert_eq!(prompt.turns[0].text, long.trim());
    }

    #[test]
    fn earlier_turns_are_clipped() {
        let mut input = input();
        input.history[0].text = "x".repeat(5_000);
        let prompt = build(&input);
        assert!(prompt.turns[0].text.ends_with('…'));
        assert!(prompt.turns[0].text.chars().count() < 2_100);
    }
}
