//! `ftpy wheels check` and `ftpy wheels build`: which dependencies have no wheel that loads in
//! the free-threaded interpreter, and building those from source into a wheelhouse that
//! `ftpy venv` installs from. The work is `wheels::check` and `wheels::build::build_missing`;
//! the tables are `wheels::report`'s.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{WheelSelection, WheelsBuildArgs, WheelsCheckArgs, WheelsCommand};
use crate::context::Context;
use crate::error::Error;
use crate::wheels::build::{self, BuildRequest};
use crate::wheels::check::{self, Selection, Summary};
use crate::wheels::index::IndexConfig;
use crate::wheels::report;
use crate::wheels::resolve::Row;

pub fn run(command: WheelsCommand, ctx: &Context) -> Result<ExitCode, Error> {
    match command {
        WheelsCommand::Check(args) => check(args, ctx),
        WheelsCommand::Build(args) => build(args, ctx),
    }
}

fn selection(args: WheelSelection) -> Selection {
    Selection {
        project: args.project,
        requirements: args.requirements,
        python: args.python,
        index_url: args.index_url,
        extra_index_urls: args.extra_index_url,
        refresh: args.refresh,
        tsan: false,
    }
}

/// `wheels check --json`.
#[derive(Serialize)]
struct Report<'a> {
    target: TargetReport,
    index: &'a IndexConfig,
    packages: &'a [Row],
    summary: &'a Summary,
}

#[derive(Serialize)]
struct TargetReport {
    abi: String,
    python: String,
    platforms: Vec<String>,
}

fn check(args: WheelsCheckArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let checked = check::check(ctx, &selection(args.selection), &args.platforms)?;
    if args.json {
        let report = Report {
            target: TargetReport {
                abi: checked.python.label(),
                python: checked.python.full_version.clone(),
                platforms: checked.target.platforms.clone(),
            },
            index: &checked.index,
            packages: &checked.rows,
            summary: &checked.summary,
        };
        println!("{}", serde_json::to_string_pretty(&report).expect("serializable"));
    } else {
        report::print_table(&checked.rows, &checked.target);
        report::print_summary(&checked.summary, &checked.python.label());
    }
    if args.strict {
        checked.require_all()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn build(args: WheelsBuildArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let selection = Selection { tsan: args.tsan, ..selection(args.selection) };
    let request = BuildRequest { selection, wheelhouse: args.wheelhouse };
    let report = build::build_missing(ctx, &request)?;
    report::print_build(&report);
    report.finish()?;
    Ok(ExitCode::SUCCESS)
}
