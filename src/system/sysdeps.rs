//! What building CPython needs from the system, how to tell whether it is there, and how each
//! platform provides it. [`SystemDependency::package`] is the one table of system packages, and
//! [`STDLIB_MODULES`] the one table of the extension modules ftpy checks after an install, per
//! series, and of the library each is built from. Everything else follows them: doctor and the
//! check `ftpy install` makes before it downloads anything, the build and post-install hints,
//! the wheel-build hints (`wheels::build`), the Dockerfile's builder stage
//! ([`Platform::build_packages`]), and `install.sh --build-deps`, which the generated workflow
//! runs through ftpy's action (shell: a test below checks its lists match the table exactly).

use std::fmt;
use std::fs;
use std::process::{Command, Stdio};

use crate::interpreters::version::{FIRST_FREETHREADED, MinorVersion};
use crate::system::toolchain::{compiler_command, compiler_works, is_root};

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
    Zstd,
}

impl SystemDependency {
    pub const ALL: [SystemDependency; 14] = [
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
        SystemDependency::Zstd,
    ];

    /// Without it no build of `series` succeeds, or the result fails ftpy's checks: the tools,
    /// and the library of every module [`STDLIB_MODULES`] requires in that series.
    pub fn required_for(self, series: MinorVersion) -> bool {
        use SystemDependency::*;
        match self {
            CCompiler | Make => true,
            PkgConfig => false,
            _ => modules_for(series).any(|m| m.dependency == self && m.need == Need::Required),
        }
    }

    /// The first series whose install fails without it, if any does.
    pub fn required_since(self) -> Option<MinorVersion> {
        use SystemDependency::*;
        match self {
            CCompiler | Make => Some(FIRST_FREETHREADED),
            PkgConfig => None,
            _ => STDLIB_MODULES
                .iter()
                .filter(|m| m.dependency == self && m.need == Need::Required)
                .map(|m| m.since.max(FIRST_FREETHREADED))
                .min(),
        }
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
            Zstd => "zstd.h",
            CCompiler | Make | PkgConfig => return None,
        })
    }

    /// The dependency that provides `header` (`openssl/evp.h`: the OpenSSL headers; headers of
    /// a subdirectory count for the library whose marker header is there).
    pub fn for_header(header: &str) -> Option<SystemDependency> {
        SystemDependency::ALL.into_iter().find(|dep| {
            dep.header().is_some_and(|own| match own.split_once('/') {
                Some((dir, _)) => header.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')),
                None => header == own,
            })
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
            Zstd => "libzstd",
            _ => return None,
        })
    }

    /// The first series with a module that needs it, if it is a library.
    pub fn module_since(self) -> Option<MinorVersion> {
        STDLIB_MODULES.iter().filter(|m| m.dependency == self).map(|m| m.since).min()
    }

    /// The standard-library module that needs it, if it is a library.
    pub fn module(self) -> Option<&'static str> {
        STDLIB_MODULES.iter().find(|m| m.dependency == self).map(|m| m.import)
    }

    /// The package that provides it on `platform`.
    pub fn package(self, platform: Platform) -> &'static str {
        use Platform::*;
        use SystemDependency::*;
        let [debian, fedora, alpine, arch, suse, brew] = match self {
            CCompiler => ["build-essential", "gcc", "build-base", "base-devel", "gcc", "llvm"],
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
            Zstd => ["libzstd-dev", "libzstd-devel", "zstd-dev", "zstd", "libzstd-devel", "zstd"],
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
            Zstd => "the zstd headers",
        }
    }

    /// The system dependency a standard-library module (or its C part, `_ssl`) is built from.
    pub fn for_module(module: &str) -> Option<SystemDependency> {
        use SystemDependency::*;
        const C_PARTS: [(&str, SystemDependency); 10] = [
            ("_ssl", Ssl),
            ("_hashlib", Ssl),
            ("_ctypes", Libffi),
            ("_sqlite3", Sqlite3),
            ("_lzma", Lzma),
            ("_bz2", Bz2),
            ("_zstd", Zstd),
            ("_gdbm", Gdbm),
            ("_tkinter", Tk),
            ("uuid", Uuid),
        ];
        STDLIB_MODULES
            .iter()
            .find(|m| m.import == module)
            .map(|m| m.dependency)
            .or_else(|| C_PARTS.iter().find(|(name, _)| *name == module).map(|(_, dep)| *dep))
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

/// Whether an install fails without a module, or only reports that it is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The install fails its checks without it (unless `--allow-missing-modules`), naming the
    /// package that provides its library.
    Required,
    /// Reported after the install, with the package that would provide it.
    Optional,
}

