//! Where a build's time goes: the wall time and the CPU time of each phase (configure, the
//! instrumented compile, the PGO training run, the optimized compile, the link, install).
//!
//! The CPU time of a phase is that of the whole process tree under the step's process (make,
//! the compilers, the test run), read from `/proc`: the step runs in a process group of its
//! own, and each process of the group counts its own time plus that of the children it has
//! waited for (a child not yet waited for is still in the group, and counted there). A phase
//! that starts in the middle of a step (the link, found by a line of make's output) is charged
//! from that moment on. A process that leaves the group (a new session) is counted once its
//! parent has waited for it.

use std::fmt;
use std::time::Instant;

/// One phase of a build and what it cost.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTime {
    pub phase: String,
    pub wall_seconds: f64,
    /// user + sys of the process tree; `None` where `/proc` could not tell.
    pub cpu_seconds: Option<f64>,
}

/// The phases of one build, in order.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct BuildTimes(pub Vec<PhaseTime>);

impl BuildTimes {
    pub fn push(&mut self, phase: PhaseTime) {
        self.0.push(phase);
    }

    pub fn extend(&mut self, phases: BuildTimes) {
        self.0.extend(phases.0);
    }

    /// The same phases, each named with `note` after it: `PGO training run (failed attempt)`.
    pub fn marked(self, note: &str) -> BuildTimes {
        BuildTimes(
            self.0.into_iter().map(|p| PhaseTime { phase: format!("{} ({note})", p.phase), ..p }).collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn wall_seconds(&self) -> f64 {
        self.0.iter().map(|p| p.wall_seconds).sum()
    }

    /// The total CPU time, when every phase has one.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.0.iter().map(|p| p.cpu_seconds).sum()
    }

    /// One line: `configure 28s · compile (instrumented) 301s/590 CPU-s · ...`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| match p.cpu_seconds {
                Some(cpu) => format!("{} {:.0}s ({:.0} CPU-s)", p.phase, p.wall_seconds, cpu),
                None => format!("{} {:.0}s", p.phase, p.wall_seconds),
            })
            .collect();
        parts.join(" · ")
    }
}

impl fmt::Display for BuildTimes {
    /// A table for the build log: phase, wall seconds, CPU seconds, cores kept busy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<44} {:>9} {:>9} {:>6}", "phase", "wall s", "CPU s", "cores")?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, wall: f64, cpu: Option<f64>| {
            let (cpu, cores) = match cpu {
                Some(cpu) if wall > 0.0 => (format!("{cpu:.1}"), format!("{:.2}", cpu / wall)),
                Some(cpu) => (format!("{cpu:.1}"), "-".into()),
                None => ("-".into(), "-".into()),
            };
            writeln!(f, "{name:<44} {wall:>9.1} {cpu:>9} {cores:>6}")
        };
        for p in &self.0 {
            row(f, &p.phase, p.wall_seconds, p.cpu_seconds)?;
        }
        row(f, "total", self.wall_seconds(), self.cpu_seconds())
    }
}

/// Splits one step (one process and its tree) into phases as its output announces them.
pub struct StepClock {
    pid: u32,
    phase: String,
    started: Instant,
    cpu_at_start: Option<f64>,
    done: BuildTimes,
}

impl StepClock {
    /// The clock of the step whose process is `pid`, which has just started `phase`.
    pub fn start(pid: u32, phase: &str) -> StepClock {
        StepClock {
            pid,
            phase: phase.to_string(),
            started: Instant::now(),
            cpu_at_start: Some(0.0),
            done: BuildTimes::default(),
        }
    }

    /// The step has moved on to `phase`.
    pub fn next(&mut self, phase: &str) {
        if self.phase.is_empty() {
            return; // the process has exited; its last lines are still being read
        }
        let cpu = group_cpu_seconds(self.pid);
        self.close(cpu);
        self.phase = phase.to_string();
        self.started = Instant::now();
        self.cpu_at_start = cpu;
    }

    /// The step's process has exited (and is not reaped yet: `/proc` still has its times).
    pub fn exited(&mut self) {
        let cpu = group_cpu_seconds(self.pid);
        self.close(cpu);
        self.phase.clear();
    }

    /// The phases, the last one closed now if `exited` was not called.
    pub fn finish(mut self) -> BuildTimes {
        if !self.phase.is_empty() {
            self.close(None);
        }
        self.done
    }

