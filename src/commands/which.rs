//! `ftpy which 3.13t`: the absolute path of the newest installed interpreter that matches.

use std::process::ExitCode;

use crate::cli::WhichArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::install::InstallError;
use crate::interpreters::installation;
use crate::interpreters::version::VersionRequest;

pub fn run(args: WhichArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let request: VersionRequest = args.request.parse()?;
    let found = installation::find_installed(&ctx.home, &request)
        .map_err(Error::io("cannot read the installed versions"))?;
    match found {
        Some(inst) => {
            println!("{}", inst.interpreter().display());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            // The other build of the same version may be there: say so, never substitute it.
            let other = VersionRequest { variant: request.variant.twin(), ..request.clone() };
            if let Ok(Some(inst)) = installation::find_installed(&ctx.home, &other) {
                ctx.reporter.info(format!("note: {} ({}) is installed", inst.key, inst.key.variant.label()));
            }
            // A damaged tree is never returned, but it is worth knowing about.
            let damaged = installation::scan(&ctx.home).map(|(_, d)| d).unwrap_or_default();
            for tree in damaged.iter().filter(|d| request.accepts_key(&d.key)) {
                ctx.reporter.warn(format!(
                    "{} is damaged ({}); `ftpy list` shows it",
                    tree.prefix.display(),
                    tree.problem
                ));
            }
            Err(InstallError::NotInstalled { request: request.to_string(), suggest_install: true }.into())
        }
    }
}
