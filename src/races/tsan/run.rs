//! `ftpy run --tsan -- CMD`: the command in `.venv-tsan` with `TSAN_OPTIONS` that keep it
//! running past a report (`halt_on_error=0`), keep its own exit status (`exitcode=0`), apply
//! CPython's suppressions and write a report file per process into a private directory; then
//! those files, grouped and attributed ([`report::group`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::project::{self, TSAN_ENV};
use crate::projects::run_both::RunFailed;
use crate::projects::run_both::{self, Extra, Input, Prefix, RunResult};
use crate::projects::twin_venvs::Environment;
use crate::races::RacesFound;
use crate::races::tsan::TsanRunError;
use crate::races::tsan::owners::Owners;
use crate::races::tsan::report::{self, STACK_TRACE_FORMAT, TsanReport};
use crate::races::tsan::suppressions;

/// What `ftpy run --tsan` asks for.
pub struct TsanRunRequest {
    /// `--project`; else found from the current directory.
    pub project: Option<PathBuf>,
    pub command: Vec<String>,
    /// The command's stdout goes to stderr (for `--json`).
    pub output_to_stderr: bool,
}

/// How the run went and what TSan reported.
pub struct TsanRun {
    pub env: PathBuf,
    /// The installation `.venv-tsan` was made from, e.g. `3.14.6t-tsan`.
    pub key: String,
    pub result: RunResult,
    /// CPython's suppressions file the run used, if the installation carries one.
    pub suppressions: Option<PathBuf>,
    pub report: TsanReport,
}

/// The ThreadSanitizer environment of the project at `root`, checked: it exists, was completed
/// by `ftpy venv --tsan`, and was made from a TSan installation.
pub fn tsan_environment(root: &Path) -> Result<(Environment, String, PathBuf), TsanRunError> {
    let env = Environment { variant: Variant::Freethreaded, path: root.join(TSAN_ENV) };
    if !env.exists() {
        return Err(TsanRunError::NoEnvironment { root: root.to_path_buf() });
    }
    if let Some(problem) = env.problem() {
        return Err(TsanRunError::Broken { root: root.to_path_buf(), problem });
    }
    let record = env.record().expect("problem() checked the record");
    if !suppressions::is_tsan_key(&record.key) {
        return Err(TsanRunError::NotTsan { root: root.to_path_buf(), key: record.key });
    }
    // <prefix>/bin/python3.14t
    let prefix =
        record.base_interpreter.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    Ok((env, record.key, prefix))
}

/// A value for TSAN_OPTIONS, quoted when it holds a separator (space, comma, colon).
pub fn option_value(value: &str) -> Result<String, TsanRunError> {
    if !value.contains([' ', ',', ':', '\t', '\n', '\'', '"']) {
        return Ok(value.to_string());
    }
    if !value.contains('"') && !value.contains('\n') {
        return Ok(format!("\"{value}\""));
    }
    if !value.contains('\'') && !value.contains('\n') {
        return Ok(format!("'{value}'"));
    }
    Err(TsanRunError::Unquotable { value: value.to_string() })
}

/// The user's own TSAN_OPTIONS first, then ftpy's: TSan reads them in order and the last of a
/// name wins, so ftpy's `halt_on_error`, `exitcode`, `log_path`, `stack_trace_format` and
/// `suppressions` replace the user's; everything else the user set stays.
pub fn compose_options(
    user: Option<&str>,
    suppressions: Option<&Path>,
    log_dir: &Path,
) -> Result<String, TsanRunError> {
    let mut options: Vec<String> =
        user.map(str::trim).filter(|u| !u.is_empty()).map(String::from).into_iter().collect();
    options.push("halt_on_error=0".into());
    options.push("exitcode=0".into());
    options.push(format!("log_path={}", option_value(&log_dir.join("tsan").to_string_lossy())?));
    options.push(format!("stack_trace_format={}", option_value(STACK_TRACE_FORMAT)?));
    if let Some(file) = suppressions {
        options.push(format!("suppressions={}", option_value(&file.to_string_lossy())?));
    }
    Ok(options.join(" "))
}

