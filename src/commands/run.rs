//! `ftpy run [--gil | --ft | --both] [--repeat N] -- CMD ...`: the same command in each of the
//! project's environments, one after the other, then a summary of exit codes and wall times.

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::run_both::{self, RunRequest};

pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let variants: Vec<Variant> = if args.gil {
        vec![Variant::Gil]
    } else if args.ft {
        vec![Variant::Freethreaded]
    } else {
        vec![Variant::Gil, Variant::Freethreaded]
    };
    let request = RunRequest { project: args.project, variants, command: args.command, repeat: args.repeat };
    let sides = run_both::run_in_each(ctx, &request)?;
    run_both::print_summary(&sides);
    run_both::all_passed(&sides)?;
    Ok(ExitCode::SUCCESS)
}
