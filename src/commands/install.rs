//! `ftpy install 3.13t 3.14 ...` and `ftpy install --pair 3.13`: resolve every request first,
//! then install release by release; the builds of one release are built together.

use std::process::ExitCode;
use std::time::Duration;

use crate::interpreters::build;
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::error::{self, Error};
use crate::interpreters::install::{self, InstallGroup, InstallOptions, Outcome};
use crate::output::progress::format_duration;

pub fn run(args: InstallArgs, ctx: Context) -> Result<ExitCode, Error> {
    crate::interpreters::request::check_build_home(ctx.home.root())?;
    crate::interpreters::download::check_mirrors(&ctx.mirrors)?;
    let options = InstallOptions {
        build: crate::interpreters::request::build_options(&args.build, args.jobs, !args.no_ccache)?,
        reinstall: args.reinstall,
        allow_missing_modules: args.allow_missing_modules,
        use_build_cache: !args.no_build_cache,
        system_check: !args.no_system_check,
    };

    let requests = crate::interpreters::request::parse_requests(&args.requests)?;
    let recipes = ctx.recipes()?;
    let resolved = crate::interpreters::request::resolve_requests(&recipes, &requests, args.pair)?;
    let groups = install::group_by_release(&resolved);
    for group in &groups {
        if let Some(replaced) = &group.release.replaced {
            ctx.reporter.warn(format!(
                "{}: building from sha256 {}, which {} puts in place of the published {} (replaces_sha256)",
                group.release.version, group.release.sha256, replaced.origin, replaced.published
            ));
        }
    }
    if let Some(advice) = series_advice(&groups) {
        ctx.reporter.info(advice);
    }

    if args.dry_run {
        for group in &groups {
            print_plan(&ctx, group, &options);
        }
        return Ok(ExitCode::SUCCESS);
    }

    // One guard over every release: after Ctrl-C or SIGTERM, no further release starts.
    let _signals = crate::system::interrupt::Guard::install_with(crate::system::interrupt::Notice::Build);
    let total: usize = groups.iter().map(|g| g.keys.len()).sum();
    let mut failed: Vec<String> = Vec::new();
    let mut interpreters: Vec<(crate::interpreters::version::InstallKey, std::path::PathBuf)> = Vec::new();
    let mut first_error: Option<Error> = None;
    // Whether this run put anything new in place (a no-op needs no PATH advice).
    let mut changed = false;
    // What a signal left uninstalled; once set, no further release is started.
    let mut interrupted: Vec<String> = Vec::new();
    let mut fail = |keys: Vec<String>, error: Error| {
        if let Error::Interrupted { state } = error {
            interrupted.push(state);
            return;
        }
        let error = error.context(format!("failed to install {}", keys.join(" and ")));
        if total > 1 {
            error::report_nonfatal(&error);
        }
        failed.extend(keys);
        first_error.get_or_insert(error);
    };
    for group in &groups {
        if crate::system::interrupt::requested() {
            let keys: Vec<String> = group.keys.iter().map(ToString::to_string).collect();
            let state = format!("{} not started", keys.join(" and "));
            fail(keys, Error::Interrupted { state });
            continue;
        }
        match install::install_group(&ctx, group, &options) {
            Ok(report) => {
                for (key, result) in report.results {
                    match result {
                        Ok(outcome) => {
                            let inst = match &outcome {
                                Outcome::Installed { installation, .. }
                                | Outcome::AlreadyInstalled(installation) => installation,
                            };
                            interpreters.push((inst.key.clone(), inst.interpreter()));
                            changed |= matches!(outcome, Outcome::Installed { .. });
                            print_outcome(&ctx, &outcome, options.build.profile);
                        }
                        Err(error) => fail(vec![key.to_string()], error),
                    }
                }
                // The download or unpack failed: every build still to be done failed with it.
                if let Some((keys, shared)) = report.shared_failure {
                    fail(keys.iter().map(ToString::to_string).collect(), shared);
                }
            }
            Err(error) => fail(group.keys.iter().map(ToString::to_string).collect(), error),
        }
    }
    if interrupted.is_empty() && crate::system::interrupt::requested() {
        // The signal came as the last build was finishing: nothing was left half-way.
        interrupted.push(if first_error.is_none() {
            "every requested build had finished and is installed".into()
        } else {
            "the builds that did not fail had finished and are installed".into()
        });
    }
    if !interrupted.is_empty() {
        if let Some(error) = first_error.filter(|_| total == 1) {
            error::report_nonfatal(&error);
        }
        return Err(Error::Interrupted { state: interrupted.join("; ") });
    }
    if crate::output::github_actions::active() {
        publish_to_github(&ctx, &interpreters)
            .map_err(Error::io("cannot write $GITHUB_PATH or $GITHUB_OUTPUT"))?;
    }
    let Some(error) = first_error else {
        advise_path(&ctx, changed);
        return Ok(ExitCode::SUCCESS);
    };
    if total == 1 {
        return Err(error);
    }
    eprintln!("error: {} of {total} installs failed: {}", failed.len(), failed.join(", "));
    Ok(error.exit_code().into())
}

