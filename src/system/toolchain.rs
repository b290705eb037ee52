//! The tools a build uses, found once: the C compiler (`$CC`, else `cc`) and whether it
//! compiles, `make` (`$MAKE`), `ccache`, a program on a PATH, and whether ftpy runs as root.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables CPython's configure reads that change what the build produces. (`*_NODIST`, `OPT`
/// and `PROFILE_TASK` go into the Makefile as configure found them.)
const BUILD_ENVIRONMENT: &[&str] = &[
    "CC",
    "CFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "LIBS",
    "PKG_CONFIG_PATH",
    "CFLAGS_NODIST",
    "LDFLAGS_NODIST",
    "OPT",
    "PROFILE_TASK",
];

/// The C compiler configure will use: `$CC`, else `cc`.
pub fn c_compiler() -> String {
    std::env::var("CC").ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "cc".into())
}

/// The C compiler a build would use, as identity for the cache key.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// The C compiler command configure is given: `$CC`, else `cc`; for a TSan build, the one
    /// [`crate::system::tsan::find_compiler`] picked (`clang-19`).
    pub cc: String,
    /// Whether ftpy picked [`Toolchain::cc`] for the profile (TSan, max), so configure must be
    /// given it as `CC`; otherwise configure finds `$CC` (or its own default) by itself.
    pub cc_picked: bool,
    /// `cc` and the first line of its `--version`.
    pub compiler: String,
    /// What the compiler says it is, by the macros it predefines.
    pub family: CompilerFamily,
    /// `$CC -dumpmachine`, e.g. `x86_64-linux-gnu`.
    pub target: String,
    pub environment: Vec<(String, String)>,
    /// The C library the build links against.
    pub libc: Libc,
    /// Put in front of the build's PATH: the compiler's LLVM tools, for `--profile max`.
    pub tools_dir: Option<PathBuf>,
}

/// The C library: its family decides whether a build can run at all (`glibc`, `musl`), and a
/// glibc build needs a glibc at least as new as the one it was linked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Libc {
    /// `glibc`, `musl` or `unknown`.
    pub family: String,
    /// glibc's version (`2.36`); `None` elsewhere.
    pub version: Option<String>,
}

impl Libc {
    /// The C library ftpy itself runs on, which is the one a build here links against.
    pub fn detect() -> Libc {
        #[cfg(target_env = "gnu")]
        {
            // SAFETY: gnu_get_libc_version returns a pointer to a static, NUL-terminated string.
            let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
            Libc { family: "glibc".into(), version: Some(version.to_string_lossy().into_owned()) }
        }
        #[cfg(target_env = "musl")]
        {
            Libc { family: "musl".into(), version: None }
        }
        #[cfg(not(any(target_env = "gnu", target_env = "musl")))]
        {
            Libc { family: "unknown".into(), version: None }
        }
    }

    /// Whether a build linked against `built_with` (a glibc version) runs on this C library:
    /// the same family, and for glibc a version no newer than this one. Unknown versions do not.
    pub fn can_run(&self, family: &str, built_with: Option<&str>) -> bool {
        if family != self.family {
            return false;
        }
        match (built_with, self.version.as_deref()) {
            (None, None) => true,
            (Some(built), Some(here)) => match (version_numbers(built), version_numbers(here)) {
                (Some(built), Some(here)) => built <= here,
                _ => false,
            },
            _ => false,
        }
    }
}

/// `2.36` as `[2, 36]`; `None` for anything else.
fn version_numbers(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

impl Toolchain {
    /// The toolchain a build of `profile` uses: `$CC` (else `cc`), or for `--profile tsan` the
    /// compiler whose TSan runtime works here, which may not be `$CC`'s default.
    pub fn for_profile(
        profile: crate::interpreters::build::Profile,
    ) -> Result<Toolchain, crate::error::Error> {
        use crate::interpreters::build::Profile;
        match profile {
            Profile::Optimized | Profile::Fast => Ok(Toolchain::detect()),
            Profile::Tsan => Ok(Toolchain {
                cc_picked: true,
                ..Toolchain::detect_with(crate::system::tsan::find_compiler()?.cc)
            }),
            Profile::Max => {
                let llvm = crate::system::llvm::find()?;
                Ok(Toolchain {
                    cc_picked: true,
                    tools_dir: Some(llvm.bin_dir),
                    ..Toolchain::detect_with(llvm.cc)
                })
            }
        }
    }

    /// The compiler command configure must be given as `CC`, if ftpy picked it.
    pub fn picked_cc(&self) -> Option<&str> {
        self.cc_picked.then_some(self.cc.as_str())
    }

    pub fn detect() -> Toolchain {
        Toolchain::detect_with(c_compiler())
    }

    /// The toolchain of the compiler command `cc` (a program and its first arguments).
    pub fn detect_with(cc: String) -> Toolchain {
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
            family: CompilerFamily::probe(&program, &prefix_args),
            cc_picked: false,
            cc,
            target: ask("-dumpmachine"),
            environment,
            libc: Libc::detect(),
            tools_dir: None,
        }
    }
}

