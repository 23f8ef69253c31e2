//! The prompt package: snapshots of a fixed input, the budget's trimming order, and the
//! sections the model is shown.

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
