//! The maintainer script that regenerates `recipes/` has its own unittest suite; run it here so
//! that the one test command covers it.

use std::process::Command;

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
    let tsv = std::path::Path::new(root).join("../shared/reference/cpython-releases.tsv");
    if !tsv.exists() {
        eprintln!("skipped: {} is not here", tsv.display());
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
