//! The error a command ends with: its cause chain, the hints that tell a person what to do next,
//! and an exit code per category.
//!
//! The codes are one typed enum, [`ExitCode`], with what each means.

use std::io;
use std::path::{Path, PathBuf};

use crate::interpreters::build::BuildError;
use crate::interpreters::post_install_check::CheckError;
use crate::interpreters::download::DownloadError;
use crate::interpreters::home::HomeError;
use crate::interpreters::recipe::RecipeError;
use crate::interpreters::unpack::UnpackError;
use crate::interpreters::version::VersionError;

pub mod exit_code;

pub use exit_code::ExitCode;

/// What an error tells the person who ran ftpy beyond its message: the category its exit code
/// names, and what to do next. Each subsystem implements it for its own error types, beside them.
pub trait Diagnose {
    fn exit_code(&self) -> ExitCode;
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
}


fn in_use_keys(users: &[(String, Vec<std::path::PathBuf>)]) -> String {
    let keys: Vec<&str> = users.iter().map(|(k, _)| k.as_str()).collect();
    format!("{} {}", keys.join(" and "), if keys.len() == 1 { "is" } else { "are" })
}

fn in_use_list(users: &[(String, Vec<std::path::PathBuf>)]) -> String {
    let lines: Vec<String> = users
        .iter()
        .flat_map(|(k, envs)| envs.iter().map(move |e| format!("  {} ({k})", e.display())))
        .collect();
    lines.join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    BuildCache(#[from] crate::interpreters::build_cache::BuildCacheError),
    #[error("{key} failed its checks and was not installed")]
    Check {
        key: String,
        log: PathBuf,
        #[source]
        source: CheckError,
    },
    #[error(transparent)]
    NotReady(#[from] crate::system::doctor::NotReady),
    #[error("{} is damaged: {problem}", prefix.display())]
    Damaged { key: String, prefix: PathBuf, problem: String },
    #[error("cannot finish or undo what an interrupted install of {key} left; nothing was changed")]
    Recovery {
        key: String,
        journal: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Installations that environments made by `ftpy venv` are based on: (key, environments).
    #[error("{} in use by twin environments:\n{}", in_use_keys(users), in_use_list(users))]
    InUse { users: Vec<(String, Vec<std::path::PathBuf>)> },
    #[error("{request} is not installed")]
    NotInstalled {
        request: String,
        /// What to suggest: installing it (`which`) or looking at what is installed (`uninstall`).
        suggest_install: bool,
    },
    #[error(transparent)]
    Venv(#[from] crate::projects::twin_venvs::VenvError),
    #[error(transparent)]
    Scan(#[from] crate::projects::gil_scan::ScanError),
    #[error(transparent)]
    MakeTwins(#[from] crate::projects::make_twins::MakeTwinsError),
    #[error(transparent)]
    RunFailed(#[from] crate::projects::run_both::RunFailed),
    /// A signal stopped the work; `state` says what was left as it was.
    #[error("interrupted: {state}")]
    Interrupted { state: String },
    #[error(transparent)]
    Wheels(#[from] crate::wheels::WheelsError),
    #[error("{message}")]
    Usage { message: String, hints: Vec<String> },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A failure with what was being done when it happened.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// For `map_err`: an I/O error with what was being attempted.
    pub fn io(context: &str) -> impl FnOnce(io::Error) -> Error + '_ {
        move |source| Error::Io { context: context.to_string(), source }
    }

    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context { context: context.into(), source: Box::new(self) }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Download(e) => e.exit_code(),
            Error::Interrupted { .. }
            | Error::Build(BuildError::Interrupted { .. }) => ExitCode::Interrupted,
            // The log's disk, not the build: a local error (issue 12: a full disk exited 6).
            Error::Build(BuildError::Log { .. }) => ExitCode::LocalError,
            Error::Version(_) | Error::Usage { .. } => ExitCode::Usage,
            Error::Recipe(RecipeError::NoMatch { .. } | RecipeError::NoFreethreadedBuild { .. }) => ExitCode::NotFound,
            Error::Recipe(RecipeError::NoPair { .. }) => ExitCode::Usage,
            Error::Recipe(_) => ExitCode::Usage,
            Error::NotInstalled { .. } => ExitCode::NotFound,
            Error::Damaged { .. } => ExitCode::Damaged,
            Error::Recovery { .. } => ExitCode::LocalError,
            Error::Unpack(UnpackError::Unsafe { .. } | UnpackError::TooLarge { .. }) => ExitCode::UnsafeArchive,
            Error::Unpack(_) => ExitCode::LocalError,
            Error::Build(_) => ExitCode::BuildFailed,
            Error::NotReady(e) => e.exit_code(),
            Error::InUse { .. } => ExitCode::InUse,
            Error::BuildCache(_) => ExitCode::LocalError,
            Error::Check { .. } => ExitCode::CheckFailed,
            Error::Home(_) | Error::Io { .. } => ExitCode::LocalError,
            Error::Wheels(e) => e.exit_code(),
            Error::Venv(e) => e.exit_code(),
            Error::Scan(e) => e.exit_code(),
            Error::MakeTwins(e) => e.exit_code(),
            Error::RunFailed(e) => e.exit_code(),
            Error::Context { source, .. } => source.exit_code(),
        }
    }

    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Version(VersionError::NoFreethreadingBefore313(typed)) => {
                let mut hints = typo_hint(typed);
                hints.push("ask for 3.13t or newer (`ftpy list --available`), or drop the `t` for a GIL-only build".into());
                hints
            }
            Error::Recipe(RecipeError::NoPair { .. }) => vec![
                "ask for 3.13t or newer (`ftpy list --available`), or drop the `t` for a GIL-only build".into(),
            ],
            Error::Version(_) => vec!["a version looks like 3.13, 3.13t, 3.13.5, 3.13.5t or 3.15.0b4t".into()],
            Error::Recipe(RecipeError::NoMatch { request, .. })
                if request.series().is_some_and(|s| s < crate::interpreters::version::FIRST_FREETHREADED) =>
            {
                vec!["ftpy's recipes start at 3.13, the first series with a free-threaded build".into()]
            }
            Error::Recipe(RecipeError::NoMatch { .. }) => vec![
                "`ftpy list --available` shows every release the recipes know".into(),
                "a release newer than ftpy's recipes needs a recipe file in the directory named by FTPY_RECIPES, or a newer ftpy".into(),
            ],
            Error::Recipe(RecipeError::NoFreethreadedBuild { .. }) => {
                vec!["ask for the GIL build explicitly (no `t`) if that is what you want".into()]
            }
            Error::Recipe(RecipeError::Invalid { .. } | RecipeError::ReadFile { .. }) => {
                vec!["fix or remove the file, or unset FTPY_RECIPES".into()]
            }
            Error::Recipe(RecipeError::Duplicate { .. }) => {
                vec!["keep that release in one of the two files: which one wins must not depend on file names".into()]
            }
            Error::Recipe(RecipeError::DigestChanged { published, .. }) => vec![
                "a different sha256 for a published release means different bytes than upstream published; nothing was downloaded or built".into(),
                format!("if you made that tarball yourself and mean it, add `replaces_sha256 = \"{published}\"` to that [[release]] entry; otherwise remove the override"),
            ],
            Error::Recipe(RecipeError::ReadDir { .. }) => {
                vec!["FTPY_RECIPES (or --recipes) must name an existing directory of recipe files".into()]
            }
            Error::NotInstalled { request, suggest_install: true } => {
                vec![format!("install it with `ftpy install {request}`")]
            }
            Error::Damaged { key, prefix, .. } => vec![
                "ftpy does not delete what it cannot prove it left half-made: it may hold installed packages".into(),
                format!("`ftpy install --reinstall {key}` replaces it and keeps the old tree under {}", prefix.parent().and_then(Path::parent).map(|h| h.join("damaged")).unwrap_or_default().display()),
                format!("`ftpy uninstall {key}` removes it"),
            ],
            Error::Recovery { key, journal, .. } => vec![
                format!("the journal {} says what was being moved; fix the cause above and run the command again", journal.display()),
                format!("to settle it by hand: make versions/{key} the tree you want (a set-aside one is in tmp/previous-{key}-*), then delete the journal"),
            ],
            Error::NotInstalled { suggest_install: false, .. } => {
                vec!["`ftpy list` shows what is installed".into()]
            }
            Error::Home(_) => vec!["set FTPY_HOME to a directory you can write to".into()],
            Error::Download(e) => e.hints(),
            Error::Unpack(UnpackError::Unsafe { .. } | UnpackError::TooLarge { .. }) => {
                vec!["nothing was installed; the archive matched the sha256 its recipe names, so check that recipe (FTPY_RECIPES)".into()]
            }
            Error::Build(e @ BuildError::Log { .. }) => e.log_hints(),
            Error::Build(e) => {
                let mut hints = Vec::new();
                if let Some(dep) = e.missing_dependency() {
                    hints.push(dep.install_hint());
                    hints.push("`./install.sh --build-deps` installs everything CPython needs on Debian, Ubuntu, Fedora and Alpine".into());
                }
                if let Some(log) = e.log_path() {
                    hints.push(format!("the full build log is {}", log.display()));
                }
                hints
            }
            Error::Check { log, source, .. } => {
                let mut hints = source.hints();
                if !log.as_os_str().is_empty() {
                    hints.push(format!("the build log is {}", log.display()));
                }
                hints
            }
            Error::Usage { hints, .. } => hints.clone(),
            Error::InUse { users } => vec![
                format!(
                    "those environments stop working without it: `ftpy uninstall --force {}` removes it anyway",
                    users.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>().join(" ")
                ),
                "or remove the environments first (they are directories), or keep the installation".into(),
            ],
            Error::NotReady(e) => e.hints(),
            Error::Wheels(e) => e.hints(),
            Error::Venv(e) => e.hints(),
            Error::Scan(e) => e.hints(),
            Error::MakeTwins(e) => e.hints(),
            Error::RunFailed(e) => e.hints(),
            Error::Context { source, .. } => source.hints(),
            _ => vec![],
        }
    }
}

/// "did you mean" for a request refused before the recipes were consulted (`3.1.4t`), from
/// the built-in recipes.
fn typo_hint(typed: &str) -> Vec<String> {
    let Ok(book) = crate::interpreters::recipe::RecipeBook::load(None) else { return Vec::new() };
    let close = crate::interpreters::recipe::did_you_mean(&book, typed);
    if close.is_empty() {
        return Vec::new();
    }
    vec![format!("did you mean {}?", crate::interpreters::recipe::one_of(&close))]
}


/// Print `error:`, the cause chain and the hints on stderr; return the exit code.
pub fn report(error: &Error) -> std::process::ExitCode {
    report_nonfatal(error);
    error.exit_code().into()
}

/// Print an error that does not end the command (one of several installs). Any password in a
/// URL it quotes is masked, whichever part of ftpy wrote the message.
pub fn report_nonfatal(error: &Error) {
    use crate::output::redact::redact;
    eprintln!("error: {}", redact(&error.to_string()));
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        eprintln!("  caused by: {}", redact(&e.to_string()));
        cause = e.source();
    }
    for hint in error.hints() {
        eprintln!("hint: {}", redact(&hint));
    }
}
