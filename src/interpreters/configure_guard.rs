//! The `configure` arguments ftpy decides itself, and how to spot them however they are spelled.
//!
//! A `--configure-opt` or a recipe's `configure_flags` must not contradict the install prefix,
//! the variant or the profile. Exact matching is not enough: autoconf's `configure` accepts one
//! or two leading dashes, unique abbreviations of its own long options (`--pre=`, `--ex=`),
//! `--exec_prefix`, `--disable-X` for `--enable-X=no`, `--without-X` for `--with-X=no`, feature
//! names with `-`, `+` and `.` all meaning `_`, and `NAME=value`, which sets configure's shell
//! variable of that name (`prefix=/` works like `--prefix=/`). [`check`] reduces an argument
//! to the variable it sets, as configure's own option loop does, and looks that up in
//! [`GUARDED`]. A bare option that takes a value (`--host`) is refused too: configure would
//! take the next argument, possibly one of ftpy's own, as its value.

use std::fmt;

const PREFIX: &str = "ftpy installs into <home>/versions/<version>";
const LAYOUT: &str = "ftpy installs with CPython's standard layout under <home>/versions/<version>";
const SOURCE: &str = "ftpy builds the source it downloaded and verified";
const NAMES: &str = "ftpy finds the interpreter by CPython's own names (python3.13t)";
const VARIANT: &str = "the variant comes from the request: add or drop the `t` (3.13t)";
const PROFILE: &str = "these come from --profile";
const TSAN: &str =
    "a ThreadSanitizer build is its own installation: `--profile tsan` makes it (3.14.6t-tsan)";

/// How an argument names what it sets.
enum Spelling {
    /// One of configure's standard long options, taking a value; `shortest` is the shortest
    /// abbreviation configure accepts (from its option loop: `--p` is `--prefix`).
    Long { name: &'static str, shortest: usize },
    /// An `--enable-X`/`--disable-X` or `--with-X`/`--without-X` feature, as the shell variable
    /// it sets (`enable_gil`); configure does not abbreviate these.
    Feature(&'static str),
}

use Spelling::{Feature, Long};

/// Every option ftpy refuses, and why.
const GUARDED: &[(Spelling, &str)] = &[
    (Long { name: "prefix", shortest: 1 }, PREFIX),
    (Long { name: "exec-prefix", shortest: 2 }, PREFIX),
    (Long { name: "bindir", shortest: 2 }, LAYOUT),
    (Long { name: "sbindir", shortest: 2 }, LAYOUT),
    (Long { name: "libexecdir", shortest: 4 }, LAYOUT),
    (Long { name: "datarootdir", shortest: 5 }, LAYOUT),
    (Long { name: "datadir", shortest: 5 }, LAYOUT),
    (Long { name: "sysconfdir", shortest: 2 }, LAYOUT),
    (Long { name: "sharedstatedir", shortest: 2 }, LAYOUT),
    (Long { name: "localstatedir", shortest: 6 }, LAYOUT),
    (Long { name: "runstatedir", shortest: 1 }, LAYOUT),
    (Long { name: "includedir", shortest: 3 }, LAYOUT),
    (Long { name: "oldincludedir", shortest: 1 }, LAYOUT),
    (Long { name: "docdir", shortest: 2 }, LAYOUT),
    (Long { name: "infodir", shortest: 3 }, LAYOUT),
    (Long { name: "htmldir", shortest: 2 }, LAYOUT),
    (Long { name: "dvidir", shortest: 2 }, LAYOUT),
    (Long { name: "pdfdir", shortest: 2 }, LAYOUT),
    (Long { name: "psdir", shortest: 2 }, LAYOUT),
    (Long { name: "libdir", shortest: 4 }, LAYOUT),
    (Long { name: "localedir", shortest: 6 }, LAYOUT),
    (Long { name: "mandir", shortest: 1 }, LAYOUT),
    (Long { name: "srcdir", shortest: 2 }, SOURCE),
    (Long { name: "program-prefix", shortest: 9 }, NAMES),
    (Long { name: "program-suffix", shortest: 9 }, NAMES),
    (Long { name: "program-transform-name", shortest: 9 }, NAMES),
    (Feature("enable_gil"), VARIANT),
    (Feature("enable_optimizations"), PROFILE),
    (Feature("with_lto"), PROFILE),
    (Feature("with_thread_sanitizer"), TSAN),
];

/// configure's other standard options that take a value, and their shortest abbreviations.
const OTHER_VALUE_OPTIONS: &[(&str, usize)] = &[
    ("build", 2),
    ("host", 2),
    ("target", 1),
    ("cache-file", 1),
    ("site", 3),
    ("x-includes", 3),
    ("x-libraries", 3),
];

/// Why an argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub arg: String,
    /// What configure reads the argument as, e.g. `--prefix` for `-pre=/usr`.
    pub reads_as: String,
    pub why: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arg = self.arg.split('=').next().unwrap_or(&self.arg);
        if arg == self.reads_as {
            write!(f, "`{}` is not allowed: {}", self.arg, self.why)
        } else {
            write!(
                f,
                "`{}` is not allowed: configure reads it as {}, and {}",
                self.arg, self.reads_as, self.why
            )
        }
    }
}

