//! The error a command ends with: its cause chain, the hints that tell a person what to do next,
//! and an exit code per category.
//!
//! The codes are one typed enum, [`ExitCode`], with what each means.

use std::io;
use std::path::PathBuf;

use crate::interpreters::build::BuildError;
use crate::interpreters::download::DownloadError;
use crate::interpreters::home::HomeError;
use crate::interpreters::install::InstallError;
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
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("this system cannot build CPython yet: {}", missing.join(", "))]
    NotReady { missing: Vec<String>, commands: Vec<String> },
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
            Error::Version(e) => e.exit_code(),
            Error::Recipe(e) => e.exit_code(),
            Error::Home(e) => e.exit_code(),
            Error::Unpack(e) => e.exit_code(),
            Error::Build(e) => e.exit_code(),
            Error::BuildCache(e) => e.exit_code(),
            Error::Install(e) => e.exit_code(),
            Error::Interrupted { .. } => ExitCode::Interrupted,
            Error::Usage { .. } => ExitCode::Usage,
            Error::NotReady { .. } => ExitCode::NotReady,
            Error::Io { .. } => ExitCode::LocalError,
            Error::PairNotInstalled { .. } | Error::NoEnvironments { .. } => ExitCode::NotFound,
            Error::Requirements { .. } => ExitCode::RequirementsFailed,
            Error::Venv(crate::projects::twin_venvs::VenvError::Wrong { .. }) => ExitCode::CheckFailed,
            Error::Venv(_) | Error::Scan(_) => ExitCode::LocalError,
            Error::RunFailed { .. } => ExitCode::RunFailed,
            Error::BrokenEnvironment { .. } => ExitCode::NotFound,
            Error::Wheels(e) => e.exit_code(),
            Error::Context { source, .. } => source.exit_code(),
        }
    }

    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Version(e) => e.hints(),
            Error::Recipe(e) => e.hints(),
            Error::Home(e) => e.hints(),
            Error::Download(e) => e.hints(),
            Error::Unpack(e) => e.hints(),
            Error::Build(e) => e.hints(),
            Error::BuildCache(e) => e.hints(),
            Error::Install(e) => e.hints(),
            Error::Usage { hints, .. } => hints.clone(),
            Error::NotReady { commands, .. } => {
                let mut hints: Vec<String> = commands.iter().map(|c| format!("run `{c}`")).collect();
                hints.push("`ftpy doctor` shows every check; --no-system-check skips this one".into());
                hints
            }
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
            Error::Wheels(e) => e.hints(),
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
