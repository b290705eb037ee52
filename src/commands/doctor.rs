//! `ftpy doctor`: what building CPython needs, what is missing, and the command that installs it.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::context::Context;
use crate::error::Error;
use crate::output::progress::human_bytes;
use crate::system::doctor::{Diagnosis, REQUIRED_FREE_BYTES};

pub fn run(args: DoctorArgs, ctx: &Context) -> Result<ExitCode, Error> {
    let series = args.python;
    if series < crate::interpreters::version::FIRST_FREETHREADED {
        return Err(Error::Usage {
            message: format!(
                "ftpy builds {} and later, not {series}",
                crate::interpreters::version::FIRST_FREETHREADED
            ),
            hints: vec![format!(
                "`ftpy doctor --python {}`",
                crate::interpreters::version::RECOMMENDED_SERIES
            )],
        });
    }
    let d = Diagnosis::run(ctx.home.root(), series);
    let system = d.platform.map(|p| p.name()).unwrap_or("unknown system: commands for each");
    println!("Can this machine build CPython {series}? ({system})");
    for (dep, present) in &d.findings {
        let required = dep.required_for(series);
        let (status, note) = match (present, required, dep.module()) {
            (true, _, _) => ("ok", String::new()),
            (false, true, Some(module)) => (
                "MISSING",
                format!("required: without it {module} is missing and the install fails its checks"),
            ),
            (false, true, None) => match (dep, d.broken_cc()) {
                (crate::system::sysdeps::SystemDependency::CCompiler, Some(cc)) => {
                    ("MISSING", format!("required: CC is set to `{cc}`, which does not compile"))
                }
                _ => ("MISSING", "required: no build without it".into()),
            },
            (false, false, Some(module)) => match dep.required_since() {
                Some(since) if since > series => {
                    ("missing", format!("required from {since} on: {module} needs it"))
                }
                _ if dep.module_since().is_some_and(|since| since > series) => {
                    ("missing", format!("not used by {series}"))
                }
                _ => ("missing", format!("optional: {module} would be missing")),
            },
            (false, false, None) => ("missing", "optional: configure finds some libraries through it".into()),
        };
        println!("  {status:<8} {:<28} {note}", dep.to_string());
    }
    match d.free_bytes {
        Some(free) if free >= REQUIRED_FREE_BYTES => {
            println!(
                "  {:<8} {:<28} {} free in {}",
                "ok",
                "disk space",
                human_bytes(free),
                d.measured_at.display()
            )
        }
        Some(free) => println!(
            "  {:<8} {:<28} {} free in {}; a build needs about {}",
            "MISSING",
            "disk space",
            human_bytes(free),
            d.measured_at.display(),
            human_bytes(REQUIRED_FREE_BYTES)
        ),
        None => println!("  {:<8} {:<28} could not be measured (df failed)", "unknown", "disk space"),
    }
    match &d.home_writable {
        Ok(()) => println!(
            "  {:<8} {:<28} {}",
            "ok",
            "home writable",
            ctx.home.versions_dir().parent().map(|p| p.display().to_string()).unwrap_or_default()
        ),
        Err(reason) => println!("  {:<8} {:<28} {reason}", "MISSING", "home writable"),
    }

    let missing = d.missing();
    if let Some(cc) = d.broken_cc() {
        println!("\nCC is set to `{cc}`, which does not compile: fix or unset CC first.");
    }
    let commands = d.install_commands(&missing);
    if !commands.is_empty() {
        println!("\nTo install what is missing:");
        for command in commands {
            println!("  {command}");
        }
    }
    if !d.enough_space() {
        println!(
            "Free at least {} in {}, or point FTPY_HOME at a file system with more room.",
            human_bytes(REQUIRED_FREE_BYTES),
            d.measured_at.display()
        );
    }
    if d.home_writable.is_err() {
        println!("Set FTPY_HOME to a directory you can write to.");
    }
    if d.ready(args.allow_missing_modules) {
        println!("\nReady: a build would succeed.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nNot ready: a build would fail, or fail its checks.");
        Ok(crate::error::ExitCode::NotReady.into())
    }
}
