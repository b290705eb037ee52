//! `ftpy install` against a local mirror serving a fake CPython source tree.

mod common;

use std::fs;
use std::process::Stdio;

use common::*;

const V: &str = "3.13.5";

#[test]
fn installs_freethreaded_build_with_its_flags_and_links() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Installed 3.13.5t (free-threaded, built in"), "{stdout}");
    assert!(stdout.contains("GIL disabled"), "{stdout}");

    let runs = fx.configure_runs();
    assert_eq!(runs.len(), 1);
    let prefix = fx.path("versions/3.13.5t");
    // Built for the placeholder prefix, then relocated to where it is installed.
    let placeholder = runs[0][0].strip_prefix("--prefix=").unwrap();
    assert!(
        placeholder.starts_with("/ftpy-relocatable-build-prefix-") && placeholder.len() == 200,
        "{placeholder}"
    );
    assert_eq!(runs[0][1..], ["--with-ensurepip=install", "--disable-gil"]);
    let interpreter = prefix.join("bin/python3.13t");
    assert!(interpreter.exists());
    assert_eq!(fs::read_link(fx.path("bin/python3.13t")).unwrap(), interpreter);
    assert_eq!(fs::read_link(fx.path("bin/pip3.13t")).unwrap(), prefix.join("bin/pip3.13"));
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());

    // The receipt records what was built and how.
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(prefix.join("ftpy-receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["key"], "3.13.5t");
    assert_eq!(receipt["profile"], "fast");
    assert_eq!(receipt["source_sha256"], sha256_hex(&fake_source(V)));
    assert_eq!(receipt["checks"]["gil_enabled"], false);

    let which = fx.ftpy().args(["which", "3.13t"]).output().unwrap();
    assert!(which.status.success());
    assert_eq!(stdout_of(&which).trim(), interpreter.display().to_string());
}

#[test]
fn gil_build_and_default_profile_flags_reach_configure_as_argv() {
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .args([
            "install",
            "3.13.5",
            "--jobs",
            "3",
            "--configure-opt",
            "--with-x=a b",
            "--configure-opt=CFLAGS=-O1 -g",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let runs = fx.configure_runs();
    assert_eq!(runs.len(), 1);
    let args = &runs[0];
    assert!(!args.contains(&"--disable-gil".to_string()), "{args:?}");
    assert!(args.contains(&"--enable-optimizations".to_string()), "{args:?}");
    assert!(args.contains(&"--with-lto".to_string()), "{args:?}");
    // Each option is one argument, spaces and all: no shell in between.
    assert_eq!(&args[args.len() - 2..], ["--with-x=a b", "CFLAGS=-O1 -g"]);
    // make runs as a client of ftpy's jobserver, sized by --jobs.
    let makeflags = fx.records("make.");
    assert!(
        !makeflags.is_empty() && makeflags.iter().all(|m| m.contains("--jobserver-auth=")),
        "{makeflags:?}"
    );
    let log = fs::read_to_string(fx.path("logs").join(&list_dir(&fx.path("logs"))[0])).unwrap();
    assert!(log.contains("make jobserver: 3 jobs"), "{log}");
    assert!(fx.path("bin/python3.13").exists());
    assert!(!fx.path("bin/python3.13t").exists());
}

#[test]
fn several_requests_in_one_call_and_list_marks_the_variants() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t", "3.13.5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.13.5", "3.13.5t"]);
    // One download serves both builds: the cache is content-addressed.
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1);

    let list = stdout_of(&fx.ftpy().arg("list").output().unwrap());
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("3.13.5 ") && lines[0].contains("GIL"), "{list}");
    assert!(lines[1].starts_with("3.13.5t") && lines[1].contains("free-threaded"), "{list}");

    let which = fx.ftpy().args(["which", "3.13"]).output().unwrap();
    assert!(stdout_of(&which).trim().ends_with("versions/3.13.5/bin/python3.13"));

    let out = fx.ftpy().args(["uninstall", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.13.5"]);
    assert!(fs::symlink_metadata(fx.path("bin/python3.13t")).is_err(), "link removed with the install");
    assert!(fx.path("bin/python3.13").exists());
    let which = fx.ftpy().args(["which", "3.13t"]).output().unwrap();
    assert_eq!(which.status.code(), Some(3));
    assert!(stderr_of(&which).contains("ftpy install 3.13t"));
}

#[test]
fn reinstall_is_a_noop_unless_asked_and_never_downloads_twice() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let again = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(again.status.success());
    assert!(stdout_of(&again).contains("already installed"), "{}", stdout_of(&again));
    assert_eq!(fx.configure_runs().len(), 1, "no second build");

    let forced = fx
        .ftpy()
        .args(["install", "--profile", "fast", "--reinstall", "--no-build-cache", "3.13.5t"])
        .output()
        .unwrap();
    assert!(forced.status.success(), "{}", stderr_of(&forced));
    assert_eq!(fx.configure_runs().len(), 2);
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1, "the cached source was reused");
    assert!(stderr_of(&forced).contains("Using cached source"));
}

#[test]
fn digest_mismatch_installs_nothing_and_tries_no_other_source() {
    let fx = Fixture::new();
    let second = TestServer::start();
    let tarball = fake_source(V);
    second.route(&Fixture::mirror_path(V), Route::Serve(tarball.clone()));
    let expected = "0".repeat(64);
    fx.publish_with_digest(V, tarball.clone(), &expected);

    let out = fx
        .ftpy()
        .env("FTPY_MIRROR", format!("{},{}", fx.server.base, second.base))
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let url = format!("{}{}", fx.server.base, Fixture::mirror_path(V));
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains(&sha256_hex(&tarball)), "{stderr}");
    assert!(second.all_hits().is_empty(), "a mismatch must not fall back to another mirror");
    assert!(fx.versions().is_empty());
    assert!(fx.configure_runs().is_empty());
    let cache = list_dir(&fx.path("cache/sources"));
    assert!(cache.iter().all(|f| f.ends_with(".lock")), "download deleted: {cache:?}");
}

