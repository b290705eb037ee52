//! The system ftpy runs on: what building CPython needs from it, and how ftpy treats processes.
//!
//! - [`sysdeps`]: the system packages CPython's build needs, per distribution, and the stdlib
//!   modules each one provides.
//! - [`doctor`]: checks this system against that table before a build.
//! - [`interrupt`]: signals, child process groups, and stopping what a killed ftpy left running.
//! - [`files`]: atomic writes, removing trees, and the set-aside/commit transaction.
//! - [`pool`]: the one worker pool, for many small independent jobs.
//! - [`python`]: the one way ftpy runs a Python interpreter, and what it removes from the
//!   environment.
//! - [`http`]: the one HTTP agent, with its limits and credentials handling.
//! - [`toolchain`]: the C compiler, make, ccache and programs on PATH, as a build finds them.
//! - [`tsan`]: what a ThreadSanitizer build needs: a compiler whose TSan runtime links and
//!   runs here, and the kernel's `vm.mmap_rnd_bits`.
//! - [`clock`]: elapsed times as people read them.

pub mod clock;
pub mod doctor;
pub mod files;
pub mod http;
pub mod interrupt;
pub mod llvm;
pub mod pool;
pub mod python;
pub mod sysdeps;
pub mod toolchain;
pub mod tsan;
