//! The maintainer script that regenerates `recipes/` has its own unittest suite; run it here so
//! that the one test command covers it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::require;

/// What python.org published, as `scripts/update-recipes.py --from-tsv` reads it: in
/// `FTPY_TEST_RELEASES_TSV`, else `../shared/reference/cpython-releases.tsv` beside this checkout.
fn releases_tsv() -> PathBuf {
    std::env::var_os("FTPY_TEST_RELEASES_TSV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/cpython-releases.tsv")
    })
}

#[test]
fn update_recipes_script_tests_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v", "scripts/test_update_recipes.py"])
        .current_dir(root)
        .output()
        .expect("python3 is needed to test scripts/update-recipes.py");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn committed_recipes_match_what_the_script_generates() {
    // `--check` exits non-zero when a recipe file differs from what the script would write.
    let root = env!("CARGO_MANIFEST_DIR");
    let tsv = releases_tsv();
    let how = "set FTPY_TEST_RELEASES_TSV to a TSV of releases (version, url, sha256), \
               or put ../shared/reference beside this checkout";
    if !require(tsv.is_file(), &tsv.display().to_string(), how) {
        return;
    }
    let out = Command::new("python3")
        .args(["scripts/update-recipes.py", "--check", "--from-tsv"])
        .arg(&tsv)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
