//! `ftpy run [--gil | --ft | --both] [--repeat N] -- CMD ...`: the same command in each of the
//! project's environments, one after the other, then a summary of exit codes and wall times.

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::run_both::{self, Exit, RunRequest, Side, Timing, format_seconds};

pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let variants: Vec<Variant> = if args.gil {
        vec![Variant::Gil]
    } else if args.ft {
        vec![Variant::Freethreaded]
    } else {
        vec![Variant::Gil, Variant::Freethreaded]
    };
    let request = RunRequest { project: args.project, variants, command: args.command, repeat: args.repeat };
    let sides = run_both::run_in_each(ctx, &request)?;
    print_summary(&sides);
    run_both::all_passed(&sides)?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(sides: &[Side]) {
    println!();
    println!(
        "{:<5} {:>4}  {:<12} {:>10} {:>10} {:>10} {:>8}",
        "side", "runs", "exit", "median", "min", "max", "spread"
    );
    let mut medians: Vec<(&str, Duration)> = Vec::new();
    for side in sides {
        let walls: Vec<Duration> =
            side.runs.iter().filter(|r| r.exit != Exit::NotFound).map(|r| r.wall).collect();
        let failures = side.runs.iter().filter(|r| !r.exit.success()).count();
        let exit = match side.runs.iter().find(|r| !r.exit.success()) {
            None => "0".to_string(),
            Some(first) if failures == side.runs.len() => first.exit.to_string(),
            Some(first) => format!("{} ({failures} of {})", first.exit, side.runs.len()),
        };
        match Timing::of(&walls) {
            Some(t) => {
                println!(
                    "{:<5} {:>4}  {:<12} {:>10} {:>10} {:>10} {:>7.1}%",
                    side.label,
                    side.runs.len(),
                    exit,
                    format_seconds(t.median),
                    format_seconds(t.min),
                    format_seconds(t.max),
                    t.spread_percent()
                );
                medians.push((side.label, t.median));
            }
            None => println!("{:<5} {:>4}  {:<12}", side.label, side.runs.len(), exit),
        }
    }
    // The free-threaded side's figures mean little if it ran with the GIL: say so under them.
    for side in sides.iter().filter(|s| s.label == "ft") {
        if let Some(module) = side.runs.iter().find_map(|r| r.gil_enabled_by.as_deref()) {
            println!(
                "ft ran WITH THE GIL: loading {module} turned it back on (`ftpy venv --status` lists such modules)"
            );
        } else if std::env::var("PYTHON_GIL").is_ok_and(|v| v.trim() == "1") {
            println!("ft ran WITH THE GIL: PYTHON_GIL=1 is set");
        }
    }
    let all_passed = sides.iter().all(|s| s.runs.iter().all(|r| r.exit.success()));
    if medians.len() == 2 && !all_passed {
        println!("no ratio: the command failed on a side");
    } else if let [(_, gil), (_, ft)] = medians[..] {
        if !gil.is_zero() && !ft.is_zero() {
            let ratio = ft.as_secs_f64() / gil.as_secs_f64();
            let verdict = if ratio < 1.0 {
                format!("free-threaded is {:.2}x as fast", 1.0 / ratio)
            } else {
                format!("free-threaded is {:.2}x slower", ratio)
            };
            println!("ft/gil median time: {ratio:.2}x ({verdict})");
            if sides.iter().any(|s| s.runs.len() == 1) {
                println!("one run per side: --repeat N gives a median and its spread");
            }
        }
    }
}
