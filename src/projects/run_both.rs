//! Running one command in an environment, its output streamed line by line behind a prefix that
//! says which side it came from, and the figures `ftpy run` summarizes: exit codes, wall times,
//! median and spread.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::project;
use crate::projects::twin_venvs::{Environment, VenvError};
use crate::system::toolchain::find_program;

/// The command failed (or could not start) in these environments.
#[derive(Debug, thiserror::Error)]
#[error("the command failed in {}", sides.join(" and "))]
pub struct RunFailed {
    pub sides: Vec<String>,
}

impl crate::error::Diagnose for RunFailed {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::RunFailed
    }

    fn hints(&self) -> Vec<String> {
        vec!["the summary above shows each side's exit code".into()]
    }
}

/// How one run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The program is in neither the environment nor PATH.
    NotFound,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "{code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::NotFound => f.write_str("not found"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunResult {
    pub exit: Exit,
    pub wall: Duration,
    /// The module a free-threaded interpreter said it turned the GIL back on for (its
    /// RuntimeWarning, on either stream), if it said so.
    pub gil_enabled_by: Option<String>,
}

/// The prefix before every line of one side's output; coloured when stdout is a terminal.
pub struct Prefix(String);

impl Prefix {
    pub fn new(label: &str, colour: u8) -> Prefix {
        let text = format!("{label:>3} │ ");
        if io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Prefix(format!("\x1b[{colour}m{text}\x1b[0m"))
        } else {
            Prefix(text)
        }
    }
}

/// Run `command` with `env` activated (as `bin/activate` would: `VIRTUAL_ENV`, its `bin` first
/// on PATH, no PYTHONHOME or PYTHONPLATLIBDIR), in `cwd`, streaming its stdout and stderr behind `prefix`.
/// Where a run's stdin comes from.
pub enum Input<'a> {
    /// ftpy's own stdin (a terminal, or a single run).
    Inherit,
    /// ftpy's stdin, passed through as it arrives and recorded (the first of several runs).
    Live(&'a StdinTee),
    /// What the first run was given (the later runs).
    Replay(Vec<u8>),
}

/// Reads ftpy's stdin on a thread of its own, hands it to the attached child and keeps a copy.
/// Nothing waits for the end of stdin, so a pipe that never closes does not hang ftpy.
pub struct StdinTee {
    state: Arc<Mutex<TeeState>>,
    started: std::sync::Once,
}

impl Default for StdinTee {
    fn default() -> StdinTee {
        StdinTee { state: Arc::default(), started: std::sync::Once::new() }
    }
}

#[derive(Default)]
struct TeeState {
    recorded: Vec<u8>,
    sink: Option<ChildStdin>,
}

impl StdinTee {
    fn attach(&self, sink: ChildStdin) {
        let mut state = self.state.lock().expect("tee lock");
        let recorded = state.recorded.clone();
        let mut sink = sink;
        // Whatever arrived before this child started.
        if sink.write_all(&recorded).is_ok() {
            state.sink = Some(sink);
        }
        drop(state);
        let shared = self.state.clone();
        self.started.call_once(move || {
            std::thread::spawn(move || {
                let mut stdin = io::stdin().lock();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match stdin.read(&mut chunk) {
                        Ok(0) | Err(_) => 0,
                        Ok(n) => n,
                    };
                    let mut state = shared.lock().expect("tee lock");
                    if n == 0 {
                        state.sink = None; // end of input: close the child's stdin
                        break;
                    }
                    state.recorded.extend_from_slice(&chunk[..n]);
                    if let Some(sink) = state.sink.as_mut()
                        && sink.write_all(&chunk[..n]).is_err()
                    {
                        state.sink = None;
                    }
                }
            });
        });
    }

    fn detach(&self) {
        self.state.lock().expect("tee lock").sink = None;
    }

    /// What has been read so far.
    pub fn recorded(&self) -> Vec<u8> {
        self.state.lock().expect("tee lock").recorded.clone()
    }
}

pub fn run_in(
    env: &Environment,
    command: &[String],
    cwd: &Path,
    prefix: &Prefix,
    input: Input<'_>,
) -> io::Result<RunResult> {
    run_in_with(env, command, cwd, prefix, input, &Extra::default())
}

