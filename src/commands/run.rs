//! `ftpy run [--gil | --ft | --both] [--repeat N] -- CMD ...`: the same command in each of the
//! project's environments, one after the other, then a summary of exit codes and wall times.
//! With `--stress`, the pytest suite alone and under threads instead (`run_stress`).
//! With `--tsan`: in the ThreadSanitizer environment, then the races TSan reported.

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::Variant;
use crate::projects::run_both::{self, Comparison, GilOn, RunRequest, Summary, format_seconds};
use crate::races::{self, tsan::run::TsanRunRequest};

pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    if args.stress {
        return crate::commands::run_stress::run(args, ctx);
    }
    if args.tsan {
        return tsan(args, ctx);
    }
    let variants: Vec<Variant> = if args.gil {
        vec![Variant::Gil]
    } else if args.ft {
        vec![Variant::Freethreaded]
    } else {
        vec![Variant::Gil, Variant::Freethreaded]
    };
    let request = RunRequest { project: args.project, variants, command: args.command, repeat: args.repeat };
    let sides = run_both::run_in_each(ctx, &request)?;
    print_summary(&run_both::summarize(&sides));
    run_both::all_passed(&sides)?;
    Ok(ExitCode::SUCCESS)
}

/// `ftpy run --tsan`: the command in `.venv-tsan`, then TSan's reports grouped into races.
fn tsan(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let request =
        TsanRunRequest { project: args.project, command: args.command, output_to_stderr: args.json };
    let run = races::tsan::run::run_tsan(ctx, &request)?;
    if args.json {
        let json = serde_json::json!({
            "environment": run.env,
            "installation": run.key,
            "exit": run.result.exit.to_string(),
            "suppressions": run.suppressions,
            "report": run.report,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| Error::io("cannot write JSON")(e.into()))?
        );
    } else {
        println!();
        for line in races::tsan::show::report_lines(&run.report) {
            println!("{line}");
        }
    }
    races::tsan::run::verdict(&run)?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(summary: &Summary) {
    println!();
    println!(
        "{:<5} {:>4}  {:<12} {:>10} {:>10} {:>10} {:>8}",
        "side", "runs", "exit", "median", "min", "max", "spread"
    );
    for side in &summary.sides {
        let exit = match side.first_failure {
            None => "0".to_string(),
            Some(first) if side.failures == side.runs => first.to_string(),
            Some(first) => format!("{first} ({} of {})", side.failures, side.runs),
        };
        match side.timing {
            Some(t) => println!(
                "{:<5} {:>4}  {:<12} {:>10} {:>10} {:>10} {:>7.1}%",
                side.label,
                side.runs,
                exit,
                format_seconds(t.median),
                format_seconds(t.min),
                format_seconds(t.max),
                t.spread_percent()
            ),
            None => println!("{:<5} {:>4}  {:<12}", side.label, side.runs, exit),
        }
    }
    // The free-threaded side's figures mean little if it ran with the GIL: say so under them.
    match &summary.ft_gil_on {
        Some(GilOn::Module(module)) => println!(
            "ft ran WITH THE GIL: loading {module} turned it back on (`ftpy venv --status` lists such modules)"
        ),
        Some(GilOn::Environment) => println!("ft ran WITH THE GIL: PYTHON_GIL=1 is set"),
        None => {}
    }
    match summary.comparison {
        Comparison::None => {}
        Comparison::NoRatio => println!("no ratio: the command failed on a side"),
        Comparison::Ratio { ft_over_gil: ratio, single_runs } => {
            let verdict = if ratio < 1.0 {
                format!("free-threaded is {:.2}x as fast", 1.0 / ratio)
            } else {
                format!("free-threaded is {:.2}x slower", ratio)
            };
            println!("ft/gil median time: {ratio:.2}x ({verdict})");
            if single_runs {
                println!("one run per side: --repeat N gives a median and its spread");
            }
        }
    }
}
