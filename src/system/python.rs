//! The one way ftpy runs a Python interpreter, with one environment policy.
//!
//! ftpy runs Pythons for itself: the post-install probe, `ensurepip`, `-m venv`, the
//! environment probe, `pip install`, `pip wheel`, `pip config`, the GIL scan. Each must behave
//! as the interpreter it runs, whatever the user's shell says, so [`python`] removes
//! [`REMOVED`]:
//!
//! - `PYTHONHOME`: points an interpreter at another one's standard library (usually a
//!   different version): it cannot start, or starts half-broken.
//! - `PYTHONPATH`: puts another interpreter's packages (or a project's sources) ahead of the
//!   environment's own, so pip, the probes and the scan would see them.
//! - `PYTHON_GIL`: `PYTHON_GIL=0` stops a GIL build from starting at all, and either value
//!   hides the build's own GIL state, which the probes and the scan report.
//!
//! Everything else is kept: pip's own configuration (`PIP_*`), proxies and certificate bundles
//! (`SSL_CERT_FILE`, ...), `PATH`, compiler variables for source builds, locale.
//!
//! The one difference: the user's own command in `ftpy run` ([`user_command`]) loses only
//! `PYTHONHOME`, which would point both interpreters at one standard library. `PYTHONPATH` and
//! `PYTHON_GIL` are the user's to set there: running a free-threaded build with the GIL forced
//! on, or with a project's sources on the path, is what they may mean to compare.

use std::ffi::OsStr;
use std::process::Command;

/// Variables no Python that ftpy runs for itself sees.
pub const REMOVED: &[&str] = &["PYTHONHOME", "PYTHONPATH", "PYTHON_GIL"];

/// `interpreter` (an installation's or an environment's python), as a command with the
/// environment policy above; the caller adds arguments, directory and standard streams.
pub fn python(interpreter: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(interpreter);
    for var in REMOVED {
        command.env_remove(var);
    }
    command
}

/// The user's own command in an environment (`ftpy run`): only `PYTHONHOME` is removed.
pub fn user_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("PYTHONHOME");
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(command: &Command) -> Vec<String> {
        command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ftpy_pythons_lose_the_variables_that_redirect_them_and_the_user_command_only_home() {
        let mut own = removed(&python("python3"));
        own.sort();
        assert_eq!(own, ["PYTHONHOME", "PYTHONPATH", "PYTHON_GIL"]);
        assert_eq!(removed(&user_command("pytest")), ["PYTHONHOME"]);
    }
}