#[test]
fn corrupted_cache_is_detected_on_reuse() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5"]).assert().success();
    let cached = fx.path(&format!("cache/sources/{}.tar.xz", sha256_hex(&fake_source(V))));
    fs::write(&cached, b"corrupted").unwrap();
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("does not match its sha256"), "{}", stderr_of(&out));
    assert!(!cached.exists(), "the corrupt file is deleted");
    assert_eq!(fx.versions(), ["3.13.5"]);
    // Running again downloads afresh.
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
}

#[test]
fn not_found_on_every_mirror_is_a_network_error_with_the_layout() {
    let fx = Fixture::new();
    fx.add_recipe(V, &sha256_hex(b"whatever"));
    let out = fx.ftpy().args(["install", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("not found (404)"), "{stderr}");
    assert!(stderr.contains("<base>/3.13.5/Python-3.13.5.tar.xz"), "{stderr}");
    assert!(fx.versions().is_empty());
}

#[test]
fn mirrors_are_tried_in_order() {
    let fx = Fixture::new();
    let empty = TestServer::start();
    fx.publish(V, fake_source(V));
    let out = fx
        .ftpy()
        .env("FTPY_MIRROR", format!("{},{}", empty.base, fx.server.base))
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(empty.all_hits().len(), 1);
    assert_eq!(fx.server.hits(&Fixture::mirror_path(V)).len(), 1);
}

#[test]
fn a_transfer_cut_short_resumes_with_a_range_request() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    fx.publish(V, tarball.clone());
    fx.server
        .route(&Fixture::mirror_path(V), Route::CutOnce { body: tarball.clone(), after: tarball.len() / 2 });
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let hits = fx.server.hits(&Fixture::mirror_path(V));
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[1].range.as_deref(), Some(format!("bytes={}-", tarball.len() / 2).as_str()));
    assert!(stderr_of(&out).contains("Resuming"), "{}", stderr_of(&out));
}

#[test]
fn a_server_without_ranges_gets_a_clean_restart() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    fx.publish(V, tarball.clone());
    // A partial left by an earlier, interrupted run; this server ignores Range.
    fs::create_dir_all(fx.path("cache/sources")).unwrap();
    let digest = sha256_hex(&tarball);
    fs::write(fx.path(&format!("cache/sources/{digest}.partial")), &tarball[..100]).unwrap();
    fx.server.route(&Fixture::mirror_path(V), Route::ServeNoRange(tarball));
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.13.5t"]);
}

