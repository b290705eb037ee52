//! Races: finding what breaks under real concurrency, beyond a suite that passes on the
//! free-threaded build. Two ways in, each its own module:
//!
//! - `stress`: `ftpy run --stress`. The suite runs once as it is (the baseline), then under N
//!   threads with pytest-run-parallel, in the free-threaded environment; the tests that pass
//!   alone and fail under threads are the race candidates. Its report (`StressReport`) also
//!   names the tests that fail either way, the ones the plugin kept in one thread (and why),
//!   and the extension modules that turned the GIL back on; `StressError` is what stops it.
//! - `tsan`: `ftpy run --tsan`. The command runs in the ThreadSanitizer environment
//!   (`.venv-tsan`, made from a `--profile tsan` build), and its reports are grouped into unique
//!   races and attributed to the shared object that holds them.
//!
//!   Its modules: `report` (parse and group the TSan reports), `owners` (attribute a frame's
//!   shared object to a package, an extension module or CPython).
//!
//! Both end in [`RacesFound`] (exit code 18) when they found something the user must look at.

pub mod stress;
pub mod tsan;

/// The run found races: `ftpy run --stress` found tests that pass alone and fail under threads,
/// or `ftpy run --tsan` found ThreadSanitizer reports outside CPython. The report above names them.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct RacesFound {
    /// One line: what was found, e.g. "2 race candidates: tests that pass alone but fail under 4 threads".
    pub summary: String,
    /// What to do next, specific to the kind of run.
    pub hints: Vec<String>,
}

impl crate::error::Diagnose for RacesFound {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::RacesFound
    }

    fn hints(&self) -> Vec<String> {
        self.hints.clone()
    }
}