/// Refuse `arg` if configure would read it as one of the options ftpy decides itself, or as
/// an option that takes the next argument as its value.
pub fn check(arg: &str) -> Result<(), Refusal> {
    let refuse = |reads_as: String, why: &'static str| Err(Refusal { arg: arg.to_string(), reads_as, why });
    let (name, has_value) = match arg.split_once('=') {
        Some((name, _)) => (name, true),
        None => (arg, false),
    };
    if !name.starts_with('-') {
        // `NAME=value` sets configure's shell variable NAME, its own ones included.
        if has_value {
            for (spelling, why) in GUARDED {
                if variable(spelling) == name {
                    return refuse(display(spelling), why);
                }
            }
        }
        return Ok(());
    }
    let option = name.trim_start_matches('-').replace('_', "-");
    for (negative, positive) in
        [("disable-", "enable"), ("enable-", "enable"), ("without-", "with"), ("with-", "with")]
    {
        if let Some(feature) = option.strip_prefix(negative) {
            let set = format!("{positive}_{}", feature.replace(['-', '+', '.'], "_"));
            for (spelling, why) in GUARDED {
                if matches!(spelling, Feature(v) if *v == set) {
                    return refuse(display(spelling), why);
                }
            }
            return Ok(());
        }
    }
    let abbreviates = |long: &str, shortest: usize| {
        (option.len() >= shortest && long.starts_with(&option))
            || (long == "program-transform-name" && option == "progr-tra")
    };
    for (spelling, why) in GUARDED {
        if let Long { name, shortest } = spelling
            && abbreviates(name, *shortest)
        {
            return refuse(display(spelling), why);
        }
    }
    for (long, shortest) in OTHER_VALUE_OPTIONS {
        if !has_value && abbreviates(long, *shortest) {
            return refuse(
                format!("--{long}"),
                "configure would take the next argument as its value: write it with `=`, as in --host=VALUE",
            );
        }
    }
    Ok(())
}

/// The shell variable configure sets for a guarded option.
fn variable(spelling: &Spelling) -> String {
    match spelling {
        Long { name, .. } => name.replace('-', "_"),
        Feature(var) => var.to_string(),
    }
}