    fn close(&mut self, cpu_now: Option<f64>) {
        let cpu_seconds = match (self.cpu_at_start, cpu_now) {
            (Some(start), Some(now)) if now >= start => Some(now - start),
            _ => None,
        };
        self.done.push(PhaseTime {
            phase: std::mem::take(&mut self.phase),
            wall_seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds,
        });
    }
}

/// user + sys of `pid` and of the children it has waited for, in seconds.
pub fn tree_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(parse_stat(&stat)?.1 / clock_ticks_per_second()?)
}

/// The most processes a scan of `/proc` looks at: a bound, not a limit a build reaches.
const MOST_PROCESSES: usize = 1 << 16;

/// user + sys of every process in the group `pgid` leads, each with the children it has
/// waited for, in seconds; `None` when the leader itself cannot be read.
pub fn group_cpu_seconds(pgid: u32) -> Option<f64> {
    let leader = tree_cpu_seconds(pgid)?;
    let ticks = clock_ticks_per_second()?;
    let mut others = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten().take(MOST_PROCESSES) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == pgid {
            continue;
        }
        // A process that ended meanwhile is gone, and counted in its parent.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some((_, used)) = parse_stat(&stat).filter(|(group, _)| *group == pgid) {
            others += used / ticks;
        }
    }
    Some(leader + others)
}

/// The process group (field 5) and utime + stime + cutime + cstime (fields 14–17, in ticks)
/// of a `/proc/<pid>/stat` line, counted after the command name, which is in parentheses and
/// may itself hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(u32, f64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: state (field 3) is the first, so field N is at N - 3.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let group = fields.get(2)?.parse().ok()?;
    let ticks: Option<Vec<f64>> = fields.get(11..15)?.iter().map(|f| f.parse::<f64>().ok()).collect();
    Some((group, ticks?.iter().sum()))
}

#[cfg(test)]
fn cpu_seconds_of_stat(stat: &str, ticks_per_second: f64) -> Option<f64> {
    parse_stat(stat).map(|(_, ticks)| ticks / ticks_per_second)
}

fn clock_ticks_per_second() -> Option<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        // A name with spaces and a parenthesis; utime 100, stime 50, cutime 300, cstime 50.
        let stat = "4242 (make (odd) x) S 1 4242 4242 0 -1 4194560 500 0 0 0 100 50 300 50 20 0 1 0";
        assert_eq!(cpu_seconds_of_stat(stat, 100.0), Some(5.0));
        assert_eq!(cpu_seconds_of_stat("4242 (make) S 1", 100.0), None);
        assert_eq!(cpu_seconds_of_stat("garbage", 100.0), None);
        assert_eq!(parse_stat(stat).map(|(group, _)| group), Some(4242));
    }

    #[test]
    fn a_group_counts_its_running_members() {
        use std::os::unix::process::CommandExt;
        // A group whose leader waits while a member burns CPU: the leader alone shows ~0.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let leader = tree_cpu_seconds(pid).unwrap();
        let group = group_cpu_seconds(pid).unwrap();
        // SAFETY: kill(2) on the group this test made.
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
        let _ = child.wait();
        assert!(group > leader + 0.3, "the busy member counts: group {group}, leader {leader}");
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(tree_cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn a_table_and_a_summary() {
        let times = BuildTimes(vec![
            PhaseTime { phase: "configure".into(), wall_seconds: 20.0, cpu_seconds: Some(15.0) },
            PhaseTime { phase: "PGO training run".into(), wall_seconds: 100.0, cpu_seconds: Some(190.0) },
        ]);
        assert_eq!(times.wall_seconds(), 120.0);
        assert_eq!(times.cpu_seconds(), Some(205.0));
        let table = times.to_string();
        assert!(table.contains("PGO training run"), "{table}");
        assert!(table.contains("1.90"), "{table}");
        assert!(table.lines().last().unwrap().starts_with("total"), "{table}");
        assert_eq!(times.summary(), "configure 20s (15 CPU-s) · PGO training run 100s (190 CPU-s)");
        let unknown = BuildTimes(vec![PhaseTime { phase: "x".into(), wall_seconds: 1.0, cpu_seconds: None }]);
        assert_eq!(unknown.cpu_seconds(), None);
    }
}
