//! `ftpy run --stress`: the project's pytest suite in the free-threaded environment, once as it
//! is (the baseline), then with every test run by N threads at once (pytest-run-parallel). In
//! the order it works:
//!
//! - [`pytest_command`]: the command must be pytest (`python -m pytest`, `pytest`, `py.test`);
//!   anything else is refused before anything runs, never run plainly.
//! - [`ensure_plugin`]: pytest must be in the environment; pytest-run-parallel is installed
//!   into it on demand (at least [`PLUGIN_MINIMUM`]) by the environment's pip, from the user's
//!   own pip configuration, and never added to the project's requirements.
//! - the two runs: the user's command and arguments, then ftpy's own: `-p ftpy_stress_report`,
//!   a small plugin ftpy writes into a temporary directory (`stress_report.py`) that records
//!   every test's reports, collection errors, the GIL being turned back on and what
//!   pytest-run-parallel said of each test as JSON lines, flushed as they happen (a run that
//!   crashes still says which test was running). JUnit XML would lose both the plugin's reasons
//!   and the crashed test.
//! - [`classify`]: the two runs' records into a [`StressReport`]: the race candidates (pass
//!   alone, fail, error or crash under threads), the tests that fail either way, those that
//!   fail alone but pass under threads, the tests the plugin ran in one thread and its reason,
//!   the tests skipped only under threads, and the modules that turned the GIL back on.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::error::{Diagnose, Error, ExitCode};
use crate::interpreters::version::Variant;
use crate::projects::project;
use crate::projects::run_both::{self, Exit, Extra, Input, Prefix, RunResult};
use crate::projects::twin_venvs::{Environment, VenvError};

/// The plugin that runs each test in several threads.
pub const PLUGIN: &str = "pytest-run-parallel";

/// The oldest release that has everything ftpy relies on: `--parallel-threads`, `--iterations`,
/// `--ignore-gil-enabled`, and the plugin object registered as `_run-parallel` with its
/// `thread_unsafe` (test id → reason) and `run_in_parallel` tables.
pub const PLUGIN_MINIMUM: &str = "0.6.0";

/// The most threads `--threads` takes.
pub const MOST_THREADS: u32 = 1024;

/// The largest reading of one run's records.
const LARGEST_RECORDS: u64 = 256 * 1024 * 1024;

/// `--threads`: a number of threads, or `auto` (the cores this process may use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    Auto,
    Count(u32),
}

impl Threads {
    /// The number of threads: `auto` is the core count, but at least 2 (one thread finds no race).
    pub fn resolve(self) -> u32 {
        match self {
            Threads::Count(n) => n,
            Threads::Auto => std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(2)
                .clamp(2, MOST_THREADS),
        }
    }
}

/// clap's parser for `--threads`.
pub fn parse_threads(text: &str) -> Result<Threads, String> {
    if text == "auto" {
        return Ok(Threads::Auto);
    }
    match text.parse::<u32>() {
        Ok(n) if (2..=MOST_THREADS).contains(&n) => Ok(Threads::Count(n)),
        Ok(_) => Err(format!("give 2 to {MOST_THREADS} threads, or `auto` (the core count)")),
        Err(_) => Err("a number of threads (2 or more), or `auto` (the core count)".into()),
    }
}

/// What `ftpy run --stress` asks for.
pub struct StressRequest {
    pub project: Option<PathBuf>,
    /// The user's pytest command and its arguments.
    pub command: Vec<String>,
    pub threads: Threads,
    /// Times each thread runs each test.
    pub iterations: u32,
    /// The runs' output goes to stderr (stdout carries the JSON report).
    pub output_to_stderr: bool,
    /// Then the same in the GIL environment, for contrast (`--both`).
    pub gil_contrast: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StressError {
    #[error("--stress needs pytest: `{command}` is not a pytest command")]
    NotPytest { command: String },
    #[error("pytest is not installed in {env}")]
    PytestMissing { env: String },
    #[error("cannot read the packages of {env}: {detail}")]
    Probe { env: String, detail: String },
    #[error("{PLUGIN} >= {PLUGIN_MINIMUM} could not be installed into {env}")]
    PluginUnavailable { env: String, log: PathBuf, key_lines: Vec<String> },
    #[error("the suite did not run to its end alone (before any threads): {why}")]
    BaselineDidNotRun { why: String },
    #[error("pytest could not collect the suite: {}", shown_ids(ids))]
    CollectionErrors { ids: Vec<String> },
    #[error("pytest found no tests to run")]
    NoTests,
    #[error("the suite did not run to its end under threads: {why}")]
    ThreadedDidNotRun { why: String },
    #[error("{count} test(s) fail without threads; no test fails only under threads")]
    SuiteFails { count: usize },
}

fn shown_ids(ids: &[String]) -> String {
    let mut shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    if ids.len() > 5 {
        shown.push("...");
    }
    shown.join(", ")
}

impl Diagnose for StressError {
    fn exit_code(&self) -> ExitCode {
        match self {
            StressError::NotPytest { .. } => ExitCode::Usage,
            StressError::PytestMissing { .. } => ExitCode::NotFound,
            StressError::Probe { .. } => ExitCode::LocalError,
            StressError::PluginUnavailable { .. } => ExitCode::RequirementsFailed,
            StressError::BaselineDidNotRun { .. }
            | StressError::CollectionErrors { .. }
            | StressError::NoTests
            | StressError::ThreadedDidNotRun { .. }
            | StressError::SuiteFails { .. } => ExitCode::RunFailed,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            StressError::NotPytest { .. } => vec![
                "give the pytest command: `ftpy run --stress -- python -m pytest [ARGS]` (or `-- pytest [ARGS]`)".into(),
                "to run another command in both environments, leave out --stress".into(),
            ],
            StressError::PytestMissing { .. } => vec![
                "add pytest to the project's requirements and run `ftpy venv`, or `ftpy run --ft -- python -m pip install pytest`".into(),
            ],
            StressError::Probe { .. } => vec!["`ftpy venv --status` checks the environments".into()],
            StressError::PluginUnavailable { log, key_lines, .. } => {
                let mut hints: Vec<String> = key_lines.iter().map(|l| format!("pip: {l}")).collect();
                hints.push(format!(
                    "ftpy installs {PLUGIN} with the environment's pip, from your pip configuration (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS); it is not added to your requirements"
                ));
                hints.push(format!(
                    "offline, or when your index has no copy: fetch the wheel where you can (`pip download --no-deps '{PLUGIN}>={PLUGIN_MINIMUM}'`), then `ftpy run --ft -- python -m pip install ./pytest_run_parallel-*.whl`, or set PIP_FIND_LINKS to the directory that holds it"
                ));
                hints.push(format!("pip's full output is in {}", log.display()));
                hints
            }
            StressError::BaselineDidNotRun { .. } => vec![
                "run the same command with `ftpy run --ft -- ...` and fix what stops it; --stress needs a suite that runs to its end".into(),
            ],
            StressError::CollectionErrors { .. } => {
                vec!["the errors are above; `ftpy run --ft -- python -m pytest --collect-only` shows them again".into()]
            }
            StressError::NoTests => vec!["check the arguments after `--`: they select no test".into()],
            StressError::ThreadedDidNotRun { .. } => vec![
                format!("the output above says why; `--threads` and `--iterations` change the load, and {PLUGIN}'s markers (`thread_unsafe`) keep a test in one thread"),
            ],
            StressError::SuiteFails { .. } => {
                vec!["the report above lists them; a suite that passes alone gives the clearest race candidates".into()]
            }
        }
    }
}

/// A command recognized as pytest, as the user gave it; ftpy's options go after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PytestCommand {
    pub argv: Vec<String>,
}

