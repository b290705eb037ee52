//! What building CPython needs from the system, and how each platform provides it. Used to turn
//! a failed build or a missing module into the one command that fixes it.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemDependency {
    CCompiler,
    Make,
    Ssl,
    Zlib,
    Libffi,
    Sqlite3,
    Lzma,
    Bz2,
    Readline,
}

impl SystemDependency {
    /// Package names: Debian/Ubuntu, Fedora/RHEL, Alpine, macOS (Homebrew).
    fn packages(self) -> [&'static str; 4] {
        use SystemDependency::*;
        match self {
            CCompiler => ["build-essential", "gcc", "build-base", "xcode-select --install"],
            Make => ["make", "make", "make", "xcode-select --install"],
            Ssl => ["libssl-dev", "openssl-devel", "openssl-dev", "openssl@3"],
            Zlib => ["zlib1g-dev", "zlib-devel", "zlib-dev", "zlib"],
            Libffi => ["libffi-dev", "libffi-devel", "libffi-dev", "libffi"],
            Sqlite3 => ["libsqlite3-dev", "sqlite-devel", "sqlite-dev", "sqlite"],
            Lzma => ["liblzma-dev", "xz-devel", "xz-dev", "xz"],
            Bz2 => ["libbz2-dev", "bzip2-devel", "bzip2-dev", "bzip2"],
            Readline => ["libreadline-dev", "readline-devel", "readline-dev", "readline"],
        }
    }

    fn what(self) -> &'static str {
        use SystemDependency::*;
        match self {
            CCompiler => "a C compiler",
            Make => "make",
            Ssl => "the OpenSSL headers",
            Zlib => "the zlib headers",
            Libffi => "the libffi headers",
            Sqlite3 => "the SQLite headers",
            Lzma => "the liblzma (xz) headers",
            Bz2 => "the bzip2 headers",
            Readline => "the readline headers",
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
        const PATTERNS: &[(&str, SystemDependency)] = &[
            ("no acceptable C compiler found", CCompiler),
            ("C compiler cannot create executables", CCompiler),
            ("openssl/ssl.h: No such file", Ssl),
            ("zlib.h: No such file", Zlib),
            ("ffi.h: No such file", Libffi),
            ("sqlite3.h: No such file", Sqlite3),
            ("lzma.h: No such file", Lzma),
            ("bzlib.h: No such file", Bz2),
            ("readline/readline.h: No such file", Readline),
        ];
        PATTERNS.iter().find(|(p, _)| line.contains(p)).map(|(_, dep)| *dep)
    }

    /// `install the OpenSSL headers: apt-get install libssl-dev (Debian/Ubuntu), ...`
    pub fn install_hint(self) -> String {
        let [debian, fedora, alpine, brew] = self.packages();
        let mac = if brew.contains(' ') { brew.to_string() } else { format!("brew install {brew}") };
        format!(
            "install {}: `apt-get install {debian}` (Debian/Ubuntu), `dnf install {fedora}` (Fedora/RHEL), `apk add {alpine}` (Alpine), `{mac}` (macOS)",
            self.what()
        )
    }
}

impl fmt::Display for SystemDependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
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
    fn hint_names_a_package_for_each_platform() {
        let hint = SystemDependency::Libffi.install_hint();
        for needle in [
            "apt-get install libffi-dev",
            "dnf install libffi-devel",
            "apk add libffi-dev",
            "brew install libffi",
        ] {
            assert!(hint.contains(needle), "{hint}");
        }
        assert_eq!(SystemDependency::for_module("ctypes"), Some(SystemDependency::Libffi));
    }
}
