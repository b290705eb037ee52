//! ftpy: install and run GIL and free-threaded CPython side by side.

mod cli;
mod commands;
mod context;
mod error;
mod interpreters;
mod output;
mod projects;
mod races;
mod system;
mod wheels;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::interpreters::download::{DownloadLimits, RetryPolicy};
use crate::interpreters::home::Home;
use crate::output::progress::Reporter;

fn main() -> ExitCode {
    // `ftpy list | head` ends quietly, like any Unix tool, instead of panicking on a closed pipe.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // An empty FTPY_MIRROR is no mirror, as an empty PIP_INDEX_URL is no index: CI systems pass
    // unset variables as "". The same for the download limits: empty is the default. (`--mirror
    // ''` and `FTPY_MIRROR=,,,` stay bad input.)
    for name in ["FTPY_MIRROR", "FTPY_RETRY_PAUSE_MS", "FTPY_MAX_DOWNLOAD_MIB", "FTPY_DOWNLOAD_SPEED_TIME"] {
        if std::env::var_os(name).is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
            // SAFETY: no other thread has been started yet.
            unsafe { std::env::remove_var(name) };
        }
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => error::report(&error),
    }
}

fn run(cli: Cli) -> Result<ExitCode, error::Error> {
    // The source settings of the commands that download, resolved once for the domain.
    let sources = match &cli.command {
        Command::Install(args) => Some(&args.sources),
        Command::Venv(args) => Some(&args.sources),
        _ => None,
    };
    let ctx = Context {
        home: Home::locate(cli.home)?,
        recipes_dir: cli.recipes,
        mirrors: sources
            .map(|s| s.mirrors.iter().map(|m| m.trim().to_string()).collect())
            .unwrap_or_default(),
        retry: match sources {
            Some(s) => RetryPolicy {
                first_pause: std::time::Duration::from_millis(s.retry_pause_ms),
                ..RetryPolicy::default()
            },
            None => RetryPolicy::default(),
        },
        limits: sources
            .map(|s| DownloadLimits::new(s.max_download_mib, s.download_speed_time))
            .unwrap_or_default(),
        reporter: Reporter::new(cli.quiet),
    };
    if !matches!(cli.command, Command::Completions(_) | Command::Man(_) | Command::DebugKillPoints) {
        // What a killed ftpy left building stops before anything else touches the home.
        crate::system::interrupt::reap_leftover_groups(&ctx.home.locks_dir(), &ctx.reporter);
        crate::system::interrupt::record_groups_in(ctx.home.locks_dir());
    }
    // Finish or undo what a killed ftpy left, before anything reads or changes installations.
    if matches!(
        cli.command,
        Command::Install(_)
            | Command::List(_)
            | Command::Which(_)
            | Command::Uninstall(_)
            | Command::Venv(_)
            | Command::Run(_)
            | Command::Wheels(_)
    ) {
        crate::interpreters::journal::recover_all(&ctx.home, &ctx.reporter);
    }
    match cli.command {
        Command::DebugKillPoints => {
            crate::interpreters::journal::KillPoint::ALL.iter().for_each(|p| println!("{}", p.name()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Install(args) => commands::install::run(args, ctx),
        Command::List(args) => commands::list::run(args, &ctx),
        Command::Which(args) => commands::which::run(args, &ctx),
        Command::Uninstall(args) => commands::uninstall::run(args, &ctx),
        Command::Cache(command) => commands::cache::run(command, &ctx),
        Command::Doctor(args) => commands::doctor::run(args, &ctx),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man(args) => commands::completions::man(args),
        Command::Ci(command) => commands::ci::run(command, &ctx),
        Command::Dockerfile(args) => commands::dockerfile::run(args, &ctx),
        Command::Venv(args) => commands::venv::run(args, ctx),
        Command::Run(args) => commands::run::run(args, &ctx),
        Command::Wheels(command) => commands::wheels::run(command, &ctx),
    }
}