/// `command` if it runs pytest: `python -m pytest ...` (any `python`, `python3`, `python3.14t`,
/// or a path to one, with interpreter options before `-m`), `pytest ...`, `py.test ...`.
pub fn pytest_command(command: &[String]) -> Result<PytestCommand, StressError> {
    let refuse = || StressError::NotPytest {
        command: crate::output::terminal_text::escape_shortened(&command.join(" "), 120),
    };
    let first = command.first().ok_or_else(refuse)?;
    let program = Path::new(first).file_name().and_then(|n| n.to_str()).unwrap_or("");
    if program == "pytest" || program == "py.test" {
        return Ok(PytestCommand { argv: command.to_vec() });
    }
    if !is_python(program) {
        return Err(refuse());
    }
    // Interpreter options, then `-m pytest`. `-X opt` and `-W arg` take a value.
    let mut args = command[1..].iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-m" => {
                return match args.next().map(String::as_str) {
                    Some("pytest") => Ok(PytestCommand { argv: command.to_vec() }),
                    _ => Err(refuse()),
                };
            }
            "-X" | "-W" => {
                args.next();
            }
            "-c" | "-" => return Err(refuse()),
            other if other.starts_with('-') && !other.starts_with("--") => {}
            _ => return Err(refuse()),
        }
    }
    Err(refuse())
}

/// `python`, `python3`, `python3.14`, `python3.14t`.
fn is_python(program: &str) -> bool {
    let Some(rest) = program.strip_prefix("python") else { return false };
    let rest = rest.strip_suffix('t').unwrap_or(rest);
    rest.is_empty()
        || rest.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
}

/// The versions of pytest and the plugin installed in an environment.
#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct Installed {
    pytest: Option<String>,
    plugin: Option<String>,
}

