//! `loadtest report`: BENCHMARKS.md's tables from the JSON under `target/bench/`. Each
//! table lives between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; only what is
//! between the markers is rewritten, so the prose around them survives.

use crate::record::{Figure, Record, Row};
use anyhow::Context;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// The folder of the scenarios' JSON files.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// The document whose marked regions are rewritten.
    #[arg(long, default_value = "BENCHMARKS.md")]
    doc: PathBuf,
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&options.dir)
        .with_context(|| format!("reading {}", options.dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let records = paths
        .iter()
        .map(|p| Record::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Rows by table, each with the record it came from.
    let mut tables: BTreeMap<&str, Vec<(&Record, &Row)>> = BTreeMap::new();
    for record in &records {
        for row in &record.rows {
            tables.entry(&row.table).or_default().push((record, row));
        }
    }
    // Draftline's rows first, then each peer's, in the order they ran.
    for rows in tables.values_mut() {
        rows.sort_by_key(|(_, row)| row.target != "draftline");
    }
    let mut doc = std::fs::read_to_string(&options.doc)
        .with_context(|| format!("reading {}", options.doc.display()))?;
    let mut written = Vec::new();
    let mut missing = Vec::new();
    for (name, rows) in &tables {
        match replace_region(&doc, name, &render(rows)) {
            Some(updated) => {
                doc = updated;
                written.push(*name);
            }
            None => missing.push(*name),
        }
    }
    std::fs::write(&options.doc, doc)
        .with_context(|| format!("writing {}", options.doc.display()))?;
    println!(
        "# {}: rewrote {} table(s) from {} file(s): {}",
        options.doc.display(),
        written.len(),
        records.len(),
        written.join(", ")
    );
    anyhow::ensure!(
        missing.is_empty(),
        "{} has no region for table(s) {} (add `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` lines)",
        options.doc.display(),
        missing.join(", ")
    );
    Ok(())
}

/// `doc` with the region of `name` holding `body`, or `None` without that region.
fn replace_region(doc: &str, name: &str, body: &str) -> Option<String> {
    let open = format!("<!-- bench:{name} -->");
    let close = format!("<!-- /bench:{name} -->");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&close)?;
    Some(format!("{}\n{body}{}", &doc[..start], &doc[end..]))
}

/// One table: what ran and where, then a row per case with its figures, the CPU each
/// process used and the command that made it.
fn render(rows: &[(&Record, &Row)]) -> String {
    // Figure columns in the order they first appear.
    let mut columns: Vec<&str> = Vec::new();
    for (_, row) in rows {
        for (name, _) in &row.figures {
            if !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    let mut out = String::new();
    let mut seen = Vec::new();
    for (record, _) in rows {
        let key = (&record.scenario, &record.commit, record.started_unix);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let _ = writeln!(
            out,
            "Run `{}` at {} UTC, commit `{}`, {} cores, Linux {}; the whole machine was busy {:.2} cores on average over it.\n",
            record.scenario,
            utc(record.started_unix),
            record.commit,
            record.machine.nproc,
            record.machine.kernel,
            record.machine.busy_cores,
        );
    }
    let _ = writeln!(
        out,
        "| target | case | {} | CPU s (cores) by process | note | command |",
        columns.join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len() + 5));
    for (record, row) in rows {
        let figures: Vec<String> = columns
            .iter()
            .map(|c| {
                row.figures
                    .iter()
                    .find(|(name, _)| name == c)
                    .map_or("".into(), |(_, f)| figure(f))
            })
            .collect();
        let cpu: Vec<String> = row
            .cpu_seconds
            .iter()
            .map(|(name, s)| {
                if s.is_finite() {
                    format!("{name} {s:.2} ({:.2})", s / row.seconds.max(1e-9))
                } else {
                    format!("{name} ?")
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | `{}` |",
            row.target,
            row.case,
            figures.join(" | "),
            cpu.join(", "),
            row.note.replace('|', "/"),
            record.command.replace('|', "\\|"),
        );
    }
    out
}

fn figure(f: &Figure) -> String {
    match f {
        Figure::Text(text) => text.replace('|', "/"),
        Figure::Number(n) if !n.is_finite() => "?".into(),
        Figure::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
        Figure::Number(n) if n.abs() >= 100.0 => format!("{n:.0}"),
        Figure::Number(n) if n.abs() >= 10.0 => format!("{n:.1}"),
        Figure::Number(n) => format!("{n:.2}"),
    }
}

/// `YYYY-MM-DD HH:MM` for seconds since the epoch (civil-from-days, proleptic
/// Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_marked_region_changes() {
        let doc = "intro\n<!-- bench:a -->\nold\n<!-- /bench:a -->\noutro\n";
        let out = replace_region(doc, "a", "new\n").unwrap();
        assert_eq!(
            out,
            "intro\n<!-- bench:a -->\nnew\n<!-- /bench:a -->\noutro\n"
        );
        assert!(replace_region(doc, "b", "x").is_none());
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06");
    }
}