/// Which compiler driver a build uses, as far as its flags go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompilerFamily {
    Gcc,
    Clang,
    /// Neither, or it could not be asked: ftpy adds no compiler-specific flag.
    Other,
}

impl CompilerFamily {
    /// Asks the compiler which macros it predefines (`-dM -E` of an empty C file): a wrapper, a
    /// renamed binary or a distribution's `cc` cannot hide what it is that way.
    pub fn probe(program: &str, prefix_args: &[String]) -> CompilerFamily {
        Command::new(program)
            .args(prefix_args)
            .args(["-dM", "-E", "-x", "c", "/dev/null"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or(CompilerFamily::Other, |o| {
                CompilerFamily::from_macros(&String::from_utf8_lossy(&o.stdout))
            })
    }

    /// From `-dM -E` output. clang defines `__GNUC__` too (it claims gcc 4.2), so `__clang__`
    /// decides first.
    pub fn from_macros(macros: &str) -> CompilerFamily {
        let defines =
            |name: &str| macros.lines().any(|line| line.split_whitespace().take(2).eq(["#define", name]));
        if defines("__clang__") {
            CompilerFamily::Clang
        } else if defines("__GNUC__") {
            CompilerFamily::Gcc
        } else {
            CompilerFamily::Other
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
    fn a_glibc_build_runs_only_on_a_glibc_as_new() {
        let here = Libc { family: "glibc".into(), version: Some("2.36".into()) };
        assert!(here.can_run("glibc", Some("2.36")));
        assert!(here.can_run("glibc", Some("2.31")));
        assert!(!here.can_run("glibc", Some("2.39")));
        assert!(!here.can_run("glibc", Some("2.36.1")), "newer by a patch level");
        assert!(!here.can_run("glibc", Some("two")));
        assert!(!here.can_run("glibc", None));
        assert!(!here.can_run("musl", None));
        assert!(Libc { family: "musl".into(), version: None }.can_run("musl", None));
        let detected = Libc::detect();
        assert!(detected.can_run(&detected.family, detected.version.as_deref()));
    }

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
    fn the_compiler_family_comes_from_its_predefined_macros() {
        let gcc = "#define __STDC__ 1\n#define __GNUC__ 12\n#define __x86_64__ 1\n";
        assert_eq!(CompilerFamily::from_macros(gcc), CompilerFamily::Gcc);
        let clang = "#define __GNUC__ 4\n#define __clang__ 1\n#define __clang_major__ 19\n";
        assert_eq!(CompilerFamily::from_macros(clang), CompilerFamily::Clang);
        assert_eq!(CompilerFamily::from_macros("#define __INTEL_LLVM_COMPILER 1\n"), CompilerFamily::Other);
        assert_eq!(CompilerFamily::from_macros("#define __GNUC___FAKE 1\n"), CompilerFamily::Other);

        // A compiler named like gcc that is clang underneath is taken for what it predefines,
        // and one that cannot be asked is Other.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("gcc-wrapper");
        fs::write(
            &fake,
            "#!/bin/sh\n[ \"$1 $2 $3 $4 $5 $6\" = \"--target=x -dM -E -x c /dev/null\" ] || exit 1\n\
             echo '#define __clang__ 1'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let fake = fake.to_str().unwrap();
        assert_eq!(CompilerFamily::probe(fake, &["--target=x".into()]), CompilerFamily::Clang);
        assert_eq!(CompilerFamily::probe(fake, &[]), CompilerFamily::Other, "it fails without its argument");
        assert_eq!(CompilerFamily::probe("/nonexistent/cc", &[]), CompilerFamily::Other);
    }

    #[test]
    fn root_is_the_effective_user() {
        let id = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(is_root(), String::from_utf8_lossy(&id.stdout).trim() == "0");
    }
}
