//! The tools a build uses, found once: the C compiler (`$CC`, else `cc`) and whether it
//! compiles, `make` (`$MAKE`), `ccache`, a program on a PATH, and whether ftpy runs as root.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables CPython's configure reads that change what the build produces.
const BUILD_ENVIRONMENT: &[&str] = &["CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LIBS", "PKG_CONFIG_PATH"];

/// The C compiler configure will use: `$CC`, else `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC").ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "cc".into())
}

/// The C compiler a build would use, as identity for the cache key.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// `$CC` and the first line of its `--version`.
    pub compiler: String,
    /// `$CC -dumpmachine`, e.g. `x86_64-linux-gnu`.
    pub target: String,
    pub environment: Vec<(String, String)>,
}

impl Toolchain {
    pub fn detect() -> Toolchain {
        let cc = c_compiler();
        let environment = BUILD_ENVIRONMENT
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        let mut words = cc.split_whitespace();
        let program = words.next().unwrap_or("cc").to_string();
        let prefix_args: Vec<String> = words.map(str::to_string).collect();
        let ask = |arg: &str| {
            Command::new(&program)
                .args(&prefix_args)
                .arg(arg)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(|l| l.trim().to_string()))
                .unwrap_or_else(|| "unknown".into())
        };
        Toolchain {
            compiler: format!("{cc}: {}", ask("--version")),
            target: ask("-dumpmachine"),
            environment,
        }
    }
}

/// `ccache` on PATH, if any.
pub fn find_ccache() -> Option<PathBuf> {
    which::which("ccache").ok()
}

/// The make configure's Makefile is run with: `$MAKE`, else `make`.
pub fn make_program() -> String {
    std::env::var("MAKE").ok().filter(|m| !m.is_empty()).unwrap_or_else(|| "make".into())
}

/// Look `name` up the way a shell would, on `path` (the activated PATH): a name with a `/` is
/// taken as it is, any other is the first executable file of that name in `path`.
pub fn find_program(name: &str, path: &OsString) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    which::which_in(name, Some(path), Path::new("/")).ok()
}

pub fn compiler_command() -> Command {
    let cc = c_compiler();
    let mut words = cc.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or("cc"));
    command.args(words);
    command
}

/// The compiler compiles and links a program: `cc --version` alone passes for a gcc without
/// the C library's headers.
pub fn compiler_works() -> bool {
    let Ok(dir) = tempfile::tempdir() else { return false };
    let source = dir.path().join("probe.c");
    if fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    compiler_command()
        .arg(&source)
        .arg("-o")
        .arg(dir.path().join("probe"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether ftpy runs as root (its effective user), so advice needs no `sudo`.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_given_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        fs::write(&tool, "#!/bin/sh\n").unwrap();
        let plain = dir.path().join("plain");
        fs::write(&plain, "not executable").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert_eq!(find_program("tool", &path), Some(tool));
        assert_eq!(find_program("plain", &path), None);
        assert_eq!(find_program("sh-surely-not-here", &path), None);
        assert_eq!(find_program("./x/y", &path), Some(PathBuf::from("./x/y")));
    }

    #[test]
    fn root_is_the_effective_user() {
        let id = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(is_root(), String::from_utf8_lossy(&id.stdout).trim() == "0");
    }
}
