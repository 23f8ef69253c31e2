//! The per-section three-way merge of a finished draft into a document people may have
//! edited while it was being written (docs/protocol.md section 9.5): sections only the
//! drafter changed take the draft, sections only people changed keep theirs, sections
//! both changed keep the people's text and are reported as conflicts.

use protocol::entities::Section;
use std::collections::{HashMap, HashSet};
use store::sections::{Chunk, split};

/// The merged document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    pub markdown: String,
    /// Sections both sides changed differently; the people's version was kept (or
    /// their deletion stands), in document order.
    pub conflicts: Vec<Section>,
    /// Sections whose text the draft changed, added or removed compared with the
    /// current document, in document order (removed ones last).
    pub changed: Vec<Section>,
}

/// Merges `drafted` (the model's document) into `current` (the document now), both
/// descended from `base` (the version the draft started from), section by section.
/// Sections are matched by key (`store::sections`: the slugs of the heading path), and
/// compared ignoring trailing whitespace.
///
/// - Changed only by the draft (edited, added or removed): the draft's.
/// - Changed only by people (edited, added or removed): the people's.
/// - Changed by both, the same way: that version. Differently: the people's, and a
///   conflict. A section people deleted stays deleted; one the draft deleted but
///   people edited stays in.
///
/// The merged sections follow the draft's order; sections only the current document
/// has (people's new ones) stay after the section they follow there. People's moves
/// of existing sections are not kept: the draft's order wins for sections both have.
/// When `base == current` the result is exactly `drafted`.
pub fn merge(base: &str, current: &str, drafted: &str) -> Merged {
    let unchanged = base == current;
    let draft_text = drafted;
    let (base, current, drafted) = (chunks(base), chunks(current), chunks(drafted));
    let in_base = by_key(&base);
    let in_current = by_key(&current);
    let in_drafted = by_key(&drafted);

    let mut conflicts: HashSet<&str> = HashSet::new();
    let mut resolve = |key: &str| {
        let (b, c, d) = (
            in_base.get(key).copied(),
            in_current.get(key).copied(),
            in_drafted.get(key).copied(),
        );
        let people = !same(b, c);
        let drafter = !same(b, d);
        if !people {
            d
        } else if !drafter || same(c, d) {
            c
        } else {
            if let Some(chunk) = c.or(d).or(b) {
                conflicts.insert(chunk.key.as_str());
            }
            c
        }
    };

    // The draft's sections in its order, each resolved.
    let mut merged: Vec<&Chunk> = drafted.iter().filter_map(|d| resolve(&d.key)).collect();
    // Sections only the current document has, when kept, go after the nearest
    // section before them in the current document that is in the merge (after the
    // preamble when there is none, since text before it would change its meaning).
    for (i, c) in current.iter().enumerate() {
        if in_drafted.contains_key(c.key.as_str()) {
            continue;
        }
        let Some(chunk) = resolve(&c.key) else {
            continue;
        };
        let after = current[..i]
            .iter()
            .rev()
            .find_map(|prev| merged.iter().position(|m| m.key == prev.key));
        let at = match after {
            Some(p) => p + 1,
            None => usize::from(merged.first().is_some_and(|m| m.level == 0)),
        };
        merged.insert(at, chunk);
    }
    // Deleted by people and changed by the draft: not in the merge, still a conflict.
    for b in &base {
        if !in_current.contains_key(b.key.as_str()) {
            resolve(&b.key);
        }
    }

    let markdown = if unchanged {
        // Every section resolves to the draft's, in its order: take its text byte for
        // byte (a blank preamble included).
        draft_text.to_owned()
    } else {
        let mut markdown = String::new();
        for (i, chunk) in merged.iter().enumerate() {
            markdown.push_str(&chunk.text);
            // A section from the end of one document may lack its final newline; in
            // the middle of this one the next heading needs a line of its own.
            if i + 1 < merged.len() && !chunk.text.ends_with('\n') {
                markdown.push('\n');
            }
        }
        markdown
    };

    let section = |c: &Chunk| Section {
        key: c.key.clone(),
        title: c.title.clone(),
        level: c.level,
    };
    let mut ordered_conflicts: Vec<Section> = merged
        .iter()
        .filter(|m| conflicts.contains(m.key.as_str()))
        .map(|m| section(m))
        .collect();
    ordered_conflicts.extend(
        base.iter()
            .filter(|b| {
                conflicts.contains(b.key.as_str()) && !merged.iter().any(|m| m.key == b.key)
            })
            .map(section),
    );
    let mut changed: Vec<Section> = merged
        .iter()
        .filter(|m| !same(in_current.get(m.key.as_str()).copied(), Some(m)))
        .map(|m| section(m))
        .collect();
    changed.extend(
        current
            .iter()
            .filter(|c| !merged.iter().any(|m| m.key == c.key))
            .map(section),
    );
    Merged {
        markdown,
        conflicts: ordered_conflicts,
        changed,
    }
}