/// What a caller of [`run_in_with`] adds to a plain run (`ftpy run --stress`).
#[derive(Default)]
pub struct Extra {
    /// Variables set for the command, over the activated environment's.
    pub env: Vec<(String, OsString)>,
    /// The command's stdout goes to ftpy's stderr too (ftpy's stdout carries a report).
    pub stdout_to_stderr: bool,
    /// A signal to ftpy (under an `interrupt::Guard`) is passed on to the command as SIGINT.
    pub stop_on_signal: bool,
}

/// [`run_in`], with variables of the caller's, stdout sent to stderr, or a signal passed on.
pub fn run_in_with(
    env: &Environment,
    command: &[String],
    cwd: &Path,
    prefix: &Prefix,
    input: Input<'_>,
    extra: &Extra,
) -> io::Result<RunResult> {
    let path = activated_path(env);
    let Some(program) = find_program(&command[0], &path) else {
        let _ = writeln!(
            io::stderr(),
            "{}ftpy: `{}` is not in {} nor on PATH",
            prefix.0,
            command[0],
            env.bin_dir().display()
        );
        return Ok(RunResult { exit: Exit::NotFound, wall: Duration::ZERO, gil_enabled_by: None });
    };
    let started = Instant::now();
    let mut started_command = crate::system::python::user_command(program);
    started_command
        .args(&command[1..])
        .current_dir(cwd)
        .env("VIRTUAL_ENV", &env.path)
        .env("PATH", &path)
        .envs(extra.env.iter().map(|(k, v)| (k, v)))
        .stdin(if matches!(input, Input::Inherit) { Stdio::inherit() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if extra.stop_on_signal {
        // The SIGINT sent below must reach it: a job a script starts with `&` inherits SIGINT
        // ignored, and Python then keeps it ignored (a hanging suite would never stop).
        use std::os::unix::process::CommandExt;
        // SAFETY: runs in the child between fork and exec; signal(2) is async-signal-safe.
        unsafe {
            started_command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    let mut child = started_command.spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut stdin = child.stdin.take();
    if let Input::Live(tee) = &input
        && let Some(sink) = stdin.take()
    {
        tee.attach(sink);
    }
    let finished = std::sync::atomic::AtomicBool::new(false);
    let gil_enabled_by = std::thread::scope(|s| {
        if let (Some(mut stdin), Input::Replay(bytes)) = (stdin.take(), &input) {
            // A command that stops reading early closes the pipe: that is its business
            // (SIGPIPE is ignored while `ftpy run` runs, so the write just fails).
            s.spawn(move || {
                let _ = stdin.write_all(bytes);
            });
        }
        let out = s.spawn(|| {
            if extra.stdout_to_stderr {
                relay(stdout, io::stderr(), &prefix.0)
            } else {
                relay(stdout, io::stdout(), &prefix.0)
            }
        });
        if extra.stop_on_signal {
            let pid = child.id() as libc::pid_t;
            let finished = &finished;
            s.spawn(move || {
                // Ctrl-C at a terminal reaches the command too: give it a moment to stop on its
                // own before a second SIGINT (a signal sent to ftpy alone reaches only ftpy).
                // A command that ignores SIGINT gets SIGTERM, then SIGKILL: ftpy never waits
                // for it without end.
                const STEPS: [(u64, libc::c_int); 3] =
                    [(2, libc::SIGINT), (12, libc::SIGTERM), (17, libc::SIGKILL)];
                let mut seen: Option<Instant> = None;
                let mut sent = 0;
                while !finished.load(std::sync::atomic::Ordering::SeqCst) && sent < STEPS.len() {
                    if seen.is_none() && crate::system::interrupt::requested() {
                        seen = Some(Instant::now());
                    }
                    let (after, signal) = STEPS[sent];
                    if seen.is_some_and(|at| at.elapsed() >= Duration::from_secs(after)) {
                        // SAFETY: kill(2) of the child this function started; it is reaped only
                        // after this scope ends, so the pid is still its own (at worst a zombie).
                        unsafe { libc::kill(pid, signal) };
                        sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
        let err = s.spawn(|| relay(stderr, io::stderr(), &prefix.0));
        let err = err.join().unwrap_or_default();
        let out = out.join().unwrap_or_default();
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        err.or(out)
    });
    let status = child.wait()?;
    let wall = started.elapsed();
    if let Input::Live(tee) = &input {
        tee.detach();
    }
    let exit = match status.code() {
        Some(code) => Exit::Code(code),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                Exit::Signal(status.signal().unwrap_or(0))
            }
            #[cfg(not(unix))]
            Exit::Code(1)
        }
    };
    Ok(RunResult { exit, wall, gil_enabled_by })
}

/// What a free-threaded CPython prints (as a RuntimeWarning) when an extension module that has
/// not declared `Py_mod_gil` makes it turn the GIL back on; once per process.
const GIL_ENABLED_WARNING: &str = "The global interpreter lock (GIL) has been enabled to load module '";

/// The module named by [`GIL_ENABLED_WARNING`] in `line`, if it is there.
fn gil_enabled_by(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let at = text.find(GIL_ENABLED_WARNING)? + GIL_ENABLED_WARNING.len();
    let name = &text[at..];
    let name = &name[..name.find('\'')?];
    (!name.is_empty() && name.len() <= 256).then(|| name.to_string())
}

/// Longest line kept whole; a longer one is passed on in pieces of this size.
const LONGEST_LINE: u64 = 1024 * 1024;

/// Copy `from` to `to` a line at a time, each line behind `prefix`. Returns the module of the
/// first GIL-enabled warning seen, if any.
fn relay(from: impl Read, to: impl Write, prefix: &str) -> Option<String> {
    let mut reader = BufReader::new(from);
    let mut to = to;
    let mut line = Vec::new();
    let mut found = None;
    loop {
        line.clear();
        match reader.by_ref().take(LONGEST_LINE).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if found.is_none() {
                    found = gil_enabled_by(&line);
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let mut out = Vec::with_capacity(prefix.len() + line.len());
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(&line);
                // One write per line, so the two streams do not interleave inside a line.
                if to.write_all(&out).and_then(|_| to.flush()).is_err() {
                    break;
                }
            }
        }
    }
    found
}

fn activated_path(env: &Environment) -> OsString {
    let mut dirs = vec![env.bin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Median, fastest and slowest of a side's runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Timing {
    pub fn of(walls: &[Duration]) -> Option<Timing> {
        let mut sorted = walls.to_vec();
        sorted.sort();
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        };
        Some(Timing { median, min: sorted[0], max: sorted[n - 1] })
    }

    /// Half the range, relative to the median: `±2.0%`.
    pub fn spread_percent(&self) -> f64 {
        if self.median.is_zero() {
            return 0.0;
        }
        (self.max - self.min).as_secs_f64() / 2.0 / self.median.as_secs_f64() * 100.0
    }
}

/// `1.234s`, or `12.3ms` below a second.
pub fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 { format!("{:.1}ms", s * 1000.0) } else { format!("{s:.3}s") }
}

/// What `ftpy run` asks for: the command, in which environments, how many times each.
pub struct RunRequest {
    /// `--project`; else found from the current directory.
    pub project: Option<PathBuf>,
    /// The environments to run in, in this order.
    pub variants: Vec<Variant>,
    pub command: Vec<String>,
    pub repeat: u32,
}

/// One environment's part of `ftpy run`: its label, the environment, and the result of each run.
pub struct Side {
    pub label: &'static str,
    pub env: Environment,
    pub prefix: Prefix,
    pub runs: Vec<RunResult>,
}

/// Run the command in each environment asked for, `repeat` times, one run after the other.
/// Refuses before running anything when an environment is missing or broken.
pub fn run_in_each(ctx: &Context, request: &RunRequest) -> Result<Vec<Side>, Error> {
    let root = project::find_root(request.project.as_deref(), true)?;
    let mut sides: Vec<Side> = request
        .variants
        .iter()
        .map(|&variant| {
            let (label, colour) = match variant {
                Variant::Gil => ("gil", 33),
                Variant::Freethreaded => ("ft", 36),
            };
            Side {
                label,
                env: Environment::in_project(&root, variant),
                prefix: Prefix::new(label, colour),
                runs: vec![],
            }
        })
        .collect();
    if sides.iter().all(|s| !s.env.exists()) {
        return Err(VenvError::NoEnvironments { root }.into());
    }
    for side in &sides {
        // Never fall back to another python on PATH: that would compare the wrong interpreters.
        if let Some(problem) = side.env.problem() {
            return Err(VenvError::Broken { env: side.env.name().to_string(), root, problem }.into());
        }
    }

    // A command that exits without reading its input closes the pipe ftpy writes to: that must
    // be a failed write, not the end of ftpy.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Piped input goes to every run: the first gets it as it arrives, the later ones a copy.
    let runs = sides.len() * request.repeat as usize;
    let tee = (runs > 1 && !io::stdin().is_terminal()).then(StdinTee::default);
    let mut first = true;
    let cwd = std::env::current_dir().unwrap_or(root.clone());
    for side in &mut sides {
        for round in 1..=request.repeat {
            if request.repeat > 1 {
                ctx.reporter.info(format!("{}: run {round} of {}", side.label, request.repeat));
            }
            let input = match &tee {
                None => Input::Inherit,
                Some(tee) if first => Input::Live(tee),
                Some(tee) => Input::Replay(tee.recorded()),
            };
            first = false;
            let result = run_in(&side.env, &request.command, &cwd, &side.prefix, input)
                .map_err(Error::io("cannot start the command"))?;
            side.runs.push(result);
        }
    }
    Ok(sides)
}

/// Every run of every side passed; else the sides where one failed.
pub fn all_passed(sides: &[Side]) -> Result<(), RunFailed> {
    let failed: Vec<String> = sides
        .iter()
        .filter(|s| s.runs.iter().any(|r| !r.exit.success()))
        .map(|s| s.env.name().to_string())
        .collect();
    if failed.is_empty() { Ok(()) } else { Err(RunFailed { sides: failed }) }
}

/// The figures `ftpy run`'s summary shows: each side's exits and times, whether the
/// free-threaded side really ran without the GIL, and how the two sides' medians compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub sides: Vec<SideSummary>,
    /// Set when the free-threaded side ran with the GIL: its figures mean little then.
    pub ft_gil_on: Option<GilOn>,
    pub comparison: Comparison,
}

/// One side's line of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SideSummary {
    pub label: &'static str,
    pub runs: usize,
    /// How the first failed run ended, if one failed.
    pub first_failure: Option<Exit>,
    /// How many runs failed.
    pub failures: usize,
    /// The wall times of the runs whose program was found; `None` when there were none.
    pub timing: Option<Timing>,
}

/// Why the free-threaded side ran with the GIL.
#[derive(Clone, Debug, PartialEq)]
pub enum GilOn {
    /// Loading this module turned it back on.
    Module(String),
    /// `PYTHON_GIL=1` is set.
    Environment,
}

/// How the free-threaded side's median compares with the GIL side's.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    /// Not two sides with times (or a median of zero): nothing to say.
    None,
    /// Both sides have times but the command failed on one.
    NoRatio,
    Ratio {
        /// Free-threaded median over GIL median: below 1 is faster.
        ft_over_gil: f64,
        /// A side ran once: the medians are single runs.
        single_runs: bool,
    },
}

/// The summary's figures for the sides `run_in_each` ran.
pub fn summarize(sides: &[Side]) -> Summary {
    let python_gil_on = std::env::var("PYTHON_GIL").is_ok_and(|v| v.trim() == "1");
    summarize_with(sides, python_gil_on)
}

fn summarize_with(sides: &[Side], python_gil_on: bool) -> Summary {
    let lines: Vec<SideSummary> = sides
        .iter()
        .map(|side| {
            let walls: Vec<Duration> =
                side.runs.iter().filter(|r| r.exit != Exit::NotFound).map(|r| r.wall).collect();
            SideSummary {
                label: side.label,
                runs: side.runs.len(),
                first_failure: side.runs.iter().find(|r| !r.exit.success()).map(|r| r.exit),
                failures: side.runs.iter().filter(|r| !r.exit.success()).count(),
                timing: Timing::of(&walls),
            }
        })
        .collect();
    let ft_gil_on = sides.iter().filter(|s| s.label == "ft").find_map(|side| {
        match side.runs.iter().find_map(|r| r.gil_enabled_by.clone()) {
            Some(module) => Some(GilOn::Module(module)),
            None => python_gil_on.then_some(GilOn::Environment),
        }
    });
    let medians: Vec<Duration> = lines.iter().filter_map(|l| l.timing.map(|t| t.median)).collect();
    let all_passed = lines.iter().all(|l| l.failures == 0);
    let comparison = match medians[..] {
        [_, _] if !all_passed => Comparison::NoRatio,
        [gil, ft] if !gil.is_zero() && !ft.is_zero() => Comparison::Ratio {
            ft_over_gil: ft.as_secs_f64() / gil.as_secs_f64(),
            single_runs: sides.iter().any(|s| s.runs.len() == 1),
        },
        _ => Comparison::None,
    };
    Summary { sides: lines, ft_gil_on, comparison }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect::<Vec<_>>();
        let t = Timing::of(&ms(&[300, 100, 200])).unwrap();
        assert_eq!(
            (t.median, t.min, t.max),
            (Duration::from_millis(200), Duration::from_millis(100), Duration::from_millis(300))
        );
        assert!((t.spread_percent() - 50.0).abs() < 1e-9);
        assert_eq!(Timing::of(&ms(&[100, 200, 300, 400])).unwrap().median, Duration::from_millis(250));
        assert_eq!(Timing::of(&[]), None);
    }

    #[test]
    fn summary_figures() {
        let side = |label: &'static str, variant, runs: &[(Exit, u64)]| Side {
            label,
            env: Environment { variant, path: PathBuf::from(format!(".venv-{label}")) },
            prefix: Prefix::new(label, 0),
            runs: runs
                .iter()
                .map(|&(exit, ms)| RunResult { exit, wall: Duration::from_millis(ms), gil_enabled_by: None })
                .collect(),
        };
        let ok = Exit::Code(0);
        let sides = [
            side("gil", Variant::Gil, &[(ok, 200), (ok, 100), (ok, 300)]),
            side("ft", Variant::Freethreaded, &[(ok, 100), (ok, 100), (ok, 100)]),
        ];
        let summary = summarize_with(&sides, false);
        assert_eq!(summary.sides[0].timing.unwrap().median, Duration::from_millis(200));
        assert_eq!((summary.sides[1].first_failure, summary.sides[1].failures), (None, 0));
        assert_eq!(summary.ft_gil_on, None);
        assert_eq!(summary.comparison, Comparison::Ratio { ft_over_gil: 0.5, single_runs: false });
        assert_eq!(summarize_with(&sides, true).ft_gil_on, Some(GilOn::Environment));

        let mut sides = sides;
        sides[1].runs[0].gil_enabled_by = Some("gilext._core".into());
        sides[1].runs[1].exit = Exit::Code(3);
        sides[1].runs[2].exit = Exit::NotFound;
        let summary = summarize_with(&sides, true);
        assert_eq!((summary.sides[1].first_failure, summary.sides[1].failures), (Some(Exit::Code(3)), 2));
        assert_eq!(summary.sides[1].timing.unwrap().max, Duration::from_millis(100));
        assert_eq!(summary.ft_gil_on, Some(GilOn::Module("gilext._core".into())));
        assert_eq!(summary.comparison, Comparison::NoRatio);

        let one = [side("gil", Variant::Gil, &[(ok, 100)]), side("ft", Variant::Freethreaded, &[(ok, 200)])];
        assert_eq!(
            summarize_with(&one, false).comparison,
            Comparison::Ratio { ft_over_gil: 2.0, single_runs: true }
        );
        assert_eq!(summarize_with(&one[..1], false).comparison, Comparison::None);
    }

    #[test]
    fn relay_prefixes_every_line() {
        let mut out = Vec::new();
        assert_eq!(relay(&b"one\ntwo\nno newline"[..], &mut out, "ft │ "), None);
        assert_eq!(String::from_utf8(out).unwrap(), "ft │ one\nft │ two\nft │ no newline\n");
    }

    #[test]
    fn relay_notices_the_gil_being_turned_back_on() {
        let warning = b"<frozen importlib._bootstrap>:488: RuntimeWarning: The global interpreter lock (GIL) \
has been enabled to load module 'gilext._core', which has not declared that it can run safely without the GIL. \
To override this behavior and keep the GIL disabled (at your own risk), run with PYTHON_GIL=0 or -Xgil=0.\nok\n";
        let mut out = Vec::new();
        assert_eq!(relay(&warning[..], &mut out, "ft │ ").as_deref(), Some("gilext._core"));
        assert!(String::from_utf8(out).unwrap().ends_with("ft │ ok\n"));
    }

    #[test]
    fn seconds_format() {
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_seconds(Duration::from_micros(12_340)), "12.3ms");
    }
}
