//! What building CPython needs from the system, how to tell whether it is there, and how each
//! platform provides it. Used by `ftpy doctor`, by the check `ftpy install` makes before it
//! downloads anything, and to turn a failed build or a missing module into the command that
//! fixes it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

/// The package managers ftpy knows how to advise for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Debian,
    Fedora,
    Alpine,
    Arch,
    OpenSuse,
    MacOs,
}

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Debian,
        Platform::Fedora,
        Platform::Alpine,
        Platform::Arch,
        Platform::OpenSuse,
        Platform::MacOs,
    ];

    /// The running system, from `/etc/os-release` (`ID`, then `ID_LIKE`) or the target OS.
    pub fn detect() -> Option<Platform> {
        if cfg!(target_os = "macos") {
            return Some(Platform::MacOs);
        }
        let text = fs::read_to_string("/etc/os-release").ok()?;
        Platform::from_os_release(&text)
    }

    pub fn from_os_release(text: &str) -> Option<Platform> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(|v| v.trim_matches('"').to_lowercase())
                .unwrap_or_default()
        };
        let ids = format!("{} {}", field("ID"), field("ID_LIKE"));
        ids.split_whitespace().find_map(|id| match id {
            "debian" | "ubuntu" => Some(Platform::Debian),
            "fedora" | "rhel" | "centos" | "rocky" | "almalinux" => Some(Platform::Fedora),
            "alpine" => Some(Platform::Alpine),
            "arch" | "manjaro" => Some(Platform::Arch),
            "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "suse" | "sles" => {
                Some(Platform::OpenSuse)
            }
            _ => None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Debian => "Debian/Ubuntu",
            Platform::Fedora => "Fedora/RHEL",
            Platform::Alpine => "Alpine",
            Platform::Arch => "Arch",
            Platform::OpenSuse => "openSUSE",
            Platform::MacOs => "macOS",
        }
    }

    /// The one command that installs `packages`, unattended, with `sudo` in front for a user
    /// who is not root (Homebrew runs as the user).
    pub fn install_command(self, packages: &[&str]) -> String {
        let list = packages.join(" ");
        let sudo = if is_root() { "" } else { "sudo " };
        match self {
            Platform::Debian => format!("{sudo}apt-get update && {sudo}apt-get install -y {list}"),
            Platform::Fedora => format!("{sudo}dnf install -y {list}"),
            Platform::Alpine => format!("{sudo}apk add {list}"),
            Platform::Arch => format!("{sudo}pacman -S --needed --noconfirm {list}"),
            Platform::OpenSuse => format!("{sudo}zypper install -y {list}"),
            Platform::MacOs => format!("brew install {list}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemDependency {
    CCompiler,
    Make,
    PkgConfig,
    Ssl,
    Zlib,
    Libffi,
    Sqlite3,
    Lzma,
    Bz2,
    Readline,
    Uuid,
    Gdbm,
    Tk,
}

impl SystemDependency {
    pub const ALL: [SystemDependency; 13] = [
        SystemDependency::CCompiler,
        SystemDependency::Make,
        SystemDependency::PkgConfig,
        SystemDependency::Ssl,
        SystemDependency::Zlib,
        SystemDependency::Libffi,
        SystemDependency::Sqlite3,
        SystemDependency::Lzma,
        SystemDependency::Bz2,
        SystemDependency::Readline,
        SystemDependency::Uuid,
        SystemDependency::Gdbm,
        SystemDependency::Tk,
    ];

    /// Without it no build succeeds, or the result fails ftpy's checks.
    pub fn required(self) -> bool {
        use SystemDependency::*;
        matches!(self, CCompiler | Make | Ssl | Zlib | Libffi | Sqlite3 | Lzma | Bz2)
    }

    /// The header whose presence shows the development files are installed.
    pub fn header(self) -> Option<&'static str> {
        use SystemDependency::*;
        Some(match self {
            Ssl => "openssl/ssl.h",
            Zlib => "zlib.h",
            Libffi => "ffi.h",
            Sqlite3 => "sqlite3.h",
            Lzma => "lzma.h",
            Bz2 => "bzlib.h",
            Readline => "readline/readline.h",
            Uuid => "uuid/uuid.h",
            Gdbm => "gdbm.h",
            Tk => "tk.h",
            CCompiler | Make | PkgConfig => return None,
        })
    }

    /// Its pkg-config name, for libraries whose headers live outside the default include path
    /// (Tk's in /usr/include/tcl8.6 on Debian), which configure finds through pkg-config.
    fn pkg_config_name(self) -> Option<&'static str> {
        use SystemDependency::*;
        Some(match self {
            Ssl => "openssl",
            Zlib => "zlib",
            Libffi => "libffi",
            Sqlite3 => "sqlite3",
            Lzma => "liblzma",
            Readline => "readline",
            Uuid => "uuid",
            Tk => "tk",
            _ => return None,
        })
    }

    /// The standard-library module that needs it, if it is a library.
    pub fn module(self) -> Option<&'static str> {
        use SystemDependency::*;
        Some(match self {
            Ssl => "ssl",
            Zlib => "zlib",
            Libffi => "ctypes",
            Sqlite3 => "sqlite3",
            Lzma => "lzma",
            Bz2 => "bz2",
            Readline => "readline",
            Uuid => "_uuid",
            Gdbm => "dbm.gnu",
            Tk => "tkinter",
            CCompiler | Make | PkgConfig => return None,
        })
    }

    /// The package that provides it on `platform`.
    pub fn package(self, platform: Platform) -> &'static str {
        use Platform::*;
        use SystemDependency::*;
        let [debian, fedora, alpine, arch, suse, brew] = match self {
            CCompiler => ["build-essential", "gcc", "build-base", "gcc", "gcc", "llvm"],
            Make => ["make", "make", "make", "make", "make", "make"],
            PkgConfig => ["pkg-config", "pkgconf-pkg-config", "pkgconf", "pkgconf", "pkg-config", "pkgconf"],
            Ssl => ["libssl-dev", "openssl-devel", "openssl-dev", "openssl", "libopenssl-devel", "openssl@3"],
            Zlib => ["zlib1g-dev", "zlib-devel", "zlib-dev", "zlib", "zlib-devel", "zlib"],
            Libffi => ["libffi-dev", "libffi-devel", "libffi-dev", "libffi", "libffi-devel", "libffi"],
            Sqlite3 => ["libsqlite3-dev", "sqlite-devel", "sqlite-dev", "sqlite", "sqlite3-devel", "sqlite"],
            Lzma => ["liblzma-dev", "xz-devel", "xz-dev", "xz", "xz-devel", "xz"],
            Bz2 => ["libbz2-dev", "bzip2-devel", "bzip2-dev", "bzip2", "libbz2-devel", "bzip2"],
            Readline => [
                "libreadline-dev",
                "readline-devel",
                "readline-dev",
                "readline",
                "readline-devel",
                "readline",
            ],
            Uuid => [
                "uuid-dev",
                "libuuid-devel",
                "util-linux-dev",
                "util-linux-libs",
                "libuuid-devel",
                "ossp-uuid",
            ],
            Gdbm => ["libgdbm-dev", "gdbm-devel", "gdbm-dev", "gdbm", "gdbm-devel", "gdbm"],
            Tk => ["tk-dev", "tk-devel", "tk-dev", "tk", "tk-devel", "tcl-tk"],
        };
        match platform {
            Debian => debian,
            Fedora => fedora,
            Alpine => alpine,
            Arch => arch,
            OpenSuse => suse,
            MacOs => brew,
        }
    }

    fn what(self) -> &'static str {
        use SystemDependency::*;
        match self {
            CCompiler => "a C compiler",
            Make => "make",
            PkgConfig => "pkg-config",
            Ssl => "the OpenSSL headers",
            Zlib => "the zlib headers",
            Libffi => "the libffi headers",
            Sqlite3 => "the SQLite headers",
            Lzma => "the liblzma (xz) headers",
            Bz2 => "the bzip2 headers",
            Readline => "the readline headers",
            Uuid => "the libuuid headers",
            Gdbm => "the gdbm headers",
            Tk => "the Tk headers",
        }
    }

    /// The system dependency an optional stdlib module is built from.
    pub fn for_module(module: &str) -> Option<SystemDependency> {
        use SystemDependency::*;
        Some(match module {
            "ssl" | "_ssl" | "_hashlib" => Ssl,
            "zlib" => Zlib,
            "ctypes" | "_ctypes" => Libffi,
            "sqlite3" | "_sqlite3" => Sqlite3,
            "lzma" | "_lzma" => Lzma,
            "bz2" | "_bz2" => Bz2,
            "readline" => Readline,
            _ => return None,
        })
    }

    /// Recognise a build log line that names a missing dependency.
    pub fn from_log_line(line: &str) -> Option<SystemDependency> {
        use SystemDependency::*;
        if line.contains("no acceptable C compiler found")
            || line.contains("C compiler cannot create executables")
        {
            return Some(CCompiler);
        }
        SystemDependency::ALL
            .into_iter()
            .find(|dep| dep.header().is_some_and(|h| line.contains(&format!("{h}: No such file"))))
    }

    /// `install the OpenSSL headers: `apt-get install -y libssl-dev` (Debian/Ubuntu), ...`; the
    /// detected platform's command alone when it is known.
    pub fn install_hint(self) -> String {
        let commands: Vec<String> = match Platform::detect() {
            Some(platform) => vec![format!("`{}`", self.install_command(platform))],
            None => Platform::ALL
                .iter()
                .map(|p| format!("`{}` ({})", self.install_command(*p), p.name()))
                .collect(),
        };
        format!("install {}: {}", self.what(), commands.join(", "))
    }

    pub fn install_command(self, platform: Platform) -> String {
        if self == SystemDependency::CCompiler && platform == Platform::MacOs {
            return "xcode-select --install".into();
        }
        platform.install_command(&[self.package(platform)])
    }
}

