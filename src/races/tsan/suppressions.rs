//! What ftpy needs to know of a ThreadSanitizer installation: that a key names one, and where
//! its copy of CPython's own suppressions file (`Tools/tsan/suppressions_free_threading.txt` in
//! the source tree, copied into the prefix by the `--profile tsan` build) is.

use std::path::{Path, PathBuf};

use crate::interpreters::installation;
use crate::interpreters::version::{BuildKind, InstallKey};

/// A key as an environment's record writes it (`3.14.6t-tsan`) names a TSan build.
pub fn is_tsan_key(key: &str) -> bool {
    key.parse::<InstallKey>().is_ok_and(|key| is_tsan(&key))
}

/// An installation built with ThreadSanitizer.
pub fn is_tsan(key: &InstallKey) -> bool {
    key.build == BuildKind::Tsan
}

/// The installation's copy of CPython's suppressions file, if it has one.
pub fn suppressions_file(prefix: &Path) -> Option<PathBuf> {
    Some(installation::tsan_suppressions_at(prefix)).filter(|p| p.is_file())
}
