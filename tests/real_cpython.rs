//! End to end: build the real CPython 3.13.5 free-threaded interpreter from the unmodified
//! upstream tarball in `../shared/cpython`, served by a local HTTP mirror, verified against the
//! digest compiled into ftpy's recipes. Takes about five minutes on two cores (`--profile fast`).

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::*;

fn upstream_tarball() -> PathBuf {
    let dir = std::env::var_os("FTPY_TEST_CPYTHON_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/cpython"));
    let path = dir.join("Python-3.13.5.tar.xz");
    assert!(
        path.exists(),
        "{} is missing: this test needs the real CPython 3.13.5 tarball (set FTPY_TEST_CPYTHON_DIR)",
        path.display()
    );
    path
}

#[test]
fn builds_real_freethreaded_cpython_from_a_local_mirror() {
    let tarball = fs::read(upstream_tarball()).unwrap();
    let home = tempfile::TempDir::new().unwrap();
    let server = TestServer::start();
    server.route("/3.13.5/Python-3.13.5.tar.xz", Route::Serve(tarball));

    // The built-in recipes: the digest checked is the one python.org published.
    let out = assert_cmd::Command::cargo_bin("ftpy")
        .unwrap()
        .env("FTPY_HOME", home.path())
        .env("FTPY_MIRROR", &server.base)
        .env_remove("FTPY_RECIPES")
        .env_remove("PYTHON_GIL")
        .args(["install", "--profile", "fast", "3.13.5t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "install failed:\n{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("GIL disabled"), "{}", stdout_of(&out));

    let which = assert_cmd::Command::cargo_bin("ftpy")
        .unwrap()
        .env("FTPY_HOME", home.path())
        .args(["which", "3.13t"])
        .output()
        .unwrap();
    assert!(which.status.success());
    let python = PathBuf::from(stdout_of(&which).trim());
    assert_eq!(python, home.path().join("versions/3.13.5t/bin/python3.13t"));

    // What a user would check by hand, through the link in <home>/bin.
    let linked = home.path().join("bin/python3.13t");
    let check = Command::new(&linked)
        .args([
            "-c",
            "import sys, sysconfig, ssl, sqlite3, ctypes, lzma, bz2, zlib; \
             print(sys.version.split()[0], sysconfig.get_config_var('Py_GIL_DISABLED'), sys._is_gil_enabled())",
        ])
        .env_remove("PYTHON_GIL")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr_of(&check));
    assert_eq!(stdout_of(&check).trim(), "3.13.5 1 False");

    let pip = Command::new(&python).args(["-m", "pip", "--version"]).output().unwrap();
    assert!(pip.status.success(), "{}", stderr_of(&pip));

    // Nothing left in staging; the source is in the cache under its digest.
    assert!(list_dir(&home.path().join("tmp")).is_empty());
    assert!(
        home.path()
            .join("cache/sources/93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640.tar.xz")
            .exists()
    );
}
