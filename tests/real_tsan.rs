//! End to end on a real ThreadSanitizer interpreter: CPython 3.14.6t built by `ftpy install
//! --profile tsan` (free-threaded, `--with-thread-sanitizer`, no PGO or LTO, clang) from the
//! unmodified upstream tarball in `../shared/cpython`, served by a local HTTP mirror and verified
//! against the digest compiled into ftpy's recipes. Built once per test run and shared by every
//! test here through [`real_tsan`] (README gives how long the build takes); set
//! `FTPY_TEST_TSAN_HOME` to a home that holds `3.14.6t-tsan` to reuse one while iterating.
//!
//! It needs a compiler whose TSan runtime works (`./install.sh --build-deps --tsan` installs
//! clang-19 and its runtime; `.ci/run` does): under `CI=true` a missing one fails the test,
//! elsewhere it is skipped loudly (`require`), never silently.

mod common;
// `ftpy venv --tsan` and `ftpy run --tsan` on this build (branch tsan-run).
#[path = "real_tsan/run.rs"]
mod run;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

pub struct RealTsan {
    pub home: PathBuf,
    /// What `ftpy install --profile tsan` printed and how long it took; `None` when an existing
    /// home was reused.
    pub install: Option<(String, Duration)>,
}

impl RealTsan {
    pub fn prefix(&self) -> PathBuf {
        self.home.join("versions/3.14.6t-tsan")
    }

    pub fn interpreter(&self) -> PathBuf {
        self.prefix().join("bin/python3.14t")
    }

    pub fn suppressions(&self) -> PathBuf {
        self.prefix().join("share/ftpy/tsan-suppressions.txt")
    }
}

/// The shared ftpy home with the real 3.14.6t-tsan in it, built by the first test that asks;
/// `None` (said loudly) when this machine has no TSan compiler and this is not CI.
pub fn real_tsan() -> Option<&'static RealTsan> {
    real_build();
    static TSAN: OnceLock<Option<Result<RealTsan, String>>> = OnceLock::new();
    TSAN.get_or_init(build_tsan).as_ref().map(|built| {
        built.as_ref().unwrap_or_else(|e| panic!("the real TSan build could not be installed: {e}"))
    })
}

fn build_tsan() -> Option<Result<RealTsan, String>> {
    if let Some(home) = std::env::var_os("FTPY_TEST_TSAN_HOME") {
        return Some(Ok(RealTsan { home: PathBuf::from(home), install: None }));
    }
    // What `ftpy doctor --profile tsan` checks: a compiler whose TSan runtime runs here.
    let doctor = ftpy(Path::new("/nonexistent-home-for-doctor"), &["doctor", "--profile", "tsan"]);
    let found = stdout_of(&doctor).contains("ok       TSan compiler");
    if !require(found, "a C compiler whose TSan runtime works (clang-19)", "./install.sh --build-deps --tsan")
    {
        return None;
    }
    let tarball = cpython_tarball("3.14.6");
    let bytes = match fs::read(&tarball) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Some(Err(format!("{} is needed (set FTPY_TEST_CPYTHON_DIR): {e}", tarball.display())));
        }
    };
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-tsan");
    let _ = fs::remove_dir_all(&home);
    let server = TestServer::start();
    server.route("/3.14.6/Python-3.14.6.tar.xz", Route::Serve(bytes));
    let started = Instant::now();
    // The built-in recipes: the digest checked is the one python.org published.
    let out = Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_HOME", &home)
        .env("FTPY_MIRROR", &server.base)
        .env_remove("FTPY_RECIPES")
        .env_remove("PYTHON_GIL")
        .env_remove("CC")
        .args(["install", "--profile", "tsan", "3.14.6t"])
        .output();
    let elapsed = started.elapsed();
    Some(match out {
        Err(e) => Err(e.to_string()),
        Ok(out) if !out.status.success() => Err(format!("install failed:\n{}", stderr_of(&out))),
        Ok(out) => {
            // The figure README gives: how long one TSan build takes through ftpy here.
            eprintln!("real TSan build of 3.14.6t through ftpy: {:.0} s", elapsed.as_secs_f64());
            Ok(RealTsan { home, install: Some((stdout_of(&out), elapsed)) })
        }
    })
}

fn ftpy(home: &Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_HOME", home)
        .env_remove("PYTHON_GIL")
        .env_remove("CC")
        .args(args)
        .output()
        .unwrap()
}

/// Run `code` in the TSan interpreter with CPython's suppressions, as `ftpy run --tsan` will.
fn tsan_python_says(tsan: &RealTsan, code: &str) -> String {
    let out = Command::new(tsan.interpreter())
        .args(["-c", code])
        .env("TSAN_OPTIONS", format!("suppressions={}", tsan.suppressions().display()))
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", tsan.interpreter().display(), stderr_of(&out));
    stdout_of(&out).trim().to_string()
}

