//! `ftpy install 3.13t 3.14 ...`: resolve every request first, then install each in turn.

use std::process::ExitCode;
use std::time::Duration;

use crate::builder::{self, BuildOptions};
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::error::{self, Error};
use crate::install::{self, InstallOptions, Outcome};
use crate::progress::format_duration;
use crate::recipe::Resolved;

pub fn run(args: InstallArgs, mut ctx: Context) -> Result<ExitCode, Error> {
    ctx.mirrors = args
        .mirrors
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    for mirror in &ctx.mirrors {
        if !["http://", "https://", "file://"]
            .iter()
            .any(|s| mirror.starts_with(s))
        {
            return Err(Error::Usage {
                message: format!("mirror `{mirror}` is not an http://, https:// or file:// URL"),
                hints: vec!["for a local directory use file:///absolute/path".into()],
            });
        }
    }
    ctx.retry.first_pause = Duration::from_millis(args.retry_pause_ms);
    let jobs = match args.jobs {
        Some(0) => {
            return Err(Error::Usage {
                message: "--jobs must be at least 1".into(),
                hints: vec![],
            });
        }
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let options = InstallOptions {
        build: BuildOptions {
            profile: args.profile,
            jobs,
            extra_configure: args.configure_opts.clone(),
        },
        reinstall: args.reinstall,
        allow_missing_modules: args.allow_missing_modules,
    };

    let requests = super::parse_requests(&args.requests)?;
    let recipes = ctx.recipes()?;
    let mut resolved: Vec<Resolved> = Vec::new();
    for request in &requests {
        let r = recipes.resolve(request)?;
        if !resolved.iter().any(|o| o.key == r.key) {
            resolved.push(r);
        }
    }

    if args.dry_run {
        for r in &resolved {
            print_plan(&ctx, r, &options);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut failures: Vec<(String, Error)> = Vec::new();
    for r in &resolved {
        match install::install(&ctx, r, &options) {
            Ok(Outcome::Installed {
                installation,
                warnings,
            }) => {
                for warning in warnings {
                    ctx.reporter.warn(warning);
                }
                println!(
                    "Installed {} ({}) in {}: {}",
                    installation.key,
                    installation.key.variant.label(),
                    format_duration(Duration::from_secs_f64(installation.receipt.build_seconds)),
                    installation.interpreter().display()
                );
                println!("  {}", installation.receipt.checks.summary());
            }
            Ok(Outcome::AlreadyInstalled(installation)) => {
                println!(
                    "{} is already installed: {} (--reinstall builds it again)",
                    installation.key,
                    installation.interpreter().display()
                );
            }
            Err(error) => {
                let error = error.context(format!("failed to install {}", r.key));
                if resolved.len() > 1 {
                    error::report_nonfatal(&error);
                }
                failures.push((r.key.to_string(), error));
            }
        }
    }
    if failures.is_empty() {
        advise_path(&ctx);
        return Ok(ExitCode::SUCCESS);
    }
    if resolved.len() == 1 {
        return Err(failures.pop().expect("one failure").1);
    }
    let names: Vec<&str> = failures.iter().map(|(k, _)| k.as_str()).collect();
    eprintln!(
        "error: {} of {} installs failed: {}",
        failures.len(),
        resolved.len(),
        names.join(", ")
    );
    Ok(ExitCode::from(failures[0].1.exit_code()))
}

/// `--dry-run`: everything that would be done, nothing done.
fn print_plan(ctx: &Context, resolved: &Resolved, options: &InstallOptions) {
    let key = &resolved.key;
    let prefix = ctx.home.version_dir(key);
    let args = builder::configure_args(resolved.series, key.variant, &options.build, &prefix);
    let status = match crate::installation::read_receipt(&prefix) {
        Some(_) if !options.reinstall => "already installed (nothing to do)",
        Some(_) => "installed; would be rebuilt (--reinstall)",
        None => "would be installed",
    };
    println!(
        "{key}: {} build of {}, {status}",
        key.variant.label(),
        key.version
    );
    println!(
        "  series:    {} ({})",
        resolved.series.name,
        resolved.series.free_threading.describe()
    );
    for (i, url) in install::sources_for(ctx, resolved).urls.iter().enumerate() {
        println!(
            "  {}  {url}",
            if i == 0 { "source:   " } else { "then:     " }
        );
    }
    println!("  sha256:    {}", resolved.release.sha256);
    println!(
        "  configure: {}",
        shell_words(std::iter::once("./configure".to_string()).chain(args))
    );
    println!(
        "  make:      {} -j{}",
        builder::make_program(),
        options.build.jobs
    );
    println!("  prefix:    {}", prefix.display());
}

/// Quote for display only: nothing is ever run through a shell.
fn shell_words(words: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = words
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c))
            {
                w
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

/// One directory on PATH is enough; say so when it is missing.
fn advise_path(ctx: &Context) {
    let bin = ctx.home.bin_dir();
    let on_path =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == bin));
    if !on_path {
        ctx.reporter.info(format!(
            "hint: add {} to PATH for python3.13t, python3.14t and the rest",
            bin.display()
        ));
    }
}
