//! The revision contract between Draftline and a drafter: the answer names each section
//! it changes (`<!-- section: KEY -->`) or adds (`<!-- new after: KEY -->`), and only
//! those; this module cleans an answer of what models wrap around it (a `<think>` block,
//! a code fence, a preamble), reads the sections, and applies them to the document so
//! that every section the answer does not name stays byte for byte.

use store::sections::{Chunk, split};

/// What an answer line opening a changed section starts with.
pub const REVISE_MARKER: &str = "<!-- section:";
/// What an answer line opening an added section starts with.
pub const ADD_MARKER: &str = "<!-- new after:";

/// Where an answer's block of Markdown goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Replaces the section with this key.
    Revise(String),
    /// Goes after the section with this key (and its subsections).
    AddAfter(String),
    /// No marker: sections are matched by their heading path, else by their title.
    Unmarked,
}

/// One block of an answer: a target and the Markdown under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub target: Target,
    pub text: String,
}

/// An answer applied to a document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The whole revised document.
    pub markdown: String,
    /// Keys (in the revised document) of the sections the answer changed or added.
    pub touched: Vec<String>,
    /// Keys the answer tried to revise although their text was left out of its prompt;
    /// ignored, since the model could not have kept what it did not see.
    pub refused: Vec<String>,
}

/// The marker line's target, if `line` is one.
pub fn marker(line: &str) -> Option<Target> {
    let line = line.trim();
    let inner = line.strip_suffix("-->")?;
    if let Some(key) = inner.strip_prefix(REVISE_MARKER) {
        return Some(Target::Revise(key.trim().to_owned()));
    }
    inner
        .strip_prefix(ADD_MARKER)
        .map(|key| Target::AddAfter(key.trim().to_owned()))
}

