//! Every sentence the worker gives an assistant to say aloud (`tool.progress`
//! `narration`): a draft starting, retrying, failing, finding nothing to change, and
//! landing (which sections changed and which kept people's edits), each short enough to
//! speak in a breath.

use crate::draft::provider::first_sentence;

/// A draft job has started.
pub fn draft_started() -> String {
    "I'm updating the draft now.".to_owned()
}

/// A draft attempt failed: another comes (`retrying`), or none does.
pub fn draft_failed(retrying: bool) -> String {
    if retrying {
        "The draft hit a problem; I'm trying again.".to_owned()
    } else {
        "I couldn't update the draft this time.".to_owned()
    }
}

/// The draft's answer left the document as people had it: no new version.
pub fn draft_unchanged() -> String {
    "The draft is already up to date; nothing needed changing.".to_owned()
}

/// Section names spoken before the rest are counted ("Overview, Goals and two more
/// sections"): three names are still easy to follow by ear, four are a list.
const NAMED: usize = 3;

/// One sentence on a finished draft. `changed` and `conflicts` are section titles (an
/// empty title is the text before the first heading); `summary` is the document's
/// summary, said when no section changed.
pub fn draft_finished(summary: &str, changed: &[String], conflicts: &[String]) -> String {
    let kept = kept_clause(conflicts);
    match (changed.is_empty(), kept) {
        (false, None) => format!("I updated the draft: {} changed.", names(changed)),
        (false, Some(kept)) => format!("I updated the draft: {} changed; {kept}.", names(changed)),
        (true, Some(kept)) => format!("I finished the draft, but nothing changed: {kept}."),
        (true, None) => {
            let summary = first_sentence(summary);
            let summary = summary.trim_end_matches(['.', '!', '?']);
            if summary.is_empty() {
                "The draft is already up to date.".to_owned()
            } else {
                format!("The draft is already up to date: {summary}.")
            }
        }
    }
}

/// "Goals kept your edits", "Goals and Voice kept your edits", "three sections kept
/// your edits".
fn kept_clause(conflicts: &[String]) -> Option<String> {
    match conflicts.len() {
        0 => None,
        1 | 2 => Some(format!("{} kept your edits", names(conflicts))),
        n => Some(format!("{} sections kept your edits", number(n))),
    }
}

/// "Overview", "Overview and Goals", "Overview, Goals and Voice", "Overview, Goals and
/// two more sections".
fn names(titles: &[String]) -> String {
    let title = |t: &String| {
        if t.trim().is_empty() {
            "the introduction".to_owned()
        } else {
            t.trim().to_owned()
        }
    };
    let mut parts: Vec<String> = if titles.len() <= NAMED {
        titles.iter().map(title).collect()
    } else {
        let rest = titles.len() - (NAMED - 1);
        let mut parts: Vec<String> = titles[..NAMED - 1].iter().map(title).collect();
        parts.push(format!("{} more sections", number(rest)));
        parts
    };
    match parts.pop() {
        None => String::new(),
        Some(last) if parts.is_empty() => last,
        Some(last) => format!("{} and {last}", parts.join(", ")),
    }
}

/// Small numbers as words, since they are spoken.
fn number(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sentences() {
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&["Overview"], &[], "I updated the draft: Overview changed."),
            (
                &["Overview", "Goals"],
                &[],
                "I updated the draft: Overview and Goals changed.",
            ),
            (
                &["Overview", "Goals", "Voice"],
                &[],
                "I updated the draft: Overview, Goals and Voice changed.",
            ),
            (
                &["Overview", "Goals", "Voice", "Sources"],
                &["Audience"],
                "I updated the draft: Overview, Goals and two more sections changed; Audience kept your edits.",
            ),
            (
                &["", "Goals"],
                &["Audience", "Voice"],
                "I updated the draft: the introduction and Goals changed; Audience and Voice kept your edits.",
            ),
            (
                &[
                    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N",
                ],
                &["X", "Y", "Z"],
                "I updated the draft: A, B and 12 more sections changed; three sections kept your edits.",
            ),
            (
                &[],
                &["Goals"],
                "I finished the draft, but nothing changed: Goals kept your edits.",
            ),
        ];
        for (changed, conflicts, want) in cases {
            assert_eq!(
                draft_finished("ignored.", &titles(changed), &titles(conflicts)),
                *want
            );
        }
    }

    #[test]
    fn a_draft_is_announced_retried_and_given_up_on() {
        assert_eq!(draft_started(), "I'm updating the draft now.");
        assert_eq!(
            draft_failed(true),
            "The draft hit a problem; I'm trying again."
        );
        assert_eq!(
            draft_failed(false),
            "I couldn't update the draft this time."
        );
        assert_eq!(
            draft_unchanged(),
            "The draft is already up to date; nothing needed changing."
        );
    }

    #[test]
    fn with_nothing_changed_the_summary_is_said() {
        assert_eq!(
            draft_finished("A plan for the workshop. More detail here.", &[], &[]),
            "The draft is already up to date: A plan for the workshop."
        );
        assert_eq!(
            draft_finished("", &[], &[]),
            "The draft is already up to date."
        );
    }
}
