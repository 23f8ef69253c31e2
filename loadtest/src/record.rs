//! What a scenario writes under `target/bench/`: one JSON file per scenario, with the
//! command line that made it, the machine, the git commit, and one row per measured
//! case with its figures and the CPU seconds each process involved used
//! (`/proc/<pid>/stat`). `loadtest report` turns these files into BENCHMARKS.md's tables.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`).
const CLOCK_TICKS: f64 = 100.0;

/// One scenario's file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    /// The command line, as run.
    pub command: String,
    pub commit: String,
    pub machine: Machine,
    /// Seconds since the Unix epoch when the scenario started.
    pub started_unix: u64,
    pub rows: Vec<Row>,
    /// When [`Record::new`] ran and the machine's busy CPU seconds then, for
    /// `busy_cores` (not written).
    #[serde(skip)]
    clock: Option<(std::time::Instant, f64)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: usize,
    pub kernel: String,
    /// The machine's busy CPU (every process) over the scenario, in cores: far above
    /// what the rows' processes used means the machine was shared.
    pub busy_cores: f64,
}

/// One measured case: which table it belongs to, what ran, its figures in order, and
/// the CPU seconds of each process over the case.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    /// The BENCHMARKS.md region (`<!-- bench:TABLE -->`) the row goes to.
    pub table: String,
    /// The system measured: draftline, ws, socketio, ceiling, bullmq, ...
    pub target: String,
    /// The case: a rate, a size.
    pub case: String,
    /// Named figures, in the order the table shows them.
    pub figures: Vec<(String, Figure)>,
    /// CPU seconds by process over the case (hub, postgres, redis, peer, generator).
    pub cpu_seconds: Vec<(String, f64)>,
    /// Wall seconds of the case, to read the CPU figures as cores.
    pub seconds: f64,
    /// Anything the reader must know (losses, closes, failures).
    pub note: String,
}

/// A figure: a number, or a text where no number applies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Figure {
    Number(f64),
    Text(String),
}

impl Figure {
    /// A number, or a dash where there is none: NaN would be written as `null`, which
    /// the record could not be read back from.
    pub fn number(value: f64) -> Self {
        if value.is_finite() {
            Figure::Number(value)
        } else {
            Figure::Text("-".into())
        }
    }
}

impl From<f64> for Figure {
    fn from(value: f64) -> Self {
        Figure::number(value)
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Figure::Number(n) => write!(f, "{n:.2}"),
            Figure::Text(text) => f.write_str(text),
        }
    }
}

impl From<&str> for Figure {
    fn from(value: &str) -> Self {
        Figure::Text(value.to_owned())
    }
}

impl Record {
    pub fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            command: command_line(),
            commit: git_commit(),
            machine: Machine {
                nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "unknown".into()),
                busy_cores: f64::NAN,
            },
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            rows: Vec::new(),
            clock: Some((std::time::Instant::now(), machine_cpu().unwrap_or(f64::NAN))),
        }
    }

    /// Sets the machine's busy cores over the scenario (since [`Record::new`]) and
    /// writes the record to `path` (creating its folder), if a path was given.
    pub fn write(&mut self, path: Option<&Path>) -> anyhow::Result<()> {
        if let Some((began, busy_before)) = self.clock {
            self.machine.busy_cores = round3(
                (machine_cpu().unwrap_or(f64::NAN) - busy_before) / began.elapsed().as_secs_f64(),
            );
        }
        let Some(path) = path else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("# wrote {}", path.display());
        Ok(())
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// This process's command line, quoted where an argument needs it, with the binary
/// named as `loadtest` whatever its path.
fn command_line() -> String {
    let mut args = std::env::args();
    let mut parts = vec![
        args.next()
            .map(PathBuf::from)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "loadtest".into()),
    ];
    for arg in args {
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'') {
            parts.push(format!("'{}'", arg.replace('\'', "'\\''")));
        } else {
            parts.push(arg);
        }
    }
    parts.join(" ")
}

/// The commit being measured: `DRAFTLINE_BENCH_COMMIT` (the bench script sets it), else
/// `git rev-parse`, marked `-dirty` when the work tree has changes.
fn git_commit() -> String {
    if let Ok(commit) = std::env::var("DRAFTLINE_BENCH_COMMIT") {
        return commit;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
            _ => commit,
        },
        None => "unknown".into(),
    }
}

/// CPU time (user plus system) of one process so far, in seconds.
pub fn process_cpu(pid: u32) -> Option<f64> {
    stat_fields(pid).map(|f| f.0)
}

