//! Crash consistency: ftpy is killed with SIGKILL at every boundary between the steps that
//! change `<home>/versions` or a project's environments (the kill points `ftpy
//! debug-kill-points` lists, reached through `FTPY_TEST_PAUSE_AT`), for `install`,
//! `install --reinstall`, `install --pair`, `uninstall`, a build-cache restore and `venv`, and
//! once in the middle of a build. After each kill the next ordinary commands run, and:
//!
//! - every installation `list` shows works (its interpreter runs and says its version);
//! - nothing half-made is visible: every entry of `versions/` is listed, none is damaged, and
//!   nothing of the killed run is left in `tmp/` once a command has run;
//! - no previous installation or user file is lost: a file put in the previous tree's
//!   site-packages is still there unless the killed reinstall had committed (receipt written);
//! - no process of the killed run is left running;
//! - the next install completes.
//!
//! The test prints the number of kill points it went through (the README's figure).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

const V: &str = "3.13.5";
const FAST: [&str; 2] = ["--profile", "fast"];

static KILLS: AtomicUsize = AtomicUsize::new(0);

fn ftpy_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("ftpy")
}

/// The kill points ftpy names.
fn kill_points(fx: &Fixture) -> Vec<String> {
    let out = fx.ftpy().arg("debug-kill-points").output().unwrap();
    assert!(out.status.success());
    stdout_of(&out).lines().map(str::to_string).collect()
}

fn points_with_prefix(fx: &Fixture, prefix: &str) -> Vec<String> {
    kill_points(fx).into_iter().filter(|p| p.starts_with(prefix)).collect()
}

/// Processes (other than zombies) whose environment carries `marker`: the killed run's.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(environ) = fs::read(entry.path().join("environ")) else { continue };
        if !environ.split(|b| *b == 0).any(|var| var == marker.as_bytes()) {
            continue;
        }
        let zombie = fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if !zombie {
            found.push(pid);
        }
    }
    found
}

/// Run `ftpy <args>` (in `dir`) until it pauses at `point`, SIGKILL it, and return the marker
/// in the environment of it and everything it started.
fn run_and_kill(
    fx: &Fixture,
    dir: Option<&Path>,
    envs: &[(&str, &str)],
    args: &[&str],
    point: &str,
) -> String {
    let n = KILLS.fetch_add(1, Ordering::SeqCst);
    let marker = format!("FTPY_CRASH_RUN={}-{n}", std::process::id());
    let pause = fx.record.path().join(format!("paused-{n}"));
    let mut cmd = fx.command(ftpy_bin());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let (name, value) = marker.split_once('=').unwrap();
    let mut child = cmd
        .env(name, value)
        .env("FTPY_TEST_PAUSE_AT", point)
        .env("FTPY_TEST_PAUSE_FILE", &pause)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if fs::read(&pause).is_ok_and(|c| !c.is_empty()) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = String::from_utf8_lossy(&read_all(child.stderr.take().unwrap())).into_owned();
            panic!("ftpy {args:?} ended ({status}) before {point}: {stderr}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "ftpy {args:?} never reached {point}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Meanwhile, another command neither waits for it nor sees anything half-made as damaged.
    let looking = Instant::now();
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(out.status.success() && !stdout_of(&out).contains("DAMAGED"), "at {point}: {}", stdout_of(&out));
    assert!(looking.elapsed() < Duration::from_secs(30), "list waited on the running ftpy at {point}");
    kill_hard(&mut child);
    marker
}

/// A file the user put in an installation's site-packages.
fn user_file(fx: &Fixture, key: &str) -> PathBuf {
    fx.path(&format!("versions/{key}/lib/site-packages/mine.py"))
}

fn plant_user_file(fx: &Fixture, key: &str) {
    let file = user_file(fx, key);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(file, "x = 1\n").unwrap();
}

fn receipt_time(fx: &Fixture, key: &str) -> Option<String> {
    let text = fs::read_to_string(fx.path(&format!("versions/{key}/ftpy-receipt.json"))).ok()?;
    let receipt: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(receipt["installed_at"].to_string() + &receipt["build_seconds"].to_string())
}

/// The invariants after a kill, checked through the next ordinary command (`list`).
fn check_after_kill(fx: &Fixture, what: &str, marker: &str) -> Vec<String> {
    let started = Instant::now();
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(out.status.success(), "{what}: list failed: {}", stderr_of(&out));
    assert!(started.elapsed() < Duration::from_secs(60), "{what}: recovery waited");
    let stdout = stdout_of(&out);
    assert!(!stdout.contains("DAMAGED"), "{what}: a crash left a damaged tree: {stdout}");
    let mut listed = Vec::new();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let key = words[0];
        let interpreter = Path::new(words.iter().find(|w| w.starts_with('/')).expect("a path"));
        // Every installation listed works: its interpreter runs and names its version.
        let ran = std::process::Command::new(interpreter).args(["-I", "-c", "pass"]).output().unwrap();
        assert!(ran.status.success(), "{what}: {key} does not run");
        assert!(stdout_of(&ran).contains("\"version\": \"3.13.5\""), "{what}: {key}: {}", stdout_of(&ran));
        listed.push(key.to_string());
    }
    // Nothing half-made is visible, and nothing of the killed run is left behind.
    assert_eq!(fx.versions(), listed, "{what}: versions/ holds what list does not show");
    let leftovers: Vec<String> = fx.staging_leftovers();
    assert!(leftovers.is_empty(), "{what}: left in tmp/: {leftovers:?}");
    // No process of the killed run is left (each had SIGTERM from the kernel; let them end).
    let waited = Instant::now();
    while !processes_with(marker).is_empty() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(marker), Vec::<u32>::new(), "{what}: processes of the killed run remain");
    listed
}