#[test]
fn real_build_tsan_installs_3_14_6t_tsan_free_threaded_with_its_suppressions() {
    let Some(tsan) = real_tsan() else { return };
    if let Some((stdout, _)) = &tsan.install {
        assert!(
            stdout.contains("Installed 3.14.6t-tsan (free-threaded, ThreadSanitizer, built in"),
            "{stdout}"
        );
        assert!(stdout.contains("GIL disabled"), "{stdout}");
    }
    let home = &tsan.home;
    // `which` names it only when asked for the TSan build.
    let which = ftpy(home, &["which", "3.14t-tsan"]);
    assert!(which.status.success(), "{}", stderr_of(&which));
    assert_eq!(PathBuf::from(stdout_of(&which).trim()), tsan.interpreter());
    assert_eq!(ftpy(home, &["which", "3.14t"]).status.code(), Some(3), "3.14t is the release build");
    let list = stdout_of(&ftpy(home, &["list"]));
    assert!(list.lines().any(|l| l.starts_with("3.14.6t-tsan") && l.contains("tsan")), "{list}");

    // What a user would check by hand: free-threaded, GIL off, configured for TSan, the modules.
    let said = tsan_python_says(
        tsan,
        "import sys, sysconfig, ssl, sqlite3, ctypes, lzma, bz2, zlib, compression.zstd; \
         args = sysconfig.get_config_var('CONFIG_ARGS'); \
         print(sys.version.split()[0], sysconfig.get_config_var('Py_GIL_DISABLED'), sys._is_gil_enabled(), \
         '--with-thread-sanitizer' in args, '--enable-optimizations' in args)",
    );
    assert_eq!(said, "3.14.6 1 False True False");

    // CPython's own suppressions for the free-threaded build, carried by the installation.
    let suppressions = fs::read_to_string(tsan.suppressions()).unwrap();
    assert!(suppressions.contains("suppressions for the free-threaded build"), "{suppressions}");
    assert!(suppressions.lines().any(|l| l.starts_with("race_top:")), "{suppressions}");

    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tsan.prefix().join("ftpy-receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["profile"], "tsan");
    let compiler = receipt["compiler"].as_str().unwrap();
    assert!(compiler.contains("clang"), "built by clang: {compiler}");
    let pip = Command::new(tsan.interpreter())
        .args(["-m", "pip", "--version"])
        .env("TSAN_OPTIONS", format!("suppressions={}", tsan.suppressions().display()))
        .output()
        .unwrap();
    assert!(pip.status.success(), "{}", stderr_of(&pip));
}

#[test]
fn real_build_tsan_the_interpreter_reports_a_race_in_c() {
    let Some(tsan) = real_tsan() else { return };
    // The instrumented interpreter finds a race in C: four threads memset one buffer through
    // ctypes without a lock (TSan intercepts memset; no suppression covers it). The barrier
    // makes them overlap: a thread that ends before the next starts is ordered before it by
    // CPython's own locks, and TSan rightly sees no race (1 run in 3 here without it). Under
    // load, the calls can still be ordered by those locks now and then: up to three runs, and
    // one must report.
    let code = "import ctypes, threading\n\
                libc = ctypes.CDLL(None)\n\
                buf = (ctypes.c_char * 4096)()\n\
                barrier = threading.Barrier(4)\n\
                def work():\n\
                \x20   barrier.wait()\n\
                \x20   for i in range(2000):\n\
                \x20       libc.memset(buf, i & 0xff, 4096)\n\
                threads = [threading.Thread(target=work) for _ in range(4)]\n\
                [t.start() for t in threads]\n\
                [t.join() for t in threads]\n";
    let run = || {
        Command::new(tsan.interpreter())
            .args(["-c", code])
            .env("TSAN_OPTIONS", format!("suppressions={} halt_on_error=0", tsan.suppressions().display()))
            .env_remove("PYTHON_GIL")
            .output()
            .unwrap()
    };
    let reported = |out: &Output| {
        stderr_of(out).contains("WARNING: ThreadSanitizer: data race") && out.status.code() == Some(66)
    };
    let runs: Vec<Output> = (0..3).map(|_| run()).take_while(|o| !reported(o)).collect();
    assert!(
        runs.len() < 3,
        "no report with TSan's exit code 66 in three runs: {:?}",
        runs.iter().map(|o| (o.status, stderr_of(o))).collect::<Vec<_>>()
    );

    // The same threads behind a lock, in Python: no report with CPython's suppressions.
    let safe = "import threading\n\
                lock = threading.Lock()\n\
                total = [0]\n\
                def work():\n\
                \x20   for i in range(2000):\n\
                \x20       with lock:\n\
                \x20           total[0] += 1\n\
                threads = [threading.Thread(target=work) for _ in range(4)]\n\
                [t.start() for t in threads]\n\
                [t.join() for t in threads]\n\
                print(total[0])\n";
    assert_eq!(tsan_python_says(tsan, safe), "8000");
}

#[test]
fn real_build_tsan_restores_from_the_build_cache_in_another_home() {
    let Some(tsan) = real_tsan() else { return };
    // The build is exported as a static cache and restored into a fresh home without building:
    // the path a CI runner (or a second user) takes instead of building again.
    let scratch = tempfile::TempDir::new().unwrap();
    let exported = scratch.path().join("exported");
    let out = ftpy(&tsan.home, &["cache", "export", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let other = scratch.path().join("home");
    let url = format!("file://{}", exported.display());
    let started = Instant::now();
    let out =
        ftpy(&other, &["install", "--no-build", "--remote-cache", &url, "--profile", "tsan", "3.14.6t"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("restored from the remote cache"), "{}", stdout_of(&out));
    eprintln!("restoring the TSan build into another home: {:.0} s", started.elapsed().as_secs_f64());
    let restored = other.join("versions/3.14.6t-tsan");
    assert!(restored.join("share/ftpy/tsan-suppressions.txt").exists());
    let said = Command::new(restored.join("bin/python3.14t"))
        .args([
            "-c",
            "import sys, sysconfig; print(sys.prefix == sysconfig.get_config_var('prefix'), sys.prefix)",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&said).trim(), format!("True {}", restored.display()), "{}", stderr_of(&said));
}
