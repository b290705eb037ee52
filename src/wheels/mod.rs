//! Wheels: which dependencies load in the free-threaded build, and rebuilding those that do not.
//!
//! In the order a request flows:
//! - [`check`]: a [`check::Selection`] (requirements, target interpreter, index) becomes the
//!   requirements to check (chosen as `ftpy venv` chooses them), the [`check::TargetPython`] and
//!   an index client; [`check::check`] answers with a [`check::CheckReport`].
//! - [`index`]: reads the user's package index configuration and its project pages (HTML or
//!   JSON simple API) and core metadata, through a bounded on-disk cache.
//! - [`tags`]: wheel file names and whether a wheel's tags load in a `Target` interpreter.
//! - [`resolve`]: for each requirement and its dependencies, the release pip would choose and a
//!   verdict on whether it has a wheel that loads in the target.
//! - [`build`]: [`build::build_missing`] builds from source, for the free-threaded interpreter,
//!   what the check found without a wheel, and proves each keeps the GIL off: a
//!   [`build::BuildReport`].
//! - [`report`]: the tables people read (`wheels check`, `wheels build`).
//! - [`error`]: [`WheelsError`], with the exit codes and hints of the subsystem's failures.

pub mod build;
pub mod check;
pub mod error;
pub mod index;
pub mod report;
pub mod resolve;
pub mod tags;

pub use error::WheelsError;