/// `<home>/bin` on the job's PATH; `python-path` (the last interpreter), `python-gil` and
/// `python-ft` (the last of each build) as step outputs.
fn publish_to_github(
    ctx: &Context,
    interpreters: &[(crate::interpreters::version::InstallKey, std::path::PathBuf)],
) -> std::io::Result<()> {
    if interpreters.is_empty() {
        return Ok(());
    }
    crate::output::github_actions::add_path(&ctx.home.bin_dir())?;
    for (key, path) in interpreters {
        let name = match key.variant {
            crate::interpreters::version::Variant::Gil => "python-gil",
            crate::interpreters::version::Variant::Freethreaded => "python-ft",
        };
        crate::output::github_actions::set_output(name, &path.display().to_string())?;
    }
    let (_, last) = interpreters.last().expect("not empty");
    crate::output::github_actions::set_output("python-path", &last.display().to_string())
}

fn print_outcome(ctx: &Context, outcome: &Outcome, requested: build::Profile) {
    match outcome {
        Outcome::Installed { installation, warnings, restored_from_cache, seconds } => {
            for warning in warnings {
                ctx.reporter.warn(warning);
            }
            let how = if *restored_from_cache { "restored from the build cache" } else { "built" };
            println!(
                "Installed {} ({}, {how} in {}): {}",
                installation.key,
                installation.key.variant.label(),
                format_duration(Duration::from_secs_f64(*seconds)),
                installation.interpreter().display()
            );
            println!("  {}", installation.receipt.checks.summary());
        }
        Outcome::AlreadyInstalled(installation) => {
            let installed = &installation.receipt.profile;
            if *installed == requested.to_string() {
                println!(
                    "{} is already installed: {} (--reinstall installs it again, from the build cache when it \
                     holds the build)",
                    installation.key,
                    installation.interpreter().display()
                );
            } else {
                // The request named another profile: never let a fast build pass for an
                // optimized one without a word.
                println!(
                    "{} is already installed, built with the {installed} profile: {}",
                    installation.key,
                    installation.interpreter().display()
                );
                ctx.reporter.warn(format!(
                    "this request is for the {requested} profile: `ftpy install --reinstall --profile {requested} {}` \
                     replaces the {installed} build",
                    installation.key
                ));
            }
        }
    }
}

/// `--dry-run`: everything that would be done, nothing done.
fn print_plan(ctx: &Context, group: &InstallGroup, options: &InstallOptions) {
    let sources = install::sources_for(ctx, group.release).urls;
    for key in &group.keys {
        let prefix = ctx.home.version_dir(key);
        let args = build::configure_args(group.series, key.variant, &options.build, &prefix);
        use crate::interpreters::installation::ReceiptState;
        let requested = options.build.profile.to_string();
        let status = match crate::interpreters::installation::receipt_state(&prefix, key) {
            ReceiptState::Valid(receipt) if !options.reinstall && receipt.profile != requested => {
                format!(
                    "already installed with the {} profile: nothing to do (--reinstall would replace it with \
                     this {requested} build)",
                    receipt.profile
                )
            }
            ReceiptState::Valid(_) if !options.reinstall => "already installed (nothing to do)".into(),
            ReceiptState::Valid(_) => "installed; would be rebuilt (--reinstall)".into(),
            ReceiptState::Absent => "would be installed".into(),
            ReceiptState::Damaged(_) if !options.reinstall => "DAMAGED: refused without --reinstall".into(),
            ReceiptState::Damaged(_) => {
                "DAMAGED; would be rebuilt, the old tree kept in <home>/damaged".into()
            }
        };
        println!("{key}: {} build of {}, {status}", key.variant.label(), key.version);
        println!("  series:    {} ({})", group.series.name, group.series.free_threading.describe());
        for (i, url) in sources.iter().enumerate() {
            let url = crate::output::redact::redact(url);
            println!("  {} {url}", if i == 0 { "source:   " } else { "then:     " });
        }
        println!("  sha256:    {}", group.release.sha256);
        println!("  configure: {}", shell_words(std::iter::once("./configure".to_string()).chain(args)));
        println!("  make:      {} (jobserver of {} jobs)", build::make_program(), options.build.jobs);
        println!("  prefix:    {}", prefix.display());
    }
    let to_build = group
        .keys
        .iter()
        .filter(|k| {
            options.reinstall || crate::interpreters::installation::read_receipt(&ctx.home.version_dir(k)).is_none()
        })
        .count();
    if to_build > 1 {
        println!("  (one download and unpack; the {to_build} builds run concurrently)");
    }
}

/// Quote for display only: nothing is ever run through a shell.
fn shell_words(words: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = words
        .map(|w| {
            if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c)) {
                w
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

/// One directory on PATH is enough; say so when it is missing.
fn advise_path(ctx: &Context, installed_any: bool) {
    let bin = ctx.home.bin_dir();
    if !installed_any {
        return;
    }
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == bin));
    if !on_path {
        ctx.reporter.info(format!(
            "hint: add {} to PATH: it holds a python3.X and python3.Xt link per installed series",
            bin.display()
        ));
    }
}

/// One line of advice when a free-threaded build of a series older than the recommended one is
/// asked for: the free-threading guidance targets 3.14t.
fn series_advice(groups: &[InstallGroup]) -> Option<String> {
    let recommended = crate::interpreters::version::RECOMMENDED_SERIES;
    let old = groups
        .iter()
        .flat_map(|g| g.keys.iter())
        .find(|k| k.variant == crate::interpreters::version::Variant::Freethreaded && k.version.series() < recommended)?;
    Some(format!(
        "Note: {recommended}t is the free-threaded series to target: {}t lacks its thread-safety fixes and is slower (`ftpy install {recommended}t`)",
        old.version.series()
    ))
}
