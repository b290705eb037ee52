//! Projects: a project's twin environments, and running commands in both.
//!
//! - [`project`]: finds the project root, its requirements and the wished-for version
//!   (`.python-version`, `requires-python`); [`requirements_file`] reads pip requirement files.
//! - [`twin_venvs`]: makes `.venv-gil` and `.venv-ft` from an installed pair and checks them;
//!   [`make_twins`] chooses the pair a project asks for and fills each environment;
//!   [`registry`] remembers which projects' environments are based on which installation.
//! - [`pip`]: runs pip in an environment and explains its failures.
//! - [`run_both`]: runs one command in both environments and summarizes the two results.
//! - [`gil_scan`]: which extension modules turn the GIL back on in the free-threaded environment.

pub mod gil_scan;
pub mod make_twins;
pub mod pip;
pub mod project;
pub mod registry;
pub mod requirements_file;
pub mod run_both;
pub mod twin_venvs;