/// An extension module of the standard library that needs a system library.
#[derive(Clone, Copy, Debug)]
pub struct StdlibModule {
    /// What the post-install probe imports.
    pub import: &'static str,
    pub dependency: SystemDependency,
    /// The first series that has the module.
    pub since: MinorVersion,
    pub need: Need,
}

const fn module(import: &'static str, dependency: SystemDependency, since: u32, need: Need) -> StdlibModule {
    StdlibModule { import, dependency, since: MinorVersion { major: 3, minor: since }, need }
}

/// The modules ftpy checks after every install, in the order they are reported. Required are
/// the ones code commonly imports without a fallback (ssl for pip itself, the compression
/// modules for archives and wheels, ctypes and sqlite3 for common libraries). 3.14 adds
/// `compression.zstd` (PEP 784): required, because libzstd's headers are packaged everywhere
/// ftpy supports and a user finds its absence only at the first import.
pub const STDLIB_MODULES: &[StdlibModule] = &[
    module("ssl", SystemDependency::Ssl, 0, Need::Required),
    module("zlib", SystemDependency::Zlib, 0, Need::Required),
    module("ctypes", SystemDependency::Libffi, 0, Need::Required),
    module("sqlite3", SystemDependency::Sqlite3, 0, Need::Required),
    module("lzma", SystemDependency::Lzma, 0, Need::Required),
    module("bz2", SystemDependency::Bz2, 0, Need::Required),
    module("compression.zstd", SystemDependency::Zstd, 14, Need::Required),
    module("readline", SystemDependency::Readline, 0, Need::Optional),
    module("_uuid", SystemDependency::Uuid, 0, Need::Optional),
    module("dbm.gnu", SystemDependency::Gdbm, 0, Need::Optional),
    module("tkinter", SystemDependency::Tk, 0, Need::Optional),
];

/// The modules `series` has, required first in table order.
pub fn modules_for(series: MinorVersion) -> impl Iterator<Item = &'static StdlibModule> {
    STDLIB_MODULES.iter().filter(move |m| m.since <= series)
}

/// The import names of the modules an install of `series` must have.
pub fn required_modules(series: MinorVersion) -> Vec<&'static str> {
    modules_for(series).filter(|m| m.need == Need::Required).map(|m| m.import).collect()
}

impl Platform {
    /// Everything `install.sh --build-deps`, the generated workflow and the Dockerfile's
    /// builder install: every dependency in [`SystemDependency::ALL`] (required or optional, for
    /// every series), and what fetching and unpacking need besides.
    pub fn build_packages(self) -> Vec<&'static str> {
        let mut packages: Vec<&'static str> = Vec::new();
        for dep in SystemDependency::ALL {
            if self == Platform::MacOs && dep == SystemDependency::CCompiler {
                continue; // xcode-select, not a package
            }
            let package = dep.package(self);
            if !packages.contains(&package) {
                packages.push(package);
            }
        }
        packages.extend_from_slice(match self {
            Platform::Debian => &["ca-certificates", "xz-utils"][..],
            Platform::Fedora | Platform::OpenSuse => &["xz"][..],
            Platform::Alpine => &["linux-headers", "xz"][..],
            Platform::Arch | Platform::MacOs => &[][..],
        });
        packages
    }
}

/// What `--profile tsan` needs on Debian and Ubuntu besides [`Platform::build_packages`]: the
/// distribution's clang 19 and its sanitizer runtimes (`libclang_rt.tsan`), which clang only
/// recommends, so a `--no-install-recommends` install would leave it out.
pub const TSAN_PACKAGES_DEBIAN: &[&str] = &["clang-19", "libclang-rt-19-dev"];

impl Platform {
    /// What `install.sh --build-deps --tsan` adds for a ThreadSanitizer build: a clang and its
    /// TSan runtime. `None` where ftpy does not know the packages (install clang and
    /// compiler-rt by hand there).
    pub fn tsan_packages(self) -> Option<&'static [&'static str]> {
        match self {
            Platform::Debian => Some(TSAN_PACKAGES_DEBIAN),
            Platform::Fedora => Some(&["clang", "compiler-rt"]),
            Platform::Alpine | Platform::Arch | Platform::OpenSuse | Platform::MacOs => None,
        }
    }
}