fn installed(env: &Environment) -> Result<Installed, StressError> {
    let probe = format!(
        "import importlib.metadata as m, json\n\
         def v(name):\n    try:\n        return m.version(name)\n    except m.PackageNotFoundError:\n        return None\n\
         print(json.dumps({{'pytest': v('pytest'), 'plugin': v('{PLUGIN}')}}))"
    );
    let fail = |detail: String| StressError::Probe { env: env.name().to_string(), detail };
    let out = crate::system::python::python(env.python())
        .args(["-c", &probe])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        return Err(fail(crate::output::terminal_text::escape_shortened(&last, 240)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| fail(format!("unexpected answer: {e}")))
}

/// `version` is at least [`PLUGIN_MINIMUM`].
fn new_enough(version: &str) -> bool {
    let minimum: pep440_rs::Version = PLUGIN_MINIMUM.parse().expect("a valid version");
    version.parse::<pep440_rs::Version>().is_ok_and(|v| v >= minimum)
}

/// pytest must be in the environment; the plugin is installed when it is missing or too old.
/// Returns the plugin's version.
pub fn ensure_plugin(ctx: &Context, env: &Environment, cwd: &Path) -> Result<String, Error> {
    let found = installed(env)?;
    if found.pytest.is_none() {
        return Err(StressError::PytestMissing { env: env.name().to_string() }.into());
    }
    if let Some(version) = found.plugin.as_deref().filter(|v| new_enough(v)) {
        return Ok(version.to_string());
    }
    let why = match &found.plugin {
        Some(old) => format!("{PLUGIN} {old} is older than {PLUGIN_MINIMUM}"),
        None => format!("{PLUGIN} is not installed"),
    };
    ctx.reporter.info(format!("{why} in {}: installing it (not into your requirements)", env.name()));
    let logs = ctx.home.logs_dir();
    std::fs::create_dir_all(&logs).map_err(Error::io("cannot create the logs directory"))?;
    let stamp = crate::system::clock::file_stamp_now();
    let log = logs.join(format!("stress-plugin-{stamp}.log"));
    let spec = format!("{PLUGIN}>={PLUGIN_MINIMUM}");
    crate::projects::pip::install(&env.python(), &[spec], cwd, &log).map_err(|failure| {
        StressError::PluginUnavailable {
            env: env.name().to_string(),
            log: failure.log,
            key_lines: failure.key_lines,
        }
    })?;
    match installed(env)?.plugin {
        Some(version) if new_enough(&version) => Ok(version),
        _ => Err(StressError::PluginUnavailable {
            env: env.name().to_string(),
            log,
            key_lines: vec![format!("pip ended well, yet no {PLUGIN} >= {PLUGIN_MINIMUM} is installed")],
        }
        .into()),
    }
}

/// One line of what `stress_report.py` records.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Record {
    Start {
        id: String,
    },
    Report {
        id: String,
        when: String,
        outcome: String,
        #[serde(default)]
        xfail: bool,
        #[serde(default)]
        message: String,
    },
    CollectError {
        id: String,
        #[serde(default)]
        message: String,
    },
    GilEnabled {
        module: String,
    },
    Finish {
        exitstatus: i32,
        #[serde(default)]
        plugin_loaded: bool,
        #[serde(default)]
        thread_unsafe: BTreeMap<String, String>,
        #[serde(default)]
        in_parallel: usize,
    },
}

/// How one test ended in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    /// Failed in setup or teardown.
    Error,
    Skipped,
    Xfailed,
    Xpassed,
    /// It was running when the process died.
    Crashed,
    /// It started, and no outcome came (the run was stopped).
    Unfinished,
}

impl Outcome {
    pub fn failed(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error | Outcome::Crashed)
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Xfailed => "xfailed",
            Outcome::Xpassed => "xpassed",
            Outcome::Crashed => "crashed",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// One test in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TestRun {
    outcome: Outcome,
    /// The failure's or skip's message, first one given.
    message: String,
}

/// One run's records, read.
#[derive(Debug, Default)]
pub struct RunRecords {
    /// In the order the tests started.
    tests: Vec<(String, TestRun)>,
    collect_errors: Vec<String>,
    gil_enabled_by: Vec<String>,
    /// pytest's exit status, if the session reached its end.
    exitstatus: Option<i32>,
    plugin_loaded: bool,
    thread_unsafe: BTreeMap<String, String>,
    in_parallel: usize,
}

impl RunRecords {
    /// Read the JSON lines `stress_report.py` wrote; a line that does not parse (the last one
    /// of a process that died mid-write) is skipped. `crashed`: the process died, so the test
    /// that started without an outcome crashed.
    pub fn parse(text: &str, crashed: bool) -> RunRecords {
        let mut records = RunRecords::default();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for line in text.lines() {
            let Ok(record) = serde_json::from_str::<Record>(line) else { continue };
            match record {
                Record::Start { id } => {
                    if !index.contains_key(&id) {
                        index.insert(id.clone(), records.tests.len());
                        records
                            .tests
                            .push((id, TestRun { outcome: Outcome::Unfinished, message: String::new() }));
                    }
                }
                Record::Report { id, when, outcome, xfail, message } => {
                    let at = *index.entry(id.clone()).or_insert_with(|| {
                        records
                            .tests
                            .push((id, TestRun { outcome: Outcome::Unfinished, message: String::new() }));
                        records.tests.len() - 1
                    });
                    let test = &mut records.tests[at].1;
                    if let Some(next) = fold(test.outcome, &when, &outcome, xfail) {
                        test.outcome = next;
                    }
                    if test.message.is_empty() && outcome != "passed" {
                        // The first line says what failed (an assertion's diff follows it).
                        let first = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
                        test.message = crate::output::terminal_text::escape_shortened(first, 300);
                    }
                }
                Record::CollectError { id, message } => {
                    let id = if id.is_empty() { message } else { id };
                    records.collect_errors.push(crate::output::terminal_text::escape_shortened(&id, 300));
                }
                Record::GilEnabled { module } => {
                    if !records.gil_enabled_by.contains(&module) {
                        records.gil_enabled_by.push(module);
                    }
                }
                Record::Finish { exitstatus, plugin_loaded, thread_unsafe, in_parallel } => {
                    records.exitstatus = Some(exitstatus);
                    records.plugin_loaded = plugin_loaded;
                    records.thread_unsafe = thread_unsafe;
                    records.in_parallel = in_parallel;
                }
            }
        }
        if crashed {
            for (_, test) in records.tests.iter_mut().filter(|(_, t)| t.outcome == Outcome::Unfinished) {
                test.outcome = Outcome::Crashed;
            }
        }
        records
    }

    fn outcome(&self, id: &str) -> Option<&TestRun> {
        self.tests.iter().find(|(i, _)| i == id).map(|(_, t)| t)
    }
}

