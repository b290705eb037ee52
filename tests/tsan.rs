//! `ftpy install --profile tsan` with the fake CPython source and a fake TSan compiler: the
//! configure arguments and CC, the own key beside the release build, `list`, `which`,
//! `uninstall`, the build cache, and the refusals. (tests/real_tsan.rs builds the real one.)

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

const V: &str = "3.14.6";

/// A fixture serving the fake 3.14.6 and a fake clang whose TSan "runtime" works.
fn fixture() -> (Fixture, PathBuf) {
    let fx = Fixture::with_release(V);
    let cc = fake_tsan_compiler(fx.record.path());
    (fx, cc)
}

fn install_tsan(fx: &Fixture, cc: &PathBuf) -> std::process::Output {
    // The system check looks for headers with CC, which the fake compiler cannot do.
    fx.ftpy()
        .env("CC", cc)
        .args(["install", "--no-ccache", "--no-system-check", "--profile", "tsan", "3.14t"])
        .output()
        .unwrap()
}

#[test]
fn tsan_profile_builds_its_own_key_with_the_tsan_compiler_and_suppressions() {
    let (fx, cc) = fixture();
    let out = install_tsan(&fx, &cc);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Installed 3.14.6t-tsan (free-threaded, ThreadSanitizer, built in"), "{stdout}");

    let runs = fx.configure_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0][1..], ["--with-ensurepip=install", "--disable-gil", "--with-thread-sanitizer"]);
    assert_eq!(fx.records("cc."), [format!("CC={}\n", cc.display())]);

    let prefix = fx.path("versions/3.14.6t-tsan");
    let interpreter = prefix.join("bin/python3.14t");
    assert!(interpreter.exists());
    // CPython's suppressions travel with the installation.
    let suppressions = prefix.join("share/ftpy/tsan-suppressions.txt");
    assert_eq!(fs::read_to_string(&suppressions).unwrap(), FAKE_TSAN_SUPPRESSIONS);
    // ftpy's own runs of it (ensurepip, the checks) use them; the checks name the final path.
    let options = fx.records("tsan-options.");
    let wanted = format!("suppressions={} halt_on_error=0 exitcode=0", suppressions.display());
    assert!(options.iter().any(|o| o.starts_with("-I -c") && o.contains(&wanted)), "{options:?}");

    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(prefix.join("ftpy-receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["key"], "3.14.6t-tsan");
    assert_eq!(receipt["profile"], "tsan");
    let compiler = receipt["compiler"].as_str().unwrap();
    assert!(compiler.starts_with(&format!("{}: fake clang version 19.1.7", cc.display())), "{compiler}");
    assert_eq!(receipt["checks"]["gil_enabled"], false);

    // Its link carries the suffix; the release build's name is not taken.
    assert_eq!(fs::read_link(fx.path("bin/python3.14t-tsan")).unwrap(), interpreter);
    assert!(!fx.path("bin/python3.14t").exists());
}

#[test]
fn the_tsan_build_lives_beside_the_release_build_and_each_is_found_and_removed_alone() {
    let (fx, cc) = fixture();
    assert!(install_tsan(&fx, &cc).status.success());
    let out = fx.ftpy().args(["install", "--no-ccache", "--profile", "fast", "3.14t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.14.6t", "3.14.6t-tsan"]);
    let release = fx.path("versions/3.14.6t/bin/python3.14t");
    let tsan = fx.path("versions/3.14.6t-tsan/bin/python3.14t");

    let list = stdout_of(&fx.ftpy().arg("list").output().unwrap());
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("3.14.6t ") && lines[0].contains("fast"), "{list}");
    assert!(lines[1].starts_with("3.14.6t-tsan  free-threaded  tsan"), "{list}");
    assert!(lines.iter().all(|l| l.ends_with('*')), "both linked: {list}");

    let which =
        |request: &str| stdout_of(&fx.ftpy().args(["which", request]).output().unwrap()).trim().to_string();
    assert_eq!(which("3.14t"), release.display().to_string());
    assert_eq!(which("3.14t-tsan"), tsan.display().to_string());
    assert_eq!(which("3.14.6t-tsan"), tsan.display().to_string());
    assert_eq!(fs::read_link(fx.path("bin/python3.14t")).unwrap(), release);
    assert_eq!(fs::read_link(fx.path("bin/python3.14t-tsan")).unwrap(), tsan);

    // `uninstall 3.14t` means the release build only; the TSan one stays, and the other way.
    let out = fx.ftpy().args(["uninstall", "3.14t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.14.6t-tsan"]);
    let out = fx.ftpy().args(["which", "3.14t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the release build is gone: {}", stdout_of(&out));
    // Never substituted, but named.
    assert!(
        stderr_of(&out).contains("note: 3.14.6t-tsan (free-threaded, ThreadSanitizer) is installed"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(which("3.14t-tsan"), tsan.display().to_string());
    assert!(
        fx.ftpy()
            .args(["install", "--no-ccache", "--profile", "fast", "3.14t"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = fx.ftpy().args(["uninstall", "3.14.6t-tsan"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.14.6t"]);
    assert!(!fx.path("bin/python3.14t-tsan").exists());
    assert_eq!(fs::read_link(fx.path("bin/python3.14t")).unwrap(), release);
}

#[test]
fn a_tsan_build_is_restored_from_the_build_cache_under_its_own_id() {
    let (fx, cc) = fixture();
    assert!(install_tsan(&fx, &cc).status.success());
    let key = fx.ftpy().env("CC", &cc).args(["cache", "key", "--profile", "tsan", "3.14t"]).output().unwrap();
    assert!(key.status.success(), "{}", stderr_of(&key));
    let id = stdout_of(&key).trim().to_string();
    assert!(id.starts_with("ftpy-3.14.6t-tsan-"), "{id}");
    let release_id =
        stdout_of(&fx.ftpy().args(["cache", "key", "--profile", "fast", "3.14t"]).output().unwrap())
            .trim()
            .to_string();
    assert!(release_id.starts_with("ftpy-3.14.6t-") && release_id != id, "{release_id}");
    let list = stdout_of(&fx.ftpy().args(["cache", "list"]).output().unwrap());
    assert!(list.contains(&id), "{list}");

    assert!(fx.ftpy().args(["uninstall", "3.14t-tsan"]).output().unwrap().status.success());
    let out = install_tsan(&fx, &cc);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("restored from the build cache"), "{}", stdout_of(&out));
    assert_eq!(fx.configure_runs().len(), 1, "restored, not built again");
    let prefix = fx.path("versions/3.14.6t-tsan");
    assert_eq!(
        fs::read_to_string(prefix.join("share/ftpy/tsan-suppressions.txt")).unwrap(),
        FAKE_TSAN_SUPPRESSIONS
    );
    // Relocated: nothing in the restored tree names the placeholder it was built for.
    let config = fs::read_to_string(prefix.join("bin/python3.14t-config")).unwrap();
    assert!(config.contains(&prefix.display().to_string()), "{config}");

    // Another compiler is another build: the cache does not hand this one out for it.
    let other = fx.record.path().join("other");
    fs::create_dir(&other).unwrap();
    let other_cc = fake_tsan_compiler(&other);
    let other_id =
        fx.ftpy().env("CC", &other_cc).args(["cache", "key", "--profile", "tsan", "3.14t"]).output().unwrap();
    assert_ne!(stdout_of(&other_id).trim(), id);
}

#[test]
fn tsan_requests_that_cannot_be_built_are_refused_before_any_work() {
    let (fx, cc) = fixture();
    let refused = |args: &[&str], says: &str| {
        let out = fx.ftpy().env("CC", &cc).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(says), "{args:?}: {}", stderr_of(&out));
    };
    refused(&["install", "--profile", "tsan", "3.14"], "ThreadSanitizer build of the GIL variant");
    refused(
        &["install", "--pair", "--profile", "tsan", "3.14t"],
        "--pair installs the GIL and free-threaded release builds",
    );
    refused(&["install", "3.14t-tsan"], "only --profile tsan builds");
    refused(&["which", "3.14-tsan"], "ThreadSanitizer build of the GIL variant");
    refused(&["venv", "--install", "--profile", "tsan"], "never a twin environment's pair");
    refused(&["dockerfile", "--profile", "tsan"], "never an image's interpreter");
    assert!(fx.configure_runs().is_empty());
    assert!(fx.server.all_hits().is_empty(), "nothing downloaded");
}

#[test]
fn a_compiler_without_a_working_tsan_runtime_stops_the_install_with_what_to_install() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().env("CC", "false").args(["install", "--profile", "tsan", "3.14t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(9), "not ready: {}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("CC is set to `false`, which cannot make a ThreadSanitizer build"), "{stderr}");
    assert!(stderr.contains("clang-19 libclang-rt-19-dev"), "{stderr}");
    assert!(stderr.contains("ftpy doctor --profile tsan"), "{stderr}");
    assert!(fx.configure_runs().is_empty());

    let doctor = fx.ftpy().env("CC", "false").args(["doctor", "--profile", "tsan"]).output().unwrap();
    assert_eq!(doctor.status.code(), Some(9));
    let stdout = stdout_of(&doctor);
    assert!(stdout.contains("MISSING  TSan compiler"), "{stdout}");
    assert!(stdout.contains("vm.mmap_rnd_bits"), "{stdout}");
}

#[test]
fn doctor_profile_tsan_accepts_a_compiler_whose_runtime_reports_the_race() {
    let (fx, cc) = fixture();
    let doctor = fx.ftpy().env("CC", &cc).args(["doctor", "--profile", "tsan"]).output().unwrap();
    let stdout = stdout_of(&doctor);
    assert!(stdout.contains("ok       TSan compiler"), "{stdout}");
    assert!(stdout.contains("fake clang version 19.1.7"), "{stdout}");
    assert!(stdout.contains("none of 3.14: `ftpy install --profile tsan 3.14t` builds one"), "{stdout}");
    assert!(install_tsan(&fx, &cc).status.success());
    let doctor = fx.ftpy().env("CC", &cc).args(["doctor", "--profile", "tsan"]).output().unwrap();
    let stdout = stdout_of(&doctor);
    let suppressions = fx.path("versions/3.14.6t-tsan/share/ftpy/tsan-suppressions.txt");
    assert!(
        stdout.contains("3.14.6t-tsan") && stdout.contains(&suppressions.display().to_string()),
        "{stdout}"
    );
}
