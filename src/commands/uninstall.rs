//! `ftpy uninstall 3.13.5t`: remove installations (and damaged trees, named by their key), each
//! in one rename out of `versions/`.

use std::process::ExitCode;

use crate::cli::UninstallArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::install::{self, InstallError};

pub fn run(args: UninstallArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let requests = crate::interpreters::request::parse_requests(&args.requests)?;
    let targets = install::removal_targets(&ctx.home, &requests, args.pair, &args.requests.join(" "))?;
    // Environments made from these installations stop working without them: say which, and
    // ask for --force before breaking them.
    let dependents: Vec<(String, Vec<std::path::PathBuf>)> = targets
        .iter()
        .map(|(key, prefix)| (key.to_string(), crate::projects::registry::dependents(&ctx.home, key, prefix)))
        .filter(|(_, envs)| !envs.is_empty())
        .collect();
    if !dependents.is_empty() && !args.force {
        return Err(InstallError::InUse { users: dependents }.into());
    }
    for (key, prefix) in targets {
        install::uninstall(ctx, &key, &prefix)?;
        println!("Removed {key} ({})", prefix.display());
    }
    for (key, envs) in &dependents {
        for env in envs {
            ctx.reporter.warn(format!(
                "{} was made from {key} and no longer works: run `ftpy venv` in {} to make it again",
                env.display(),
                env.parent().map(|p| p.display().to_string()).unwrap_or_default()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