fn install_succeeds(fx: &Fixture, args: &[&str], what: &str) {
    let out = fx.ftpy().arg("install").args(FAST).args(args).output().unwrap();
    assert!(out.status.success(), "{what}: the next install failed: {}", stderr_of(&out));
}

#[test]
fn kill_points_are_named() {
    let fx = Fixture::new();
    let points = kill_points(&fx);
    assert!(points.len() >= 10, "{points:?}");
    for expected in ["install:placed", "install:previous-set-aside", "remove:moved-out", "venv:filled"] {
        assert!(points.iter().any(|p| p == expected), "{expected}: {points:?}");
    }
}

/// `install` of a new key, killed at each install point, then installed by the next command.
#[test]
fn killed_install_leaves_nothing_half_made() {
    let fx = Fixture::with_release(V);
    let mut kills = 0;
    for point in points_with_prefix(&fx, "install:") {
        if point == "install:restore-unpacked" || point == "install:previous-set-aside" {
            continue; // not on this path: no cache entry, no previous installation
        }
        let _ = fx.ftpy().args(["uninstall", "3.13.5t"]).output().unwrap();
        fs::remove_dir_all(fx.path("cache/builds")).ok();
        let marker = run_and_kill(&fx, None, &[], &["install", "--profile", "fast", "3.13.5t"], &point);
        kills += 1;
        let what = format!("install killed at {point}");
        let listed = check_after_kill(&fx, &what, &marker);
        let committed = ["install:receipt-written", "install:committed", "install:storing-in-cache"];
        assert_eq!(listed.contains(&"3.13.5t".to_string()), committed.contains(&point.as_str()), "{what}");
        install_succeeds(&fx, &["3.13.5t"], &what);
        check_after_kill(&fx, &what, &marker);
    }
    assert_eq!(kills, 7);
    eprintln!("kill points: install {kills}");
}

/// `install --reinstall` over an installation holding a user file, killed at each point.
#[test]
fn killed_reinstall_keeps_the_previous_installation() {
    let fx = Fixture::with_release(V);
    install_succeeds(&fx, &[V], "first install");
    let mut kills = 0;
    for point in points_with_prefix(&fx, "install:") {
        if point == "install:restore-unpacked" {
            continue;
        }
        plant_user_file(&fx, V);
        let before = receipt_time(&fx, V).expect("installed");
        let args = ["install", "--profile", "fast", "--reinstall", "--no-build-cache", V];
        let args: Vec<&str> = if point == "install:storing-in-cache" {
            args.into_iter().filter(|a| *a != "--no-build-cache").collect()
        } else {
            args.to_vec()
        };
        fs::remove_dir_all(fx.path("cache/builds")).ok();
        let marker = run_and_kill(&fx, None, &[], &args, &point);
        kills += 1;
        let what = format!("reinstall killed at {point}");
        let listed = check_after_kill(&fx, &what, &marker);
        assert_eq!(listed, [V], "{what}: the installation is gone");
        let committed = ["install:receipt-written", "install:committed", "install:storing-in-cache"];
        if committed.contains(&point.as_str()) {
            // The reinstall had completed: the new tree is the installation.
            assert_ne!(receipt_time(&fx, V).unwrap(), before, "{what}");
        } else {
            assert_eq!(receipt_time(&fx, V).unwrap(), before, "{what}: not the previous installation");
            assert!(user_file(&fx, V).exists(), "{what}: the user's file was lost");
        }
        // The next ordinary install finds it installed, and keeps the user's file.
        plant_user_file(&fx, V);
        let out = fx.ftpy().arg("install").args(FAST).arg(V).output().unwrap();
        assert!(stdout_of(&out).contains("already installed"), "{what}: {}", stderr_of(&out));
        assert!(user_file(&fx, V).exists(), "{what}: the next install deleted the user's file");
    }
    assert_eq!(kills, 8);
    eprintln!("kill points: reinstall {kills}");
}

