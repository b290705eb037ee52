//! `ftpy uninstall 3.13.5t`: remove installations, each in one rename out of `versions/`.

use std::process::ExitCode;

use crate::cli::UninstallArgs;
use crate::context::Context;
use crate::error::Error;
use crate::install;
use crate::installation;
use crate::version::{Variant, VersionRequest};

pub fn run(args: UninstallArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let requests = super::parse_requests(&args.requests)?;
    let mut targets = Vec::new();
    let requests: Vec<VersionRequest> = if args.pair {
        // Both builds of the version: the request with each variant.
        requests
            .iter()
            .flat_map(|r| {
                [Variant::Gil, Variant::Freethreaded].map(|variant| VersionRequest { variant, ..r.clone() })
            })
            .collect()
    } else {
        requests
    };
    for request in &requests {
        let matches = installation::matching_installed(&ctx.home, request)
            .map_err(Error::io("cannot read the installed versions"))?;
        match matches.as_slice() {
            // With --pair, a missing half is fine; nothing at all is not (checked below).
            [] if args.pair => {}
            [] => return Err(Error::NotInstalled { request: request.to_string(), suggest_install: false }),
            [one] => targets.push(one.clone()),
            many => {
                let keys: Vec<String> = many.iter().map(|i| i.key.to_string()).collect();
                return Err(Error::Usage {
                    message: format!("`{request}` matches several installations: {}", keys.join(", ")),
                    hints: vec![format!("name the exact version, e.g. `ftpy uninstall {}`", keys[0])],
                });
            }
        }
    }
    if targets.is_empty() {
        return Err(Error::NotInstalled { request: args.requests.join(" "), suggest_install: false });
    }
    // Environments made from these installations stop working without them: say which, and
    // ask for --force before breaking them.
    let dependents: Vec<(String, Vec<std::path::PathBuf>)> = targets
        .iter()
        .map(|t| (t.key.to_string(), crate::project_registry::dependents(&ctx.home, &t.key, &t.prefix)))
        .filter(|(_, envs)| !envs.is_empty())
        .collect();
    if !dependents.is_empty() && !args.force {
        return Err(Error::InUse { users: dependents });
    }
    for target in targets {
        install::uninstall(ctx, &target)?;
        println!("Removed {} ({})", target.key, target.prefix.display());
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
