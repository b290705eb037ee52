//! `ftpy uninstall 3.13.5t`: remove installations (and damaged trees, named by their key), each
//! in one rename out of `versions/`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::UninstallArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::install::{self, InstallError};
use crate::interpreters::installation;
use crate::interpreters::version::{InstallKey, Variant, VersionRequest};

pub fn run(args: UninstallArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let requests = crate::interpreters::request::parse_requests(&args.requests)?;
    let mut targets = Vec::new();
    let requests: Vec<VersionRequest> = if args.pair {
        // Both builds of the version: the request with each variant.
        requests
            .iter()
            .flat_map(|r| Variant::ALL.map(|variant| VersionRequest { variant, ..r.clone() }))
            .collect()
    } else {
        requests
    };
    let (installed, damaged) =
        installation::scan(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    // A damaged tree is removed like an installation: by its key.
    let all: Vec<(InstallKey, PathBuf)> = installed
        .into_iter()
        .map(|i| (i.key, i.prefix))
        .chain(damaged.into_iter().map(|d| (d.key, d.prefix)))
        .collect();
    for request in &requests {
        let matches: Vec<(InstallKey, PathBuf)> = all
            .iter()
            .filter(|(key, _)| key.variant == request.variant && request.matches(&key.version))
            .cloned()
            .collect();
        match matches.as_slice() {
            // With --pair, a missing half is fine; nothing at all is not (checked below).
            [] if args.pair => {}
            [] => {
                return Err(InstallError::NotInstalled {
                    request: request.to_string(),
                    suggest_install: false,
                }
                .into());
            }
            [one] => targets.push(one.clone()),
            many => {
                let keys: Vec<String> = many.iter().map(|(key, _)| key.to_string()).collect();
                return Err(Error::Usage {
                    message: format!("`{request}` matches several installations: {}", keys.join(", ")),
                    hints: vec![format!("name the exact version, e.g. `ftpy uninstall {}`", keys[0])],
                });
            }
        }
    }
    if targets.is_empty() {
        return Err(
            InstallError::NotInstalled { request: args.requests.join(" "), suggest_install: false }.into()
        );
    }
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
