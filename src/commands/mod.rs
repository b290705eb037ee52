//! One file per subcommand, each a `run(args, ctx)`; [`remote_cache_arg`] checks the URL that
//! `ci github` and `dockerfile` write into what they print.

pub mod cache;
pub mod ci;
pub mod completions;
pub mod dockerfile;
pub mod doctor;
pub mod install;
pub mod list;
pub mod remote_cache_arg;
pub mod run;
pub mod run_stress;
pub mod uninstall;
pub mod venv;
pub mod wheels;
pub mod which;
