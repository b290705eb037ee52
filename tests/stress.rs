//! `ftpy run --stress` without a real interpreter: what is refused before anything runs, and
//! the plugin that cannot be installed. The runs themselves, on the real pair, are in
//! real_pair.rs (`real_build_stress_*`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A project whose `.venv-ft` interpreter is a script: it answers ftpy's package probe with
/// `probe` (JSON), fails pip as an index without the plugin does, and notes anything else it
/// is asked to run in `ran`.
fn project_with_scripted_ft_env(dir: &Path, probe: &str) -> PathBuf {
    let project = dir.join("project");
    let env = project.join(".venv-ft");
    fs::create_dir_all(env.join("bin")).unwrap();
    fs::write(env.join("pyvenv.cfg"), "home = /nowhere\n").unwrap();
    fs::write(
        env.join("ftpy-venv.json"),
        r#"{"key": "3.14.6t", "base_interpreter": "/nowhere/python3.14t", "requirements": "", "created_at": 0}"#,
    )
    .unwrap();
    let script = format!(
        r#"#!/bin/sh
here="$(dirname "$0")/.."
case "$*" in
  *"-m pip install"*)
    echo "$*" > "$here/pip-args"
    echo "ERROR: Could not find a version that satisfies the requirement pytest-run-parallel>=0.6.0 (from versions: none)"
    echo "ERROR: No matching distribution found for pytest-run-parallel>=0.6.0"
    exit 1;;
  *importlib.metadata*) echo '{probe}';;
  *) echo "$*" >> "$here/ran";;
esac
"#
    );
    let python = env.join("bin/python");
    fs::write(&python, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&python, fs::Permissions::from_mode(0o755)).unwrap();
    }
    project
}

#[test]
fn a_command_that_is_not_pytest_is_refused_before_anything_runs() {
    let fx = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    let project = project_with_scripted_ft_env(dir.path(), r#"{"pytest": "9.2.0", "plugin": "0.10.0"}"#);
    for command in [
        &["python", "-m", "unittest"][..],
        &["python", "tests/run.py"],
        &["make", "test"],
        &["python", "-c", "import pytest"],
    ] {
        let out =
            fx.ftpy().current_dir(&project).args(["run", "--stress", "--"]).args(command).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{command:?}: {}", stderr_of(&out));
        let stderr = stderr_of(&out);
        assert!(stderr.contains("--stress needs pytest"), "{stderr}");
        assert!(stderr.contains("hint: give the pytest command"), "{stderr}");
        assert!(stdout_of(&out).is_empty(), "never a plain run: {}", stdout_of(&out));
    }
    let env = project.join(".venv-ft");
    assert!(!env.join("ran").exists() && !env.join("pip-args").exists(), "nothing ran");
}

#[test]
fn bad_stress_options_are_usage_errors() {
    let fx = Fixture::new();
    for (args, says) in [
        (&["run", "--stress", "--threads", "0", "--", "pytest"][..], "--threads"),
        (&["run", "--stress", "--threads", "1", "--", "pytest"], "give 2 to 1024 threads"),
        (&["run", "--stress", "--threads", "lots", "--", "pytest"], "`auto`"),
        (&["run", "--stress", "--iterations", "0", "--", "pytest"], "--iterations"),
        (&["run", "--threads", "4", "--", "pytest"], "--stress"),
        (&["run", "--json", "--", "pytest"], "--stress"),
        (&["run", "--stress", "--gil", "--", "pytest"], "--gil"),
        (&["run", "--stress", "--repeat", "3", "--", "pytest"], "--repeat"),
    ] {
        let out = fx.ftpy().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr_of(&out).contains(says), "{args:?}: {}", stderr_of(&out));
    }
}

#[test]
fn a_plugin_the_index_lacks_is_a_clear_error_that_says_how_to_provide_it() {
    let fx = Fixture::new();
    let dir = tempfile::TempDir::new().unwrap();
    let project = project_with_scripted_ft_env(dir.path(), r#"{"pytest": "9.2.0", "plugin": null}"#);
    let out = fx
        .ftpy()
        .current_dir(&project)
        .args(["run", "--stress", "--", "python", "-m", "pytest"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    assert!(
        stderr.contains("error: pytest-run-parallel >= 0.6.0 could not be installed into .venv-ft"),
        "{stderr}"
    );
    assert!(
        stderr.contains("No matching distribution found for pytest-run-parallel"),
        "pip's own words: {stderr}"
    );
    assert!(stderr.contains("from your pip configuration"), "{stderr}");
    assert!(stderr.contains("pip download --no-deps"), "how to provide it offline: {stderr}");
    let env = project.join(".venv-ft");
    let pip_args = fs::read_to_string(env.join("pip-args")).unwrap();
    assert!(pip_args.contains("pytest-run-parallel>=0.6.0"), "{pip_args}");
    assert!(!pip_args.contains(" -r "), "only the plugin, never the requirements: {pip_args}");
    assert!(!env.join("ran").exists(), "the suite did not run");

    // An old plugin is upgraded the same way; pytest itself missing is the user's to add.
    let old =
        project_with_scripted_ft_env(&dir.path().join("old"), r#"{"pytest": "9.2.0", "plugin": "0.5.0"}"#);
    let out = fx.ftpy().current_dir(&old).args(["run", "--stress", "--", "pytest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("pytest-run-parallel 0.5.0 is older than 0.6.0"), "{}", stderr_of(&out));
    let none = project_with_scripted_ft_env(&dir.path().join("none"), r#"{"pytest": null, "plugin": null}"#);
    let out = fx.ftpy().current_dir(&none).args(["run", "--stress", "--", "pytest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("pytest is not installed in .venv-ft"), "{}", stderr_of(&out));
    assert!(!none.join(".venv-ft/pip-args").exists(), "ftpy installs the plugin, not pytest");
}
