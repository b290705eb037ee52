//! `ftpy which 3.13t`: the absolute path of the newest installed interpreter that matches.

use std::process::ExitCode;

use crate::cli::WhichArgs;
use crate::context::Context;
use crate::error::Error;
use crate::installation;
use crate::version::VersionRequest;

pub fn run(args: WhichArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let request: VersionRequest = args.request.parse()?;
    let found = installation::find_installed(&ctx.home, &request)
        .map_err(Error::io("cannot read the installed versions"))?;
    match found {
        Some(inst) => {
            println!("{}", inst.interpreter().display());
            Ok(ExitCode::SUCCESS)
        }
        None => Err(Error::NotInstalled { request: request.to_string(), suggest_install: true }),
    }
}
