//! Snapshots of the tables people read: `ftpy list` (installed and `--available`), the summary
//! `ftpy run` prints after its runs, and `ftpy wheels check`'s table. Each runs the real binary
//! against the fixtures (fake CPython source, fake python, local index) and compares its output,
//! column for column, with a committed `snapshots/tables__*.snap`; what changes from run to run
//! (temporary paths, wall times, ratios, this machine's architecture) is replaced by a
//! placeholder first.
//!
//! A change to a table's shape fails here. When the change is meant, update the snapshots with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test tables`) and commit them. Under
//! `CI=true`, insta writes nothing and a mismatch or a missing snapshot fails.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use common::index::{IndexFixture, every_status_index};
use common::*;

const V: &str = "3.13.5";

/// What insta compares for one command: its exit code, then stdout and stderr as printed.
fn shown(out: &Output) -> String {
    format!("exit: {:?}\n--- stdout\n{}--- stderr\n{}", out.status.code(), stdout_of(out), stderr_of(out))
}

/// insta's settings for these snapshots: `paths` (a path and its placeholder) replaced, times
/// and ratios too. Under CI, refuses a setting that would let insta write or pass a mismatch.
fn settings(paths: &[(&Path, &str)]) -> insta::Settings {
    if in_ci() {
        for var in ["INSTA_UPDATE", "INSTA_FORCE_PASS"] {
            let value = std::env::var(var).unwrap_or_default();
            assert!(
                matches!(value.as_str(), "" | "no" | "auto" | "0"),
                "{var}={value} under CI=true: snapshots are checked there, never written or passed"
            );
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    for (path, placeholder) in paths {
        // macOS's temporary directories are reached through a symlink: both spellings.
        let canonical = path.canonicalize().unwrap_or(path.to_path_buf());
        for spelling in [canonical.as_path(), path] {
            settings.add_filter(&regex::escape(&spelling.display().to_string()), *placeholder);
        }
    }
    // `ftpy run`'s rows: the side, runs and exit (24 columns), then three wall times (`12.3ms`,
    // `1.234s`, right-aligned in 10 columns after a space) and the spread (7 columns and `%`),
    // replaced with their padding so that the columns stay in place; then the ft/gil ratio and
    // its verdict.
    let time = r" +\d+\.\d+(?:ms|s)";
    settings.add_filter(
        &format!(r"(?m)^(.{{24}}){time}{time}{time} +\d+\.\d%$"),
        "${1}     [time]     [time]     [time] [spread]",
    );
    settings.add_filter(
        r"ft/gil median time: \d+\.\d+x \(free-threaded is \d+\.\d+x (as fast|slower)\)",
        "ft/gil median time: [ratio]x (free-threaded is [ratio]x [as fast or slower])",
    );
    settings
}

#[test]
fn list_installed() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "--profile", "fast", "--pair", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A versions/ entry that is a file: a damaged row, and the warning under the table.
    fs::write(fx.path("versions/3.13.4t"), "not a directory").unwrap();
    let out = fx.ftpy().arg("list").output().unwrap();
    settings(&[(fx.home.path(), "[HOME]")]).bind(|| insta::assert_snapshot!(shown(&out)));

    let empty = Fixture::new();
    let out = empty.ftpy().arg("list").output().unwrap();
    settings(&[(empty.home.path(), "[HOME]")]).bind(|| insta::assert_snapshot!("list_nothing", shown(&out)));
}

/// Made-up series in the recipe override, so that the snapshot does not change when the built-in
/// recipes gain a release: 3.99 (supported, with a pre-release) and 3.98 (experimental).
fn add_made_up_series(fx: &Fixture) {
    let digest = |n: u8| format!("{n:02x}").repeat(32);
    let series = [
        ("3.99", "supported", &["3.99.0", "3.99.1", "3.99.2rc1"][..]),
        ("3.98", "experimental", &["3.98.0"]),
    ];
    for (n, (series, free_threading, releases)) in series.into_iter().enumerate() {
        let mut text = format!("series = \"{series}\"\nfree_threading = \"{free_threading}\"\n");
        for (i, v) in releases.iter().enumerate() {
            text.push_str(&format!(
                "[[release]]\nversion = \"{v}\"\nurl = \"https://example.invalid/{v}/Python-{v}.tar.xz\"\nsha256 = \"{}\"\n",
                digest((n * 10 + i) as u8)
            ));
        }
        fs::write(fx.recipes.path().join(format!("{series}.toml")), text).unwrap();
    }
}

/// `list --available`: the header, the made-up series whole, and of the built-in ones only the
/// 3.13 heading and the installed 3.13.5 row (the rest follows the recipes, which grow).
#[test]
fn list_available() {
    let fx = Fixture::with_release(V);
    add_made_up_series(&fx);
    let out = fx.ftpy().args(["install", "--profile", "fast", "--pair", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["list", "--available"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut kept = Vec::new();
    let mut made_up = false;
    let stdout = stdout_of(&out);
    for (i, line) in stdout.lines().enumerate() {
        if !line.starts_with(' ') {
            made_up = line.starts_with("3.99 ") || line.starts_with("3.98 ");
        }
        if i == 0 || made_up || line.starts_with("3.13 (") || line.starts_with(&format!("  {V} ")) {
            kept.push(line);
        }
    }
    let excerpt = format!(
        "exit: {:?}\n--- stdout (excerpt)\n{}\n--- stderr\n{}",
        out.status.code(),
        kept.join("\n"),
        stderr_of(&out)
    );
    settings(&[(fx.home.path(), "[HOME]")]).bind(|| insta::assert_snapshot!(excerpt));
}

/// The pair, and twin environments made from it in a new project directory.
fn project_with_environments(fx: &Fixture) -> tempfile::TempDir {
    let out = fx.ftpy().args(["install", "--profile", "fast", "--pair", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let project = tempfile::TempDir::new().unwrap();
    let out = fx.ftpy().arg("venv").arg(project.path()).args(["--python", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    project
}

#[test]
fn run_summary() {
    let fx = Fixture::with_release(V);
    let project = project_with_environments(&fx);
    let paths = [(project.path(), "[PROJECT]"), (fx.home.path(), "[HOME]")];

    // Both sides pass once: times, the ratio, and the word about --repeat.
    let out =
        fx.ftpy().current_dir(project.path()).args(["run", "--", "sh", "-c", "echo hello"]).output().unwrap();
    settings(&paths).bind(|| insta::assert_snapshot!("run_once", shown(&out)));

    // Three runs a side; the GIL side fails its first: the count of failures, no ratio.
    let script = "if [ -n \"$VIRTUAL_ENV\" ] && [ \"${VIRTUAL_ENV##*-}\" = gil ] && [ ! -e failed-once ]; then \
                  touch failed-once; exit 3; fi";
    let out = fx
        .ftpy()
        .current_dir(project.path())
        .args(["run", "--repeat", "3", "--", "sh", "-c", script])
        .output()
        .unwrap();
    settings(&paths).bind(|| insta::assert_snapshot!("run_repeat_with_a_failure", shown(&out)));

    // Only the free-threaded side, and a command that is not there.
    let out = fx
        .ftpy()
        .current_dir(project.path())
        .args(["run", "--ft", "--", "no-such-command"])
        .output()
        .unwrap();
    settings(&paths).bind(|| insta::assert_snapshot!("run_not_found", shown(&out)));
}

fn wheels_check(fx: &Fixture, index: &IndexFixture, dir: &Path) -> Output {
    fx.ftpy()
        .current_dir(dir)
        .env("PIP_INDEX_URL", &index.url)
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args(["wheels", "check", "-r", "requirements.txt", "--python", "3.13t"])
        .output()
        .unwrap()
}

/// Every verdict `wheels check` gives, from the index of tests/common/index.rs.
#[test]
fn wheels_check_table() {
    let fx = Fixture::new();
    let index = every_status_index();
    let dir = tempfile::TempDir::new().unwrap();
    fs::write(
        dir.path().join("requirements.txt"),
        "ftwheel[fast]>=1.0\nabionly\nsdistonly\nnewbroken[bogus]\npy314only\npinned==3.0\nnosuchpkg\n\
         skipped; python_version < \"3.10\"\n./local/project\n",
    )
    .unwrap();
    let out = wheels_check(&fx, &index, dir.path());
    let mut settings = settings(&[(dir.path(), "[PROJECT]"), (fx.home.path(), "[HOME]")]);
    settings.add_filter(&regex::escape(&index.url), "[INDEX]");
    // The target's newest 3.13 release follows the built-in recipes.
    settings.add_filter(r"3\.13\.\d+( in the recipes|, from)", "3.13.[newest]$1");
    settings.bind(|| insta::assert_snapshot!(shown(&out)));
}