/// The document part of an answer cleaned of what models put around it: a leading
/// `<think>...</think>` block (reasoning models without a reasoning parser), text
/// before the first section (a preamble such as "Here is the revised document:"), and a
/// code fence wrapping the whole answer.
pub fn clean(document: &str) -> String {
    let mut text = document.trim_start();
    if let Some(rest) = text.strip_prefix("<think>") {
        // Unclosed: the answer is all reasoning, there is no document in it.
        text = rest.find("</think>").map_or("", |end| &rest[end + 8..]);
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(first) = lines.iter().position(|l| starts_section(l) || is_fence(l)) else {
        // Nothing that opens a section: prose only, kept as it is (the caller decides
        // whether an answer without sections is usable).
        return text.to_owned();
    };
    let mut body: Vec<&str> = lines[first..].to_vec();
    if body.first().is_some_and(|l| is_fence(l)) {
        body.remove(0);
        // The wrapper's closing fence is the last non-blank line, when it is a fence.
        if let Some(last) = body.iter().rposition(|l| !l.trim().is_empty())
            && is_fence(body[last])
        {
            body.truncate(last);
        }
        // A preamble inside the fence goes too.
        if let Some(first) = body.iter().position(|l| starts_section(l)) {
            body.drain(..first);
        }
    }
    body.concat()
}

/// Whether `line` opens a section: a heading or a marker.
fn starts_section(line: &str) -> bool {
    marker(line).is_some() || heading_level(line).is_some()
}

/// An opening or closing code fence line that could wrap a Markdown answer (no info
/// string, or `markdown` / `md`).
fn is_fence(line: &str) -> bool {
    let t = line.trim();
    ["```", "~~~"].iter().any(|f| {
        t.strip_prefix(f).is_some_and(|info| {
            matches!(
                info.trim().to_ascii_lowercase().as_str(),
                "" | "markdown" | "md"
            )
        })
    })
}

/// The level of an ATX heading line (`# ` to `###### `), as `store::sections` reads it.
fn heading_level(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.bytes().take_while(|b| *b == b'#').count();
    let after = &rest[level..];
    ((1..=6).contains(&level) && (after.is_empty() || after.starts_with([' ', '\t', '\n', '\r'])))
        .then_some(level)
}

/// The blocks of a cleaned answer, in order. Text before the first marker is an
/// [`Target::Unmarked`] block (a whole document, for a first draft).
pub fn blocks(cleaned: &str) -> Vec<Block> {
    let mut out = vec![Block {
        target: Target::Unmarked,
        text: String::new(),
    }];
    for line in cleaned.split_inclusive('\n') {
        match marker(line) {
            Some(target) => out.push(Block {
                target,
                text: String::new(),
            }),
            None => {
                if let Some(block) = out.last_mut() {
                    block.text.push_str(line);
                }
            }
        }
    }
    out.retain(|b| !b.text.trim().is_empty());
    out
}

/// A section of the document being revised.
struct Part {
    key: String,
    title: String,
    level: u8,
    text: String,
    /// Changed or added by the answer.
    touched: bool,
    /// Added by the answer.
    added: bool,
}

/// Applies `blocks` to `document`. `omitted` are the keys whose text the prompt left
/// out: revising them is refused. Sections no block names stay as they are, byte for
/// byte (a final section that gains a follower gets the newline it lacked); nothing is
/// ever deleted.
pub fn apply(document: &str, blocks: &[Block], omitted: &[String]) -> Applied {
    let mut parts: Vec<Part> = split(document)
        .into_iter()
        .filter(|c| !(c.level == 0 && c.text.trim().is_empty()))
        .map(|c| Part {
            key: c.key,
            title: c.title,
            level: c.level,
            text: c.text,
            touched: false,
            added: false,
        })
        .collect();
    let mut refused = Vec::new();
    for block in blocks {
        let chunks: Vec<Chunk> = split(&block.text)
            .into_iter()
            .filter(|c| !c.text.trim().is_empty())
            .collect();
        match &block.target {
            Target::Revise(key) => {
                if omitted.contains(key) {
                    refused.push(key.clone());
                    continue;
                }
                match parts.iter().position(|p| &p.key == key) {
                    Some(at) => {
                        let mut chunks = chunks.into_iter();
                        let Some(first) = chunks.next() else { continue };
                        let first = if first.level == 0 {
                            // The model left out the heading line: keep the section's.
                            let heading = parts[at].text.split_inclusive('\n').next();
                            Chunk {
                                text: format!(
                                    "{}\n\n{}",
                                    heading.unwrap_or("").trim_end(),
                                    first.text.trim_start()
                                ),
                                key: parts[at].key.clone(),
                                title: parts[at].title.clone(),
                                level: parts[at].level,
                            }
                        } else {
                            first
                        };
                        parts[at] = part(first);
                        let rest: Vec<Part> = chunks.map(part).collect();
                        parts.splice(at + 1..at + 1, rest);
                    }
                    // A key the document does not have: the block's sections are
                    // placed like an unmarked answer's.
                    None => place_unmarked(&mut parts, chunks, omitted, &mut refused),
                }
            }
            Target::AddAfter(key) => {
                let at = match parts.iter().position(|p| &p.key == key) {
                    // After the section's own subsections, so their keys do not change,
                    // and after sections the answer added there before, so added
                    // sections keep the answer's order.
                    Some(at) => {
                        let level = parts[at].level;
                        let mut end = parts[at + 1..]
                            .iter()
                            .position(|p| p.level <= level)
                            .map_or(parts.len(), |n| at + 1 + n);
                        while parts.get(end).is_some_and(|p| p.added) {
                            end += 1;
                        }
                        end
                    }
                    None => parts.len(),
                };
                // Prose before the added heading has no section of its own to be.
                let added: Vec<Part> = chunks
                    .into_iter()
                    .filter(|c| c.level > 0)
                    .map(|c| Part {
                        added: true,
                        ..part(c)
                    })
                    .collect();
                parts.splice(at..at, added);
            }
            Target::Unmarked => place_unmarked(&mut parts, chunks, omitted, &mut refused),
        }
    }
    let markdown = assemble(&parts);
    // Keys as the revised document has them (an added section's key follows its place).
    let keyed = split(&markdown);
    let mut touched = Vec::new();
    let mut i = 0;
    for chunk in &keyed {
        if chunk.level == 0 && chunk.text.trim().is_empty() {
            continue;
        }
        if parts.get(i).is_some_and(|p| p.touched) {
            touched.push(chunk.key.clone());
        }
        i += 1;
    }
    Applied {
        markdown,
        touched,
        refused,
    }
}

fn part(c: Chunk) -> Part {
    Part {
        key: c.key,
        title: c.title,
        level: c.level,
        text: c.text,
        touched: true,
        added: false,
    }
}

/// Sections without a marker: each replaces the section with its heading path, else the
/// only section with its level and title, else goes after the last one placed (at the
/// end at first).
fn place_unmarked(
    parts: &mut Vec<Part>,
    chunks: Vec<Chunk>,
    omitted: &[String],
    refused: &mut Vec<String>,
) {
    let mut after: Option<usize> = None;
    for chunk in chunks {
        if chunk.level == 0 {
            // Prose before any heading: a preamble `clean` kept because nothing else
            // came. It has no section to go to.
            continue;
        }
        let by_key = parts.iter().position(|p| p.key == chunk.key);
        let by_title = || {
            let same: Vec<usize> = parts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.level == chunk.level && p.title == chunk.title)
                .map(|(i, _)| i)
                .collect();
            (same.len() == 1).then(|| same[0])
        };
        match by_key.or_else(by_title) {
            Some(at) if omitted.contains(&parts[at].key) => {
                refused.push(parts[at].key.clone());
                after = Some(at);
            }
            Some(at) => {
                parts[at] = Part {
                    key: parts[at].key.clone(),
                    ..part(chunk)
                };
                after = Some(at);
            }
            None => {
                let at = after.map_or(parts.len(), |a| a + 1);
                parts.insert(
                    at,
                    Part {
                        added: true,
                        ..part(chunk)
                    },
                );
                after = Some(at);
            }
        }
    }
}

