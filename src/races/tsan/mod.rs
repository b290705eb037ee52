//! `ftpy run --tsan`: the command in the ThreadSanitizer environment (`.venv-tsan`), then its
//! reports grouped into unique races and attributed. In the order a run flows:
//!
//! - [`report`]: reads TSan's report files (one per process), parses each warning block and its
//!   stacks, and groups the warnings into unique races by the top frames of their two stacks.
//! - [`owners`]: whose code a frame's shared object is: an extension module of the environment
//!   (with its distribution), CPython itself, a system library.
//! - [`run`]: finds and checks `.venv-tsan`, composes `TSAN_OPTIONS` (a report file per process
//!   in a private directory, CPython's suppressions), runs the command and groups what TSan wrote.
//! - [`show`]: the report as text (the command prints it; `--json` prints [`report::TsanReport`]).
//! - [`venv`]: `ftpy venv --tsan`, the third environment: C extensions built from source with
//!   `-fsanitize=thread`, pure-Python packages from their wheels.
//! - [`suppressions`]: what a TSan installation is and where its suppressions file lives.
//!
//! [`TsanRunError`] covers what stops a run before it starts or its reports from being read.

use std::path::PathBuf;

use crate::projects::project::TSAN_ENV;

pub mod owners;
pub mod report;
pub mod run;
pub mod show;
pub mod suppressions;
pub mod venv;

#[derive(Debug, thiserror::Error)]
pub enum TsanRunError {
    #[error("{} has no ThreadSanitizer environment ({TSAN_ENV})", root.display())]
    NoEnvironment { root: PathBuf },
    #[error("{TSAN_ENV} in {} cannot be used: {problem}", root.display())]
    Broken { root: PathBuf, problem: String },
    #[error("{TSAN_ENV} in {} was made from {key}, which is not a ThreadSanitizer build", root.display())]
    NotTsan { root: PathBuf, key: String },
    #[error("no ThreadSanitizer build installed fits {wanted}; installed: {}", if installed.is_empty() { "none".to_string() } else { installed.join(", ") })]
    NotInstalled { wanted: String, installed: Vec<String> },
    #[error("cannot ask {key} which compiler built it: {message}")]
    Compiler { key: String, message: String },
    #[error("cannot pass {value} in TSAN_OPTIONS: it holds both kinds of quote")]
    Unquotable { value: String },
    #[error("cannot read TSan's reports in {}", dir.display())]
    Reports {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Diagnose for TsanRunError {
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            TsanRunError::NoEnvironment { .. }
            | TsanRunError::Broken { .. }
            | TsanRunError::NotInstalled { .. } => ExitCode::NotFound,
            TsanRunError::Compiler { .. } => ExitCode::CheckFailed,
            TsanRunError::NotTsan { .. } => ExitCode::CheckFailed,
            TsanRunError::Unquotable { .. } => ExitCode::Usage,
            TsanRunError::Reports { .. } => ExitCode::LocalError,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            TsanRunError::NoEnvironment { .. } => vec![
                "make it with `ftpy venv --tsan` in the project directory".into(),
                "that needs a ThreadSanitizer build: `ftpy install 3.14t --profile tsan`".into(),
            ],
            TsanRunError::Broken { .. } | TsanRunError::NotTsan { .. } => {
                vec![
                    "recreate it with `ftpy venv --tsan` (`ftpy list` shows the ThreadSanitizer builds)"
                        .into(),
                ]
            }
            TsanRunError::NotInstalled { .. } => vec![
                "build one with `ftpy install 3.14t --profile tsan` (slow; the build cache keeps it)".into(),
                "`ftpy list` shows what is installed".into(),
            ],
            TsanRunError::Compiler { key, .. } => {
                vec![format!("check the interpreter runs (`ftpy which {key}`), or reinstall it")]
            }
            TsanRunError::Unquotable { .. } => {
                vec!["use a home or temporary directory whose path has no quote characters (TMPDIR, FTPY_HOME)".into()]
            }
            TsanRunError::Reports { .. } => {
                vec!["check the temporary directory (TMPDIR) is readable and has space".into()]
            }
        }
    }
}
