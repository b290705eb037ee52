//! GitHub Actions: when `GITHUB_ACTIONS=true`, fold build logs into groups, put `<home>/bin` on
//! the job's PATH and publish the interpreter paths as step outputs.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Print `text` as one collapsed group in the job log. One locked write, so that two builds
/// finishing together do not interleave.
pub fn print_group(title: &str, text: &str) {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "::group::{title}");
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "::endgroup::");
    let _ = out.flush();
}

/// A build's whole log as a group, when running on GitHub Actions.
pub fn fold_log(title: &str, log: &Path) {
    if !active() {
        return;
    }
    if let Ok(bytes) = fs::read(log) {
        print_group(title, &String::from_utf8_lossy(&bytes));
    }
}

/// Append `dir` to `$GITHUB_PATH`: later steps find it on PATH.
pub fn add_path(dir: &Path) -> io::Result<()> {
    append_to("GITHUB_PATH", &format!("{}\n", dir.display()))
}

/// `name=value` in `$GITHUB_OUTPUT`: `steps.<id>.outputs.<name>` in later steps.
pub fn set_output(name: &str, value: &str) -> io::Result<()> {
    append_to("GITHUB_OUTPUT", &format!("{name}={value}\n"))
}

fn append_to(variable: &str, line: &str) -> io::Result<()> {
    let Some(path) = std::env::var_os(variable) else { return Ok(()) };
    OpenOptions::new().create(true).append(true).open(path)?.write_all(line.as_bytes())
}
