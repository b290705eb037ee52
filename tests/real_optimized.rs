//! End to end on ftpy's default profile, the one every `ftpy install` without `--profile` gets:
//! CPython 3.14.6t built with PGO and LTO from the unmodified upstream tarball in
//! `../shared/cpython`, served by a local HTTP mirror and verified against the digest compiled
//! into ftpy's recipes. The fake build of tests/install.rs checks the stages' order and
//! arguments; this one checks that the real build takes them: the training run spread over
//! worker processes, its profile read back by the optimized compile, the parallel LTO link, the
//! phase table. About twelve minutes on two idle cores.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::*;

const JOBS: usize = 2;

#[test]
fn real_build_the_default_profile_trains_in_parallel_and_uses_what_it_learned() {
    let tarball = cpython_tarball("3.14.6");
    let Ok(bytes) = fs::read(&tarball) else {
        assert!(!require(false, &tarball.display().to_string(), "set FTPY_TEST_CPYTHON_DIR"));
        return;
    };
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-optimized");
    let _ = fs::remove_dir_all(&home);
    let server = TestServer::start();
    server.route("/3.14.6/Python-3.14.6.tar.xz", Route::Serve(bytes));

    let jobs = JOBS.to_string();
    // gcc, named: what is checked below (`.gcda` files, `-fprofile-use`, `-flto=N`) is gcc's.
    if !require(gcc_answers(), "gcc", "apt-get install gcc (./install.sh --build-deps)") {
        return;
    }
    let out = Command::new(assert_cmd::cargo::cargo_bin("ftpy"))
        .env("FTPY_HOME", &home)
        .env("CC", "gcc")
        .env_remove("FTPY_REMOTE_CACHE")
        .env("FTPY_MIRROR", &server.base)
        .env_remove("FTPY_RECIPES")
        .env_remove("PYTHON_GIL")
        .env_remove("PROFILE_TASK")
        .args(["install", "--no-ccache", "--jobs", &jobs, "3.14.6t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("Installed 3.14.6t"), "{}", stdout_of(&out));

    // The interpreter: free-threaded, GIL off, configured for PGO and LTO (configure sets
    // PGO_PROF_USE_FLAG for any gcc, so only the build log below shows the profile was used).
    let python = home.join("versions/3.14.6t/bin/python3.14t");
    let said = Command::new(&python)
        .args([
            "-c",
            "import sys, sysconfig; v = sysconfig.get_config_var; \
             print(sys._is_gil_enabled(), v('CONFIG_ARGS'), sep='|')",
        ])
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert!(said.status.success(), "{}", stderr_of(&said));
    let said = stdout_of(&said);
    let fields: Vec<&str> = said.trim().split('|').collect();
    assert_eq!(fields[0], "False", "{said}");
    for flag in ["--disable-gil", "--enable-optimizations", "--with-lto"] {
        assert!(fields[1].contains(flag), "{flag} missing from CONFIG_ARGS: {said}");
    }

    // The receipt: the profile, and every phase of a PGO build with its wall and CPU time.
    let receipt: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(home.join("versions/3.14.6t/ftpy-receipt.json")).unwrap())
            .unwrap();
    assert_eq!(receipt["profile"], "optimized", "{receipt:#}");
    // A training run that fails once is run again (a timing-sensitive test under -j): its
    // phases then read "(failed attempt)" and "(second attempt)"; the one that counted is kept.
    let phases: Vec<(String, f64, f64)> = receipt["build_phases"]
        .as_array()
        .unwrap_or_else(|| panic!("no phases in the receipt: {receipt:#}"))
        .iter()
        .map(|p| {
            let cpu = p["cpu_seconds"].as_f64().unwrap_or_else(|| panic!("a phase without CPU time: {p}"));
            let name = p["phase"].as_str().unwrap();
            (name.trim_end_matches(" (second attempt)").to_string(), p["wall_seconds"].as_f64().unwrap(), cpu)
        })
        .filter(|(name, ..)| !name.ends_with("(failed attempt)"))
        .collect();
    let names: Vec<&str> = phases.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "configure",
            "compile (instrumented for PGO, no LTO)",
            "PGO training run",
            "compile (PGO + LTO)",
            "LTO link, extension modules",
            "install",
            "install pip"
        ],
        "{receipt:#}"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for (name, wall, cpu) in &phases {
        assert!(*wall > 0.0 && *cpu > 0.0, "{name}: {wall} s wall, {cpu} CPU-s");
        // The machine cannot give a phase more CPU-seconds a second than it has cores (with a
        // margin for the clock's ticks); more would be time counted twice.
        assert!(*cpu <= wall * cores * 1.05 + 1.0, "{name}: {cpu} CPU-s in {wall} s on {cores} cores");
    }
    // The training ran on more than one core: its worker processes overlapped.
    let (_, training_wall, training_cpu) =
        phases.iter().find(|(name, ..)| name == "PGO training run").unwrap();
    if cores >= 2.0 {
        assert!(
            training_cpu > training_wall,
            "the training kept one core: {training_cpu} CPU-s in {training_wall} s"
        );
    }

    // The log: what make was told, and what the build did with it.
    let logs = list_dir(&home.join("logs"));
    assert_eq!(logs.len(), 1, "{logs:?}");
    // Build output can hold any byte; the log keeps it as it came.
    let log = String::from_utf8_lossy(&fs::read(home.join("logs").join(&logs[0])).unwrap()).into_owned();
    // What make ran (its echo of each command), not what ftpy asked of it.
    assert!(
        log.contains(&format!("./python -m test --pgo --timeout= -j{JOBS}")),
        "make did not run the training over {JOBS} workers"
    );
    assert!(
        log.contains(&format!("in parallel using {JOBS} worker processes")),
        "the test runner did not spread the training over workers"
    );
    assert!(
        log.lines().any(|l| l.contains("-o Python/ceval.o") && l.contains("-fprofile-use")),
        "the evaluation loop was not compiled with the profile"
    );
    assert!(
        log.lines().any(|l| l.contains("-o python ")
            && l.contains("Programs/python.o")
            && l.contains(&format!("-flto={JOBS}"))),
        "the interpreter's LTO link was not given {JOBS} jobs"
    );
    assert!(!log.contains("serial compilation of"), "gcc fell back to a serial LTO link");
    // The core of the interpreter ran in the training: its profile must be found. (A module the
    // training never imports has none, and gcc says so; the evaluation loop is not one.)
    for core in ["Python/ceval.gcda", "Objects/object.gcda", "Python/gc_free_threading.gcda"] {
        assert!(
            !log.lines().any(|l| l.contains(core) && l.contains("profile count data file not found")),
            "no profile for {core}"
        );
    }
    assert!(log.contains("ftpy: where the time went"), "no phase table at the end of the log");
    assert!(list_dir(&home.join("tmp")).is_empty(), "{:?}", list_dir(&home.join("tmp")));
}

fn gcc_answers() -> bool {
    Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && stdout_of(&o).contains("Free Software Foundation"))
}