/// The option as a person would write it: `--prefix`, `--disable-gil`, `--with-lto`.
fn display(spelling: &Spelling) -> String {
    match spelling {
        Long { name, .. } => format!("--{name}"),
        Feature(var) => match var.split_once('_') {
            Some(("enable", f)) => format!("--enable-{0}/--disable-{0}", f.replace('_', "-")),
            Some((kind, f)) => format!("--{kind}-{0}/--without-{0}", f.replace('_', "-")),
            None => var.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_spelling_configure_reads_as_a_guarded_option() {
        let cases: &[(&str, &str)] = &[
            ("--prefix=/usr", "--prefix"),
            ("--prefix", "--prefix"),
            ("--pre=/usr", "--prefix"),
            ("--p=/", "--prefix"),
            ("-prefix=/", "--prefix"),
            ("prefix=/", "--prefix"),
            ("--exec-prefix=/x", "--exec-prefix"),
            ("--exec_prefix=/x", "--exec-prefix"),
            ("--ex=/x", "--exec-prefix"),
            ("exec_prefix=/x", "--exec-prefix"),
            ("--bindir=/usr/bin", "--bindir"),
            ("--bi=/usr/bin", "--bindir"),
            ("--libdir=/usr/lib64", "--libdir"),
            ("--m=/x", "--mandir"),
            ("--srcdir=/elsewhere", "--srcdir"),
            ("--program-suffix=3", "--program-suffix"),
            ("--progr-tra=s/x/y/", "--program-transform-name"),
            ("--disable-gil", "--enable-gil/--disable-gil"),
            ("-disable-gil", "--enable-gil/--disable-gil"),
            ("--enable-gil", "--enable-gil/--disable-gil"),
            ("--enable-gil=no", "--enable-gil/--disable-gil"),
            ("--disable_gil", "--enable-gil/--disable-gil"),
            ("enable_gil=no", "--enable-gil/--disable-gil"),
            ("--enable-optimizations", "--enable-optimizations/--disable-optimizations"),
            ("--disable-optimizations", "--enable-optimizations/--disable-optimizations"),
            ("--with-lto=thin", "--with-lto/--without-lto"),
            ("--without-lto", "--with-lto/--without-lto"),
            ("with_lto=no", "--with-lto/--without-lto"),
            ("--with-thread-sanitizer", "--with-thread-sanitizer/--without-thread-sanitizer"),
            ("--without-thread_sanitizer", "--with-thread-sanitizer/--without-thread-sanitizer"),
            ("--host", "--host"),
            ("--build", "--build"),
            ("--t", "--target"),
        ];
        for (arg, reads_as) in cases {
            match check(arg) {
                Err(refusal) => assert_eq!(refusal.reads_as, *reads_as, "{arg}"),
                Ok(()) => panic!("{arg} was allowed"),
            }
        }
    }

    #[test]
    fn allows_what_ftpy_leaves_to_the_user() {
        for arg in [
            "--with-pydebug",
            "--with-openssl=/opt/ssl",
            "--enable-shared",
            "--enable-experimental-jit=yes-off",
            "--with-ensurepip=install",
            "--with-lto-something=1",
            "--without-doc-strings",
            "--host=x86_64-linux-gnu",
            "--build=x86_64-linux-gnu",
            "-C",
            "--config-cache",
            "CFLAGS=-O1 -g",
            "CC=clang",
            "LDFLAGS=-L/opt/lib",
            "PREFIX=/x",
            "--enable-gilx",
            "--with-pkg-config=yes",
            "--enable-loadable-sqlite-extensions",
        ] {
            assert_eq!(check(arg), Ok(()), "{arg}");
        }
    }

    #[test]
    fn says_what_configure_reads_and_why() {
        assert_eq!(
            check("--pre=/usr").unwrap_err().to_string(),
            "`--pre=/usr` is not allowed: configure reads it as --prefix, and ftpy installs into <home>/versions/<version>"
        );
        assert_eq!(
            check("--prefix=/usr").unwrap_err().to_string(),
            "`--prefix=/usr` is not allowed: ftpy installs into <home>/versions/<version>"
        );
        assert!(check("--host").unwrap_err().to_string().contains("write it with `=`"));
    }
}
