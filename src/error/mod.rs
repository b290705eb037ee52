//! The error a command ends with: its cause chain, the hints that tell a person what to do next,
//! and an exit code per category.
//!
//! Each subsystem owns its errors: their messages, and through [`Diagnose`] their exit code
//! (one typed enum, [`ExitCode`]) and hints, beside them. [`Error`] only wraps them, plus the
//! few kinds every layer shares (bad usage, an I/O failure, an interruption, added context),
//! and [`report`] prints any of them the same way.

use std::io;

use crate::interpreters::build::BuildError;
use crate::interpreters::build_cache::BuildCacheError;
use crate::interpreters::download::DownloadError;
use crate::interpreters::home::HomeError;
use crate::interpreters::install::InstallError;
use crate::interpreters::recipe::RecipeError;
use crate::interpreters::remote_cache::RemoteCacheError;
use crate::interpreters::unpack::UnpackError;
use crate::interpreters::version::VersionError;
use crate::projects::gil_scan::ScanError;
use crate::projects::make_twins::MakeTwinsError;
use crate::projects::run_both::RunFailed;
use crate::projects::twin_venvs::VenvError;
use crate::races::RacesFound;
use crate::races::stress::StressError;
use crate::races::tsan::TsanRunError;
use crate::system::doctor::NotReady;
use crate::wheels::WheelsError;

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Interpreters.
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
    BuildCache(#[from] BuildCacheError),
    #[error(transparent)]
    RemoteCache(#[from] RemoteCacheError),
    #[error(transparent)]
    Install(#[from] InstallError),
    // System.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    #[error(transparent)]
    Tsan(#[from] crate::system::tsan::TsanError),
    #[error(transparent)]
    Llvm(#[from] crate::system::llvm::LlvmError),
    // Projects.
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    MakeTwins(#[from] MakeTwinsError),
    #[error(transparent)]
    RunFailed(#[from] RunFailed),
    // Races.
    #[error(transparent)]
    RacesFound(#[from] RacesFound),
    #[error(transparent)]
    Stress(#[from] StressError),
    #[error(transparent)]
    TsanRun(#[from] TsanRunError),
    // Wheels.
    #[error(transparent)]
    Wheels(#[from] WheelsError),
    // Shared by every layer.
    /// A signal stopped the work; `state` says what was left as it was.
    #[error("interrupted: {state}")]
    Interrupted { state: String },
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

    /// The error a subsystem owns, if this is one (after any context).
    fn owned(&self) -> Option<&dyn Diagnose> {
        Some(match self {
            Error::Version(e) => e,
            Error::Recipe(e) => e,
            Error::Home(e) => e,
            Error::Download(e) => e,
            Error::Unpack(e) => e,
            Error::Build(e) => e,
            Error::BuildCache(e) => e,
            Error::RemoteCache(e) => e,
            Error::Install(e) => e,
            Error::NotReady(e) => e,
            Error::Tsan(e) => e,
            Error::Llvm(e) => e,
            Error::Venv(e) => e,
            Error::Scan(e) => e,
            Error::MakeTwins(e) => e,
            Error::RunFailed(e) => e,
            Error::RacesFound(e) => e,
            Error::Stress(e) => e,
            Error::TsanRun(e) => e,
            Error::Wheels(e) => e,
            Error::Interrupted { .. } | Error::Usage { .. } | Error::Io { .. } | Error::Context { .. } => {
                return None;
            }
        })
    }

    pub fn exit_code(&self) -> ExitCode {
        if let Some(owned) = self.owned() {
            return owned.exit_code();
        }
        match self {
            Error::Interrupted { .. } => ExitCode::Interrupted,
            Error::Usage { .. } => ExitCode::Usage,
            Error::Io { .. } => ExitCode::LocalError,
            Error::Context { source, .. } => source.exit_code(),
            _ => unreachable!("owned errors answer above"),
        }
    }

    pub fn hints(&self) -> Vec<String> {
        if let Some(owned) = self.owned() {
            return owned.hints();
        }
        match self {
            Error::Usage { hints, .. } => hints.clone(),
            Error::Context { source, .. } => source.hints(),
            _ => Vec::new(),
        }
    }
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