/// The site-packages directories of an environment or installation (`lib/python3.*/site-packages`).
fn lib_dirs(prefix: &Path, leaf: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(prefix.join("lib")) else { return vec![] };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join(leaf))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Run the command in `.venv-tsan`, then read and group what TSan wrote.
pub fn run_tsan(ctx: &Context, request: &TsanRunRequest) -> Result<TsanRun, Error> {
    let root = project::find_root(request.project.as_deref(), true)?;
    let (env, key, prefix) = tsan_environment(&root)?;
    let suppressions = suppressions::suppressions_file(&prefix);
    if suppressions.is_none() {
        ctx.reporter.warn(format!(
            "{key} carries no CPython suppressions file: CPython's own known races will be reported (as CPython's)"
        ));
    }
    let reports = tempfile::Builder::new()
        .prefix("ftpy-tsan-")
        .tempdir()
        .map_err(Error::io("cannot create a directory for TSan's reports"))?;
    let user = std::env::var("TSAN_OPTIONS").ok();
    let options = compose_options(user.as_deref(), suppressions.as_deref(), reports.path())?;
    ctx.reporter.info(format!("running in {TSAN_ENV} ({key}) with TSAN_OPTIONS={options}"));
    let cwd = std::env::current_dir().unwrap_or(root.clone());
    let result = run_both::run_in_with(
        &env,
        &request.command,
        &cwd,
        &Prefix::new("tsan", 35),
        Input::Inherit,
        &Extra {
            env: vec![("TSAN_OPTIONS".to_string(), OsString::from(&options))],
            stdout_to_stderr: request.output_to_stderr,
            stop_on_signal: false,
        },
    )
    .map_err(Error::io("cannot start the command"))?;
    let parsed = report::read_dir(reports.path())
        .map_err(|source| TsanRunError::Reports { dir: reports.path().to_path_buf(), source })?;
    let owners = Owners::scan(
        &lib_dirs(&env.path, "site-packages"),
        lib_dirs(&prefix, "lib-dynload").first().map(|p| p.as_path()),
        Some(&prefix),
    );
    let report = report::group(&parsed, &owners);
    Ok(TsanRun { env: env.path, key, result, suppressions, report })
}

/// Races outside CPython fail the run ([`RacesFound`]); else the command's own failure does
/// ([`RunFailed`]); CPython's own races are listed but fail nothing.
pub fn verdict(run: &TsanRun) -> Result<(), Error> {
    let mut owners: Vec<String> = Vec::new();
    for race in run.report.outside_cpython() {
        let owner = race.owner.to_string();
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    if !owners.is_empty() {
        let count = run.report.outside_cpython().count();
        return Err(RacesFound {
            summary: format!(
                "ThreadSanitizer found {count} unique race{} outside CPython, in {}",
                if count == 1 { "" } else { "s" },
                owners.join(", ")
            ),
            hints: vec![
                "each race above shows its two stacks: the access and the one it raced with".into(),
                "`ftpy run --tsan --json` gives each stack's top frames; guard the shared state with a lock or make it atomic".into(),
            ],
        }
        .into());
    }
    if !run.result.exit.success() {
        return Err(RunFailed { sides: vec![TSAN_ENV.to_string()] }.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_options_come_first_and_ftpys_win() {
        let options = compose_options(
            Some(" verbosity=1 halt_on_error=1 "),
            Some(Path::new("/h/supp.txt")),
            Path::new("/tmp/r"),
        )
        .unwrap();
        assert_eq!(
            options,
            "verbosity=1 halt_on_error=1 halt_on_error=0 exitcode=0 log_path=/tmp/r/tsan \
             stack_trace_format=\"    #%n %f %S (%m+%o)\" suppressions=/h/supp.txt"
        );
        let spaced = compose_options(None, None, Path::new("/tmp/a b:c")).unwrap();
        assert!(spaced.starts_with("halt_on_error=0 exitcode=0 log_path=\"/tmp/a b:c/tsan\" "), "{spaced}");
        assert!(!spaced.contains("suppressions"));
        assert_eq!(
            option_value("it's \"x\"").map_err(|e| e.to_string()).unwrap_err(),
            "cannot pass it's \"x\" in TSAN_OPTIONS: it holds both kinds of quote"
        );
    }
}