/// The document's sections, without a blank preamble (which says nothing, so its
/// presence on one side and absence on the other is no change).
fn chunks(markdown: &str) -> Vec<Chunk> {
    let mut chunks = split(markdown);
    chunks.retain(|c| !c.text.trim().is_empty());
    chunks
}

fn by_key(chunks: &[Chunk]) -> HashMap<&str, &Chunk> {
    chunks.iter().map(|c| (c.key.as_str(), c)).collect()
}

/// Whether two versions of a section say the same, trailing whitespace aside (the last
/// section of a document often differs from the same section elsewhere only there).
fn same(a: Option<&Chunk>, b: Option<&Chunk>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.text.trim_end() == b.text.trim_end(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::compose::Compose;
    use super::super::prompt::fixtures::{input, note};
    use super::*;
    use protocol::blueprint::BlueprintField;

    const BASE: &str = "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n";

    struct Case {
        name: &'static str,
        base: &'static str,
        current: &'static str,
        drafted: &'static str,
        want: &'static str,
        conflicts: &'static [&'static str],
        changed: &'static [&'static str],
    }

    const CASES: &[Case] = &[
        Case {
            name: "nobody edited: the draft as it is",
            base: BASE,
            current: BASE,
            drafted: "# Doc\n\n## A\n\na2\n\n## C\n\nc\n\n## D\n\nd",
            want: "# Doc\n\n## A\n\na2\n\n## C\n\nc\n\n## D\n\nd",
            conflicts: &[],
            changed: &["doc/a", "doc/d", "doc/b"],
        },
        Case {
            name: "only the drafter changed a section",
            base: BASE,
            current: BASE,
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &["doc/b"],
        },
        Case {
            name: "only people changed a section, the drafter another",
            base: BASE,
            current: "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb2\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &["doc/b"],
        },
        Case {
            name: "both changed a section differently: people's text, a conflict",
            base: BASE,
            current: "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na by model\n\n## B\n\nb\n\n## C\n\nc2\n",
            want: "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n## C\n\nc2\n",
            conflicts: &["doc/a"],
            changed: &["doc/c"],
        },
        Case {
            name: "both changed a section the same way: no conflict",
            base: BASE,
            current: "# Doc\n\n## A\n\nsame\n\n## B\n\nb\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\nsame\n\n## B\n\nb\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\nsame\n\n## B\n\nb\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &[],
        },
        Case {
            name: "people's new section stays where they put it",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## Mine\n\nm\n\n## B\n\nb\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na2\n\n## B\n\nb\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na2\n\n## Mine\n\nm\n\n## B\n\nb\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &["doc/a"],
        },
        Case {
            name: "the drafter's new sections come in the drafter's order",
            base: BASE,
            current: BASE,
            drafted: "# Doc\n\n## New 1\n\nn1\n\n## A\n\na\n\n## B\n\nb\n\n## New 2\n\nn2\n\n## C\n\nc\n",
            want: "# Doc\n\n## New 1\n\nn1\n\n## A\n\na\n\n## B\n\nb\n\n## New 2\n\nn2\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &["doc/new-1", "doc/new-2"],
        },
        Case {
            name: "deleted by people, unchanged by the draft: stays deleted",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &[],
        },
        Case {
            name: "deleted by people, changed by the draft: stays deleted, a conflict",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            conflicts: &["doc/b"],
            changed: &[],
        },
        Case {
            name: "deleted by the draft, untouched by people: gone",
            base: BASE,
            current: BASE,
            drafted: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            conflicts: &[],
            changed: &["doc/b"],
        },
        Case {
            name: "deleted by the draft, edited by people: kept in place, a conflict",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## B\n\nb by Ana\n\n## C\n\nc\n",
            drafted: "# Doc\n\n## A\n\na\n\n## C\n\nc\n",
            want: "# Doc\n\n## A\n\na\n\n## B\n\nb by Ana\n\n## C\n\nc\n",
            conflicts: &["doc/b"],
            changed: &[],
        },
        Case {
            name: "both added the same heading: people's, a conflict",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## Risks\n\nfire\n",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## Risks\n\nflood\n",
            want: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## Risks\n\nfire\n",
            conflicts: &["doc/risks"],
            changed: &[],
        },
        Case {
            name: "trailing whitespace is no change",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n\n\n",
            want: "# Doc\n\n## A\n\na\n\n## B\n\nb2\n\n## C\n\nc\n\n\n",
            conflicts: &[],
            changed: &["doc/b"],
        },
        Case {
            name: "people's section from the end of their document gets its newline",
            base: BASE,
            current: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## Mine\n\nm",
            drafted: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## D\n\nd\n",
            want: "# Doc\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n\n## Mine\n\nm\n## D\n\nd\n",
            conflicts: &[],
            changed: &["doc/d"],
        },
        Case {
            name: "a first draft of an empty document",
            base: "",
            current: "",
            drafted: "# Doc\n\n## A\n\na\n",
            want: "# Doc\n\n## A\n\na\n",
            conflicts: &[],
            changed: &["doc", "doc/a"],
        },
        Case {
            name: "a preamble people wrote into an empty document stays first",
            base: "",
            current: "Draft notes\n",
            drafted: "# Doc\n\n## A\n\na\n",
            want: "Draft notes\n# Doc\n\n## A\n\na\n",
            conflicts: &[],
            changed: &["doc", "doc/a"],
        },
        Case {
            name: "people's new first section goes after the draft's new preamble",
            base: "# Doc\n",
            current: "# Mine\nm\n# Doc\n",
            drafted: "Intro\n# Doc\n",
            want: "Intro\n# Mine\nm\n# Doc\n",
            conflicts: &[],
            changed: &[""],
        },
        Case {
            name: "people's new first section goes after the draft's preamble",
            base: "Intro\n# Doc\n",
            current: "Intro\n# Mine\nm\n# Doc\n",
            drafted: "Intro 2\n# Doc\nd\n",
            want: "Intro 2\n# Mine\nm\n# Doc\nd\n",
            conflicts: &[],
            changed: &["", "doc"],
        },
    ];

    #[test]
    fn cases() {
        for case in CASES {
            let merged = merge(case.base, case.current, case.drafted);
            assert_eq!(merged.markdown, case.want, "{}", case.name);
            let keys = |s: &[Section]| s.iter().map(|s| s.key.clone()).collect::<Vec<_>>();
            assert_eq!(
                keys(&merged.conflicts),
                case.conflicts,
                "{}: conflicts",
                case.name
            );
            assert_eq!(
                keys(&merged.changed),
                case.changed,
                "{}: changed",
                case.name
            );
        }
    }

    #[test]
    fn conflicts_and_changes_carry_titles() {
        let merged = merge(
            BASE,
            "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n## C\n\nc\n",
            "# Doc\n\n## A\n\na2\n\n## B\n\nb2\n\n## C\n\nc\n",
        );
        assert_eq!(
            merged.conflicts,
            [Section {
                key: "doc/a".into(),
                title: "A".into(),
                level: 2
            }]
        );
        assert_eq!(merged.changed[0].title, "B");
    }

    /// A person edits the Audience section while a draft runs; the draft (made from
    /// newer notes and a newer blueprint) changes Voice and Notes too. The person's
    /// edit survives, the draft's other changes land, and Audience is a conflict only
    /// because the draft rewrote it as well.
    #[test]
    fn a_persons_edit_during_a_draft_survives() {
        // Whole documents, as first drafts of the two inputs.
        let mut before = input();
        before.document.clear();
        before.last_drafted = None;
        before.since = None;
        let base = Compose::write(&before, 0).markdown;

        let edited = base.replace(
            "The town council's planning committee.",
            "The planning committee, and the harbour trust who own the building.",
        );
        assert_ne!(edited, base);

        let mut after = before.clone();
        after
            .notes
            .push(note(20, "The trust wants a 10-year lease."));
        after
            .project
            .blueprint
            .insert(BlueprintField::Voice, "Warm, precise and brief.".into());
        let drafted = Compose::write(&after, 0).markdown;

        let merged = merge(&base, &edited, &drafted);
        assert!(
            merged
                .markdown
                .contains("the harbour trust who own the building")
        );
        assert!(merged.markdown.contains("Warm, precise and brief."));
        assert!(merged.markdown.contains("The trust wants a 10-year lease."));
        assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
        let titles: Vec<_> = merged.changed.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Voice", "Notes"]);

        // Had the draft rewritten Audience too, the person's words still win.
        after
            .project
            .blueprint
            .insert(BlueprintField::Audience, "The council.".into());
        let drafted = Compose::write(&after, 0).markdown;
        let merged = merge(&base, &edited, &drafted);
        assert!(
            merged
                .markdown
                .contains("the harbour trust who own the building")
        );
        assert!(!merged.markdown.contains("The council."));
        let conflicts: Vec<_> = merged.conflicts.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(conflicts, ["Audience"]);
    }
}
