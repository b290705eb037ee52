//! What `--profile max` builds with: clang 19 or later (the tail-calling interpreter of 3.14
//! needs it), and beside it llvm-profdata (clang's PGO profiles), llvm-bolt and merge-fdata
//! (BOLT). On Debian and Ubuntu they come from clang-19, llvm-19 and bolt-19, whose tools live
//! in `/usr/lib/llvm-19/bin` under their plain names: that directory goes in front of the
//! build's PATH, so that configure finds the tools of the same LLVM as the compiler.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest clang with what the tail-calling interpreter needs (`preserve_none`, `musttail`).
pub const MIN_CLANG: u32 = 19;

/// The LLVM tools a `max` build runs, besides the compiler.
pub const TOOLS: [&str; 3] = ["llvm-profdata", "llvm-bolt", "merge-fdata"];

/// The compiler picked for a `max` build, and where its tools are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlvmToolchain {
    /// The compiler command given to configure as CC.
    pub cc: String,
    /// clang's major version.
    pub major: u32,
    /// The directory of the compiler's own LLVM installation, holding [`TOOLS`].
    pub bin_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LlvmError {
    #[error("--profile max needs clang {MIN_CLANG} or later, and none was found ({})", tried.join("; "))]
    NoClang { tried: Vec<String> },
    #[error("CC is set to `{cc}`, which cannot make a max build: {why}")]
    CcCannot { cc: String, why: String },
    #[error("--profile max needs {} beside {cc}, in {}", missing.join(", "), dir.display())]
    MissingTools { cc: String, dir: PathBuf, missing: Vec<&'static str> },
}

impl crate::error::Diagnose for LlvmError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::NotReady
    }

    fn hints(&self) -> Vec<String> {
        let mut hints = vec![
            "`./install.sh --build-deps --max` installs clang-19, llvm-19 and bolt-19 on Debian and Ubuntu (sudo apt-get install clang-19 llvm-19 bolt-19)".into(),
        ];
        if let LlvmError::CcCannot { .. } = self {
            hints.push("unset CC to let ftpy pick clang-19, or set CC to a clang 19 or later".into());
        }
        hints
            .push("or build with the default profile (optimized: gcc or clang, PGO and LTO, no BOLT)".into());
        hints
    }
}

/// The compiler for a `max` build: `$CC` when set (it must be clang 19 or later), else the
/// first of clang-19, clang-20, clang-21, clang that is one, with its LLVM tools beside it.
pub fn find() -> Result<LlvmToolchain, LlvmError> {
    if let Some(cc) = std::env::var("CC").ok().filter(|c| !c.trim().is_empty()) {
        return probe(&cc).map_err(|why| LlvmError::CcCannot { cc: cc.clone(), why }).and_then(with_tools);
    }
    let mut tried = Vec::new();
    for cc in ["clang-19", "clang-20", "clang-21", "clang"] {
        match probe(cc) {
            Ok(found) => return with_tools(found),
            Err(why) => tried.push(format!("{cc}: {why}")),
        }
    }
    Err(LlvmError::NoClang { tried })
}

fn with_tools(found: LlvmToolchain) -> Result<LlvmToolchain, LlvmError> {
    let missing = missing_tools(&found.bin_dir);
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(LlvmError::MissingTools { cc: found.cc, dir: found.bin_dir, missing })
    }
}

/// The [`TOOLS`] that `dir` lacks.
pub fn missing_tools(dir: &Path) -> Vec<&'static str> {
    TOOLS.into_iter().filter(|tool| !is_executable(&dir.join(tool))).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `cc` as a clang of at least [`MIN_CLANG`]: its version, and the directory its real binary
/// is in (`/usr/bin/clang-19` is a link to `/usr/lib/llvm-19/bin/clang`).
fn probe(cc: &str) -> Result<LlvmToolchain, String> {
    let mut words = cc.split_whitespace();
    let program = words.next().ok_or("empty")?;
    let extra: Vec<&str> = words.collect();
    let path = which::which(program).map_err(|_| {
        if extra.is_empty() {
            "not found".to_string()
        } else {
            format!(
                "`{}` not found (CC is split at spaces: a compiler in a directory with spaces needs a link to it elsewhere)",
                crate::output::terminal_text::escape_control(program)
            )
        }
    })?;
    let output = Command::new(&path)
        .args(&extra)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run it ({e})"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().unwrap_or("").trim();
    let shown = crate::output::terminal_text::escape_shortened(first, 120);
    let major = match clang_major(&text) {
        Some(major) => major,
        None if first.contains("clang version ") => {
            return Err(format!("its clang version cannot be read ({shown})"));
        }
        None if first.is_empty() => return Err("not clang".into()),
        None => return Err(format!("not clang ({shown})")),
    };
    if major < MIN_CLANG {
        return Err(format!("clang {major}, older than {MIN_CLANG}"));
    }
    let real =
        std::fs::canonicalize(&path).map_err(|e| format!("cannot resolve {} ({e})", path.display()))?;
    let bin_dir = real.parent().map(Path::to_path_buf).ok_or("no directory")?;
    // configure runs in the build directory: a relative `./clang-19` would not be found there.
    // The path found is made absolute, keeping its name (a link's name can matter to a driver).
    let cc = if program.contains('/') {
        let absolute = std::path::absolute(&path).map_err(|e| format!("cannot resolve {program} ({e})"))?;
        std::iter::once(absolute.display().to_string())
            .chain(extra.iter().map(|w| w.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        cc.to_string()
    };
    Ok(LlvmToolchain { cc, major, bin_dir })
}

/// The major version in `clang --version`'s first line (`Debian clang version 19.1.7 (3~deb12u1)`,
/// `clang version 20.1.0`, `Ubuntu clang version 19.1.1 (1ubuntu1)`).
fn clang_major(version_output: &str) -> Option<u32> {
    let first = version_output.lines().next()?;
    let rest = &first[first.find("clang version ")? + "clang version ".len()..];
    rest.split('.').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clang_versions_are_read_from_the_first_line() {
        assert_eq!(
            clang_major("Debian clang version 19.1.7 (3~deb12u1)\nTarget: x86_64-pc-linux-gnu"),
            Some(19)
        );
        assert_eq!(clang_major("clang version 20.1.0"), Some(20));
        assert_eq!(clang_major("Apple clang version 15.0.0 (clang-1500.3.9.4)"), Some(15));
        assert_eq!(clang_major("gcc (Debian 12.2.0-14) 12.2.0"), None);
        assert_eq!(clang_major(""), None);
    }

    #[test]
    fn missing_tools_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(missing_tools(dir.path()), TOOLS);
        for tool in ["llvm-profdata", "merge-fdata"] {
            std::fs::write(dir.path().join(tool), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(dir.path().join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(dir.path().join("llvm-bolt"), "not executable").unwrap();
        assert_eq!(missing_tools(dir.path()), ["llvm-bolt"]);
    }

    #[test]
    fn gcc_is_not_a_max_compiler() {
        if which::which("gcc").is_ok() {
            let why = probe("gcc").unwrap_err();
            assert!(why.starts_with("not clang"), "{why}");
        }
        assert_eq!(probe("no-such-compiler-ftpy").unwrap_err(), "not found");
    }
}
