//! `ftpy which 3.13t`: the absolute path of the newest installed interpreter that matches.

use std::process::ExitCode;

use crate::cli::WhichArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::install::InstallError;
use crate::interpreters::installation;
use crate::interpreters::version::{BuildKind, Variant, VersionRequest};

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
            // Another build of the same version may be there: say so, never substitute it. The
            // other variant's release build, and the same variant's other build kind (the TSan
            // build for `3.14t`, the release build for `3.14t-tsan`).
            let others = [
                VersionRequest {
                    variant: request.variant.twin(),
                    build: BuildKind::Release,
                    ..request.clone()
                },
                VersionRequest {
                    build: match request.build {
                        BuildKind::Release => BuildKind::Tsan,
                        BuildKind::Tsan => BuildKind::Release,
                    },
                    ..request.clone()
                },
            ];
            for other in others.iter().filter(|o| !(o.build == BuildKind::Tsan && o.variant == Variant::Gil))
            {
                if let Ok(Some(inst)) = installation::find_installed(&ctx.home, other) {
                    let kind = match inst.key.build {
                        BuildKind::Release => String::new(),
                        build => format!(", {}", build.label()),
                    };
                    ctx.reporter.info(format!(
                        "note: {} ({}{kind}) is installed",
                        inst.key,
                        inst.key.variant.label()
                    ));
                }
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