/// Whether `dep` is present on this system: the tool on PATH, or the header found by the C
/// compiler's own preprocessor (so its include paths are the ones a build will use).
pub fn is_present(dep: SystemDependency) -> bool {
    use SystemDependency::*;
    match dep {
        CCompiler => compiler_works(),
        Make => runs(&crate::system::toolchain::make_program(), &["--version"]),
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

fn header_found(header: &str) -> bool {
    if !compiler_works() {
        // No compiler to ask: look where headers usually are.
        return ["/usr/include", "/usr/local/include", "/opt/homebrew/include"]
            .iter()
            .any(|dir| std::path::Path::new(dir).join(header).exists());
    }
    // The probe is a file, not the compiler's stdin: a compiler that exits without reading it
    // would make the write raise SIGPIPE, which ends ftpy (it keeps the default disposition).
    let Ok(dir) = tempfile::tempdir() else { return false };
    let probe = dir.path().join("probe.c");
    if fs::write(&probe, format!("#include <{header}>\n")).is_err() {
        return false;
    }
    let mut command = compiler_command();
    // The preprocessor flags configure will pass too, e.g. -I of a keg-only Homebrew formula.
    if let Ok(cppflags) = std::env::var("CPPFLAGS") {
        command.args(cppflags.split_whitespace());
    }
    command.arg("-E").arg(&probe).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    command.status().is_ok_and(|s| s.success())
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
        let newest = crate::interpreters::version::RECOMMENDED_SERIES;
        for dep in SystemDependency::ALL.into_iter().filter(|d| d.required_for(newest)) {
            assert!(is_present(dep), "{dep} is missing here");
        }
        assert!(!header_found("surely/not/a/real/header.h"));
    }

    /// install.sh is shell and cannot read the table: each of its package manager lines must
    /// list exactly the table's packages for that platform, in the table's order.
    #[test]
    fn install_sh_installs_what_the_table_says() {
        let script = include_str!("../../install.sh");
        let managers = [
            ("apt-get install", Platform::Debian),
            ("dnf install", Platform::Fedora),
            ("pacman -S", Platform::Arch),
            ("zypper install", Platform::OpenSuse),
            ("apk add", Platform::Alpine),
        ];
        for (command, platform) in managers {
            let lines: Vec<&str> =
                script.lines().map(str::trim).filter(|l| l.starts_with('"') && l.contains(command)).collect();
            assert_eq!(lines.len(), 1, "install.sh must have one `{command}` line: {lines:?}");
            let after = lines[0].trim_matches('"').split_once(command).map(|(_, rest)| rest).unwrap();
            let listed: Vec<&str> = after.split_whitespace().filter(|w| !w.starts_with('-')).collect();
            assert_eq!(
                listed,
                platform.build_packages(),
                "install.sh's {} line must list exactly: {}",
                platform.name(),
                platform.build_packages().join(" ")
            );
        }
    }

    /// `install.sh --tsan` adds exactly the table's TSan packages, on the platforms that have them.
    #[test]
    fn install_sh_installs_the_tsan_packages_the_table_says() {
        let script = include_str!("../../install.sh");
        for (command, platform) in [("apt-get install", Platform::Debian), ("dnf install", Platform::Fedora)]
        {
            let lines: Vec<&str> = script
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("tsan_cmd=") && l.contains(command))
                .collect();
            assert_eq!(lines.len(), 1, "install.sh must have one tsan `{command}` line: {lines:?}");
            let after = lines[0].split_once(command).map(|(_, rest)| rest).unwrap().trim_end_matches('"');
            let listed: Vec<&str> = after.split_whitespace().filter(|w| !w.starts_with('-')).collect();
            assert_eq!(
                listed,
                platform.tsan_packages().unwrap(),
                "install.sh's tsan line for {}",
                platform.name()
            );
        }
    }

    #[test]
    fn modules_per_series() {
        let v = |minor| MinorVersion { major: 3, minor };
        assert_eq!(required_modules(v(13)), ["ssl", "zlib", "ctypes", "sqlite3", "lzma", "bz2"]);
        assert!(required_modules(v(14)).contains(&"compression.zstd"));
        assert!(SystemDependency::Zstd.required_for(v(14)));
        assert!(!SystemDependency::Zstd.required_for(v(13)));
        assert!(!SystemDependency::Tk.required_for(v(14)));
        assert!(SystemDependency::Make.required_for(v(13)));
        assert_eq!(SystemDependency::Zstd.required_since(), Some(v(14)));
        assert_eq!(SystemDependency::for_module("_zstd"), Some(SystemDependency::Zstd));
        assert_eq!(SystemDependency::for_module("_hashlib"), Some(SystemDependency::Ssl));
        for module in STDLIB_MODULES {
            assert_eq!(
                SystemDependency::for_module(module.import),
                Some(module.dependency),
                "{}",
                module.import
            );
        }
    }
}