/// A test's outcome after one more phase's report; `None` keeps what it was.
fn fold(now: Outcome, when: &str, outcome: &str, xfail: bool) -> Option<Outcome> {
    Some(match (when, outcome, xfail) {
        ("setup", "failed", _) => Outcome::Error,
        ("setup", "skipped", true) | ("call", "skipped", true) => Outcome::Xfailed,
        ("setup", "skipped", false) | ("call", "skipped", false) => Outcome::Skipped,
        ("call", "passed", true) => Outcome::Xpassed,
        ("call", "passed", false) => Outcome::Passed,
        ("call", "failed", _) => Outcome::Failed,
        ("teardown", "failed", _) if !now.failed() => Outcome::Error,
        _ => return None,
    })
}

/// A test the report names, with how it ended in each run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestFinding {
    pub id: String,
    pub alone: Outcome,
    pub threaded: Outcome,
    /// The message of its failure (under threads for a race candidate), or of its skip.
    pub message: String,
}

/// A test pytest-run-parallel ran in one thread, and its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OneThread {
    pub id: String,
    pub reason: String,
}

/// What `ftpy run --stress` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StressReport {
    pub environment: String,
    pub plugin_version: String,
    pub threads: u32,
    pub iterations: u32,
    /// Tests the baseline ran.
    pub tests: usize,
    /// Tests the plugin ran in N threads.
    pub in_parallel: usize,
    /// Pass alone, fail (or error, or crash) under threads: the point of the command.
    pub race_candidates: Vec<TestFinding>,
    /// Fail alone and under threads.
    pub fail_either_way: Vec<TestFinding>,
    /// Fail alone, pass under threads: order- or timing-dependent, not a race candidate.
    pub fail_alone_only: Vec<TestFinding>,
    /// Run in one thread by the plugin (a `thread_unsafe` marker, a thread-unsafe fixture or call).
    pub one_thread: Vec<OneThread>,
    /// Skipped under threads but not alone, with the skip's reason.
    pub skipped_under_threads: Vec<TestFinding>,
    /// Ran alone but not under threads (the threaded run stopped early: `-x`, a crash).
    pub not_run_under_threads: Vec<String>,
    /// Extension modules that turned the GIL back on (in either run): threads ran serialized
    /// after that, which hides races.
    pub gil_enabled_by: Vec<String>,
    /// The threaded run ended by a signal (a crash is a race candidate too).
    pub threaded_signal: Option<i32>,
    pub alone_seconds: f64,
    pub threaded_seconds: f64,
    /// With `--both`: the same in the GIL environment, for contrast.
    pub gil_contrast: Option<GilContrast>,
}

/// The GIL environment's race candidates (`ftpy run --stress --both`): a race candidate of the
/// free-threaded build that fails there too is a race in the code under any build; one that
/// does not is one the GIL hid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GilContrast {
    pub environment: String,
    pub race_candidates: Vec<String>,
}

impl StressReport {
    /// The error the command ends with, if any: races first, then a suite that fails alone.
    pub fn verdict(&self) -> Result<(), Error> {
        let n = self.race_candidates.len();
        if n > 0 {
            let what = if n == 1 {
                "race candidate: a test that passes alone but fails"
            } else {
                "race candidates: tests that pass alone but fail"
            };
            let mut hints = vec![
                "run one alone under threads: `ftpy run --stress -- python -m pytest 'ID'`; a lock, a threading.local or a fresh object per call usually fixes shared module state".to_string(),
            ];
            if !self.gil_enabled_by.is_empty() {
                hints.push(format!(
                    "the GIL was turned back on by {}: races in code that ran after that can hide",
                    self.gil_enabled_by.join(", ")
                ));
            }
            return Err(crate::races::RacesFound {
                summary: format!("{n} {what} under {} threads", self.threads),
                hints,
            }
            .into());
        }
        let failing = self.fail_either_way.len() + self.fail_alone_only.len();
        if failing > 0 {
            return Err(StressError::SuiteFails { count: failing }.into());
        }
        Ok(())
    }
}

/// The two runs' records into the report. `alone` must be a complete baseline.
fn classify(alone: &RunRecords, threaded: &RunRecords, threaded_signal: Option<i32>) -> Classified {
    let mut c = Classified::default();
    for (id, base) in &alone.tests {
        let Some(under) = threaded.outcome(id) else {
            c.not_run_under_threads.push(id.clone());
            continue;
        };
        let finding = |message: &str| TestFinding {
            id: id.clone(),
            alone: base.outcome,
            threaded: under.outcome,
            message: message.to_string(),
        };
        match (base.outcome.failed(), under.outcome.failed()) {
            (false, true) if base.outcome == Outcome::Passed || base.outcome == Outcome::Xpassed => {
                c.race_candidates.push(finding(&under.message))
            }
            // Skipped or xfailed alone: what it does under threads is not a verdict.
            (false, true) => {}
            (true, true) => c.fail_either_way.push(finding(&base.message)),
            (true, false) => c.fail_alone_only.push(finding(&base.message)),
            (false, false) => {
                if under.outcome == Outcome::Skipped && base.outcome != Outcome::Skipped {
                    c.skipped_under_threads.push(finding(&under.message));
                } else if under.outcome == Outcome::Unfinished {
                    c.not_run_under_threads.push(id.clone());
                }
            }
        }
    }
    // A test that crashed the threaded run is a race candidate even if alone never reached it.
    if threaded_signal.is_some() {
        for (id, under) in &threaded.tests {
            if under.outcome == Outcome::Crashed && alone.outcome(id).is_none() {
                c.race_candidates.push(TestFinding {
                    id: id.clone(),
                    alone: Outcome::Unfinished,
                    threaded: Outcome::Crashed,
                    message: String::new(),
                });
            }
        }
    }
    c.one_thread = threaded
        .thread_unsafe
        .iter()
        .map(|(id, reason)| OneThread { id: id.clone(), reason: reason.clone() })
        .collect();
    c
}

