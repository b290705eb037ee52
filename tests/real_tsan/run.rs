//! `ftpy venv --tsan` and `ftpy run --tsan` on the real ThreadSanitizer build: a C extension
//! with an unsynchronized global counter, incremented from threads, is reported and attributed
//! to its module; the same extension with C11 atomics is not.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{stderr_of, stdout_of};

const BACKEND: &str = include_str!("../fixtures/ftpy_test_backend.py");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tsan");

/// Copy the fixture package `name` (tests/fixtures/tsan/<name>) and the in-tree backend into `dir`.
fn copy_package(name: &str, dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap().flatten() {
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let root = dir.join(name);
    copy(&Path::new(FIXTURES).join(name), &root);
    fs::write(root.join("ftpy_test_backend.py"), BACKEND).unwrap();
    root
}

fn ftpy(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .current_dir(cwd)
        .env("FTPY_HOME", home)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_CACHE_DIR", cwd.join(".pip-cache"))
        .env("CI", "true")
        .env_remove("PYTHON_GIL")
        .env_remove("VIRTUAL_ENV")
        .env_remove("TSAN_OPTIONS")
        .args(args)
        .output()
        .unwrap()
}

/// A project whose `.venv-tsan` holds both counters, built from source with the sanitizer.
fn project_with_counters(home: &Path) -> tempfile::TempDir {
    let dir =
        tempfile::Builder::new().prefix("tsan-project-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    copy_package("racecounter", dir.path());
    copy_package("safecounter", dir.path());
    fs::write(dir.path().join("requirements.txt"), "./racecounter\n./safecounter\n").unwrap();
    let out = ftpy(home, dir.path(), &["venv", "--tsan"]);
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    assert!(stdout_of(&out).contains(".venv-tsan Python 3.14.6t-tsan"), "{}", stdout_of(&out));
    // Built with the sanitizer: the extension needs TSan's runtime.
    let ext = fs::read_dir(dir.path().join(".venv-tsan/lib/python3.14t/site-packages/racecounter"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("_counter."))
        .expect("the extension is installed");
    let bytes = fs::read(ext.path()).unwrap();
    assert!(bytes.windows(11).any(|w| w == b"__tsan_read" || w == b"__tsan_writ"), "not instrumented");
    dir
}

#[test]
fn real_build_tsan_reports_the_racy_counter_and_not_the_atomic_one() {
    let Some(tsan) = super::real_tsan() else { return };
    let project = project_with_counters(&tsan.home);
    let hammer = |module: &str| {
        ftpy(
            &tsan.home,
            project.path(),
            &["run", "--tsan", "--", "python", "-c", &format!("import {module}; print({module}.hammer())")],
        )
    };

    let racy = hammer("racecounter");
    let (stdout, stderr) = (stdout_of(&racy), stderr_of(&racy));
    println!("{stdout}\n{stderr}");
    assert_eq!(racy.status.code(), Some(18), "{stdout}{stderr}");
    assert!(stdout.contains("race 1: data race in racecounter._counter (package racecounter)"), "{stdout}");
    assert!(stdout.contains("increment "), "{stdout}");
    assert!(stderr.contains("outside CPython, in racecounter._counter (package racecounter)"), "{stderr}");

    let safe = hammer("safecounter");
    let (stdout, stderr) = (stdout_of(&safe), stderr_of(&safe));
    println!("{stdout}\n{stderr}");
    assert_eq!(safe.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("tsan │ 80000"), "the atomic counter lost no increment: {stdout}");
    assert!(
        stdout.contains("ThreadSanitizer: no reports") || stdout.contains(", 0 outside CPython"),
        "{stdout}"
    );
    assert!(!stdout.contains("safecounter"), "{stdout}");

    // --json for CI: the same race, by its module and distribution.
    let json = ftpy(
        &tsan.home,
        project.path(),
        &["run", "--tsan", "--json", "--", "python", "-c", "import racecounter; racecounter.hammer()"],
    );
    assert_eq!(json.status.code(), Some(18), "{}", stderr_of(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let race = &report["report"]["races"][0];
    assert_eq!(
        race["owner"],
        serde_json::json!({"kind": "package", "distribution": "racecounter", "module": "racecounter._counter"})
    );
    assert_eq!(race["sites"][0]["function"], "increment");
}
