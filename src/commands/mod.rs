//! One file per subcommand, each a `run(args, ctx)`.

pub mod cache;
pub mod ci;
pub mod completions;
pub mod dockerfile;
pub mod doctor;
pub mod install;
pub mod list;
pub mod run;
pub mod uninstall;
pub mod venv;
pub mod wheels;
pub mod which;
