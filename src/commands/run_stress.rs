//! `ftpy run --stress [--threads N|auto] [--iterations K] [--json] -- python -m pytest [ARGS]`:
//! the suite alone, then under threads, in the free-threaded environment; the report of what
//! broke only under threads (`races::stress`), as text or as JSON.

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::output::terminal_text::escape_shortened;
use crate::races::stress::{self, StressReport, StressRequest, TestFinding};

pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let request = StressRequest {
        project: args.project,
        command: args.command,
        threads: args.threads,
        iterations: args.iterations,
        output_to_stderr: args.json,
        gil_contrast: args.both,
    };
    let report = stress::stress(ctx, &request)?;
    if args.json {
        let text = serde_json::to_string_pretty(&report).expect("a report serializes");
        println!("{text}");
    } else {
        print_report(&report);
    }
    report.verdict()?;
    Ok(ExitCode::SUCCESS)
}

/// At most this many tests are listed per section; the JSON report has them all.
const LISTED: usize = 50;

fn print_report(report: &StressReport) {
    println!();
    println!(
        "stress: {} tests alone ({:.2}s), then each in {} threads x {} iteration(s) ({:.2}s); {} {}, {}",
        report.tests,
        report.alone_seconds,
        report.threads,
        report.iterations,
        report.threaded_seconds,
        stress::PLUGIN,
        report.plugin_version,
        report.environment
    );
    match report.threaded_signal {
        None => println!(
            "  {} ran in {} threads; {} kept in one thread by the plugin",
            report.in_parallel,
            report.threads,
            report.one_thread.len()
        ),
        Some(signal) => {
            println!(
                "  the threaded run CRASHED (signal {signal}): the test it was running is a race candidate"
            )
        }
    }
    section(
        &format!("race candidates: pass alone, fail under {} threads", report.threads),
        &report.race_candidates,
        true,
    );
    section("fail either way (alone and under threads)", &report.fail_either_way, false);
    section("fail alone but pass under threads (order- or timing-dependent)", &report.fail_alone_only, false);
    section("skipped under threads only", &report.skipped_under_threads, false);
    if !report.one_thread.is_empty() {
        println!("\nrun in one thread by {} ({}):", stress::PLUGIN, report.one_thread.len());
        for test in report.one_thread.iter().take(LISTED) {
            println!("  {}: {}", escape_shortened(&test.id, 200), escape_shortened(&test.reason, 200));
        }
        more(report.one_thread.len());
    }
    if let Some(gil) = &report.gil_contrast {
        println!(
            "\nunder the GIL ({}), for contrast: {} race candidate(s)",
            gil.environment,
            gil.race_candidates.len()
        );
        for id in gil.race_candidates.iter().take(LISTED) {
            let also = report.race_candidates.iter().any(|t| &t.id == id);
            let note = if also { "free-threaded too" } else { "under the GIL only" };
            println!("  {}  ({note})", escape_shortened(id, 200));
        }
        more(gil.race_candidates.len());
        let hidden = report.race_candidates.iter().filter(|t| !gil.race_candidates.contains(&t.id)).count();
        println!("free-threaded only (the GIL hid them): {hidden}");
    }
    if !report.not_run_under_threads.is_empty() {
        println!("\nnot run under threads (the run stopped early): {}", report.not_run_under_threads.len());
    }
    if !report.gil_enabled_by.is_empty() {
        println!(
            "\nthe GIL was turned back on by: {} (threads ran serialized after that: races can hide)",
            report.gil_enabled_by.join(", ")
        );
    }
}

fn section(title: &str, tests: &[TestFinding], always: bool) {
    if tests.is_empty() && !always {
        return;
    }
    println!("\n{title}: {}", tests.len());
    for test in tests.iter().take(LISTED) {
        let outcomes = format!("alone {}, under threads {}", test.alone.word(), test.threaded.word());
        println!("  {}  ({outcomes})", escape_shortened(&test.id, 200));
        if !test.message.is_empty() {
            println!("      {}", escape_shortened(&test.message, 200));
        }
    }
    more(tests.len());
}

fn more(count: usize) {
    if count > LISTED {
        println!("  ... and {} more (--json lists them all)", count - LISTED);
    }
}