/// `install --pair`: two builds finishing at their own pace; one pauses, both die.
#[test]
fn killed_pair_install_leaves_nothing_half_made() {
    let fx = Fixture::with_release(V);
    let mut kills = 0;
    for point in points_with_prefix(&fx, "install:") {
        if point == "install:restore-unpacked" || point == "install:previous-set-aside" {
            continue;
        }
        for key in ["3.13.5", "3.13.5t"] {
            let _ = fx.ftpy().args(["uninstall", key]).output().unwrap();
        }
        fs::remove_dir_all(fx.path("cache/builds")).ok();
        let marker = run_and_kill(&fx, None, &[], &["install", "--profile", "fast", "--pair", V], &point);
        kills += 1;
        let what = format!("pair install killed at {point}");
        check_after_kill(&fx, &what, &marker);
        install_succeeds(&fx, &["--pair", "--no-build-cache", V], &what);
        assert_eq!(check_after_kill(&fx, &what, &marker), ["3.13.5", "3.13.5t"], "{what}");
    }
    assert_eq!(kills, 7);
    eprintln!("kill points: pair {kills}");
}

/// `uninstall` killed between taking the tree out of versions/ and deleting it; and a restore
/// from the build cache killed at each point.
#[test]
fn killed_uninstall_and_cache_restore() {
    let fx = Fixture::with_release(V);
    install_succeeds(&fx, &["3.13.5t"], "first install");
    let marker = run_and_kill(&fx, None, &[], &["uninstall", "3.13.5t"], "remove:moved-out");
    let mut kills = 1;
    assert_eq!(check_after_kill(&fx, "uninstall killed", &marker), Vec::<String>::new());

    let builds = fx.configure_runs().len();
    for point in points_with_prefix(&fx, "install:") {
        if ["install:source-unpacked", "install:previous-set-aside", "install:storing-in-cache"]
            .contains(&point.as_str())
        {
            continue; // a restore downloads nothing, has no previous tree, stores nothing
        }
        let _ = fx.ftpy().args(["uninstall", "3.13.5t"]).output().unwrap();
        let marker = run_and_kill(&fx, None, &[], &["install", "--profile", "fast", "3.13.5t"], &point);
        kills += 1;
        let what = format!("cache restore killed at {point}");
        check_after_kill(&fx, &what, &marker);
        let out = fx.ftpy().arg("install").args(FAST).arg("3.13.5t").output().unwrap();
        assert!(out.status.success(), "{what}: {}", stderr_of(&out));
        check_after_kill(&fx, &what, &marker);
    }
    assert_eq!(fx.configure_runs().len(), builds, "every install was a restore, none a build");
    assert_eq!(kills, 7);
    eprintln!("kill points: uninstall 1, restore {}", kills - 1);
}