#[test]
fn file_mirror_works() {
    let fx = Fixture::new();
    let tarball = fake_source(V);
    fx.add_recipe(V, &sha256_hex(&tarball));
    let mirror = tempfile::TempDir::new().unwrap();
    fs::create_dir_all(mirror.path().join(V)).unwrap();
    fs::write(mirror.path().join(V).join(format!("Python-{V}.tar.xz")), &tarball).unwrap();
    let out = fx
        .ftpy()
        .env("FTPY_MIRROR", format!("file://{}", mirror.path().display()))
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn a_mirror_without_the_resolved_release_says_what_it_holds_and_how_to_pin() {
    // Issue 12: a mirror holding 3.13.5 only; `3.13t` resolves to the newest 3.13 the recipes
    // know (3.13.14), which the mirror does not have.
    let fx = Fixture::new();
    let tarball = fake_source(V);
    fx.add_recipe(V, &sha256_hex(&tarball));
    let mirror = tempfile::TempDir::new().unwrap();
    let hold = |version: &str, bytes: &[u8]| {
        fs::create_dir_all(mirror.path().join(version)).unwrap();
        fs::write(mirror.path().join(version).join(format!("Python-{version}.tar.xz")), bytes).unwrap();
    };
    hold(V, &tarball);
    let base = format!("file://{}", mirror.path().display());
    let install = |request: &str| {
        fx.ftpy().env("FTPY_MIRROR", &base).args(["install", "--profile", "fast", request]).output().unwrap()
    };
    let out = install("3.13t");
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("could not download the source of 3.13.14 from"), "{stderr}");
    assert!(stderr.contains(&format!("hint: {base} has no 3.13.14; it holds 3.13.5\n")), "{stderr}");
    assert!(stderr.contains("`ftpy install 3.13.5t`"), "{stderr}");
    assert!(!stderr.contains("must be laid out like python.org"), "it is laid out so: {stderr}");

    // What is listed is bounded, and only release directories that hold their tarball.
    for patch in 0..30 {
        hold(&format!("2.7.{patch}"), b"old");
    }
    for junk in ["notes", "3.13", "3.13.6", "index.html"] {
        fs::create_dir_all(mirror.path().join(junk)).unwrap();
    }
    let stderr = stderr_of(&install("3.13t"));
    let listed =
        stderr.lines().find(|l| l.contains("has no 3.13.14; it holds")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(listed.ends_with(", 3.13.5 and 11 more"), "{listed}");
    assert_eq!(listed.matches(", ").count(), 19, "20 shown: {listed}");
    assert!(!listed.contains("3.13.6") && !listed.contains("notes"), "{listed}");

    // The suggested pin works.
    let out = install("3.13.5t");
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn a_pgo_training_run_that_fails_once_is_run_again_and_twice_fails_the_build() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().env("FAKE_PGO_FAILURES", "1").args(["install", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let logs = list_dir(&fx.path("logs"));
    let log = fs::read_to_string(fx.path("logs").join(&logs[0])).unwrap();
    assert!(log.contains("the PGO training run failed; running it once more"), "{log}");
    assert_eq!(fx.records("stage-run.").len(), 2, "the training ran twice");
    assert_eq!(fx.records("stage-gen.").len(), 1, "the instrumented compile ran once");
    assert_eq!(fx.records("make.").len(), 1, "the final compile ran once");
    // The failed attempt's time is counted, under its own name.
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap())
            .unwrap();
    let phases: Vec<&str> =
        receipt["build_phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(phases[2..4], ["PGO training run (failed attempt)", "PGO training run (second attempt)"]);

    let fx = Fixture::with_release(V);
    let out = fx.ftpy().env("FAKE_PGO_FAILURES", "2").args(["install", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("test_generators failed"), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("make failed during the PGO training run (second attempt)"),
        "{}",
        stderr_of(&out)
    );
    assert!(fx.versions().is_empty());
}

#[test]
fn an_optimized_build_runs_in_timed_stages() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::with_release(V);
    // Compilers that say, by the macros they predefine, that they are gcc or clang; each hands
    // any real work to the system's compiler.
    let compiler = |name: &str, defines: &str| {
        let path = fx.path(name);
        fs::write(
            &path,
            format!("#!/bin/sh\nif [ \"$1\" = -dM ]; then echo '#define {defines} 1'; exit 0; fi\nexec cc \"$@\"\n"),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let (gnu, clang) = (compiler("gnu-cc", "__GNUC__"), compiler("llvm-cc", "__clang__"));
    let out = fx.ftpy().env("CC", &gnu).args(["install", "--jobs", "2", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // The instrumented compile without LTO; the training across the jobs; the user sees the phases.
    let instrumented = fx.records("stage-gen.");
    assert_eq!(instrumented, ["CFLAGS_NODIST=-fno-lto LDFLAGS_NODIST=-fno-lto\n"], "{instrumented:?}");
    let run = fx.records("stage-run.");
    assert_eq!(run, ["PROFILE_TASK=-m test --pgo --timeout= -j2\n"], "make expands $(TESTTIMEOUT): {run:?}");
    // The final stage links with gcc's parallel LTO, as the compiler says it is gcc.
    let last = fx.records("stage-final.");
    assert_eq!(last, ["PROFILE_TASK=-m test --pgo --timeout= -j2 LDFLAGS_NODIST=-flto=2\n"], "{last:?}");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("Built 3.13.5t: configure ")
            && stderr.contains("PGO training run ")
            && stderr.contains("LTO link"),
        "{stderr}"
    );
    // The receipt and the log say where the time went.
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap())
            .unwrap();
    let phases: Vec<&str> =
        receipt["build_phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(
        phases,
        [
            "configure",
            "compile (instrumented for PGO, no LTO)",
            "PGO training run",
            "compile (PGO + LTO)",
            "LTO link, extension modules",
            "install",
            "install pip"
        ]
    );
    assert!(receipt["build_phases"][0]["cpu_seconds"].as_f64().is_some(), "{receipt}");
    let logs = list_dir(&fx.path("logs"));
    let log = fs::read_to_string(fx.path("logs").join(&logs[0])).unwrap();
    assert!(log.contains("ftpy: where the time went") && log.contains("\ntotal "), "{log}");

    // clang's ThinLTO link is parallel already, and `-flto=N` is not its flag.
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().env("CC", &clang).args(["install", "--jobs", "2", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.records("stage-final."), ["PROFILE_TASK=-m test --pgo --timeout= -j2 LDFLAGS_NODIST=\n"]);

    // A fast build is one make run, and a user's PROFILE_TASK is never replaced.
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(fx.records("stage-gen.").is_empty() && fx.records("stage-run.").is_empty());
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap())
            .unwrap();
    let phases: Vec<&str> =
        receipt["build_phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["configure", "compile", "install", "install pip"], "no LTO link in a fast build");
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .args(["install", "--configure-opt=PROFILE_TASK=-m test --pgo-extended", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.records("stage-run."), ["PROFILE_TASK=\n"]);
    // Nor one set in the environment, as pyenv users do: configure takes it from there.
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("PROFILE_TASK", "-m test --pgo-extended")
        .args(["install", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.records("stage-run."), ["PROFILE_TASK=-m test --pgo-extended\n"]);
}

#[test]
fn failing_build_removes_staging_and_shows_log_and_hint() {
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("FAKE_FAIL_MAKE", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("zlib.h: No such file"), "tail of the log shown: {stderr}");
    assert!(stderr.contains("apt-get install -y zlib1g-dev"), "{stderr}");
    let logs = list_dir(&fx.path("logs"));
    assert_eq!(logs.len(), 1);
    assert!(stderr.contains(&fx.path("logs").join(&logs[0]).display().to_string()), "{stderr}");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert!(fx.versions().is_empty());

    // Build output is shown escaped and shortened: it cannot retitle or clear the terminal.
    let out = fx
        .ftpy()
        .env("FAKE_FAIL_MAKE", "1")
        .env("FAKE_MAKE_NOISE", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(!stderr.contains('\x1b') && stderr.contains("\\x1b]0;PWNED"), "{stderr}");
    assert!(stderr.lines().all(|l| l.chars().count() < 600), "{stderr}");
    let logs = list_dir(&fx.path("logs"));
    let kept = format!("\x1b[2J{}", "0".repeat(900));
    assert!(
        logs.iter().any(|l| fs::read_to_string(fx.path("logs").join(l)).unwrap().contains(&kept)),
        "the log keeps it as it was"
    );

    let out = fx
        .ftpy()
        .env("FAKE_FAIL_CONFIGURE", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr_of(&out).contains("build-essential"), "{}", stderr_of(&out));
}

#[test]
fn failed_checks_leave_nothing_installed() {
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .env("FAKE_MISSING_MODULE", "ssl")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("ssl: ModuleNotFoundError"), "{stderr}");
    assert!(stderr.contains("libssl-dev"), "{stderr}");
    assert!(fx.versions().is_empty(), "{:?}", fx.versions());
    assert!(fs::symlink_metadata(fx.path("bin/python3.13t")).is_err());

    let out = fx
        .ftpy()
        .env("FAKE_GIL_ENABLED", "1")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(stderr_of(&out).contains("sys._is_gil_enabled() is True"), "{}", stderr_of(&out));
    assert!(fx.versions().is_empty());

    let out = fx
        .ftpy()
        .env("FAKE_MISSING_MODULE", "ssl")
        .args(["install", "--profile", "fast", "--allow-missing-modules", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("warning: module ssl is missing"), "{}", stderr_of(&out));
}

#[test]
fn failed_reinstall_keeps_the_previous_installation() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let out = fx
        .ftpy()
        .env("FAKE_GIL_ENABLED", "1")
        .args(["install", "--profile", "fast", "--reinstall", "--no-build-cache", "3.13.5t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(fx.configure_runs().len(), 2, "a real rebuild was rolled back");
    assert_eq!(fx.versions(), ["3.13.5t"]);
    fx.ftpy().args(["which", "3.13.5t"]).assert().success();
    let receipt = fs::read_to_string(fx.path("versions/3.13.5t/ftpy-receipt.json")).unwrap();
    assert!(receipt.contains("\"gil_enabled\": false"), "{receipt}");
}

#[test]
fn links_follow_the_newest_patch_release_of_each_series() {
    let fx = Fixture::with_release(V);
    fx.publish("3.13.4", fake_source("3.13.4"));
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t", "3.13.4t"]).assert().success();
    let link = fx.path("bin/python3.13t");
    assert_eq!(fs::read_link(&link).unwrap(), fx.path("versions/3.13.5t/bin/python3.13t"));
    fx.ftpy().args(["uninstall", "3.13.5t"]).assert().success();
    assert_eq!(fs::read_link(&link).unwrap(), fx.path("versions/3.13.4t/bin/python3.13t"));
    let which = fx.ftpy().args(["which", "3.13t"]).output().unwrap();
    assert!(stdout_of(&which).trim().ends_with("versions/3.13.4t/bin/python3.13t"));
    let out = fx.ftpy().args(["uninstall", "3.13t", "3.13.4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "3.13.4 (GIL) is not installed");
    assert!(stderr_of(&out).contains("ftpy list"), "{}", stderr_of(&out));
}

/// Start `ftpy <args>` paused at the kill point `point` (FTPY_TEST_PAUSE_AT), then SIGKILL it.
fn kill_at(fx: &Fixture, point: &str, args: &[&str]) {
    let pause = fx.record.path().join(format!("paused-{}", point.replace(':', "-")));
    let _ = fs::remove_file(&pause);
    let mut child = fx
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_TEST_PAUSE_AT", point)
        .env("FTPY_TEST_PAUSE_FILE", &pause)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reached = wait_for_file(&pause, std::time::Duration::from_secs(120));
    kill_hard(&mut child);
    assert!(reached, "ftpy {args:?} never reached {point}");
}

#[test]
fn leftover_of_a_crash_is_cleaned_only_when_the_journal_explains_it() {
    let fx = Fixture::with_release(V);
    // Killed after the move into versions/, before the checks: the journal explains the tree.
    kill_at(&fx, "install:placed", &["install", "--profile", "fast", "3.13.5t"]);
    assert_eq!(fx.versions(), ["3.13.5t"]);
    assert!(!fx.path("versions/3.13.5t/ftpy-receipt.json").exists());
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(stdout_of(&out).is_empty(), "{}", stdout_of(&out));
    assert!(stderr_of(&out).contains("removed the half-made tree"), "{}", stderr_of(&out));
    assert!(fx.versions().is_empty());
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert_eq!(fx.ftpy().args(["which", "3.13t"]).output().unwrap().status.code(), Some(3));
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    assert_eq!(fx.configure_runs().len(), 2);

    // A tree without a receipt that no journal explains may hold someone's work: damaged, kept.
    fs::create_dir_all(fx.path("versions/3.13.5/lib/site-packages")).unwrap();
    fs::write(fx.path("versions/3.13.5/lib/site-packages/mine.py"), "x = 1\n").unwrap();
    fs::create_dir_all(fx.path("tmp/install-3.13.5-dead")).unwrap();
    let out = fx.ftpy().arg("list").output().unwrap();
    let stdout = stdout_of(&out);
    assert!(stdout.contains("3.13.5      DAMAGED"), "{stdout}");
    assert!(stdout.contains("ftpy-receipt.json is missing"), "{stdout}");
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(15), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("hint: `ftpy install --reinstall 3.13.5`"), "{}", stderr_of(&out));
    assert!(fx.path("versions/3.13.5/lib/site-packages/mine.py").exists());
    assert_eq!(fx.configure_runs().len(), 2, "nothing was built");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}

#[test]
fn kill_during_the_checks_of_a_reinstall_keeps_the_previous_installation() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let mine = fx.path("versions/3.13.5t/lib/site-packages/mine.py");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::write(&mine, "x = 1\n").unwrap();
    // The fake interpreter's probe hangs; ftpy is killed while it checks the new tree.
    let probing = fx.record.path().join("probing");
    let mut child = fx
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FAKE_PROBE_PAUSE", &probing)
        .args(["install", "--profile", "fast", "--reinstall", "--no-build-cache", "3.13.5t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reached = wait_for_file(&probing, std::time::Duration::from_secs(120));
    kill_hard(&mut child);
    assert!(reached, "the checks never started");
    // The next commands find the previous installation, with the user's file.
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(stdout_of(&out).contains("3.13.5t"), "{}{}", stdout_of(&out), stderr_of(&out));
    assert!(mine.exists(), "the previous installation's packages were lost");
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(stdout_of(&out).contains("3.13.5t is already installed"), "{}", stderr_of(&out));
    assert!(mine.exists(), "the next install deleted the previous installation");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}

#[test]
fn a_damaged_receipt_is_listed_kept_and_replaced_only_when_asked() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t", "3.13.5"]).assert().success();
    let mine = fx.path("versions/3.13.5t/lib/site-packages/mine.py");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::write(&mine, "x = 1\n").unwrap();
    // One stray byte.
    let receipt = fx.path("versions/3.13.5t/ftpy-receipt.json");
    let mut bytes = fs::read(&receipt).unwrap();
    bytes.insert(0, b'#');
    fs::write(&receipt, bytes).unwrap();

    let out = fx.ftpy().arg("list").output().unwrap();
    let stdout = stdout_of(&out);
    assert!(stdout.contains("3.13.5t     DAMAGED"), "{stdout}");
    assert!(stdout.contains(&fx.path("versions/3.13.5t").display().to_string()), "{stdout}");
    assert!(stdout.contains("ftpy-receipt.json is unreadable"), "{stdout}");
    assert!(stdout.contains("3.13.5      GIL"), "the healthy one is still listed: {stdout}");
    assert_eq!(fx.ftpy().args(["which", "3.13.5t"]).output().unwrap().status.code(), Some(3));

    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(15), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is damaged"), "{}", stderr_of(&out));
    assert!(mine.exists(), "install deleted a damaged installation");

    let out = fx.ftpy().args(["install", "--profile", "fast", "--reinstall", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is kept at"), "{}", stderr_of(&out));
    fx.ftpy().args(["which", "3.13.5t"]).assert().success();
    let kept = list_dir(&fx.path("damaged"));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(fx.path("damaged").join(&kept[0]).join("lib/site-packages/mine.py").exists());
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());

    // Uninstall takes a damaged tree, and a versions/ entry that is a plain file, leaving nothing.
    fs::write(fx.path("versions/3.13.5/ftpy-receipt.json"), "{").unwrap();
    fx.ftpy().args(["uninstall", "3.13.5"]).assert().success();
    fs::write(fx.path("versions/3.13.4t"), "not a directory").unwrap();
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(stdout_of(&out).contains("it is a file, not a directory"), "{}", stdout_of(&out));
    fx.ftpy().args(["uninstall", "3.13.4t"]).assert().success();
    assert_eq!(fx.versions(), ["3.13.5t"]);
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}

/// A receipt that is a FIFO made `list` (and every command that reads installations) wait
/// forever for a writer; one that leads to /dev/zero was read until memory ran out. Both are
/// damaged trees, shown as such, and the commands finish.
#[test]
fn a_receipt_that_is_a_fifo_or_endless_is_damaged_not_a_hang() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let receipt = fx.path("versions/3.13.5t/ftpy-receipt.json");
    for (make, said) in [
        (
            &(|p: &std::path::Path| {
                let status = std::process::Command::new("mkfifo").arg(p).status().unwrap();
                assert!(status.success());
            }) as &dyn Fn(&std::path::Path),
            "is not a regular file",
        ),
        (
            &(|p: &std::path::Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
            "is not a regular file",
        ),
        (&(|p: &std::path::Path| fs::write(p, " ".repeat(3 << 20)).unwrap()), "is larger than"),
    ] {
        fs::remove_file(&receipt).unwrap();
        make(&receipt);
        let out = fx.ftpy().arg("list").timeout(std::time::Duration::from_secs(30)).output().unwrap();
        let stdout = stdout_of(&out);
        assert!(out.status.success(), "{stdout}{}", stderr_of(&out));
        assert!(stdout.contains("3.13.5t     DAMAGED"), "{stdout}");
        assert!(stdout.contains(said), "{stdout}");
        let out = fx
            .ftpy()
            .args(["install", "--profile", "fast", "3.13.5t"])
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(15), "{}", stderr_of(&out));
    }
}

#[test]
fn receipts_of_older_and_newer_ftpy_still_read() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    let path = fx.path("versions/3.13.5t/ftpy-receipt.json");
    let written: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // Older: only the key. Newer: a later format with fields this ftpy does not know.
    for receipt in [
        serde_json::json!({"key": "3.13.5t"}),
        serde_json::json!({"format": 7, "key": "3.13.5t", "checks": {"version": "3.13.5", "new": [1]},
            "signature": "..."}),
    ] {
        fs::write(&path, receipt.to_string()).unwrap();
        let out = fx.ftpy().arg("list").output().unwrap();
        assert!(stdout_of(&out).contains("3.13.5t     free-threaded"), "{receipt}: {}", stdout_of(&out));
        let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
        assert!(stdout_of(&out).contains("already installed"), "{receipt}: {}", stderr_of(&out));
    }
    assert_eq!(fx.configure_runs().len(), 1);
    assert_eq!(written["format"], 1, "receipts say their format");
}

#[test]
fn a_signal_stops_the_builds_and_leaves_nothing_half_installed() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5"]).assert().success();
    // The fake make sleeps this long: a distinctive command line to look for afterwards.
    let nap = "301.25";
    let sleeping = || {
        let out = std::process::Command::new("pgrep").args(["-f", &format!("sleep {nap}")]).output().unwrap();
        !out.stdout.is_empty()
    };
    for signal in ["-INT", "-TERM"] {
        let makes_before = fx.records("make.").len();
        let mut cmd = fx.command(assert_cmd::cargo::cargo_bin("ftpy"));
        let child = cmd
            .env("FAKE_MAKE_SLEEP", nap)
            .args(["install", "--profile", "fast", "--pair", "--reinstall", "--no-build-cache", V])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Both builds are compiling (each make has recorded its start) before the signal.
        let waited = std::time::Instant::now();
        while fx.records("make.").len() < makes_before + 2 {
            assert!(waited.elapsed().as_secs() < 120, "the builds never started");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // To ftpy alone, as `docker stop` or a CI runner would send it: ftpy must stop make.
        let pid = child.id().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let signalled = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        // Left alone, the fake make sleeps 5 minutes more (and ftpy reads its output until then).
        assert!(signalled.elapsed().as_secs() < 150, "{signal}: ftpy stopped the builds instead of waiting");
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(130), "{signal}: {stderr}");
        assert!(
            stderr.contains("3.13.5 was not reinstalled; the previous installation is in place"),
            "{signal}: {stderr}"
        );
        assert!(
            stderr.contains("3.13.5t was not installed, and nothing of it was left behind"),
            "{signal}: {stderr}"
        );
        assert!(!sleeping(), "{signal}: the builds' processes were stopped too");
        assert!(fx.staging_leftovers().is_empty(), "{signal}: {:?}", fx.staging_leftovers());
        assert_eq!(fx.versions(), ["3.13.5"], "{signal}");
        fx.ftpy().args(["which", "3.13.5"]).assert().success();
    }
    // Nothing stale blocks the next install.
    fx.ftpy().args(["install", "--profile", "fast", "--pair", V]).assert().success();
    assert_eq!(fx.versions(), ["3.13.5", "3.13.5t"]);
}

#[test]
fn the_first_signal_says_stopping_the_build_at_once() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let fx = Fixture::with_release(V);
    // A make that takes 8 s to stop after SIGTERM, as a real one finishing its compilers may:
    // before the notice, nothing was printed until it had (issue 12: 11 s of silence).
    let dir = tempfile::TempDir::new().unwrap();
    let slow_make = dir.path().join("slow-make");
    fs::write(&slow_make, "#!/bin/sh\ntrap 'sleep 8; exit 143' TERM\nmake \"$@\" &\nwait $!\n").unwrap();
    fs::set_permissions(&slow_make, fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = fx
        .command(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("MAKE", &slow_make)
        .env("FAKE_MAKE_SLEEP", "302.5")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send((Instant::now(), line));
        }
    });
    let waited = Instant::now();
    while fx.records("make.").is_empty() {
        assert!(waited.elapsed().as_secs() < 120, "the build never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let signalled = Instant::now();
    let status = child.wait().unwrap();
    let exited = Instant::now();
    reader.join().unwrap();
    let seen: Vec<(Instant, String)> = lines.try_iter().collect();
    let all: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(status.code(), Some(130), "{all:#?}");
    let (noticed, line) = seen
        .iter()
        .find(|(_, line)| line.contains("stopping the build\u{2026}"))
        .unwrap_or_else(|| panic!("no notice: {all:#?}"));
    assert_eq!(line.trim(), "stopping the build\u{2026} (a second Ctrl-C forces it)");
    // The make above ends 8 s after its SIGTERM: the notice came long before ftpy could exit.
    assert!(exited.duration_since(signalled) >= Duration::from_secs(8), "{all:#?}");
    assert!(noticed.duration_since(signalled) < Duration::from_secs(5), "the notice waited for the build");
    assert!(*noticed < exited);
    assert_eq!(all.iter().filter(|l| l.contains("stopping the build")).count(), 1, "one line: {all:#?}");
}

#[test]
fn a_build_log_that_cannot_be_written_is_a_local_error_not_a_failed_build() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::with_release(V);
    // The source is cached by a first install, so that only the build log grows.
    fx.ftpy().args(["install", "--profile", "fast", V]).assert().success();
    // A make that says a lot (1 MiB, as a real build does), and a file-size limit of 64 KiB
    // standing in for a full disk: writing the log fails with EFBIG (SIGXFSZ ignored).
    let dir = tempfile::TempDir::new().unwrap();
    let chatty_make = dir.path().join("chatty-make");
    fs::write(
        &chatty_make,
        "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' 'x' | fold -w 100\nexec make \"$@\"\n",
    )
    .unwrap();
    fs::set_permissions(&chatty_make, fs::Permissions::from_mode(0o755)).unwrap();
    let out = fx
        .command("sh")
        .env("MAKE", &chatty_make)
        .args(["-c", "trap '' XFSZ; ulimit -f 128; exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("ftpy"))
        .args(["install", "--profile", "fast", "--no-build-cache", "3.13.5t"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "a local I/O error, not 6 (build failed): {stderr}");
    assert!(stderr.contains("cannot write the build log"), "{stderr}");
    assert!(stderr.contains("hint: the disk holding"), "{stderr}");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
    assert_eq!(fx.versions(), [V]);
}

/// The SIGINT and SIGQUIT bits of a `SigIgn:` line of /proc/<pid>/status.
fn ignores_sigint_or_sigquit(line: &str) -> bool {
    let mask = u64::from_str_radix(line.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    mask & ((1 << (2 - 1)) | (1 << (3 - 1))) != 0
}

#[test]
fn builds_get_default_sigint_when_ftpy_was_started_with_it_ignored() {
    // A shell script's `cmd &` starts cmd with SIGINT ignored; CPython's PGO training
    // run then fails (test_generators needs raise_signal(SIGINT) to raise KeyboardInterrupt).
    let control = std::process::Command::new("sh")
        .args(["-c", "trap '' INT QUIT; grep SigIgn /proc/self/status"])
        .output()
        .unwrap();
    assert!(ignores_sigint_or_sigquit(&stdout_of(&control)), "the trap does ignore them");

    let fx = Fixture::with_release(V);
    let mut cmd = fx.command("sh");
    let out = cmd
        .args(["-c", "trap '' INT QUIT; exec \"$0\" install --profile fast 3.13.5t"])
        .arg(assert_cmd::cargo::cargo_bin("ftpy"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let seen = fx.records("sigign.");
    assert_eq!(seen.len(), 1);
    assert!(!ignores_sigint_or_sigquit(&seen[0]), "the build's shell had {}", seen[0]);
}

#[test]
fn a_signal_ftpy_was_started_with_ignored_stays_ignored() {
    // `nohup ftpy install ... &`: closing the terminal (SIGHUP) must not stop the install.
    let fx = Fixture::with_release(V);
    let mut cmd = fx.command("sh");
    let child = cmd
        .env("FAKE_MAKE_SLEEP", "3")
        .args(["-c", "trap '' HUP; exec \"$0\" install --profile fast 3.13.5t"])
        .arg(assert_cmd::cargo::cargo_bin("ftpy"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while fx.records("make.").is_empty() {
        assert!(waited.elapsed().as_secs() < 120, "the build never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fx.versions(), ["3.13.5t"]);
}

#[test]
fn concurrent_installs_of_one_version_build_once() {
    let fx = Fixture::with_release(V);
    let spawn = || {
        let mut cmd = fx.command(assert_cmd::cargo::cargo_bin("ftpy"));
        cmd.env("FAKE_MAKE_SLEEP", "2")
            .args(["install", "--profile", "fast", "3.13.5t"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn();
    let second = spawn();
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    assert!(a.status.success(), "{}", stderr_of(&a));
    assert!(b.status.success(), "{}", stderr_of(&b));
    assert_eq!(fx.configure_runs().len(), 1, "built exactly once");
    let outputs = format!("{}{}", stdout_of(&a), stdout_of(&b));
    assert!(outputs.contains("already installed"), "{outputs}");
    assert!(outputs.contains("Installed 3.13.5t (free-threaded, built"), "{outputs}");
    let stderrs = format!("{}{}", stderr_of(&a), stderr_of(&b));
    assert!(stderrs.contains("Waiting for another ftpy process"), "{stderrs}");
}

#[test]
fn unsafe_archives_are_refused() {
    use TarEntry::*;
    let outside = tempfile::TempDir::new().unwrap();
    let victim = outside.path().join("victim");
    let victim = victim.to_str().unwrap();
    let cases: Vec<(&str, Vec<TarEntry>)> = vec![
        (
            "parent",
            vec![
                Dir("Python-3.13.5/"),
                File("Python-3.13.5/../../../../../../../../tmp/ftpy-evil", b"x", 0o644),
            ],
        ),
        ("absolute", vec![Dir("Python-3.13.5/"), File(victim, b"x", 0o644)]),
        (
            "symlink-absolute",
            vec![Dir("Python-3.13.5/"), Symlink("Python-3.13.5/link", outside.path().to_str().unwrap())],
        ),
        (
            "symlink-relative",
            vec![Dir("Python-3.13.5/"), Symlink("Python-3.13.5/link", "../../../../../../../../..")],
        ),
        (
            "hardlink",
            vec![Dir("Python-3.13.5/"), HardLink("Python-3.13.5/hl", "../../../../../../../etc/passwd")],
        ),
        ("hardlink-absolute", vec![Dir("Python-3.13.5/"), HardLink("Python-3.13.5/hl", "/etc/passwd")]),
        (
            "through-symlink",
            vec![
                Dir("Python-3.13.5/"),
                Symlink("Python-3.13.5/here", "."),
                File("Python-3.13.5/here/x", b"x", 0o644),
            ],
        ),
    ];
    for (name, entries) in cases {
        let fx = Fixture::new();
        fx.publish(V, tar_xz(&entries));
        let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
        assert_eq!(out.status.code(), Some(8), "{name}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("refusing to unpack"), "{name}: {}", stderr_of(&out));
        assert!(fx.versions().is_empty(), "{name}");
        assert!(fx.staging_leftovers().is_empty(), "{name}");
        assert!(!std::path::Path::new(victim).exists(), "{name} wrote outside");
    }
    assert!(!std::path::Path::new("/tmp/ftpy-evil").exists());
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().args(["install", "3.12t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("only from 3.13 on (PEP 703)"), "{}", stderr_of(&out));

    let out = fx.ftpy().args(["install", "banana"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not a version request"), "{}", stderr_of(&out));

    add_series_399(&fx);
    let out = fx.ftpy().args(["install", "3.99.7t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("no recipe for 3.99.7t; nearest available: 3.99.1t, 3.99.0t, 3.99.2rc1t"),
        "{stderr}"
    );
    let out = fx.ftpy().args(["install", "--pair", "3.12"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "bad input, like 3.12t");
    assert!(stderr_of(&out).contains("exist only from 3.13 on"), "{}", stderr_of(&out));

    // One bad request stops the command before anything is built.
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t", "3.13.77"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(fx.configure_runs().is_empty());

    let out = fx.ftpy().args(["install", "--mirror", "ftp://x", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx.ftpy().args(["install", "--jobs", "0", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for opt in ["--configure-opt=--prefix=/usr", "--configure-opt=--disable-gil"] {
        let out = fx.ftpy().args(["install", opt, "3.13.5"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{opt}");
        assert!(stderr_of(&out).contains("is not allowed"), "{}", stderr_of(&out));
    }
    let out = fx.ftpy().args(["install", "3.12t"]).output().unwrap();
    assert!(stderr_of(&out).contains("hint: ask for 3.13t or newer"), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["uninstall", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    for args in [&["which", "3.x"][..], &["install"][..], &["uninstall", "3.13t", "--bogus"][..]] {
        let out = fx.ftpy().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!stderr_of(&out).contains("panicked"));
    }
    fs::write(fx.recipes.path().join("broken.toml"), "series = 3.13\n").unwrap();
    let out = fx.ftpy().args(["install", "3.13t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("broken.toml"), "{}", stderr_of(&out));
}

/// A made-up series in the recipe override, so that resolution tests do not depend on which
/// releases the built-in recipes hold today.
fn add_series_399(fx: &Fixture) {
    let digest = |n: u8| format!("{n:02x}").repeat(32);
    let mut text = String::from("series = \"3.99\"\nfree_threading = \"supported\"\n");
    for (i, v) in ["3.99.0", "3.99.1", "3.99.2rc1"].iter().enumerate() {
        text.push_str(&format!(
            "[[release]]\nversion = \"{v}\"\nurl = \"https://example.invalid/{v}/Python-{v}.tar.xz\"\nsha256 = \"{}\"\n",
            digest(i as u8)
        ));
    }
    fs::write(fx.recipes.path().join("3.99.toml"), text).unwrap();
}

#[test]
fn dry_run_shows_the_plan_and_touches_nothing() {
    let fx = Fixture::new();
    add_series_399(&fx);
    let home_path = fx.path("fresh");
    let out = fx
        .ftpy()
        .env("FTPY_HOME", &home_path)
        .env_remove("FTPY_MIRROR")
        .args(["install", "--dry-run", "3.99t", "3.99.2rc1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    // The newest final, never the release candidate, and the `t` kept.
    assert!(stdout.contains("3.99.1t: free-threaded build of 3.99.1"), "{stdout}");
    assert!(stdout.contains("source:    https://example.invalid/3.99.1/Python-3.99.1.tar.xz"), "{stdout}");
    assert!(stdout.contains(&format!("sha256:    {}", "01".repeat(32))), "{stdout}");
    assert!(stdout.contains("--disable-gil --enable-optimizations --with-lto"), "{stdout}");
    assert!(stdout.contains("3.99.2rc1: GIL build of 3.99.2rc1"), "{stdout}");
    assert!(!home_path.exists(), "dry run created the home");

    // With a mirror: the mirror's address, in python.org's layout.
    let out = fx
        .ftpy()
        .env("FTPY_HOME", &home_path)
        .args(["install", "--dry-run", "--pair", "3.99.2rc1"])
        .output()
        .unwrap();
    let stdout = stdout_of(&out);
    assert!(stdout.contains(&format!("{}/3.99.2/Python-3.99.2rc1.tar.xz", fx.server.base)), "{stdout}");
    assert!(stdout.contains("3.99.2rc1t: free-threaded") && stdout.contains("run concurrently"), "{stdout}");
}

#[test]
fn list_available_offers_both_variants() {
    let out = assert_cmd::Command::cargo_bin("ftpy")
        .unwrap()
        .env("FTPY_HOME", tempfile::TempDir::new().unwrap().path())
        .env_remove("FTPY_RECIPES")
        .args(["list", "--available"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains("3.13 (free-threading is experimental in this series)"), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("3.13.5 ") && l.contains("3.13.5t")), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("3.15.0b4t") && l.contains("pre-release")), "{stdout}");
}

#[test]
fn an_unreadable_journal_stops_the_install_of_its_key_and_touches_nothing() {
    let fx = Fixture::with_release(V);
    fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).assert().success();
    fs::write(fx.path("tmp/journal-3.13.5t.json"), "{ not json").unwrap();
    let out = fx.ftpy().arg("list").output().unwrap();
    assert!(stdout_of(&out).contains("3.13.5t"), "{}", stdout_of(&out));
    assert!(stderr_of(&out).contains("journal-3.13.5t.json is unreadable"), "{}", stderr_of(&out));
    let out = fx.ftpy().args(["install", "--profile", "fast", "--reinstall", "3.13.5t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("cannot finish or undo what an interrupted install of 3.13.5t left"), "{stderr}");
    assert!(stderr.contains("hint: to settle it by hand"), "{stderr}");
    assert_eq!(fx.configure_runs().len(), 1, "nothing was built");
    fx.ftpy().args(["which", "3.13.5t"]).assert().success();
}

/// A fast build never passes for an optimized one without a word: the install, its dry run
/// and `list` say which profile is installed.
#[test]
fn an_installed_build_of_another_profile_is_named_not_passed_off() {
    let fx = Fixture::with_release("3.13.5");
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(stderr_of(&out).contains("to PATH"), "an install says where its links are: {}", stderr_of(&out));
    let out = fx.ftpy().args(["install", "3.13.5t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("already installed, built with the fast profile"),
        "{}",
        stdout_of(&out)
    );
    assert!(
        stderr_of(&out).contains("`ftpy install --reinstall --profile optimized 3.13.5t`"),
        "{}",
        stderr_of(&out)
    );
    let out = fx.ftpy().args(["install", "--dry-run", "3.13.5t"]).output().unwrap();
    assert!(stdout_of(&out).contains("already installed with the fast profile"), "{}", stdout_of(&out));
    let out = fx.ftpy().args(["install", "--profile", "fast", "3.13.5t"]).output().unwrap();
    assert!(stdout_of(&out).contains("3.13.5t is already installed: "), "{}", stdout_of(&out));
    assert!(!stderr_of(&out).contains("profile"), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("to PATH"), "no PATH advice after a no-op: {}", stderr_of(&out));
    let list = stdout_of(&fx.ftpy().arg("list").output().unwrap());
    assert!(list.lines().any(|l| l.starts_with("3.13.5t") && l.contains(" fast ")), "{list}");
}

/// Something that appears at `versions/<key>` while an install of that key builds (nothing was
/// installed there when it started) is not ftpy's: the install refuses and leaves it as it is,
/// instead of setting it aside and deleting it on commit.
#[test]
fn what_appears_at_the_prefix_during_the_build_is_left_alone() {
    let fx = Fixture::with_release(V);
    let child = fx
        .command(env!("CARGO_BIN_EXE_ftpy"))
        .env("FAKE_MAKE_SLEEP", "3")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fx.configure_runs().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the build never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let precious = fx.path("versions/3.13.5t/precious");
    fs::create_dir_all(&precious).unwrap();
    fs::write(precious.join("data"), "mine").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(15), "{err}");
    assert!(err.contains("it appeared while this install was building"), "{err}");
    assert_eq!(fs::read_to_string(precious.join("data")).unwrap(), "mine", "left as it was");
    assert!(fx.staging_leftovers().is_empty(), "{:?}", fx.staging_leftovers());
}
