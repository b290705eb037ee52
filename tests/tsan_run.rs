//! `ftpy run --tsan` and `ftpy venv --tsan` without a real ThreadSanitizer build: the refusals,
//! and the plumbing around a stand-in `.venv-tsan` whose `python` writes a real TSan report file
//! (captured from a clang-19 build, in tests/fixtures/tsan) where `TSAN_OPTIONS` says.

mod common;

use std::fs;
use std::path::Path;

use common::*;

const C_LIBRARY: &str = include_str!("fixtures/tsan/c_library.log");

/// A `.venv-tsan` in `root` made by hand: its `python` records TSAN_OPTIONS, copies `report`
/// (if any) to `<log_path>.<pid>`, and exits with `exit`.
fn stand_in_env(root: &Path, key: &str, report: Option<&str>, exit: i32) {
    let env = root.join(".venv-tsan");
    fs::create_dir_all(env.join("bin")).unwrap();
    fs::write(env.join("pyvenv.cfg"), "home = /nowhere\n").unwrap();
    let base = root.join("base/bin/python3.14t");
    fs::create_dir_all(base.parent().unwrap()).unwrap();
    fs::write(&base, "").unwrap();
    fs::write(
        env.join("ftpy-venv.json"),
        serde_json::json!({"key": key, "base_interpreter": base, "requirements": "none", "created_at": 1})
            .to_string(),
    )
    .unwrap();
    if let Some(report) = report {
        fs::write(root.join("report.log"), report).unwrap();
    }
    let script = format!(
        "#!/bin/sh\nprintf '%s' \"$TSAN_OPTIONS\" > '{options}'\n\
         dir=$(printf '%s' \"$TSAN_OPTIONS\" | sed -n 's/.*log_path=\\([^ ]*\\).*/\\1/p')\n\
         [ -f '{report}' ] && cp '{report}' \"$dir.$$\"\necho ran \"$@\"\nexit {exit}\n",
        options = root.join("options.txt").display(),
        report = root.join("report.log").display(),
    );
    let python = env.join("bin/python");
    fs::write(&python, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn run_tsan_without_the_environment_says_how_to_make_it() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    let out =
        fx.ftpy().current_dir(project.path()).args(["run", "--tsan", "--", "python", "-V"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("no ThreadSanitizer environment (.venv-tsan)"), "{stderr}");
    assert!(stderr.contains("ftpy venv --tsan"), "{stderr}");
    assert!(stderr.contains("ftpy install 3.14t --profile tsan"), "{stderr}");
}

#[test]
fn run_tsan_refuses_the_twin_flags_and_json_needs_tsan() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    for args in [
        &["run", "--tsan", "--ft", "--", "python"][..],
        &["run", "--tsan", "--repeat", "3", "--", "python"],
        &["run", "--json", "--", "python"],
    ] {
        let out = fx.ftpy().current_dir(project.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
}

#[test]
fn venv_tsan_without_a_tsan_build_says_how_to_build_one() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    fs::write(project.path().join("requirements.txt"), "").unwrap();
    let out = fx.ftpy().current_dir(project.path()).args(["venv", "--tsan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("no ThreadSanitizer build installed"), "{stderr}");
    assert!(stderr.contains("ftpy install 3.14t --profile tsan"), "{stderr}");
    assert!(!project.path().join(".venv-tsan").exists());
}

#[test]
fn an_environment_made_from_a_release_build_is_refused() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    stand_in_env(project.path(), "3.14.6t", None, 0);
    let out = fx.ftpy().current_dir(project.path()).args(["run", "--tsan", "--", "python"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("not a ThreadSanitizer build"), "{}", stderr_of(&out));
}

#[test]
fn a_race_outside_cpython_is_grouped_attributed_and_fails_the_run() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    stand_in_env(project.path(), "3.14.6t-tsan", Some(C_LIBRARY), 0);
    let out = fx
        .ftpy()
        .current_dir(project.path())
        .env("TSAN_OPTIONS", "verbosity=1 halt_on_error=1")
        .args(["run", "--tsan", "--", "python", "-c", "pass"])
        .output()
        .unwrap();
    let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
    assert_eq!(out.status.code(), Some(18), "{stdout}{stderr}");
    assert!(stdout.contains("tsan │ ran -c pass"), "{stdout}");
    assert!(
        stdout.contains("ThreadSanitizer: 2 warnings from 1 process: 2 unique races, 2 outside CPython"),
        "{stdout}"
    );
    assert!(stdout.contains("race 1: data race in libracy.so: 1 report in 1 process"), "{stdout}");
    assert!(stdout.contains("#0 bump /tmp/tsr/racy.c:2:26 (libracy.so)"), "{stdout}");
    assert!(stderr.contains("outside CPython, in libracy.so"), "{stderr}");
    // The user's options first; ftpy's after them, so they win.
    let options = fs::read_to_string(project.path().join("options.txt")).unwrap();
    assert!(
        options.starts_with("verbosity=1 halt_on_error=1 halt_on_error=0 exitcode=0 log_path="),
        "{options}"
    );

    // --json: the report alone on stdout, the command's output on stderr.
    let out = fx
        .ftpy()
        .current_dir(project.path())
        .args(["run", "--tsan", "--json", "--", "python"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(18), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["installation"], "3.14.6t-tsan");
    assert_eq!(json["report"]["races"][0]["kind"], "data race");
    assert_eq!(json["report"]["races"][0]["owner"]["kind"], "unknown");
    assert_eq!(json["report"]["races"][0]["sites"][0]["function"], "bump");
    assert!(stderr_of(&out).contains("tsan │ ran"), "{}", stderr_of(&out));
}

#[test]
fn cpythons_own_races_are_listed_but_pass_and_the_commands_failure_is_its_own() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    let cpython = C_LIBRARY.replace("libracy.so", "python3.14t").replace("(main+", "(python3.14t+");
    stand_in_env(project.path(), "3.14.6t-tsan", Some(&cpython), 0);
    let out = fx.ftpy().current_dir(project.path()).args(["run", "--tsan", "--", "python"]).output().unwrap();
    let stdout = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr_of(&out));
    assert!(stdout.contains("0 outside CPython"), "{stdout}");
    assert!(stdout.contains("in CPython itself (listed, not failing the run):"), "{stdout}");
    assert!(stdout.contains("race 1: data race in CPython"), "{stdout}");

    stand_in_env(project.path(), "3.14.6t-tsan", None, 3);
    fs::remove_file(project.path().join("report.log")).unwrap();
    let out = fx.ftpy().current_dir(project.path()).args(["run", "--tsan", "--", "python"]).output().unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("ThreadSanitizer: no reports"), "{}", stdout_of(&out));
}

#[test]
fn a_tsan_environment_left_half_replaced_by_a_killed_venv_comes_back() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    stand_in_env(project.path(), "3.14.6t-tsan", None, 0);
    // A killed `ftpy venv --tsan` (pid 1 is never ftpy) set the old one aside, and the new one
    // has no record yet.
    let aside = project.path().join(".venv-tsan.previous-999999999-1");
    fs::rename(project.path().join(".venv-tsan"), &aside).unwrap();
    fs::create_dir_all(project.path().join(".venv-tsan/bin")).unwrap();
    let out = fx.ftpy().current_dir(project.path()).args(["venv", "--status"]).output().unwrap();
    assert!(stderr_of(&out).contains("put back .venv-tsan"), "{}", stderr_of(&out));
    assert!(!aside.exists());
    assert!(project.path().join(".venv-tsan/ftpy-venv.json").is_file());
    assert!(
        stdout_of(&out).contains(".venv-tsan Python 3.14.6t-tsan"),
        "{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
}

#[test]
fn wheels_build_tsan_without_a_tsan_build_says_how_to_build_one() {
    let fx = Fixture::new();
    let project = tempfile::TempDir::new().unwrap();
    fs::write(project.path().join("requirements.txt"), "six\n").unwrap();
    let out = fx
        .ftpy()
        .current_dir(project.path())
        .args([
            "wheels",
            "build",
            "--tsan",
            "-r",
            "requirements.txt",
            "--index-url",
            "http://127.0.0.1:9/simple",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("ftpy install 3.14t --profile tsan"), "{}", stderr_of(&out));
}