#[derive(Debug, Default, PartialEq)]
struct Classified {
    race_candidates: Vec<TestFinding>,
    fail_either_way: Vec<TestFinding>,
    fail_alone_only: Vec<TestFinding>,
    one_thread: Vec<OneThread>,
    skipped_under_threads: Vec<TestFinding>,
    not_run_under_threads: Vec<String>,
}

/// Check the baseline ran the suite to its end: else a clear error, not a report.
fn check_baseline(result: &RunResult, records: &RunRecords) -> Result<(), StressError> {
    let why = match (result.exit, records.exitstatus) {
        (Exit::NotFound, _) => "the command was not found in the environment".to_string(),
        (Exit::Signal(s), _) => match records.tests.iter().find(|(_, t)| t.outcome == Outcome::Crashed) {
            Some((id, _)) => format!("pytest ended by signal {s} while {id} ran"),
            None => format!("pytest ended by signal {s}"),
        },
        (_, None) => format!(
            "pytest ended (exit {}) without reaching the end of its session (did it load ftpy's reporting plugin?)",
            result.exit
        ),
        (_, Some(_)) if !records.collect_errors.is_empty() => {
            return Err(StressError::CollectionErrors { ids: records.collect_errors.clone() });
        }
        (_, Some(0 | 1)) if records.tests.is_empty() => return Err(StressError::NoTests),
        (_, Some(0 | 1)) => return Ok(()),
        (_, Some(5)) => return Err(StressError::NoTests),
        (_, Some(2)) => "pytest was interrupted (exit 2)".to_string(),
        (_, Some(4)) => "pytest refused its arguments (exit 4)".to_string(),
        (_, Some(code)) => format!("pytest failed inside (exit {code})"),
    };
    Err(StressError::BaselineDidNotRun { why })
}

/// The threaded run must have run (a crash is a finding, an early refusal is not).
fn check_threaded(result: &RunResult, records: &RunRecords) -> Result<(), StressError> {
    let why = match (result.exit, records.exitstatus) {
        (Exit::Signal(_), _) => return Ok(()),
        (Exit::NotFound, _) => "the command was not found in the environment".to_string(),
        (_, None) => format!("pytest ended (exit {}) without reaching the end of its session", result.exit),
        (_, Some(_)) if !records.plugin_loaded => {
            format!("{PLUGIN} was not loaded (is it disabled with -p no:...?)")
        }
        (_, Some(0 | 1)) => return Ok(()),
        (_, Some(code)) => format!("pytest ended with exit {code}"),
    };
    Err(StressError::ThreadedDidNotRun { why })
}

/// Run the suite alone, then under threads, in the free-threaded environment, and classify;
/// with `gil_contrast`, the same in the GIL environment afterwards.
pub fn stress(ctx: &Context, request: &StressRequest) -> Result<StressReport, Error> {
    let pytest = pytest_command(&request.command)?;
    let root = project::find_root(request.project.as_deref(), true)?;
    let mut variants = vec![Variant::Freethreaded];
    if request.gil_contrast {
        variants.push(Variant::Gil);
    }
    let envs: Vec<Environment> = variants.iter().map(|&v| Environment::in_project(&root, v)).collect();
    for env in &envs {
        if !env.exists() {
            return Err(VenvError::NoEnvironments { root }.into());
        }
        if let Some(problem) = env.problem() {
            return Err(VenvError::Broken { env: env.name().to_string(), root, problem }.into());
        }
    }
    let cwd = std::env::current_dir().unwrap_or(root.clone());
    let threads = request.threads.resolve();
    let dir = tempfile::Builder::new()
        .prefix("ftpy-stress-")
        .tempdir()
        .map_err(Error::io("cannot create a temporary directory"))?;
    crate::system::files::write_atomic(
        &dir.path().join("ftpy_stress_report.py"),
        REPORTING_PLUGIN.as_bytes(),
    )
    .map_err(Error::io("cannot write ftpy's reporting plugin"))?;
    let _guard = crate::system::interrupt::Guard::install();
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let runs = StressRuns { pytest: &pytest, dir: dir.path(), cwd: &cwd, threads, request };
    let ft = runs.in_env(ctx, &envs[0], "")?;
    let gil_contrast = match envs.get(1) {
        Some(gil) => {
            let side = runs.in_env(ctx, gil, "gil ")?;
            let c = classify(&side.alone, &side.threaded, side.threaded_signal);
            Some(GilContrast {
                environment: gil.name().to_string(),
                race_candidates: c.race_candidates.into_iter().map(|f| f.id).collect(),
            })
        }
        None => None,
    };

    let classified = classify(&ft.alone, &ft.threaded, ft.threaded_signal);
    let mut gil_enabled_by: BTreeSet<String> = BTreeSet::new();
    gil_enabled_by.extend(ft.alone.gil_enabled_by.iter().cloned());
    gil_enabled_by.extend(ft.threaded.gil_enabled_by.iter().cloned());
    gil_enabled_by.extend(ft.alone_result.gil_enabled_by.iter().cloned());
    gil_enabled_by.extend(ft.threaded_result.gil_enabled_by.iter().cloned());
    Ok(StressReport {
        environment: envs[0].name().to_string(),
        plugin_version: ft.plugin_version,
        threads,
        iterations: request.iterations,
        tests: ft.alone.tests.len(),
        in_parallel: ft.threaded.in_parallel,
        race_candidates: classified.race_candidates,
        fail_either_way: classified.fail_either_way,
        fail_alone_only: classified.fail_alone_only,
        one_thread: classified.one_thread,
        skipped_under_threads: classified.skipped_under_threads,
        not_run_under_threads: classified.not_run_under_threads,
        gil_enabled_by: gil_enabled_by.into_iter().collect(),
        threaded_signal: ft.threaded_signal,
        alone_seconds: seconds(ft.alone_result.wall),
        threaded_seconds: seconds(ft.threaded_result.wall),
        gil_contrast,
    })
}

