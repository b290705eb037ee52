//! `ftpy completions bash|zsh|fish` and `ftpy man`: generated from the command line definition,
//! so they never drift from it.

use std::io;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Error;

pub fn completions(args: CompletionsArgs) -> Result<ExitCode, Error> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "ftpy", &mut io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man() -> Result<ExitCode, Error> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut io::stdout())
        .map_err(Error::io("cannot write the man page"))?;
    Ok(ExitCode::SUCCESS)
}
