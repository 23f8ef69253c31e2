//! What a fan-out step and a ramp found: the step's report (deliveries, latencies, CPU
//! by process, the calm clients' calls), the verdict that ends a ramp, the highest
//! rate that passed, and the rows of the JSON record.

use super::servers::Kind;
use super::{Shape, calm};
use crate::record::{self, Figure, Row};

/// One step's outcome over every client.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) rate: u32,
    pub(super) published: u64,
    pub(super) publish_failures: u64,
    pub(super) first_publish_error: Option<String>,
    /// Achieved publish rate, events/s.
    pub(super) publish_rate: f64,
    pub(super) expected: u64,
    pub(super) received: u64,
    pub(super) gaps: u64,
    pub(super) duplicates: u64,
    pub(super) unreadable: u64,
    pub(super) closed: usize,
    pub(super) first_close: Option<String>,
    /// Hub deliveries counted by the hub (its `draftline_events_delivered_total`).
    pub(super) hub_delivered: Option<f64>,
    /// What the hub should count: `expected` and the calm subscriber's deliveries.
    pub(super) hub_expected: u64,
    /// First publish to last receive, seconds.
    pub(super) span: f64,
    /// Sorted publish-to-receive latencies, microseconds.
    pub(super) latencies_us: Vec<u32>,
    /// CPU seconds by process over the step, and the step's wall seconds.
    pub(super) cpu_seconds: Vec<(String, f64)>,
    pub(super) cpu_span: f64,
    /// The whole machine's busy CPU over the step, in cores.
    pub(super) machine_cores: f64,
    /// Each calm client's calls while the step published.
    pub(super) calm: Vec<(&'static str, calm::CallStats)>,
    /// Why the first attempt at this rate failed, when this is the second.
    pub(super) retried: Option<String>,
}

impl Report {
    pub(super) const HEADER: &'static str = "| subscribers | topics | target ev/s | published (ev/s achieved) | deliveries expected | received | lost | gaps | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU cores by process (machine) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    pub(super) fn percentile_ms(&self, p: f64) -> f64 {
        record::percentile_ms(&self.latencies_us, p)
    }

    pub(super) fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    pub(super) fn deliveries_per_second(&self) -> f64 {
        self.received as f64 / self.span
    }

    /// Why this step does not count as sustained, if it does not: anything lost or
    /// out of order, a publisher behind its schedule (under 95% of the rate), or a p99
    /// at or over `p99_limit_ms`.
    pub(super) fn failure(&self, p99_limit_ms: f64) -> Option<String> {
        let p99 = self.percentile_ms(0.99);
        if self.publish_failures > 0 {
            Some(format!("{} publishes failed", self.publish_failures))
        } else if self.lost() > 0 || self.gaps > 0 || self.closed > 0 {
            Some(format!(
                "{} deliveries lost, {} gaps, {} connections closed",
                self.lost(),
                self.gaps,
                self.closed
            ))
        } else if self.publish_rate < 0.95 * f64::from(self.rate) {
            Some(format!(
                "the publisher managed {:.0} ev/s",
                self.publish_rate
            ))
        } else if p99.is_nan() || p99 >= p99_limit_ms {
            Some(format!("p99 {p99:.1} ms"))
        } else {
            None
        }
    }

    /// The calm clients' rows: round trips of `create_note` beside this step.
    pub(super) fn calm_rows(
        &self,
        kind: Kind,
        shape: &Shape,
        subscribers: usize,
        per_second: u32,
    ) -> Vec<Row> {
        self.calm
            .iter()
            .map(|(name, calls)| Row {
                table: "events-calm".into(),
                target: kind.name().into(),
                case: format!(
                    "{}: {subscribers} subscribers / {} topic(s), {}; calm client {name}, {per_second} calls/s",
                    shape.name,
                    shape.projects,
                    match self.rate {
                        0 => "no events".to_owned(),
                        rate => format!("{rate} ev/s"),
                    }
                ),
                figures: vec![
                    (
                        "deliveries/s".into(),
                        Figure::number(self.deliveries_per_second().round()),
                    ),
                    (
                        "fan-out p99 ms".into(),
                        Figure::number(self.percentile_ms(0.99)),
                    ),
                    (
                        "calls".into(),
                        Figure::number(calls.latencies_us.len() as f64),
                    ),
                    ("call p50 ms".into(), Figure::number(calls.percentile_ms(0.50))),
                    ("call p99 ms".into(), Figure::number(calls.percentile_ms(0.99))),
                    ("call max ms".into(), Figure::number(calls.percentile_ms(1.0))),
                ],
                cpu_seconds: self.cpu_seconds.clone(),
                seconds: record::round3(self.cpu_span),
                note: match (calls.failed, calls.skipped) {
                    (0, 0) => String::new(),
                    (failed, skipped) => format!("{failed} failed, {skipped} skipped"),
                },
            })
            .collect()
    }

    fn cores(&self) -> String {
        let cores: Vec<String> = self
            .cpu_seconds
            .iter()
            .map(|(name, s)| format!("{name} {:.2}", s / self.cpu_span))
            .collect();
        format!("{} (machine {:.2})", cores.join(" / "), self.machine_cores)
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(why) = &self.retried {
            notes.push(format!("second attempt (the first: {why})"));
        }
        if self.publish_failures > 0 {
            notes.push(format!(
                "{} publishes failed (first: {})",
                self.publish_failures,
                self.first_publish_error.as_deref().unwrap_or("?")
            ));
        }
        if self.duplicates > 0 {
            notes.push(format!("{} duplicates", self.duplicates));
        }
        if self.unreadable > 0 {
            notes.push(format!("{} unreadable frames", self.unreadable));
        }
        if self.closed > 0 {
            notes.push(format!(
                "{} connections closed (first: {})",
                self.closed,
                self.first_close.as_deref().unwrap_or("?")
            ));
        }
        if let Some(delivered) = self.hub_delivered
            && delivered as u64 != self.hub_expected
        {
            notes.push(format!("the hub counted {delivered:.0} deliveries"));
        }
        notes
    }

    pub(super) fn line(&self, subscribers: usize, topics: usize) -> String {
        let mut line = format!(
            "| {subscribers} | {topics} | {} | {} ({:.0}) | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            self.rate,
            self.published,
            self.publish_rate,
            self.expected,
            self.received,
            self.lost(),
            self.gaps,
            self.deliveries_per_second(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.percentile_ms(1.0),
            self.cores(),
        );
        let notes = self.notes();
        if !notes.is_empty() {
            line.push_str(&format!("\n  note: {}", notes.join("; ")));
        }
        line
    }

    pub(super) fn row(&self, kind: Kind, shape: &Shape, subscribers: usize) -> Row {
        let deliveries = |n: f64| Figure::number(n.round());
        Row {
            table: format!("events-{}", shape.name),
            target: kind.name().into(),
            case: format!(
                "{subscribers} subscribers / {} topic(s), {} ev/s",
                shape.projects, self.rate
            ),
            figures: vec![
                ("ev/s achieved".into(), deliveries(self.publish_rate)),
                (
                    "deliveries/s".into(),
                    deliveries(self.deliveries_per_second()),
                ),
                ("lost".into(), Figure::number(self.lost() as f64)),
                ("p50 ms".into(), Figure::number(self.percentile_ms(0.50))),
                ("p99 ms".into(), Figure::number(self.percentile_ms(0.99))),
                ("max ms".into(), Figure::number(self.percentile_ms(1.0))),
            ],
            cpu_seconds: self.cpu_seconds.clone(),
            seconds: record::round3(self.cpu_span),
            note: self.notes().join("; "),
        }
    }
}

