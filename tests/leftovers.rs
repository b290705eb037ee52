//! What a `kill -9` of ftpy leaves running, and how the next ftpy run stops it: a build's
//! process group is recorded under `<home>/locks` while it runs, and a run that finds the record
//! of a dead ftpy stops that group (SIGTERM, then SIGKILL) before doing anything else.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

const V: &str = "3.13.5";

/// Every process whose environment carries `FTPY_TEST_RECORD=<dir>`: what ftpy started for this
/// fixture, wherever it was reparented. (pid, argv joined by spaces); zombies have no environment.
fn processes_of(record: &Path) -> Vec<(i32, String)> {
    let marker = format!("FTPY_TEST_RECORD={}", record.display());
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(environ) = fs::read(entry.path().join("environ")) else { continue };
        if !environ.split(|b| *b == 0).any(|var| var == marker.as_bytes()) {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push((pid, argv.join(" ")));
    }
    found
}

/// Kills whatever the fixture's runs left, however the test ends.
struct KillLeftovers<'a>(&'a Fixture);

impl Drop for KillLeftovers<'_> {
    fn drop(&mut self) {
        for (pid, _) in processes_of(self.0.record.path()) {
            // SAFETY: kill(2) on a pid just seen with this fixture's marker in its environment.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Poll (up to `limit`) until `done` holds; false if it never did.
fn poll(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A `make` that first starts a child in the build's process group which ignores SIGTERM, as a
/// stuck test or compiler might: only SIGKILL stops it. (Not for the system check's `make --version`.)
fn make_with_stubborn_child(dir: &Path, nap: &str) -> std::path::PathBuf {
    let path = dir.join("make-with-stubborn-child");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] || (trap '' TERM; exec sleep {nap}) &\nexec make \"$@\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `ftpy install` of 3.13.5t, its make sleeping `nap` seconds.
fn start_install(fx: &Fixture, nap: &str, make: Option<&Path>) -> Child {
    let mut cmd = fx.command(assert_cmd::cargo::cargo_bin("ftpy"));
    cmd.env("FAKE_MAKE_SLEEP", nap)
        .args(["install", "--profile", "fast", "--no-build-cache", "3.13.5t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(make) = make {
        cmd.env("MAKE", make);
    }
    cmd.spawn().unwrap()
}

fn running(fx: &Fixture, what: &str) -> bool {
    processes_of(fx.record.path()).iter().any(|(_, argv)| argv == what)
}

/// The build's group is recorded (ftpy writes the record just after starting make).
fn recorded(fx: &Fixture) -> bool {
    group_records(fx).len() == 1
}

/// The records of running process groups under the home.
fn group_records(fx: &Fixture) -> Vec<String> {
    list_dir(&fx.path("locks")).into_iter().filter(|n| n.ends_with(".pgid")).collect()
}

fn kill_9(child: &mut Child) {
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    child.wait().unwrap();
}

#[test]
fn the_next_run_stops_what_a_killed_ftpy_left_building() {
    let fx = Fixture::with_release(V);
    let _guard = KillLeftovers(&fx);
    let (nap, stubborn) = ("311.25", "312.25");
    let make = make_with_stubborn_child(fx.record.path(), stubborn);
    let mut ftpy = start_install(&fx, nap, Some(&make));
    let (sleeper, stubborn_sleeper) = (format!("sleep {nap}"), format!("sleep {stubborn}"));
    assert!(
        poll(Duration::from_secs(120), || running(&fx, &sleeper)
            && running(&fx, &stubborn_sleeper)
            && recorded(&fx)),
        "the build never started: {:?}",
        processes_of(fx.record.path())
    );
    kill_9(&mut ftpy);
    // make gets SIGTERM (PDEATHSIG) and goes, with the shell of its recipe; what they started
    // stays: the recipe's sleep, and the child that ignores SIGTERM.
    let left = || {
        let mut argv: Vec<String> = processes_of(fx.record.path()).into_iter().map(|(_, a)| a).collect();
        argv.sort();
        argv
    };
    assert!(
        poll(Duration::from_secs(20), || left() == [sleeper.clone(), stubborn_sleeper.clone()]),
        "expected exactly the two sleeps to outlive ftpy: {:?}",
        left()
    );
    assert_eq!(group_records(&fx).len(), 1, "the build's group was recorded");

    let list = fx.ftpy().arg("list").output().unwrap();
    assert!(list.status.success(), "{}", stderr_of(&list));
    let stderr = stderr_of(&list);
    assert!(stderr.contains("stopped 2 leftover processes of an interrupted ftpy run"), "{stderr}");
    assert!(
        poll(Duration::from_secs(20), || left().is_empty()),
        "the leftover build processes still run: {:?}",
        left()
    );
    assert!(group_records(&fx).is_empty(), "{:?}", group_records(&fx));

    // The same run's recovery, after the processes were stopped, cleared the killed run's
    // staging directory; the next install builds.
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("leftover"), "{}", stderr_of(&out));
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert_eq!(fx.versions(), ["3.13.5t"]);
}

#[test]
fn a_running_install_is_left_alone_by_other_runs() {
    let fx = Fixture::with_release(V);
    let _guard = KillLeftovers(&fx);
    let nap = "313.25";
    let mut ftpy = start_install(&fx, nap, None);
    let sleeper = format!("sleep {nap}");
    assert!(
        poll(Duration::from_secs(120), || running(&fx, &sleeper) && recorded(&fx)),
        "the build never started, or its group was not recorded: {:?}",
        group_records(&fx)
    );

    let list = fx.ftpy().arg("list").output().unwrap();
    assert!(list.status.success(), "{}", stderr_of(&list));
    assert!(!stderr_of(&list).contains("leftover"), "{}", stderr_of(&list));
    assert!(running(&fx, &sleeper), "another run stopped a live install's build");
    assert_eq!(group_records(&fx).len(), 1);
    assert!(ftpy.try_wait().unwrap().is_none(), "the install goes on");

    // Stopped the ordinary way, it stops its build and takes the record away.
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(ftpy.id() as i32, libc::SIGTERM) }, 0);
    let out = ftpy.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    assert!(poll(Duration::from_secs(20), || !running(&fx, &sleeper)));
    assert!(group_records(&fx).is_empty(), "{:?}", group_records(&fx));
}

#[test]
fn the_record_of_a_killed_run_whose_processes_have_ended_is_just_removed() {
    let fx = Fixture::with_release(V);
    let guard = KillLeftovers(&fx);
    let nap = "314.25";
    let mut ftpy = start_install(&fx, nap, None);
    let sleeper = format!("sleep {nap}");
    assert!(poll(Duration::from_secs(120), || running(&fx, &sleeper) && recorded(&fx)));
    kill_9(&mut ftpy);
    assert!(poll(Duration::from_secs(20), || running(&fx, &sleeper)), "the recipe's sleep outlives ftpy");
    // Whatever was left ends by itself (here: killed by the test) before the next run.
    drop(guard);
    assert!(poll(Duration::from_secs(20), || processes_of(fx.record.path()).is_empty()));
    assert_eq!(group_records(&fx).len(), 1, "the killed run's record stays");

    let list = fx.ftpy().arg("list").output().unwrap();
    assert!(list.status.success(), "{}", stderr_of(&list));
    assert!(!stderr_of(&list).contains("leftover"), "{}", stderr_of(&list));
    assert!(group_records(&fx).is_empty(), "{:?}", group_records(&fx));
}

#[test]
fn a_signal_to_ftpy_stops_also_what_ignores_sigterm_in_the_build() {
    let fx = Fixture::with_release(V);
    let _guard = KillLeftovers(&fx);
    let (nap, stubborn) = ("315.25", "316.25");
    let make = make_with_stubborn_child(fx.record.path(), stubborn);
    let mut ftpy = start_install(&fx, nap, Some(&make));
    let stubborn_sleeper = format!("sleep {stubborn}");
    assert!(
        poll(Duration::from_secs(120), || running(&fx, &format!("sleep {nap}"))
            && running(&fx, &stubborn_sleeper)),
        "the build never started"
    );
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(ftpy.id() as i32, libc::SIGINT) }, 0);
    // make ends on SIGTERM; its child that ignores it (and holds the build log's pipe) must
    // neither keep ftpy waiting nor outlive the interrupted run. Left alone it sleeps 5 minutes.
    assert!(
        poll(Duration::from_secs(60), || ftpy.try_wait().unwrap().is_some()),
        "ftpy still waits after the signal: {:?}",
        processes_of(fx.record.path())
    );
    let out = ftpy.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    assert!(
        poll(Duration::from_secs(2), || !running(&fx, &stubborn_sleeper)),
        "still running after ftpy exited: {:?}",
        processes_of(fx.record.path())
    );
    assert!(group_records(&fx).is_empty(), "{:?}", group_records(&fx));
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}
