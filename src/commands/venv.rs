//! `ftpy venv`: the project's twin environments, made from the two builds of one installed pair,
//! with the same requirements installed in both; `ftpy venv --status` compares them.

use std::process::ExitCode;

use crate::cli::VenvArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::InstallKey;
use crate::output::progress::format_duration;
use crate::projects::gil_scan::GilReport;
use crate::projects::make_twins::{self, TwinRequest};
use crate::projects::project;
use crate::projects::status::{self, EnvState, TwinStatus};
use crate::projects::twin_venvs::{self, Environment};
use crate::races::{self, tsan::venv::TsanVenvRequest};
use crate::wheels::{self, build::BuildRequest, check::Selection};

pub fn run(args: VenvArgs, ctx: Context) -> Result<ExitCode, Error> {
    crate::interpreters::request::refuse_tsan_profile(args.profile, "a twin environment's pair")?;
    let root = project::find_root(args.project.as_deref(), args.status)?;
    // One `ftpy venv` per project at a time: recovery and replacement must not interleave.
    let _lock = twin_venvs::lock_project(&ctx.home, &root, &ctx.reporter)?;
    for done in twin_venvs::recover_interrupted(&root) {
        ctx.reporter.warn(done);
    }
    for done in twin_venvs::recover_interrupted_alone(&root, project::TSAN_ENV) {
        ctx.reporter.warn(done);
    }
    if args.status {
        let tsan = tsan_status(&root);
        let code = match (status::status(&root), &tsan) {
            // Only the ThreadSanitizer environment: its line is the status.
            (Err(twin_venvs::VenvError::NoEnvironments { .. }), Some(_)) => ExitCode::SUCCESS,
            (twins, _) => print_status(twins?)?,
        };
        if let Some(line) = tsan {
            println!("{line}");
        }
        return Ok(code);
    }
    if args.tsan {
        let request = TsanVenvRequest {
            root,
            requirement_files: args.requirements,
            python: args.python,
            deps_only: args.deps_only,
        };
        let made = races::tsan::venv::make_tsan_environment(&ctx, &request)?;
        println!(
            "{:<10} Python {:<13} {:>13}  {}",
            project::TSAN_ENV,
            made.key,
            packages(made.info.packages.len()),
            made.env.path.display()
        );
        if !made.built_from_source.is_empty() {
            println!("built from source with -fsanitize=thread: {}", made.built_from_source.join(", "));
        }
        ctx.reporter.info(format!(
            "Done in {}. `ftpy run --tsan -- <command>` runs a command there and reports the races.",
            format_duration(made.started.elapsed())
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let request = TwinRequest {
        root,
        requirement_files: args.requirements,
        python: args.python,
        deps_only: args.deps_only,
        install: args.install,
        profile: args.profile,
        remote_cache: args.remote_cache,
    };
    // `--build-wheels`: before filling, what the free-threaded build lacks is built into the
    // wheelhouse the environment installs from.
    let build_wheels = |ft_key: &InstallKey| -> Result<(), Error> {
        ctx.reporter.info(format!("Building the wheels {ft_key} lacks: ftpy wheels build"));
        let selection = Selection {
            project: Some(request.root.clone()),
            requirements: make_twins::absolute(&request.requirement_files)?,
            python: Some(ft_key.to_string()),
            ..Selection::default()
        };
        let report = wheels::build::build_missing(&ctx, &BuildRequest { selection, wheelhouse: None })?;
        wheels::report::print_build(&report);
        Ok(report.finish()?)
    };
    let build_wheels =
        args.build_wheels.then_some(&build_wheels as &dyn Fn(&InstallKey) -> Result<(), Error>);
    let report = make_twins::make_twin_environments(&ctx, &request, build_wheels)?;
    for made in &report.environments {
        println!(
            "{:<10} Python {:<8} {:<14} {:>13}  {}",
            made.env.name(),
            made.key,
            made.key.variant.label(),
            packages(made.info.packages.len()),
            made.env.path.display()
        );
    }
    print_gil_report(&report.gil_report, &report.environments[1].env);
    ctx.reporter.info(format!(
        "Done in {}. `ftpy run -- <command>` runs a command in both.",
        format_duration(report.started.elapsed())
    ));
    Ok(ExitCode::SUCCESS)
}

/// `.venv-tsan`'s line under `--status`, when the project has one.
fn tsan_status(root: &std::path::Path) -> Option<String> {
    let env = Environment {
        variant: crate::interpreters::version::Variant::Freethreaded,
        path: root.join(project::TSAN_ENV),
    };
    if !env.path.exists() {
        return None;
    }
    Some(match (env.problem(), env.record()) {
        (None, Some(record)) => {
            format!("{:<10} Python {:<13} {}", project::TSAN_ENV, record.key, env.path.display())
        }
        (Some(problem), _) => {
            format!("{:<10} cannot be used: {problem} (`ftpy venv --tsan` remakes it)", project::TSAN_ENV)
        }
        (None, None) => format!("{:<10} has no record (`ftpy venv --tsan` remakes it)", project::TSAN_ENV),
    })
}

fn packages(n: usize) -> String {
    if n == 1 { "1 package".into() } else { format!("{n} packages") }
}

fn print_gil_report(report: &GilReport, env: &Environment) {
    if report.modules_checked == 0 {
        println!("GIL: stays off in {} (no extension modules installed)", env.name());
    } else if report.keeps_gil_off() {
        println!(
            "GIL: stays off in {} ({} extension module{} imported one by one)",
            env.name(),
            report.modules_checked,
            if report.modules_checked == 1 { "" } else { "s" }
        );
    } else {
        println!(
            "GIL: {} extension module{} turn{} the GIL back on in {}:",
            report.culprits.len(),
            if report.culprits.len() == 1 { "" } else { "s" },
            if report.culprits.len() == 1 { "s" } else { "" },
            env.name()
        );
        for culprit in &report.culprits {
            match &culprit.distribution {
                Some(dist) => println!("  {} (from {dist})", culprit.module),
                None => println!("  {}", culprit.module),
            }
        }
        println!(
            "  a process that imports one of these runs with the GIL: its threads do not run in parallel"
        );
    }
    for (module, error) in &report.import_errors {
        println!("  note: {module} could not be imported on its own: {error}");
    }
}

/// `ftpy venv --status`: the pair, both environments, and how they differ; exits with the first
/// problem found once all is shown.
fn print_status(status: TwinStatus) -> Result<ExitCode, Error> {
    println!("project  {}", status.root.display());
    for each in &status.environments {
        let name = each.env.name();
        let EnvState::Present { problem, probe } = &each.state else {
            println!("{name:<10} missing");
            continue;
        };
        if let Some(problem) = problem {
            println!("{name:<10} broken: {problem}");
        }
        match probe {
            Ok(probed) => println!(
                "{:<10} Python {:<8} {:<14} {:>13}  made from {}{}",
                name,
                probed.version(),
                if probed.info.gil_disabled { "free-threaded" } else { "GIL" },
                packages(probed.info.packages.len()),
                probed.made_from,
                if probed.variant_ok { "" } else { "  (WRONG BUILD for this name)" }
            ),
            Err(e) if problem.is_none() => println!("{name:<10} broken: {e}"),
            Err(_) => {}
        }
    }
    if let Some(comparison) = &status.comparison {
        if let Some((gil, ft)) = &comparison.versions_differ {
            println!("versions differ: {gil} and {ft} (recreate both with `ftpy venv`)");
        }
        if comparison.differences.is_empty() {
            println!("packages: the same {} in both", packages(comparison.packages));
        } else {
            println!("packages that differ:");
            for (name, a, b) in &comparison.differences {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "  {name:<24} {:<12} {}",
                    format!("{}: {}", project::GIL_ENV, show(a)),
                    format!("{}: {}", project::FT_ENV, show(b))
                );
            }
        }
    }
    if let Some(scan) = status.gil_scan {
        print_gil_report(&scan?, &status.environments[1].env);
    }
    match status.problem {
        Some(problem) => Err(problem.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
