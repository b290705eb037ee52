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

fn pair_not_installed(wanted: &str, source: &str, home: &std::path::Path, installed: &[String]) -> String {
    if installed.is_empty() && wanted == "any version" {
        // Nothing asked for a version and nothing is installed: say that, plainly.
        return format!(
            "no pair (the GIL and the free-threaded build of one version) is installed in {}",
            home.display()
        );
    }
    let installed = if installed.is_empty() { "none".to_string() } else { installed.join(", ") };
    format!(
        "no installed pair matches {wanted} (from {source}); installed pairs in {}: {installed}",
        home.display()
    )
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
    #[error("{}", pair_not_installed(wanted, source_of_wish, home, installed))]
    PairNotInstalled {
        wanted: String,
        source_of_wish: String,
        /// The request for `ftpy install --pair`, when the wish is one.
        install_request: Option<String>,
        installed: Vec<String>,
        /// An installed build the wish accepts whose twin is missing: (installed, missing).
        half_pair: Option<(String, String)>,
        home: PathBuf,
    },
    #[error("{}", describe_requirements_failure(env, key, failure))]
    Requirements {
        env: String,
        key: String,
        failure: crate::projects::pip::PipFailure,
        /// The `ftpy wheels build ...` command for these requirements, for the hint.
        rebuild_command: String,
    },
    #[error(transparent)]
    Venv(#[from] crate::projects::twin_venvs::VenvError),
    #[error(transparent)]
    Scan(#[from] crate::projects::gil_scan::ScanError),
    #[error("{} has no twin environments ({} and {})", root.display(), crate::projects::project::GIL_ENV, crate::projects::project::FT_ENV)]
    NoEnvironments { root: PathBuf },
    /// A signal stopped the work; `state` says what was left as it was.
    #[error("interrupted: {state}")]
    Interrupted { state: String },
    #[error("{env} in {} cannot be used: {problem}", root.display())]
    BrokenEnvironment { env: String, root: PathBuf, problem: String },
    #[error("the command failed in {}", sides.join(" and "))]
    RunFailed { sides: Vec<String> },
    #[error(transparent)]
    Index(#[from] crate::wheels::index::IndexError),
    #[error(transparent)]
    Coverage(#[from] crate::wheels::resolve::CoverageError),
    #[error("{count} of {total} requirements have no usable wheel for {target}")]
    WheelsMissing { count: usize, total: usize, target: String, must_build: usize, not_found: usize },
    #[error("{} could not be built: {}", if failed.len() == 1 { "1 package".to_string() } else { format!("{} packages", failed.len()) }, failed.join(", "))]
    WheelBuild { failed: Vec<String>, hints: Vec<String> },
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

    /// Stopped by a signal while replacing a project's environments, which were put back.
    pub fn interrupted_venv() -> Error {
        Error::Interrupted { state: "the project's environments are as they were before".into() }
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
            Error::PairNotInstalled { .. } | Error::NoEnvironments { .. } => ExitCode::NotFound,
            Error::Requirements { .. } => ExitCode::RequirementsFailed,
            Error::Venv(crate::projects::twin_venvs::VenvError::Wrong { .. }) => ExitCode::CheckFailed,
            Error::Venv(_) | Error::Scan(_) => ExitCode::LocalError,
            Error::RunFailed { .. } => ExitCode::RunFailed,
            Error::BrokenEnvironment { .. } => ExitCode::NotFound,
            Error::WheelsMissing { .. } => ExitCode::WheelsMissing,
            Error::WheelBuild { .. } => ExitCode::WheelBuildFailed,
            Error::Index(e) | Error::Coverage(crate::wheels::resolve::CoverageError::Index(e)) => match e {
                crate::wheels::index::IndexError::Fetch { .. }
                | crate::wheels::index::IndexError::AllFailed { .. } => ExitCode::Network,
                _ => ExitCode::Usage,
            },
            Error::Coverage(_) => ExitCode::Usage,
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
            Error::PairNotInstalled { install_request, half_pair, .. } => {
                let mut hints = Vec::new();
                if let Some((have, missing)) = half_pair {
                    hints.push(format!("{have} is installed without its twin: `ftpy install {missing}` completes the pair"));
                }
                match install_request {
                    Some(request) => hints.push(format!(
                        "install a pair with `ftpy install --pair {request}`, or add --install to this command"
                    )),
                    None => hints.push("no release in ftpy's recipes satisfies it (`ftpy list --available`)".into()),
                }
                hints.push("`ftpy list` shows what is installed; FTPY_HOME (or --home) chooses the home".into());
                hints
            }
            Error::Requirements { env, failure, rebuild_command, .. } => {
                let mut hints = vec![format!("pip's full output is in {}", failure.log.display())];
                let build_failed = failure.packages.iter().any(|(_, why)| *why == crate::projects::pip::PackageFailure::BuildFailed);
                if build_failed && !rebuild_command.is_empty() && env == crate::projects::project::FT_ENV {
                    hints.push(format!(
                        "`{rebuild_command}` rebuilds them for the free-threaded interpreter and says what blocks each; `ftpy venv` then installs from its wheelhouse (`ftpy venv --build-wheels` does both)"
                    ));
                }
                if env.starts_with(".venv") {
                    hints.push("nothing was left half-filled: both environments are as they were before this command".into());
                }
                hints
            }
            Error::BrokenEnvironment { .. } => {
                vec!["recreate both with `ftpy venv` in the project directory (`ftpy venv --status` shows them)".into()]
            }
            Error::NoEnvironments { .. } => vec!["create them with `ftpy venv` in the project directory".into()],
            Error::WheelBuild { hints, .. } => hints.clone(),
            Error::WheelsMissing { must_build, not_found, .. } => {
                let mut hints = Vec::new();
                if *must_build > 0 {
                    hints.push("`ftpy wheels build`, with the same arguments, builds the ones that have an sdist".into());
                }
                if *not_found > 0 {
                    hints.push("for `not found`, check the names and versions asked for, and the index".into());
                }
                hints
            }
            Error::Index(e) | Error::Coverage(crate::wheels::resolve::CoverageError::Index(e)) => match e {
                crate::wheels::index::IndexError::NoIndex => {
                    vec!["name one with --index-url, PIP_INDEX_URL or pip.conf".into()]
                }
                crate::wheels::index::IndexError::NoIndexConfigured => {
                    vec!["name an index to check against with --index-url".into()]
                }
                crate::wheels::index::IndexError::BadUrl { .. } => {
                    vec!["an index URL looks like https://host/simple (or file:///path/to/simple)".into()]
                }
                _ => vec![
                    "check the index URL (--index-url, PIP_INDEX_URL, pip.conf) and the network or proxy".into(),
                    "behind a proxy that re-signs TLS, point SSL_CERT_FILE (or PIP_CERT) at its CA bundle".into(),
                ],
            },
            Error::Venv(crate::projects::twin_venvs::VenvError::Create { .. }) => vec![
                "check the base interpreter runs (`ftpy which 3.13t`), or reinstall it with `ftpy install --reinstall`".into(),
            ],
            Error::Venv(crate::projects::twin_venvs::VenvError::Wrong { .. }) => {
                vec!["recreate both with `ftpy venv`; if it happens again, reinstall the pair with `ftpy install --pair --reinstall`".into()]
            }
            Error::Scan(_) => vec!["the environment's python could not run the scan: recreate both with `ftpy venv`".into()],
            Error::Venv(crate::projects::twin_venvs::VenvError::Probe { .. }) => {
                vec!["its base interpreter may have been uninstalled: run `ftpy venv` again to recreate both".into()]
            }
            Error::RunFailed { .. } => vec!["the summary above shows each side's exit code".into()],
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

fn describe_requirements_failure(env: &str, key: &str, failure: &crate::projects::pip::PipFailure) -> String {
    let mut text = if failure.packages.is_empty() {
        format!("the requirements could not be installed into {env} ({key})")
    } else {
        let mut text = format!(
            "{} could not be installed into {env} ({key}):",
            if failure.packages.len() == 1 {
                "1 package".to_string()
            } else {
                format!("{} packages", failure.packages.len())
            }
        );
        for (name, why) in &failure.packages {
            text.push_str(&format!("\n  {name}: {}", why.describe()));
        }
        text
    };
    if !failure.key_lines.is_empty() {
        text.push_str("\npip said:");
        for line in &failure.key_lines {
            text.push_str(&format!("\n  {line}"));
        }
    }
    text
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