/// utime+stime, and cutime+cstime (children already reaped), of a process, seconds.
pub fn stat_fields(pid: u32) -> Option<(f64, f64, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name sits in parentheses and may hold spaces; fields after it start
    // at the state (field 3); utime, stime, cutime, cstime are fields 14-17.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    let own = (ticks(11)? + ticks(12)?) / CLOCK_TICKS;
    let children = (ticks(13)? + ticks(14)?) / CLOCK_TICKS;
    Some((own, children, comm))
}

/// CPU seconds so far of every process named `comm` (Postgres: the postmaster and each
/// backend, plus the backends that already exited, which the postmaster reaped).
pub fn cpu_by_name(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    let mut total = 0.0;
    let mut seen = false;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((own, children, name)) = stat_fields(pid)
            && name == comm
        {
            seen = true;
            total += own + children;
        }
    }
    if seen { total } else { f64::NAN }
}

/// CPU time every process on the machine used so far (`/proc/stat`'s busy states), in
/// seconds.
pub fn machine_cpu() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = text
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
    let busy: f64 = fields.iter().sum::<f64>() - fields.get(3)? - fields.get(4)?;
    Some(busy / CLOCK_TICKS)
}

/// Where a process's CPU is read from.
#[derive(Debug, Clone)]
pub enum Proc {
    Pid(u32),
    /// Every process of this name (Postgres backends, Redis).
    Named(&'static str),
}

impl Proc {
    fn cpu(&self) -> f64 {
        match self {
            Proc::Pid(pid) => process_cpu(*pid).unwrap_or(f64::NAN),
            Proc::Named(comm) => cpu_by_name(comm),
        }
    }
}

/// The processes of one case, read before and after it.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    procs: Vec<(String, Proc)>,
    before: Vec<f64>,
    machine_before: f64,
    started: std::time::Instant,
}

impl CpuMeter {
    /// Starts measuring `procs`; the generator (this process) is always added.
    pub fn start(procs: &[(&str, Proc)]) -> Self {
        let mut procs: Vec<(String, Proc)> = procs
            .iter()
            .map(|(name, proc)| ((*name).to_owned(), proc.clone()))
            .collect();
        procs.push(("generator".into(), Proc::Pid(std::process::id())));
        let before = procs.iter().map(|(_, p)| p.cpu()).collect();
        Self {
            procs,
            before,
            machine_before: machine_cpu().unwrap_or(f64::NAN),
            started: std::time::Instant::now(),
        }
    }

    /// CPU seconds of each process since `start`, the wall seconds, and the whole
    /// machine's busy seconds.
    pub fn stop(&self) -> (Vec<(String, f64)>, f64, f64) {
        let used = self
            .procs
            .iter()
            .zip(&self.before)
            .map(|((name, proc), before)| (name.clone(), round3(proc.cpu() - before)))
            .collect();
        let machine = machine_cpu().unwrap_or(f64::NAN) - self.machine_before;
        (used, self.started.elapsed().as_secs_f64(), machine)
    }
}

/// The `p` quantile (0 to 1) of sorted values, by nearest rank: the smallest value with
/// at least a `p` share of the values at or below it. `None` for none. Every scenario's
/// percentiles come from here, so their figures compare.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// [`nearest_rank`] of latencies in µs, in ms; NaN for none.
pub fn percentile_ms<T: Copy + Into<u64>>(sorted_us: &[T], p: f64) -> f64 {
    nearest_rank(sorted_us, p).map_or(f64::NAN, |us| us.into() as f64 / 1000.0)
}

/// [`nearest_rank`] of durations, in ms; NaN for none.
pub fn percentile_duration_ms(sorted: &[Duration], p: f64) -> f64 {
    nearest_rank(sorted, p).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

/// Three decimals: CPU ticks are 10 ms, more digits say nothing.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_is_the_smallest_value_with_its_share_at_or_below() {
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&hundred, 0.5), Some(50));
        assert_eq!(nearest_rank(&hundred, 0.99), Some(99));
        assert_eq!(nearest_rank(&hundred, 0.999), Some(100));
        assert_eq!(nearest_rank(&hundred, 1.0), Some(100));
        assert_eq!(nearest_rank(&hundred, 0.0), Some(1), "the minimum");
        assert_eq!(nearest_rank(&[7_u64], 0.99), Some(7));
        assert_eq!(nearest_rank::<u64>(&[], 0.5), None);
        assert!(percentile_ms::<u32>(&[], 0.5).is_nan());
        assert_eq!(percentile_ms(&[1_500_u32, 2_500], 0.5), 1.5);
        let durations = [Duration::from_micros(250), Duration::from_millis(3)];
        assert_eq!(percentile_duration_ms(&durations, 1.0), 3.0);
    }
}
