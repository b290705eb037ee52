//! `ftpy run --tsan`: the command in the ThreadSanitizer environment (`.venv-tsan`), then its
//! reports grouped into unique races and attributed. In the order a run flows:
//!
//! - [`report`]: reads TSan's report files (one per process), parses each warning block and its
//!   stacks, and groups the warnings into unique races by the top frames of their two stacks.
//! - [`owners`]: whose code a frame's shared object is: an extension module of the environment
//!   (with its distribution), CPython itself, a system library.

pub mod owners;
pub mod report;
