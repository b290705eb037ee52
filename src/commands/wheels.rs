//! `ftpy wheels check` and `ftpy wheels build`: which dependencies have no wheel that loads in
//! the free-threaded interpreter, and building those from source into a wheelhouse that
//! `ftpy venv` installs from.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::cli::{WheelsBuildArgs, WheelsCheckArgs, WheelsCommand};
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::{Variant, VersionRequest};
use crate::output::progress::format_duration;
use crate::output::terminal_text::escape_control;
use crate::wheels::WheelsError;
use crate::wheels::build::{self, BuildState, Verified, blocked_by, verify};
use crate::wheels::check::{Summary, run_check};
use crate::wheels::index::IndexConfig;
use crate::wheels::report::{print_build_report, print_summary, print_table, verdict_text};
use crate::wheels::resolve::{Row, Verdict};
use crate::wheels::tags::normalize_name;

pub fn run(command: WheelsCommand, ctx: &Context) -> Result<ExitCode, Error> {
    match command {
        WheelsCommand::Check(args) => check(args, ctx),
        WheelsCommand::Build(args) => build(args, ctx),
    }
}

#[derive(Serialize)]
struct Report<'a> {
    target: TargetReport,
    index: &'a IndexConfig,
    packages: &'a [Row],
    summary: Summary,
}

#[derive(Serialize)]
struct TargetReport {
    abi: String,
    python: String,
    platforms: Vec<String>,
}

