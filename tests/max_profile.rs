//! `--profile max`: clang 19 or later with its LLVM tools, BOLT, and the tail-calling
//! interpreter on 3.14; refused, before anything is downloaded, without them.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const V: &str = "3.14.6";

fn executable(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory laid out like `/usr/lib/llvm-19/bin`: a clang that says it is clang 19 (and
/// hands real work to `cc`), and, with `tools`, llvm-profdata, llvm-bolt and merge-fdata.
fn fake_llvm(tools: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    executable(
        &dir.path().join("clang"),
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Debian clang version 19.1.7 (3~deb12u1)'; exit 0; fi\n\
         if [ \"$1\" = -dM ]; then echo '#define __clang__ 1'; exit 0; fi\nexec cc \"$@\"\n",
    );
    if tools {
        for tool in ["llvm-profdata", "llvm-bolt", "merge-fdata"] {
            executable(&dir.path().join(tool), "#!/bin/sh\nexit 0\n");
        }
    }
    dir
}

#[test]
fn a_max_build_uses_clang_its_tools_bolt_and_tail_calls() {
    let fx = Fixture::with_release(V);
    let llvm = fake_llvm(true);
    let clang = llvm.path().join("clang");
    let out = fx
        .ftpy()
        .env("CC", &clang)
        .args(["install", "--profile", "max", "--jobs", "2", "3.14.6t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let runs = fx.configure_runs();
    assert_eq!(
        runs[0][1..],
        [
            "--with-ensurepip=install",
            "--disable-gil",
            "--enable-optimizations",
            "--with-lto",
            "--enable-bolt",
            "--with-tail-call-interp"
        ]
    );
    // configure is given that clang, and finds the tools beside it first on PATH.
    let cc = fx.records("cc.");
    assert_eq!(cc, [format!("CC={}\n", clang.display())], "{cc:?}");
    let tools = fx.records("tools.");
    assert_eq!(tools, [format!("llvm-bolt={}\n", llvm.path().join("llvm-bolt").display())], "{tools:?}");
    // Trained in stages like an optimized build; clang's ThinLTO link is given no -flto=N.
    assert_eq!(fx.records("stage-run."), ["PROFILE_TASK=-m test --pgo --timeout= -j2\n"]);
    assert_eq!(fx.records("stage-final."), ["PROFILE_TASK=-m test --pgo --timeout= -j2 LDFLAGS_NODIST=\n"]);
    let receipt = fs::read_to_string(fx.path("versions/3.14.6t/ftpy-receipt.json")).unwrap();
    assert!(receipt.contains("\"profile\": \"max\""), "{receipt}");
    assert!(receipt.contains("clang version 19.1.7"), "the receipt names the compiler: {receipt}");

    // A CC relative to where ftpy was started reaches configure (which runs in the build
    // directory) as an absolute path.
    let fx = Fixture::with_release(V);
    let out = fx
        .ftpy()
        .current_dir(llvm.path())
        .env("CC", "./clang")
        .args(["install", "--profile", "max", "--jobs", "2", "3.14.6t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let cc = fx.records("cc.");
    let given = cc[0].trim().strip_prefix("CC=").unwrap();
    assert!(given.starts_with('/') && Path::new(given).is_file(), "{cc:?}");
    assert_eq!(fs::canonicalize(given).unwrap(), fs::canonicalize(&clang).unwrap());
}

#[test]
fn without_clang_19_or_its_tools_a_max_build_is_refused_before_downloading() {
    // CC is not clang.
    let fx = Fixture::with_release(V);
    let out = fx.ftpy().env("CC", "gcc").args(["install", "--profile", "max", "3.14.6"]).output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("CC is set to `gcc`, which cannot make a max build: not clang"), "{stderr}");
    assert!(stderr.contains("./install.sh --build-deps --max"), "{stderr}");
    assert!(fx.configure_runs().is_empty() && fx.versions().is_empty());
    assert!(fx.server.hits(&Fixture::mirror_path(V)).is_empty(), "nothing was downloaded");

    // A clang 19 without BOLT beside it.
    let llvm = fake_llvm(false);
    let out = fx
        .ftpy()
        .env("CC", llvm.path().join("clang"))
        .args(["install", "--profile", "max", "3.14.6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("needs llvm-profdata, llvm-bolt, merge-fdata beside"), "{stderr}");

    // doctor says the same, and what to install.
    let out = fx.ftpy().env("CC", "gcc").args(["doctor", "--profile", "max"]).output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("MISSING  clang and LLVM tools"), "{}", stdout_of(&out));

    // An image's Dockerfile does not offer it.
    let out = fx.ftpy().args(["dockerfile", "--profile", "max", "3.14t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}