/// What every environment's two runs share.
struct StressRuns<'a> {
    pytest: &'a PytestCommand,
    /// Holds the reporting plugin and the runs' records.
    dir: &'a Path,
    cwd: &'a Path,
    threads: u32,
    request: &'a StressRequest,
}

/// One environment's two runs, read and checked.
struct EnvRuns {
    plugin_version: String,
    alone: RunRecords,
    alone_result: RunResult,
    threaded: RunRecords,
    threaded_result: RunResult,
    threaded_signal: Option<i32>,
}

impl StressRuns<'_> {
    /// The plugin checked (or installed), then the baseline and the threaded run in `env`.
    fn in_env(&self, ctx: &Context, env: &Environment, label: &str) -> Result<EnvRuns, Error> {
        let plugin_version = ensure_plugin(ctx, env, self.cwd)?;
        let run = |what: &str, colour: u8, extra_args: Vec<String>| -> Result<(RunResult, String), Error> {
            let path = self.dir.join(format!("{}{what}.jsonl", label.replace(' ', "-")));
            let mut command = self.pytest.argv.clone();
            command.extend(["-p".to_string(), "ftpy_stress_report".to_string()]);
            command.extend(extra_args);
            let extra = Extra {
                env: vec![
                    ("PYTHONPATH".into(), python_path_with(self.dir)),
                    ("FTPY_STRESS_REPORT".into(), path.clone().into_os_string()),
                ],
                stdout_to_stderr: self.request.output_to_stderr,
                stop_on_signal: true,
            };
            let prefix = Prefix::new(&format!("{label}{what}"), colour);
            let result = run_both::run_in_with(env, &command, self.cwd, &prefix, Input::Inherit, &extra)
                .map_err(Error::io("cannot start pytest"))?;
            if crate::system::interrupt::requested() {
                return Err(Error::Interrupted {
                    state: "the stress run was stopped; nothing was changed".into(),
                });
            }
            Ok((result, read_bounded(&path)?))
        };

        ctx.reporter.info(format!("{}: the suite alone (the baseline)", env.name()));
        // One thread, one iteration, whatever the project's pytest configuration says (`addopts`).
        let alone_args = ["--parallel-threads", "1", "--iterations", "1"].map(String::from).to_vec();
        let (alone_result, text) = run("alone", 36, alone_args)?;
        let alone = RunRecords::parse(&text, matches!(alone_result.exit, Exit::Signal(_)));
        check_baseline(&alone_result, &alone)?;

        ctx.reporter.info(format!(
            "{}: the suite under {} threads, {} iteration(s) each ({PLUGIN} {plugin_version})",
            env.name(),
            self.threads,
            self.request.iterations
        ));
        let threaded_args = vec![
            "--parallel-threads".to_string(),
            self.threads.to_string(),
            "--iterations".to_string(),
            self.request.iterations.to_string(),
            // The GIL being turned back on is reported, not a reason to stop the run.
            "--ignore-gil-enabled".to_string(),
        ];
        let (threaded_result, text) = run("threads", 35, threaded_args)?;
        let threaded_signal = match threaded_result.exit {
            Exit::Signal(s) => Some(s),
            _ => None,
        };
        let threaded = RunRecords::parse(&text, threaded_signal.is_some());
        check_threaded(&threaded_result, &threaded)?;
        Ok(EnvRuns { plugin_version, alone, alone_result, threaded, threaded_result, threaded_signal })
    }
}

/// The plugin ftpy loads into both runs.
const REPORTING_PLUGIN: &str = include_str!("stress_report.py");

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// `dir` first on the user's PYTHONPATH, which stays theirs after it.
fn python_path_with(dir: &Path) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        dirs.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_os_string())
}

