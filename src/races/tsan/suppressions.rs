//! What ftpy needs to know of a ThreadSanitizer installation: that a key names one, and where
//! its copy of CPython's own suppressions file (`Tools/tsan/suppressions_free_threading.txt` in
//! the source tree) is.
//!
//! ASSUMPTION until the `--profile tsan` build lands (branch tsan-build): a TSan installation's
//! key ends in `-tsan` (`3.14.6t-tsan`) and its suppressions file is kept in the prefix under one
//! of [`CANDIDATES`].

use std::path::{Path, PathBuf};

/// Where in an installation's prefix the suppressions file may be.
const CANDIDATES: [&str; 2] =
    ["share/ftpy/tsan/suppressions_free_threading.txt", "lib/ftpy/tsan/suppressions_free_threading.txt"];

pub fn is_tsan_key(key: &str) -> bool {
    key.ends_with("-tsan")
}

/// An installation built with ThreadSanitizer.
pub fn is_tsan(key: &crate::interpreters::version::InstallKey) -> bool {
    is_tsan_key(&key.to_string())
}

/// The installation's copy of CPython's suppressions file, if it has one.
pub fn suppressions_file(prefix: &Path) -> Option<PathBuf> {
    CANDIDATES.iter().map(|c| prefix.join(c)).find(|p| p.is_file())
}
