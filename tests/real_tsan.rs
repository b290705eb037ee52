//! End to end on a real ThreadSanitizer build of CPython 3.14.6t (`--profile tsan`).
//!
//! STAND-IN (branch tsan-run) until the tsan-build branch's shared fixture lands: the home must
//! be given with FTPY_TEST_TSAN_HOME (a home holding `versions/3.14.6t-tsan`); the fixture that
//! builds one replaces this file and keeps the `mod run;` line.

mod common;
#[path = "real_tsan/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

/// The ftpy home with the real `3.14.6t-tsan` installation in it.
pub fn tsan_home() -> &'static Path {
    real_build();
    static HOME: OnceLock<Option<PathBuf>> = OnceLock::new();
    HOME.get_or_init(|| std::env::var_os("FTPY_TEST_TSAN_HOME").map(PathBuf::from))
        .as_deref()
        .filter(|home| home.join("versions/3.14.6t-tsan").is_dir())
        .unwrap_or_else(|| panic!("set FTPY_TEST_TSAN_HOME to a home holding versions/3.14.6t-tsan"))
}
