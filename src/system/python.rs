//! The one way ftpy runs a Python interpreter, with one environment policy.
//!
//! ftpy runs Pythons for itself: the post-install probe, `ensurepip`, `-m venv`, the
//! environment probe, `pip install`, `pip wheel`, `pip config`, the GIL scan. Each must behave
//! as the interpreter it runs, whatever the user's shell says, so [`python`] removes
//! [`REMOVED`], the variables of CPython's documented environment that change where it finds
//! its standard library or `site`, run code of the user's before ftpy's, or make it
//! interactive:
//!
//! - `PYTHONHOME`, `PYTHONPLATLIBDIR`: point an interpreter at another standard library (or
//!   none: `Failed to import encodings module`); it cannot start, or starts half-broken.
//! - `PYTHONPATH`: puts another interpreter's packages (or a project's sources) ahead of the
//!   environment's own, so pip, the probes and the scan would see them.
//! - `PYTHONUSERBASE`: another user site, whose `usercustomize` runs at every start (one that
//!   raises breaks `-m venv`) and whose packages the base interpreter's pip would see.
//! - `PYTHON_PRESITE` (debug builds): a module of the user's imported before `site`.
//! - `PYTHONINSPECT`, `PYTHONSTARTUP`: an interactive prompt after the command (`ensurepip`
//!   then waits on, or fails reading, its input) and the file run at that prompt.
//! - `PYTHONEXECUTABLE` (macOS): another `sys.executable`, which `-m venv` copies from.
//! - `PYTHON_GIL`: `PYTHON_GIL=0` stops a GIL build from starting at all, and either value
//!   hides the build's own GIL state, which the probes and the scan report.
//!
//! It also removes [`SECRETS`], the credentials ftpy reads for itself (`FTPY_REMOTE_CACHE_TOKEN`):
//! a `pip install` runs the build scripts of the packages it builds, which have no business
//! with the team's registry token.
//!
//! Everything else is kept: the variables a user sets on purpose that leave the interpreter
//! its own (`PYTHONUTF8`, `PYTHONIOENCODING`, `PYTHONWARNINGS`, `PYTHONDONTWRITEBYTECODE`,
//! `PYTHONPYCACHEPREFIX`, `PYTHONNOUSERSITE`, `PYTHONSAFEPATH`, the debugging and tracing
//! ones), pip's own configuration (`PIP_*`), proxies and certificate bundles (`SSL_CERT_FILE`,
//! ...), `PATH`, compiler variables for source builds, locale.
//!
//! The one difference: the user's own command in `ftpy run` ([`user_command`]) loses only
//! [`USER_REMOVED`], `PYTHONHOME` and `PYTHONPLATLIBDIR`, which would point both environments'
//! interpreters at one standard library (or none) and so break every environment the same way.
//! The others are the user's to set there: `PYTHONPATH` or `PYTHON_GIL` (a project's sources
//! on the path, a free-threaded build with the GIL forced on) may be what they mean to
//! compare, and a user site, a startup file or an interactive prompt is theirs to ask for.

use std::ffi::OsStr;
use std::process::Command;

/// Variables no Python that ftpy runs for itself sees.
pub const REMOVED: &[&str] = &[
    "PYTHONHOME",
    "PYTHONPLATLIBDIR",
    "PYTHONPATH",
    "PYTHONUSERBASE",
    "PYTHON_PRESITE",
    "PYTHONINSPECT",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "PYTHON_GIL",
];

/// Credentials ftpy reads for itself (a remote cache's token), which no process it starts for
/// its own work needs: not a build, not a probe, not a pip that runs a package's build script.
pub const SECRETS: &[&str] = &["FTPY_REMOTE_CACHE_TOKEN"];

/// Variables the user's own command in `ftpy run` does not see.
pub const USER_REMOVED: &[&str] = &["PYTHONHOME", "PYTHONPLATLIBDIR"];

/// `interpreter` (an installation's or an environment's python), as a command with the
/// environment policy above; the caller adds arguments, directory and standard streams.
pub fn python(interpreter: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(interpreter);
    for var in REMOVED.iter().chain(SECRETS) {
        command.env_remove(var);
    }
    command
}

/// The user's own command in an environment (`ftpy run`): only [`USER_REMOVED`] is removed.
pub fn user_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for var in USER_REMOVED {
        command.env_remove(var);
    }
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
    fn ftpy_pythons_lose_the_variables_that_redirect_them_and_the_user_command_only_the_stdlib_ones() {
        let mut own = removed(&python("python3"));
        own.sort();
        assert_eq!(
            own,
            [
                "FTPY_REMOTE_CACHE_TOKEN",
                "PYTHONEXECUTABLE",
                "PYTHONHOME",
                "PYTHONINSPECT",
                "PYTHONPATH",
                "PYTHONPLATLIBDIR",
                "PYTHONSTARTUP",
                "PYTHONUSERBASE",
                "PYTHON_GIL",
                "PYTHON_PRESITE"
            ]
        );
        let mut user = removed(&user_command("pytest"));
        user.sort();
        assert_eq!(user, ["PYTHONHOME", "PYTHONPLATLIBDIR"]);
    }
}