fn check(args: WheelsCheckArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &args.platforms, false)?;
    let summary = Summary::of(&rows);
    if args.json {
        let report = Report {
            target: TargetReport {
                abi: python.label(),
                python: python.full_version.clone(),
                platforms: target.platforms.clone(),
            },
            index: &client.config,
            packages: &rows,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&report).expect("serializable"));
    } else {
        print_table(&rows, &target);
        print_summary(&summary, &python.label());
    }
    let summary = Summary::of(&rows);
    let missing = summary.total - summary.ready;
    if args.strict && missing > 0 {
        return Err(WheelsError::Missing {
            count: missing,
            total: summary.total,
            target: python.label(),
            must_build: summary.must_build,
            not_found: summary.not_found,
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn build(args: WheelsBuildArgs, ctx: &Context) -> Result<ExitCode, Error> {
    if let Some(text) = &args.selection.python
        && text.parse::<VersionRequest>().is_ok_and(|r| r.variant == Variant::Gil)
    {
        return Err(Error::Usage {
            message: format!(
                "--python {text} is a GIL build: `ftpy wheels build` builds for free-threaded interpreters"
            ),
            hints: vec![format!("add the `t`: --python {text}t")],
        });
    }
    let (python, target, client, _inputs, rows) = run_check(ctx, &args.selection, &[], true)?;
    let Some(inst) = python.installed.clone() else {
        return Err(Error::NotInstalled { request: python.series_request(), suggest_install: true });
    };
    let wheelhouse = args.wheelhouse.clone().unwrap_or_else(|| ctx.home.wheelhouse_dir(&inst.key));
    let wanted: Vec<&Row> =
        rows.iter().filter(|r| matches!(r.verdict, Verdict::MustBuild | Verdict::Wheelhouse)).collect();
    for row in rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::WillNotLoad | Verdict::NotFound | Verdict::Unchecked))
    {
        ctx.reporter.warn(format!(
            "{}: {} (nothing to build from)",
            escape_control(&row.name),
            verdict_text(row, &target).0
        ));
    }
    if wanted.is_empty() {
        println!(
            "Nothing to build: every requirement has a wheel for {} or cannot be built from an sdist",
            python.label()
        );
        return Ok(ExitCode::SUCCESS);
    }
    ctx.home.create()?;
    let index_args: Vec<String> = client
        .config
        .urls
        .iter()
        .enumerate()
        .flat_map(|(i, url)| {
            [if i == 0 { "--index-url" } else { "--extra-index-url" }.to_string(), url.clone()]
        })
        .collect();
    let mut states: Vec<(&Row, BuildState)> = Vec::new();
    for row in &wanted {
        let version = row.version.clone().expect("must-build rows have a version");
        if let Some(existing) = build::find_built(&wheelhouse, &row.name, &version) {
            states.push((row, BuildState::Reused(existing)));
            continue;
        }
        let started = Instant::now();
        let mut task = ctx.reporter.task(&format!("{} {version}", row.name));
        if std::io::stderr().is_terminal() {
            // The spinner shows the time as it runs.
            task.phase("building from source");
        } else {
            // A plain line now, and the time it took when done (not a start time of "0s").
            ctx.reporter.info(format!("{} {version}: building from source", escape_control(&row.name)));
        }
        let log = ctx.home.logs_dir().join(format!("wheel-{}-{version}-{}.log", row.name, inst.key));
        let outcome = build::build(&inst.interpreter(), &row.name, &version, &index_args, &wheelhouse, &log)
            .map_err(Error::io("cannot run pip wheel"))?;
        task.finish();
        let took = started.elapsed();
        ctx.reporter.info(format!(
            "{} {version}: {} in {}",
            escape_control(&row.name),
            if outcome.wheel.is_ok() { "built" } else { "FAILED" },
            format_duration(took)
        ));
        states.push((
            row,
            match outcome.wheel {
                Ok(path) => BuildState::Built(path),
                Err(blockers) => BuildState::Failed {
                    log: outcome.log,
                    hints: blockers.iter().map(|b| b.hint()).collect(),
                    said: outcome.said,
                },
            },
        ));
    }

    // A wheel whose dependencies cannot be installed (one failed to build here, or the index
    // has nothing that loads) cannot be proved: leave it out of the scratch install, which
    // would only build the failed one again and fail.
    let blocked = blocked_by(&rows, &states);
    let wheels: Vec<PathBuf> = states
        .iter()
        .filter(|(row, _)| !blocked.contains_key(&row.name))
        .filter_map(|(_, s)| match s {
            BuildState::Built(p) | BuildState::Reused(p) => Some(p.clone()),
            BuildState::Failed { .. } => None,
        })
        .collect();
    // Prove the wheels: install them into a scratch environment and import each extension
    // module in a fresh process with PYTHON_GIL unset.
    let verified = if wheels.is_empty() {
        Verified::Nothing
    } else {
        verify(ctx, &inst, &wheels, &wheelhouse, &index_args)?
    };
    print_build_report(&states, &verified, &blocked);
    println!("wheelhouse: {}", wheelhouse.display());

    let mut failed = Vec::new();
    let mut hints = Vec::new();
    for (row, state) in &states {
        if let BuildState::Failed { log, hints: found, said } = state {
            let name = escape_control(&row.name);
            failed.push(name.to_string());
            for hint in found {
                hints.push(format!("{name}: {hint}"));
            }
            for line in said.iter().take(4) {
                hints.push(format!("{name}: the build said: {line}"));
            }
            hints.push(format!("{name}: the build log is {}", log.display()));
        }
    }
    if let Verified::InstallFailed(failure) = &verified {
        // Packages pip could not install that are not ours to build: name them and what pip said.
        let ours: Vec<String> = states.iter().map(|(r, _)| normalize_name(&r.name)).collect();
        let others: Vec<String> = failure
            .packages
            .iter()
            .map(|(name, _)| escape_control(name).into_owned())
            .filter(|name| !ours.contains(&normalize_name(name)))
            .collect();
        if others.is_empty() && failed.is_empty() {
            failed.push("a dependency of the built wheels".into());
        }
        failed.extend(others.iter().map(|n| format!("{n} (a dependency, in the scratch install)")));
        for line in failure.key_lines.iter().take(4) {
            hints.push(format!("the scratch install said: {line}"));
        }
        hints.push(format!(
            "the wheels could not be installed to be checked; pip's output is in {}",
            failure.log.display()
        ));
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(WheelsError::Build { failed, hints }.into())
}
