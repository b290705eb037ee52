//! There is no Docker engine here, so the image itself cannot be built. What can be checked is
//! that the builder stage's commands run, as written, in a clean environment: a fresh clone of
//! this repository in place of `COPY . /src/ftpy`, a fresh FTPY_HOME in place of `/opt/ftpy`, a
//! fresh bin directory in place of `/usr/local/bin`, and the real CPython 3.14.6 source from a
//! local mirror (`FTPY_MIRROR`, as a build argument would give it). It runs install.sh (a full
//! release build of ftpy) and a real `--profile fast` CPython build: several minutes.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::*;

fn builder_stage(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut stage = Vec::new();
    let mut inside = false;
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with("FROM ") {
            if inside {
                break;
            }
            inside = line.ends_with(" AS builder");
            continue;
        }
        if inside {
            stage.push(line.to_string());
        }
    }
    stage
}

#[test]
fn real_build_builder_stage_commands_run_as_written() {
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false),
        "the builder stage installs packages with apt-get, as root in a Docker build: run this test as root"
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tarball = cpython_tarball("3.14.6");
    assert!(tarball.exists(), "{} is missing (set FTPY_TEST_CPYTHON_DIR)", tarball.display());
    let server = TestServer::start();
    server.route("/3.14.6/Python-3.14.6.tar.xz", Route::Serve(fs::read(&tarball).unwrap()));

    let work = tempfile::TempDir::new().unwrap();
    let src = work.path().join("src/ftpy");
    let home = work.path().join("opt/ftpy");
    let bin = work.path().join("usr/local/bin");
    let clone = Command::new("git").arg("clone").arg("--quiet").arg(&repo).arg(&src).status().unwrap();
    assert!(clone.success(), "git clone of the checkout failed");

    let out = assert_cmd::Command::cargo_bin("ftpy")
        .unwrap()
        .args(["dockerfile", "--python", "3.14.6t", "--profile", "fast"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dockerfile = String::from_utf8(out.stdout).unwrap();
    let substitute = |text: &str| {
        text.replace("/src/ftpy", src.to_str().unwrap())
            .replace("/opt/ftpy", home.to_str().unwrap())
            .replace("/usr/local/bin", bin.to_str().unwrap())
    };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let fresh_home = work.path().join("home");
    fs::create_dir(&fresh_home).unwrap();
    let real_home = PathBuf::from(std::env::var("HOME").unwrap());
    let cargo_home =
        std::env::var("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|_| real_home.join(".cargo"));
    let rustup_home =
        std::env::var("RUSTUP_HOME").map(PathBuf::from).unwrap_or_else(|_| real_home.join(".rustup"));
    let mut env: Vec<(String, String)> = vec![("FTPY_MIRROR".into(), server.base.clone())];
    let stage = builder_stage(&dockerfile);
    assert!(stage.iter().any(|l| l.starts_with("RUN ftpy install")), "{stage:?}");
    for instruction in stage {
        let (keyword, rest) = instruction.split_once(' ').unwrap();
        match keyword {
            "COPY" => assert_eq!(rest, ". /src/ftpy", "the clone stands in for this COPY"),
            "ENV" => {
                let (name, value) = rest.split_once('=').unwrap();
                env.push((name.to_string(), substitute(value)));
            }
            "RUN" => {
                let command = substitute(rest);
                // A clean environment: what a Docker build's RUN sees, plus the toolchain
                // locations the rust image sets with ENV and a fresh HOME.
                let status = Command::new("bash")
                    .args(["-euo", "pipefail", "-c", &command])
                    .env_clear()
                    .env("PATH", &path)
                    .env("HOME", &fresh_home)
                    .env("CARGO_HOME", &cargo_home)
                    .env("RUSTUP_HOME", &rustup_home)
                    // Like a build cache mount: the release build of the dependencies is shared
                    // with the action's test.
                    .env("CARGO_TARGET_DIR", format!("{}/release-build", env!("CARGO_TARGET_TMPDIR")))
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .stdin(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success(), "RUN failed: {command}");
            }
            other => panic!("unexpected instruction {other} in the builder stage"),
        }
    }

    // What the final stage copies: the interpreter, runnable, without the caches.
    let python = home.join("bin/python3.14t");
    let check = Command::new(&python)
        .args(["-c", "import sys, ssl, sqlite3, ctypes, compression.zstd; print(sys._is_gil_enabled())"])
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "False",
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for gone in ["cache", "logs", "tmp", "locks"] {
        assert!(!home.join(gone).exists(), "{gone} left in the image");
    }
    // The final stage installs these: the packages of every library the build loads, each one
    // known to this system's package index (the same release as the default images).
    let packages = fs::read_to_string(home.join("runtime-packages.txt")).unwrap();
    let packages: Vec<&str> = packages.lines().collect();
    for needed in
        ["libc6", "libssl3", "libffi8", "libsqlite3-0", "liblzma5", "libbz2-1.0", "zlib1g", "libzstd1"]
    {
        assert!(packages.contains(&needed), "{needed} missing from {packages:?}");
    }
    for package in &packages {
        let show = Command::new("apt-cache").args(["show", "--no-all-versions", package]).output().unwrap();
        assert!(show.status.success(), "no package {package} in this system's index");
    }
    assert!(bin.join("ftpy").exists());
    let share = work.path().join("usr/local/share");
    assert!(share.join("bash-completion/completions/ftpy").exists(), "install.sh installs completions");
    assert!(share.join("man/man1/ftpy.1").exists(), "install.sh installs the man page");
}
