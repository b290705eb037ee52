//! The errors of the wheels subsystem, with their exit codes and hints.

use crate::error::{Diagnose, ExitCode};
use crate::wheels::index::IndexError;
use crate::wheels::resolve::ResolveError;

#[derive(Debug, thiserror::Error)]
pub enum WheelsError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// `wheels check --strict`: requirements without a wheel that loads in the target.
    #[error("{count} of {total} requirements have no usable wheel for {target}")]
    Missing { count: usize, total: usize, target: String, must_build: usize, not_found: usize },
    /// `wheels build`: packages that could not be built (or proved), with what to do about each.
    #[error("{} could not be built: {}", if failed.len() == 1 { "1 package".to_string() } else { format!("{} packages", failed.len()) }, failed.join(", "))]
    Build { failed: Vec<String>, hints: Vec<String> },
}

impl Diagnose for WheelsError {
    fn exit_code(&self) -> ExitCode {
        match self {
            WheelsError::Index(e) => e.exit_code(),
            WheelsError::Resolve(e) => e.exit_code(),
            WheelsError::Missing { .. } => ExitCode::WheelsMissing,
            WheelsError::Build { .. } => ExitCode::WheelBuildFailed,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            WheelsError::Index(e) => e.hints(),
            WheelsError::Resolve(e) => e.hints(),
            WheelsError::Missing { must_build, not_found, .. } => {
                let mut hints = Vec::new();
                if *must_build > 0 {
                    hints.push(
                        "`ftpy wheels build`, with the same arguments, builds the ones that have an sdist"
                            .into(),
                    );
                }
                if *not_found > 0 {
                    hints.push(
                        "for `not found`, check the names and versions asked for, and the index".into(),
                    );
                }
                hints
            }
            WheelsError::Build { hints, .. } => hints.clone(),
        }
    }
}

impl From<IndexError> for crate::error::Error {
    fn from(e: IndexError) -> Self {
        crate::error::Error::Wheels(e.into())
    }
}

impl From<ResolveError> for crate::error::Error {
    fn from(e: ResolveError) -> Self {
        crate::error::Error::Wheels(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_names_its_exit_code() {
        let fetch = IndexError::Fetch { url: "https://host/simple/x/".into(), message: "HTTP 500".into() };
        let bad = IndexError::BadUrl { url: "ftp://x".into(), message: "no".into() };
        assert_eq!(WheelsError::from(fetch).exit_code(), ExitCode::Network);
        assert_eq!(WheelsError::from(ResolveError::Index(bad)).exit_code(), ExitCode::Usage);
        let invalid =
            ResolveError::Invalid { text: "x>".into(), origin: "r.txt".into(), message: "m".into() };
        assert_eq!(WheelsError::from(invalid).exit_code(), ExitCode::Usage);
        let missing =
            WheelsError::Missing { count: 1, total: 2, target: "cp313t".into(), must_build: 1, not_found: 0 };
        assert_eq!(missing.exit_code(), ExitCode::WheelsMissing);
        assert_eq!(missing.hints().len(), 1);
        let build = WheelsError::Build { failed: vec!["a".into(), "b".into()], hints: vec!["h".into()] };
        assert_eq!(build.exit_code(), ExitCode::WheelBuildFailed);
        assert_eq!(build.to_string(), "2 packages could not be built: a, b");
    }
}