/// `venv` killed at each point: the next `ftpy venv --status` finds a complete pair of
/// environments, the old one (with the user's file) unless the new one was complete.
#[test]
fn killed_venv_keeps_a_complete_pair() {
    let fx = Fixture::with_release(V);
    install_succeeds(&fx, &["--pair", V], "pair");
    let project = tempfile::TempDir::new().unwrap();
    let dir = project.path().to_str().unwrap();
    let venv = |args: &[&str]| fx.command(ftpy_bin()).arg("venv").arg(dir).args(args).output().unwrap();
    let out = venv(&["--python", V]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut kills = 0;
    for point in points_with_prefix(&fx, "venv:") {
        let mine = project.path().join(".venv-ft/mine.txt");
        fs::write(&mine, "mine").unwrap();
        let marker = run_and_kill(&fx, None, &[], &["venv", dir, "--python", V], &point);
        kills += 1;
        let what = format!("venv killed at {point}");
        let out = venv(&["--status"]);
        assert!(out.status.success(), "{what}: {}{}", stdout_of(&out), stderr_of(&out));
        let status = stdout_of(&out);
        assert!(status.contains(".venv-gil  Python 3.13.5"), "{what}: {status}");
        assert!(status.contains(".venv-ft   Python 3.13.5t"), "{what}: {status}");
        let completed = point == "venv:records-written";
        assert_eq!(mine.exists(), !completed, "{what}: the previous environments were not put back");
        let names: Vec<String> = list_dir(project.path());
        assert_eq!(names, [".venv-ft", ".venv-gil"], "{what}");
        check_after_kill(&fx, &what, &marker);
        let out = venv(&["--python", V]);
        assert!(out.status.success(), "{what}: {}", stderr_of(&out));
    }
    assert_eq!(kills, 3);
    eprintln!("kill points: venv {kills}");
}

/// Killed while make runs: the next run stops the build's leftover processes (make gets SIGTERM
/// from the kernel, but what it started runs on until then), recovery does not wait on them for
/// long, and the next install builds.
#[test]
fn killed_during_the_build_recovery_does_not_wait() {
    let fx = Fixture::with_release(V);
    let n = KILLS.fetch_add(1, Ordering::SeqCst);
    let marker = format!("FTPY_CRASH_RUN={}-{n}", std::process::id());
    let (name, value) = marker.split_once('=').unwrap();
    let mut child = fx
        .command(ftpy_bin())
        .env(name, value)
        .env("FAKE_MAKE_SLEEP", "90")
        .args(["install", "--profile", "fast", "--pair", "--no-build-cache", V])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while fx.records("make.").len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(120), "the builds never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_hard(&mut child);
    let recovering = Instant::now();
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(out.status.success());
    assert!(stdout_of(&out).is_empty(), "{}", stdout_of(&out));
    let out = fx.ftpy().arg("install").args(FAST).args(["--pair", "--no-build-cache", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(recovering.elapsed() < Duration::from_secs(60), "recovery waited on the dead run's build");
    // The next run stopped what the dead run's build had started (its process group).
    let left = processes_with(&marker);
    for pid in &left {
        // SAFETY: kill(2) on a process this test started (it carries the test's marker).
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "processes of the killed run's build still running after the next run: {left:?}"
    );
    check_after_kill(&fx, "killed during the build", &marker);
}

/// Ctrl-C at the terminal while `venv` scans the new free-threaded environment: the signal
/// reaches the scan's python too (one process group), and that is the interrupt, not a broken
/// environment: exit 130, the previous environments back, no traceback.
#[test]
fn ctrl_c_during_the_venv_scan_is_an_interrupt_and_puts_the_environments_back() {
    use std::os::unix::process::CommandExt;
    let fx = Fixture::with_release(V);
    install_succeeds(&fx, &["--pair", V], "pair");
    let project = tempfile::TempDir::new().unwrap();
    let dir = project.path().to_str().unwrap();
    let out = fx.command(ftpy_bin()).args(["venv", dir, "--python", V]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A directory with nothing to install gets environments, and a word about it.
    assert!(stderr_of(&out).contains("has no pyproject.toml or requirements.txt"), "{}", stderr_of(&out));
    let mine = project.path().join(".venv-ft/mine.txt");
    fs::write(&mine, "mine").unwrap();
    let scanning = fx.record.path().join("scanning");
    let mut command = fx.command(ftpy_bin());
    command
        .env("FAKE_SCAN_PAUSE", &scanning)
        .args(["venv", dir, "--python", V])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while !fs::read(&scanning).is_ok_and(|c| !c.is_empty()) {
        assert!(child.try_wait().unwrap().is_none(), "venv ended before its scan");
        assert!(started.elapsed() < Duration::from_secs(120), "venv never reached its scan");
        std::thread::sleep(Duration::from_millis(20));
    }
    // As a terminal's Ctrl-C does: SIGINT to the whole foreground group.
    // SAFETY: kill(2) on the process group this test just started.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGINT) };
    let status = child.wait().unwrap();
    let stderr = String::from_utf8_lossy(&read_all(child.stderr.take().unwrap())).into_owned();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("Traceback") && !stderr.contains("recreate"), "{stderr}");
    assert!(mine.exists(), "the previous environments were not put back");
    let out = fx.command(ftpy_bin()).args(["venv", dir, "--status"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
}
