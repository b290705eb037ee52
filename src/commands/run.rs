//! `ftpy run [--gil | --ft | --both] [--repeat N] -- CMD ...`: the same command in each of the
//! project's environments, one after the other, then a summary of exit codes and wall times.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::RunArgs;
use crate::context::Context;
use crate::error::Error;
use crate::projects::project;
use crate::projects::run_both::{self, Exit, Input, Prefix, RunResult, StdinTee, Timing, format_seconds};
use crate::projects::twin_venvs::{Environment, VenvError};
use crate::interpreters::version::Variant;

struct Side {
    label: &'static str,
    env: Environment,
    prefix: Prefix,
    runs: Vec<RunResult>,
}

pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let root = project::find_root(args.project.as_deref(), true)?;
    let variants: Vec<Variant> = if args.gil {
        vec![Variant::Gil]
    } else if args.ft {
        vec![Variant::Freethreaded]
    } else {
        vec![Variant::Gil, Variant::Freethreaded]
    };
    let mut sides: Vec<Side> = variants
        .into_iter()
        .map(|variant| {
            let (label, colour) = match variant {
                Variant::Gil => ("gil", 33),
                Variant::Freethreaded => ("ft", 36),
            };
            Side {
                label,
                env: Environment::in_project(&root, variant),
                prefix: Prefix::new(label, colour),
                runs: vec![],
            }
        })
        .collect();
    if sides.iter().all(|s| !s.env.exists()) {
        return Err(VenvError::NoEnvironments { root }.into());
    }
    for side in &sides {
        // Never fall back to another python on PATH: that would compare the wrong interpreters.
        if let Some(problem) = side.env.problem() {
            return Err(VenvError::Broken { env: side.env.name().to_string(), root, problem }.into());
        }
    }

    // A command that exits without reading its input closes the pipe ftpy writes to: that must
    // be a failed write, not the end of ftpy.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Piped input goes to every run: the first gets it as it arrives, the later ones a copy.
    let runs = sides.len() * args.repeat as usize;
    let tee = (runs > 1 && !std::io::stdin().is_terminal()).then(StdinTee::default);
    let mut first = true;
    let cwd = std::env::current_dir().unwrap_or(root.clone());
    for side in &mut sides {
        for round in 1..=args.repeat {
            if args.repeat > 1 {
                ctx.reporter.info(format!("{}: run {round} of {}", side.label, args.repeat));
            }
            let input = match &tee {
                None => Input::Inherit,
                Some(tee) if first => Input::Live(tee),
                Some(tee) => Input::Replay(tee.recorded()),
            };
            first = false;
            let result = run_both::run_in(&side.env, &args.command, &cwd, &side.prefix, input)
                .map_err(Error::io("cannot start the command"))?;
            side.runs.push(result);
        }
    }

    print_summary(&sides);
    let failed: Vec<String> = sides
        .iter()
        .filter(|s| s.runs.iter().any(|r| !r.exit.success()))
        .map(|s| s.env.name().to_string())
        .collect();
    if failed.is_empty() { Ok(ExitCode::SUCCESS) } else { Err(run_both::RunFailed { sides: failed }.into()) }
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
