//! Wheels: which dependencies load in the free-threaded build, and rebuilding those that do not.
//!
//! - [`index`]: reads the user's package index configuration and its project pages (HTML or
//!   JSON simple API) and core metadata, through a bounded on-disk cache.
//! - [`tags`]: wheel file names and whether a wheel's tags load in a `Target` interpreter.
//! - [`resolve`]: for each requirement and its dependencies, the release pip would choose and a
//!   verdict on whether it has a wheel that loads in the target.
//! - [`build`]: builds wheels from source for the free-threaded interpreter and proves each keeps
//!   the GIL off.

pub mod build;
pub mod check;
pub mod error;
pub mod index;
pub mod report;
pub mod resolve;
pub mod tags;

pub use error::WheelsError;