impl fmt::Display for SystemDependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

/// Whether `dep` is present on this system: the tool on PATH, or the header found by the C
/// compiler's own preprocessor (so its include paths are the ones a build will use).
pub fn is_present(dep: SystemDependency) -> bool {
    use SystemDependency::*;
    match dep {
        CCompiler => compiler_works(),
        Make => runs(&crate::builder::make_program(), &["--version"]),
        PkgConfig => runs("pkg-config", &["--version"]),
        _ => {
            dep.header().is_some_and(header_found)
                || dep.pkg_config_name().is_some_and(|name| runs("pkg-config", &["--exists", name]))
        }
    }
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn compiler_command() -> Command {
    let cc = crate::build_cache::c_compiler();
    let mut words = cc.split_whitespace();
    let mut command = Command::new(words.next().unwrap_or("cc"));
    command.args(words);
    command
}

/// The compiler compiles and links a program: `cc --version` alone passes for a gcc without
/// the C library's headers.
fn compiler_works() -> bool {
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

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn header_found(header: &str) -> bool {
    if !compiler_works() {
        // No compiler to ask: look where headers usually are.
        return ["/usr/include", "/usr/local/include", "/opt/homebrew/include"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(header).exists());
    }
    let mut command = compiler_command();
    // The preprocessor flags configure will pass too, e.g. -I of a keg-only Homebrew formula.
    if let Ok(cppflags) = std::env::var("CPPFLAGS") {
        command.args(cppflags.split_whitespace());
    }
    command.args(["-E", "-x", "c", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let Ok(mut child) = command.spawn() else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "#include <{header}>");
    }
    child.wait().is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_missing_headers_in_compiler_output() {
        let line = "../Modules/_ssl.c:35:10: fatal error: openssl/ssl.h: No such file or directory";
        assert_eq!(SystemDependency::from_log_line(line), Some(SystemDependency::Ssl));
        assert_eq!(
            SystemDependency::from_log_line("configure: error: no acceptable C compiler found in $PATH"),
            Some(SystemDependency::CCompiler)
        );
        assert_eq!(SystemDependency::from_log_line("gcc -c foo.c"), None);
    }

    #[test]
    fn every_platform_names_a_package_for_every_dependency() {
        for platform in Platform::ALL {
            for dep in SystemDependency::ALL {
                assert!(!dep.package(platform).is_empty(), "{dep:?} on {platform:?}");
            }
        }
        let command = Platform::Debian.install_command(&["libffi-dev", "zlib1g-dev"]);
        assert!(command.ends_with("apt-get install -y libffi-dev zlib1g-dev"), "{command}");
        assert!(command.contains("apt-get update && "), "{command}");
        assert!(Platform::Arch.install_command(&["gcc"]).contains("--noconfirm"));
        assert_eq!(SystemDependency::CCompiler.install_command(Platform::MacOs), "xcode-select --install");
        assert_eq!(SystemDependency::Ssl.package(Platform::OpenSuse), "libopenssl-devel");
        assert_eq!(SystemDependency::for_module("ctypes"), Some(SystemDependency::Libffi));
    }

    #[test]
    fn debian_package_names_exist_in_the_package_index() {
        if !std::path::Path::new("/etc/debian_version").exists() {
            return; // Only Debian's index can be asked here.
        }
        for dep in SystemDependency::ALL {
            let package = dep.package(Platform::Debian);
            let show =
                Command::new("apt-cache").args(["show", "--no-all-versions", package]).output().unwrap();
            assert!(show.status.success() && !show.stdout.is_empty(), "no Debian package {package}");
        }
    }

    #[test]
    fn detects_distributions_from_os_release() {
        let cases = [
            ("ID=debian\nVERSION_ID=\"12\"", Some(Platform::Debian)),
            ("ID=ubuntu\nID_LIKE=debian", Some(Platform::Debian)),
            ("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"", Some(Platform::Fedora)),
            ("ID=alpine", Some(Platform::Alpine)),
            ("ID=arch", Some(Platform::Arch)),
            ("ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"", Some(Platform::OpenSuse)),
            ("ID=linuxmint\nID_LIKE=\"ubuntu debian\"", Some(Platform::Debian)),
            ("ID=nixos", None),
        ];
        for (text, expected) in cases {
            assert_eq!(Platform::from_os_release(text), expected, "{text}");
        }
    }

    #[test]
    fn this_machine_has_what_the_test_suite_builds_with() {
        // CI installs the build dependencies first (install.sh --build-deps).
        for dep in SystemDependency::ALL.into_iter().filter(|d| d.required()) {
            assert!(is_present(dep), "{dep} is missing here");
        }
        assert!(!header_found("surely/not/a/real/header.h"));
    }
}