/// The parts as one document. Untouched parts keep their bytes; a part that does not
/// end a line gets a newline when another follows, and a touched part a blank line.
fn assemble(parts: &[Part]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if p.touched {
            out.push_str(p.text.trim_end());
            out.push_str(if last { "\n" } else { "\n\n" });
        } else {
            out.push_str(&p.text);
            if !last && !p.text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n### B1\n\nb1\n\n## C\n\nc";

    fn run(answer: &str) -> Applied {
        apply(DOC, &blocks(&clean(answer)), &[])
    }

    #[test]
    fn only_named_sections_change_and_the_rest_stay_byte_for_byte() {
        let applied = run("<!-- section: doc/b -->\n## B\n\nb2\n");
        assert_eq!(
            applied.markdown,
            "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb2\n\n### B1\n\nb1\n\n## C\n\nc"
        );
        assert_eq!(applied.touched, ["doc/b"]);
    }

    #[test]
    fn added_sections_go_after_the_named_one_and_its_subsections() {
        let applied = run(
            "<!-- new after: doc/b -->\n## Budget\n\n80k\n<!-- new after: doc/c -->\n## End\n\nfin\n",
        );
        assert_eq!(
            applied.markdown,
            "# Doc\n\n## A\n\na by Ana\n\n## B\n\nb\n\n### B1\n\nb1\n\n## Budget\n\n80k\n\n## C\n\nc\n## End\n\nfin\n"
        );
        assert_eq!(applied.touched, ["doc/budget", "doc/end"]);
    }

    #[test]
    fn sections_added_after_the_same_one_keep_the_answers_order() {
        let applied =
            run("<!-- new after: doc/a -->\n## X\n\nx\n<!-- new after: doc/a -->\n## Y\n\ny\n");
        assert!(
            applied
                .markdown
                .starts_with("# Doc\n\n## A\n\na by Ana\n\n## X\n\nx\n\n## Y\n\ny\n\n## B\n"),
            "{}",
            applied.markdown
        );
    }

    #[test]
    fn a_revision_without_its_heading_keeps_the_heading() {
        let applied = run("<!-- section: doc/a -->\na by Ana, and Mara.\n");
        assert!(
            applied
                .markdown
                .starts_with("# Doc\n\n## A\n\na by Ana, and Mara.\n\n## B\n")
        );
    }

    #[test]
    fn an_unmarked_whole_document_replaces_by_path_and_never_deletes() {
        let applied = run("# Doc\n\n## A\n\na2\n\n## New\n\nn\n");
        assert_eq!(
            applied.markdown,
            "# Doc\n\n## A\n\na2\n\n## New\n\nn\n\n## B\n\nb\n\n### B1\n\nb1\n\n## C\n\nc"
        );
        // An unmarked lone section is matched by its title.
        let applied = run("## C\n\nc2\n");
        assert!(applied.markdown.ends_with("## C\n\nc2\n"));
        assert_eq!(applied.touched, ["doc/c"]);
    }

    #[test]
    fn omitted_sections_cannot_be_revised() {
        let applied = apply(
            DOC,
            &blocks("<!-- section: doc/a -->\n## A\n\nshort\n"),
            &["doc/a".to_owned()],
        );
        assert_eq!(applied.markdown, DOC);
        assert_eq!(applied.refused, ["doc/a"]);
    }

    #[test]
    fn think_blocks_fences_and_preambles_are_stripped() {
        for answer in [
            "<think>\nThe user wants B.\n</think>\n\n<!-- section: doc/b -->\n## B\n\nb2\n",
            "Sure! Here is the revision:\n\n<!-- section: doc/b -->\n## B\n\nb2\n",
            "```markdown\n<!-- section: doc/b -->\n## B\n\nb2\n```\n",
            "Here you go:\n```\n<!-- section: doc/b -->\n## B\n\nb2\n```",
        ] {
            let applied = run(answer);
            assert!(
                applied.markdown.contains("## B\n\nb2\n\n### B1"),
                "{answer:?}: {}",
                applied.markdown
            );
            assert_eq!(applied.touched, ["doc/b"], "{answer:?}");
        }
        assert_eq!(clean("<think>still thinking"), "");
        // A code block inside the document is not a wrapping fence.
        let inner = "## A\n\n```\ncode\n```\n";
        assert_eq!(clean(inner), inner);
    }

    #[test]
    fn markers_parse() {
        assert_eq!(
            marker("<!-- section: doc/a -->\n"),
            Some(Target::Revise("doc/a".into()))
        );
        assert_eq!(
            marker("  <!-- new after:doc/b-->"),
            Some(Target::AddAfter("doc/b".into()))
        );
        assert_eq!(marker("<!-- a comment -->"), None);
    }
}