pub(super) fn print_calm(during: &str, calm: &[(&'static str, calm::CallStats)]) {
    for (name, calls) in calm {
        println!(
            "  calm {name}, {during}: {} create_note calls, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} failed, {} skipped",
            calls.latencies_us.len(),
            calls.percentile_ms(0.50),
            calls.percentile_ms(0.99),
            calls.percentile_ms(1.0),
            calls.failed,
            calls.skipped
        );
    }
}

/// A ramp step that passed.
pub(super) struct Passed {
    pub(super) rate: u32,
    pub(super) deliveries_per_second: f64,
    pub(super) p99_ms: f64,
    pub(super) cpu_seconds: Vec<(String, f64)>,
    pub(super) cpu_span: f64,
}

/// The end of a ramp: the highest step that passed and the one that did not.
pub(super) struct Limit<'a> {
    pub(super) highest: Option<&'a Passed>,
    pub(super) failed: Option<&'a str>,
    pub(super) per_topic: usize,
    pub(super) p99_limit_ms: f64,
}

impl Limit<'_> {
    pub(super) fn line(&self) -> String {
        let reached = match self.highest {
            Some(r) => format!(
                "{} ev/s ({:.0} deliveries/s, p99 {:.2} ms)",
                r.rate, r.deliveries_per_second, r.p99_ms
            ),
            None => "none of the rates".into(),
        };
        format!(
            "highest rate with p99 under {} ms and nothing lost: {reached}; {}",
            self.p99_limit_ms,
            self.stopped()
        )
    }

    fn stopped(&self) -> String {
        match self.failed {
            Some(failed) => format!("failed at {failed}"),
            None => "every rate passed: the limit is higher".into(),
        }
    }

    pub(super) fn row(&self, kind: Kind, shape: &Shape, subscribers: usize) -> Row {
        let (rate, deliveries, p99, cpu, seconds) = match self.highest {
            Some(r) => (
                f64::from(r.rate),
                r.deliveries_per_second.round(),
                r.p99_ms,
                r.cpu_seconds.clone(),
                record::round3(r.cpu_span),
            ),
            None => (0.0, 0.0, f64::NAN, Vec::new(), 0.0),
        };
        Row {
            table: "events-limits".into(),
            target: kind.name().into(),
            case: format!(
                "{}: {subscribers} subscribers / {} topic(s), {} each",
                shape.name, shape.projects, self.per_topic
            ),
            figures: vec![
                ("highest ev/s".into(), Figure::number(rate)),
                ("deliveries/s".into(), Figure::number(deliveries)),
                ("p99 ms".into(), Figure::number(p99)),
                ("next step".into(), Figure::Text(self.stopped())),
            ],
            cpu_seconds: cpu,
            seconds,
            note: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: u32, latencies_us: Vec<u32>) -> Report {
        Report {
            rate,
            published: 100,
            publish_rate: f64::from(rate),
            expected: 100,
            received: 100,
            latencies_us,
            ..Report::default()
        }
    }

    #[test]
    fn a_step_passes_only_on_time_complete_and_on_schedule() {
        assert_eq!(step(50, vec![1_000; 100]).failure(100.0), None);
        let slow = step(50, vec![150_000; 100]);
        assert_eq!(slow.failure(100.0).as_deref(), Some("p99 150.0 ms"));
        let mut lossy = step(50, vec![1_000; 99]);
        lossy.received = 99;
        assert!(
            lossy
                .failure(100.0)
                .is_some_and(|why| why.contains("1 deliveries lost"))
        );
        let mut behind = step(50, vec![1_000; 100]);
        behind.publish_rate = 40.0;
        assert!(
            behind
                .failure(100.0)
                .is_some_and(|why| why.contains("publisher"))
        );
        assert!(
            step(50, Vec::new()).failure(100.0).is_some(),
            "no latencies is no pass"
        );
    }
}
