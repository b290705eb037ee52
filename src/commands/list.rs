//! `ftpy list`: installed interpreters; `ftpy list --available`: what the recipes offer.

use std::process::ExitCode;

use crate::cli::ListArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::installation;
use crate::interpreters::version::{InstallKey, Variant};

pub fn run(args: ListArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let (installed, damaged) =
        installation::scan(&ctx.home).map_err(Error::io("cannot read the installed versions"))?;
    if args.available {
        let recipes = ctx.recipes()?;
        println!("{:<14}{:<26}{}", "release", "GIL build", "free-threaded build");
        for series in recipes.series().collect::<Vec<_>>().into_iter().rev() {
            println!("{} ({})", series.name, series.free_threading.describe());
            for release in series.releases.iter().rev() {
                let mut line = format!("  {:<12}", release.version.to_string());
                for variant in Variant::ALL {
                    if !series.supports(variant) {
                        continue;
                    }
                    let key = InstallKey::release(release.version.clone(), variant);
                    let mark = if installed.iter().any(|i| i.key == key) { " (installed)" } else { "" };
                    line.push_str(&format!("{:<26}", format!("{key}{mark}")));
                }
                if !release.version.is_final() {
                    line.push_str("pre-release");
                }
                println!("{}", line.trim_end());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if installed.is_empty() && damaged.is_empty() {
        ctx.reporter
            .info("No interpreters installed yet; try `ftpy install 3.14t` (and `ftpy list --available`).");
        return Ok(ExitCode::SUCCESS);
    }
    // Wide enough for the longest key (`3.14.6t-tsan`, `3.15.0rc1t-tsan`) and two spaces.
    let keys = installed.iter().map(|i| &i.key).chain(damaged.iter().map(|d| &d.key));
    let width = keys.map(|k| k.to_string().len() + 2).max().unwrap_or(0).max(12);
    for inst in &installed {
        let linked = if installation::linked_name(&ctx.home, inst).is_some() { "  *" } else { "" };
        println!(
            "{:<width$}{:<15}{:<11}{}{linked}",
            inst.key.to_string(),
            inst.key.variant.label(),
            inst.receipt.profile,
            inst.interpreter().display()
        );
    }
    for tree in &damaged {
        println!(
            "{:<width$}{:<15}{:<11}{}  ({})",
            tree.key.to_string(),
            "DAMAGED",
            "",
            tree.prefix.display(),
            tree.problem
        );
    }
    if let Some(tree) = damaged.first() {
        ctx.reporter.warn(format!(
            "{} damaged: `ftpy install --reinstall {}` replaces it (keeping the old tree), `ftpy uninstall {1}` removes it",
            if damaged.len() == 1 { "one installation is".to_string() } else { format!("{} installations are", damaged.len()) },
            tree.key
        ));
    }
    Ok(ExitCode::SUCCESS)
}
