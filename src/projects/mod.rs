//! Projects: a project's twin environments, and running commands in both. In the order a
//! request flows:
//!
//! - [`project`]: finds the project root, its requirements and the wished-for version
//!   (`.python-version`, `requires-python`); [`requirements_file`] reads pip requirement files.
//! - [`make_twins`]: the transaction behind `ftpy venv`. It chooses the installed pair the
//!   project asks for (installing it, or building missing wheels, when asked), sets the old
//!   environments aside, fills both in parallel, records them, scans, commits, and registers the
//!   project. Its errors: no pair fits (`PairNotInstalled`), pip failed (`Requirements`).
//! - [`twin_venvs`]: one environment (`.venv-gil`, `.venv-ft`): made with the base's `venv`
//!   module, checked, its record (`ftpy-venv.json`), and recovery after an interrupted
//!   replacement. `VenvError` covers a missing, broken or wrong environment.
//! - [`pip`]: runs pip in an environment and explains its failures.
//! - [`gil_scan`]: which extension modules turn the GIL back on in the free-threaded environment.
//! - [`registry`]: remembers which projects' environments are based on which installation (for
//!   `ftpy uninstall`).
//! - [`status`]: `ftpy venv --status`: probes both environments and compares them (versions,
//!   packages, the GIL scan) into a `TwinStatus` the command prints.
//! - [`run_both`]: the engine of `ftpy run`: one command in each environment, its output
//!   prefixed, and the figures the summary shows (`summarize`: medians, spread, the ft/gil
//!   ratio; `RunFailed` when a side failed).
//!
//! Each error type here implements [`crate::error::Diagnose`] beside it: its exit code and hints.

pub mod gil_scan;
pub mod make_twins;
pub mod pip;
pub mod project;
pub mod registry;
pub mod requirements_file;
pub mod run_both;
pub mod status;
pub mod twin_venvs;
