//! Splitting a Markdown document into its sections (by ATX headings, outside fenced code),
//! each with a stable key: the slugs of its heading path, so the same heading under the
//! same parents keeps its key across versions. Per-section merges match on these keys.

use protocol::entities::Section;

/// One section's text: the heading line and everything up to the next heading. The
/// preamble before the first heading has the key `""` and level 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub key: String,
    pub title: String,
    pub level: u8,
    pub text: String,
}

/// The document's headings, in order.
pub fn outline(markdown: &str) -> Vec<Section> {
    split(markdown)
        .into_iter()
        .filter(|c| c.level > 0)
        .map(|c| Section {
            key: c.key,
            title: c.title,
            level: c.level,
        })
        .collect()
}

/// The document as consecutive chunks; concatenating their `text`s gives it back.
pub fn split(markdown: &str) -> Vec<Chunk> {
    let mut chunks = vec![Chunk {
        key: String::new(),
        title: String::new(),
        level: 0,
        text: String::new(),
    }];
    // The heading path: (level, slug) of each open ancestor.
    let mut path: Vec<(u8, String)> = Vec::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut fence: Option<&str> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
        } else if let Some((level, title)) = heading(line) {
            path.retain(|(l, _)| *l < level);
            path.push((level, slug(&title)));
            let base = path
                .iter()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join("/");
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}-{n}") };
            chunks.push(Chunk {
                key,
                title,
                level,
                text: String::new(),
            });
        }
        if let Some(last) = chunks.last_mut() {
            last.text.push_str(line);
        }
    }
    if chunks.first().is_some_and(|c| c.text.is_empty()) && chunks.len() > 1 {
        chunks.remove(0);
    }
    chunks
}

/// An ATX heading (`# Title` to `###### Title`, at most three spaces of indent).
fn heading(line: &str) -> Option<(u8, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t', '\n', '\r'])) {
        return None;
    }
    let title = after.trim().trim_end_matches('#').trim_end().to_owned();
    Some((level as u8, title))
}

fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("section");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "Intro line\n# Title\ntext\n## Goals & Momentum\n- a\n```\n# not a heading\n```\n## Goals & momentum\n### Sub ###\n# Next\n";

    #[test]
    fn keys_follow_the_heading_path_and_stay_unique() {
        let keys: Vec<_> = outline(DOC).into_iter().map(|s| (s.key, s.level)).collect();
        assert_eq!(
            keys,
            vec![
                ("title".to_owned(), 1),
                ("title/goals-momentum".to_owned(), 2),
                ("title/goals-momentum-2".to_owned(), 2),
                ("title/goals-momentum/sub".to_owned(), 3),
                ("next".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn chunks_reassemble_the_document() {
        let chunks = split(DOC);
        assert_eq!(chunks[0].key, "");
        assert_eq!(chunks[0].text, "Intro line\n");
        assert_eq!(
            chunks.iter().map(|c| c.text.as_str()).collect::<String>(),
            DOC
        );
        assert_eq!(chunks[4].title, "Sub");
    }

    #[test]
    fn not_headings() {
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("    # indented code"), None);
        assert_eq!(heading("####### seven"), None);
        assert_eq!(heading("#"), Some((1, String::new())));
    }

    #[test]
    fn empty_document_has_no_sections() {
        assert!(outline("").is_empty());
        assert_eq!(split("").len(), 1);
    }
}
