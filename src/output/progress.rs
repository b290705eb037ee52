//! The one place that knows whether stderr is a terminal. On a terminal: progress bars and a
//! spinner with the build phase and elapsed time. Without one (CI, pipes, Docker builds): plain
//! lines, never a control sequence. Results go to stdout elsewhere; all of this is stderr.

use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Reporter {
    bars: Option<Arc<MultiProgress>>,
    quiet: bool,
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bars = (interactive && !quiet)
            .then(|| Arc::new(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())));
        Reporter { bars, quiet }
    }

    /// A line of narration on stderr that does not tear a bar apart. A password in a URL it
    /// quotes is masked.
    pub fn info(&self, message: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        let message = crate::output::redact::redact(message.as_ref());
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(message);
            }
            None => eprintln!("{message}"),
        }
    }

    /// A warning is shown even with `--quiet`.
    pub fn warn(&self, message: impl AsRef<str>) {
        let message = crate::output::redact::redact(message.as_ref());
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(format!("warning: {message}"));
            }
            None => eprintln!("warning: {message}"),
        }
    }

    /// Progress of one transfer of `total` bytes (when known), `done` of which are already here.
    pub fn transfer(&self, label: &str, total: Option<u64>, done: u64) -> Transfer {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(match total {
                Some(total) => ProgressBar::new(total),
                None => ProgressBar::new_spinner(),
            });
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar.set_position(done);
            bar
        });
        Transfer { bar, total, done, next_quarter: 1, label: label.to_string(), quiet: self.quiet }
    }

    /// A running task (one build) whose phase changes over time.
    pub fn task(&self, name: &str) -> Task {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Task {
            bar,
            name: name.to_string(),
            started: now,
            quiet: self.quiet,
            phase: String::new(),
            said_at: now,
        }
    }
}

pub struct Transfer {
    bar: Option<ProgressBar>,
    total: Option<u64>,
    done: u64,
    next_quarter: u64,
    label: String,
    quiet: bool,
}

impl Transfer {
    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            return;
        }
        // Quarter marks only for files big enough to take a while.
        let Some(total) = self.total.filter(|t| *t >= 4 * 1024 * 1024) else {
            return;
        };
        while self.next_quarter < 4 && self.done * 4 >= total * self.next_quarter {
            if !self.quiet {
                eprintln!("  {}: {}% of {}", self.label, self.next_quarter * 25, human_bytes(total));
            }
            self.next_quarter += 1;
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }

    /// Wrap a reader so that everything read through it advances this transfer.
    pub fn reader<R: Read>(&mut self, inner: R) -> TransferReader<'_, R> {
        TransferReader { inner, transfer: self }
    }
}

pub struct TransferReader<'a, R> {
    inner: R,
    transfer: &'a mut Transfer,
}

impl<R: Read> Read for TransferReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.transfer.advance(n as u64);
        Ok(n)
    }
}

pub struct Task {
    bar: Option<ProgressBar>,
    name: String,
    started: Instant,
    quiet: bool,
    phase: String,
    /// When a plain line last said where the task is.
    said_at: Instant,
}

/// Without a terminal, a long phase (the compile, the PGO run) is said again this often, so that
/// a CI log never goes silent for a quarter of an hour.
const STILL_RUNNING_EVERY: Duration = Duration::from_secs(300);

impl Task {
    pub fn phase(&mut self, phase: &str) {
        self.phase = phase.to_string();
        match &self.bar {
            Some(bar) => bar.set_message(phase.to_string()),
            None if !self.quiet => self.say(""),
            None => {}
        }
    }

    /// Something happened (a line of build output): without a terminal, say the phase again
    /// when it has been quiet for [`STILL_RUNNING_EVERY`].
    pub fn tick(&mut self) {
        if self.bar.is_none() && !self.quiet && self.said_at.elapsed() >= STILL_RUNNING_EVERY {
            self.say("still ");
        }
    }

    fn say(&mut self, still: &str) {
        eprintln!("{}: {still}{} (at {})", self.name, self.phase, format_duration(self.started.elapsed()));
        self.said_at = Instant::now();
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

pub fn human_bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= 1024.0 * MIB {
        format!("{:.1} GiB", n as f64 / (1024.0 * MIB))
    } else if n as f64 >= MIB {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// `42s`, `3m07s`, `1h02m`.
/// [`format_duration`], with tenths below ten seconds (`0.6s`, `7.5s`): for the times people
/// compare (a restore, a download), where `0s` would say nothing.
pub fn format_elapsed(d: Duration) -> String {
    if d < Duration::from_secs(10) { format!("{:.1}s", d.as_secs_f64()) } else { format_duration(d) }
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_phase_is_said_again_without_a_terminal() {
        let long_ago = Instant::now() - STILL_RUNNING_EVERY - Duration::from_secs(1);
        let mut task = Task {
            bar: None,
            name: "3.14.6t".into(),
            started: long_ago,
            quiet: false,
            phase: "compile".into(),
            said_at: long_ago,
        };
        task.tick();
        assert!(task.said_at.elapsed() < Duration::from_secs(5), "said again");
        let said = task.said_at;
        task.tick();
        assert_eq!(task.said_at, said, "not again right away");
    }
}