/// A run's records, or nothing when it wrote none; bounded in size.
fn read_bounded(path: &Path) -> Result<String, Error> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(Error::Io { context: format!("cannot read {}", path.display()), source: e }),
    };
    let mut bytes = Vec::new();
    file.take(LARGEST_RECORDS).read_to_end(&mut bytes).map_err(Error::io("cannot read the run's records"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn recognizes_pytest_commands() {
        for ok in [
            "python -m pytest -q",
            "python3 -m pytest",
            "python3.14t -X dev -m pytest tests/",
            "/p/.venv-ft/bin/python -B -m pytest",
            "pytest -k x",
            "py.test",
            "/usr/local/bin/pytest",
        ] {
            assert!(pytest_command(&argv(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "python -m unittest",
            "python tests/run.py",
            "python -c import pytest",
            "python -m",
            "python",
            "pythonw -m pytest",
            "tox -e py",
            "make test",
            "python --version -m pytest",
        ] {
            let err = pytest_command(&argv(refused)).unwrap_err();
            assert!(matches!(err, StressError::NotPytest { .. }), "{refused}");
            assert_eq!(err.exit_code(), ExitCode::Usage);
        }
    }

    #[test]
    fn threads_option() {
        assert_eq!(parse_threads("auto"), Ok(Threads::Auto));
        assert_eq!(parse_threads("8"), Ok(Threads::Count(8)));
        for bad in ["0", "1", "-3", "many", "99999"] {
            assert!(parse_threads(bad).is_err(), "{bad}");
        }
        assert!(Threads::Auto.resolve() >= 2);
        assert!(new_enough("0.10.0") && new_enough("0.6.0") && !new_enough("0.5.0") && !new_enough("junk"));
    }

    fn line(id: &str, when: &str, outcome: &str, message: &str) -> String {
        format!(
            r#"{{"event": "report", "id": "{id}", "when": "{when}", "outcome": "{outcome}", "xfail": false, "message": "{message}"}}"#
        )
    }

    /// A run's records: `(id, [(phase, outcome)])` with a start line each.
    fn records(tests: &[(&str, &[(&str, &str)])], finish: Option<&str>) -> String {
        let mut text = String::new();
        for (id, phases) in tests {
            text.push_str(&format!("{{\"event\": \"start\", \"id\": \"{id}\"}}\n"));
            for (when, outcome) in phases.iter() {
                text.push_str(&line(id, when, outcome, &format!("{outcome} in {when}")));
                text.push('\n');
            }
        }
        if let Some(finish) = finish {
            text.push_str(finish);
            text.push('\n');
        }
        text
    }

    const PASS: &[(&str, &str)] = &[("setup", "passed"), ("call", "passed"), ("teardown", "passed")];
    const FAIL: &[(&str, &str)] = &[("setup", "passed"), ("call", "failed"), ("teardown", "passed")];
    const SETUP_ERROR: &[(&str, &str)] = &[("setup", "failed"), ("teardown", "passed")];
    const SKIP: &[(&str, &str)] = &[("setup", "skipped"), ("teardown", "passed")];
    const TEARDOWN_ERROR: &[(&str, &str)] =
        &[("setup", "passed"), ("call", "passed"), ("teardown", "failed")];

    #[test]
    fn classifies_the_two_runs() {
        let finish_alone = r#"{"event": "finish", "exitstatus": 1, "plugin_loaded": true, "thread_unsafe": {}, "in_parallel": 0}"#;
        let finish_threads = r#"{"event": "finish", "exitstatus": 1, "plugin_loaded": true, "thread_unsafe": {"t.py::test_mock": "calls thread-unsafe function: unittest.mock.patch"}, "in_parallel": 7}"#;
        let alone = RunRecords::parse(
            &records(
                &[
                    ("t.py::test_race[a-1]", PASS),
                    ("t.py::test_safe", PASS),
                    ("t.py::test_broken", FAIL),
                    ("t.py::test_fixture_breaks", SETUP_ERROR),
                    ("t.py::test_flaky", FAIL),
                    ("t.py::test_mock", PASS),
                    ("t.py::test_skip_threads", PASS),
                    ("t.py::test_cleanup_race", PASS),
                    ("t.py::test_skipped", SKIP),
                ],
                Some(finish_alone),
            ),
            false,
        );
        let threaded = RunRecords::parse(
            &records(
                &[
                    ("t.py::test_race[a-1]", FAIL),
                    ("t.py::test_safe", PASS),
                    ("t.py::test_broken", FAIL),
                    ("t.py::test_fixture_breaks", SETUP_ERROR),
                    ("t.py::test_flaky", PASS),
                    ("t.py::test_mock", PASS),
                    ("t.py::test_skip_threads", SKIP),
                    ("t.py::test_cleanup_race", TEARDOWN_ERROR),
                    ("t.py::test_skipped", SKIP),
                ],
                Some(finish_threads),
            ),
            false,
        );
        let c = classify(&alone, &threaded, None);
        let ids = |v: &[TestFinding]| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&c.race_candidates), ["t.py::test_race[a-1]", "t.py::test_cleanup_race"]);
        assert_eq!(c.race_candidates[0].message, "failed in call");
        assert_eq!(c.race_candidates[1].threaded, Outcome::Error);
        assert_eq!(ids(&c.fail_either_way), ["t.py::test_broken", "t.py::test_fixture_breaks"]);
        assert_eq!(c.fail_either_way[1].alone, Outcome::Error);
        assert_eq!(ids(&c.fail_alone_only), ["t.py::test_flaky"]);
        assert_eq!(ids(&c.skipped_under_threads), ["t.py::test_skip_threads"]);
        assert_eq!(c.skipped_under_threads[0].message, "skipped in setup");
        assert_eq!(
            c.one_thread,
            [OneThread {
                id: "t.py::test_mock".into(),
                reason: "calls thread-unsafe function: unittest.mock.patch".into()
            }]
        );
        assert!(c.not_run_under_threads.is_empty());
        assert_eq!(threaded.in_parallel, 7);
        assert!(check_baseline(&ok(1), &alone).is_ok());
    }

    fn ok(code: i32) -> RunResult {
        RunResult { exit: Exit::Code(code), wall: Duration::ZERO, gil_enabled_by: None }
    }

    #[test]
    fn xfail_is_neither_pass_nor_failure() {
        let xfailed = r#"{"event": "report", "id": "t::x", "when": "call", "outcome": "skipped", "xfail": true, "message": "known"}"#;
        let xpassed = r#"{"event": "report", "id": "t::y", "when": "call", "outcome": "passed", "xfail": true, "message": ""}"#;
        let run = RunRecords::parse(&format!("{xfailed}\n{xpassed}\n"), false);
        assert_eq!(run.outcome("t::x").unwrap().outcome, Outcome::Xfailed);
        assert_eq!(run.outcome("t::y").unwrap().outcome, Outcome::Xpassed);
        // Xfailed alone and failing under threads (strict) is no verdict.
        let threaded = RunRecords::parse(&records(&[("t::x", FAIL)], None), false);
        assert_eq!(
            classify(&run, &threaded, None),
            Classified { not_run_under_threads: vec!["t::y".into()], ..Classified::default() }
        );
    }

    #[test]
    fn a_crash_under_threads_names_the_running_test() {
        let alone =
            RunRecords::parse(&records(&[("t::a", PASS), ("t::b", PASS), ("t::c", PASS)], None), false);
        // The process died while t::b ran; the half-written last line is ignored.
        let text = format!(
            "{}{{\"event\": \"start\", \"id\": \"t::b\"}}\n{{\"event\": \"rep",
            records(&[("t::a", PASS)], None)
        );
        let threaded = RunRecords::parse(&text, true);
        let c = classify(&alone, &threaded, Some(11));
        assert_eq!(c.race_candidates.len(), 1);
        assert_eq!(
            (c.race_candidates[0].id.as_str(), c.race_candidates[0].threaded),
            ("t::b", Outcome::Crashed)
        );
        assert_eq!(c.not_run_under_threads, ["t::c"]);
        assert!(check_threaded(&RunResult { exit: Exit::Signal(11), ..ok(0) }, &threaded).is_ok());
        // The same crash alone is no report: an error that names the test.
        match check_baseline(&RunResult { exit: Exit::Signal(11), ..ok(0) }, &threaded) {
            Err(StressError::BaselineDidNotRun { why }) => {
                assert_eq!(why, "pytest ended by signal 11 while t::b ran")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_baseline_that_did_not_run_is_an_error() {
        let empty = RunRecords::parse("", false);
        assert!(matches!(check_baseline(&ok(1), &empty), Err(StressError::BaselineDidNotRun { .. })));
        let collect = RunRecords::parse(
            "{\"event\": \"collect_error\", \"id\": \"tests/test_x.py\", \"message\": \"ImportError\"}\n\
             {\"event\": \"finish\", \"exitstatus\": 2}\n",
            false,
        );
        match check_baseline(&ok(2), &collect) {
            Err(StressError::CollectionErrors { ids }) => assert_eq!(ids, ["tests/test_x.py"]),
            other => panic!("{other:?}"),
        }
        let none = RunRecords::parse("{\"event\": \"finish\", \"exitstatus\": 5}\n", false);
        assert!(matches!(check_baseline(&ok(5), &none), Err(StressError::NoTests)));
        let usage = RunRecords::parse("{\"event\": \"finish\", \"exitstatus\": 4}\n", false);
        assert!(matches!(check_baseline(&ok(4), &usage), Err(StressError::BaselineDidNotRun { .. })));
        let not_loaded = RunRecords::parse(
            &records(&[("t::a", PASS)], Some("{\"event\": \"finish\", \"exitstatus\": 0}")),
            false,
        );
        assert!(matches!(check_threaded(&ok(0), &not_loaded), Err(StressError::ThreadedDidNotRun { .. })));
    }

    #[test]
    fn the_verdict() {
        let finding = |id: &str| TestFinding {
            id: id.into(),
            alone: Outcome::Passed,
            threaded: Outcome::Failed,
            message: String::new(),
        };
        let mut report = StressReport {
            environment: ".venv-ft".into(),
            plugin_version: "0.10.0".into(),
            threads: 4,
            iterations: 1,
            tests: 3,
            in_parallel: 3,
            race_candidates: vec![],
            fail_either_way: vec![],
            fail_alone_only: vec![],
            one_thread: vec![],
            skipped_under_threads: vec![],
            not_run_under_threads: vec![],
            gil_enabled_by: vec![],
            threaded_signal: None,
            alone_seconds: 0.5,
            threaded_seconds: 1.0,
            gil_contrast: None,
        };
        assert!(report.verdict().is_ok());
        report.fail_either_way.push(finding("t::broken"));
        assert_eq!(report.verdict().unwrap_err().exit_code(), ExitCode::RunFailed);
        report.race_candidates.push(finding("t::race"));
        let err = report.verdict().unwrap_err();
        assert_eq!(err.exit_code(), ExitCode::RacesFound);
        assert_eq!(err.to_string(), "1 race candidate: a test that passes alone but fails under 4 threads");
    }

    /// A failure message holding a lone surrogate (`assert s == "\ud800"` shows one in its
    /// diff) is written so the line still parses: the failing test is not lost as "not run".
    #[test]
    fn the_reporting_plugin_writes_lines_a_lone_surrogate_cannot_break() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.jsonl");
        let code = r#"import runpy, sys
plugin = runpy.run_path(sys.argv[1])
plugin["_write"]({"event": "report", "id": "t::s\u00e9", "when": "call", "outcome": "failed", "message": "- \ud800"})
"#;
        let plugin = dir.path().join("ftpy_stress_report.py");
        std::fs::write(&plugin, REPORTING_PLUGIN).unwrap();
        let status = std::process::Command::new("python3")
            .args(["-c", code])
            .arg(&plugin)
            .env("FTPY_STRESS_REPORT", &out)
            .status()
            .expect("python3 runs");
        assert!(status.success());
        let run = RunRecords::parse(&std::fs::read_to_string(&out).unwrap(), false);
        let test = run.outcome("t::s\u{e9}").expect("the line parsed");
        assert_eq!(test.outcome, Outcome::Failed);
        assert_eq!(test.message, "- ?");
    }
}
