//! `ftpy doctor [--profile tsan]`: what building CPython needs, what is missing, and the command
//! that installs it; with `--profile tsan`, also a compiler whose TSan runtime works here.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::context::Context;
use crate::error::Error;
use crate::interpreters::version::BuildKind;
use crate::output::progress::human_bytes;
use crate::system::doctor::{Diagnosis, REQUIRED_FREE_BYTES, TsanDiagnosis};

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
    let tsan_ready = args.profile.build_kind() != BuildKind::Tsan || print_tsan(ctx, series);
    let max_ready = args.profile != crate::interpreters::build::Profile::Max || print_max(series);
    if d.ready(args.allow_missing_modules) && tsan_ready && max_ready {
        println!("\nReady: a build would succeed.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nNot ready: a build would fail, or fail its checks.");
        Ok(crate::error::ExitCode::NotReady.into())
    }
}

/// `--profile max`: clang 19 or later and its LLVM tools. True when a max build could start.
fn print_max(series: crate::interpreters::version::MinorVersion) -> bool {
    println!("\nMax build (--profile max: clang, PGO, LTO, BOLT, tail-calling interpreter):");
    match crate::system::llvm::find() {
        Ok(llvm) => {
            println!("  {:<8} {:<28} {} (clang {})", "ok", "compiler", llvm.cc, llvm.major);
            println!(
                "  {:<8} {:<28} {} in {}",
                "ok",
                "LLVM tools",
                crate::system::llvm::TOOLS.join(", "),
                llvm.bin_dir.display()
            );
            if series < crate::interpreters::build::TAIL_CALL_SERIES {
                println!(
                    "  {:<8} {:<28} {series} has none; PGO, LTO and BOLT only",
                    "note", "tail-calling interpreter"
                );
            }
            true
        }
        Err(e) => {
            println!("  {:<8} {:<28} {e}", "MISSING", "clang and LLVM tools");
            for hint in crate::error::Diagnose::hints(&e) {
                println!("           {hint}");
            }
            false
        }
    }
}

/// `--profile tsan`: the compiler and its runtime, the kernel's randomisation, and the TSan
/// builds installed. True when a TSan build would succeed.
fn print_tsan(ctx: &Context, series: crate::interpreters::version::MinorVersion) -> bool {
    use crate::system::tsan::{ProbeFailure, SAFE_MMAP_RND_BITS, TsanError};
    let t = TsanDiagnosis::run();
    println!("\nThreadSanitizer build (--profile tsan, free-threaded only):");
    match &t.compiler {
        Ok(compiler) => println!(
            "  {:<8} {:<28} {} ({}): -fsanitize=thread links, and its runtime reported a known race",
            "ok", "TSan compiler", compiler.cc, compiler.version
        ),
        Err(e) => println!("  {:<8} {:<28} {e}", "MISSING", "TSan compiler"),
    }
    let aborted = match &t.compiler {
        Err(TsanError::NoCompiler { tried, .. }) => {
            tried.iter().any(|(_, f)| matches!(f, ProbeFailure::RuntimeAborts(_)))
        }
        Err(TsanError::CcCannot { failure, .. }) => matches!(failure, ProbeFailure::RuntimeAborts(_)),
        Ok(_) => false,
    };
    match t.mmap_rnd_bits {
        None => println!(
            "  {:<8} {:<28} not readable here (/proc/sys/vm/mmap_rnd_bits)",
            "unknown", "vm.mmap_rnd_bits"
        ),
        Some(bits) if !t.high_entropy() => println!("  {:<8} {:<28} {bits}", "ok", "vm.mmap_rnd_bits"),
        Some(bits) if aborted => println!(
            "  {:<8} {:<28} {bits}: above {SAFE_MMAP_RND_BITS}, and the TSan runtime aborts at start",
            "MISSING", "vm.mmap_rnd_bits"
        ),
        Some(bits) => println!(
            "  {:<8} {:<28} {bits}: above {SAFE_MMAP_RND_BITS}, which runtimes before LLVM 18 (gcc's libtsan) abort on; this one copes",
            "ok", "vm.mmap_rnd_bits"
        ),
    }
    let installed = crate::interpreters::installation::newest_tsan(&ctx.home, Some(series)).ok().flatten();
    match installed {
        Some(inst) => println!(
            "  {:<8} {:<28} {} ({}), suppressions {}",
            "ok",
            "installed TSan build",
            inst.key,
            inst.interpreter().display(),
            inst.tsan_suppressions().map(|p| p.display().to_string()).unwrap_or_default()
        ),
        None => println!(
            "  {:<8} {:<28} none of {series}: `ftpy install --profile tsan {series}t` builds one",
            "-", "installed TSan build"
        ),
    }
    if aborted {
        println!("\n{}", crate::system::tsan::mmap_fix(t.mmap_rnd_bits));
    }
    if t.compiler.is_err() {
        if std::env::var_os("CC").is_some() {
            println!("\nCC is set: ftpy builds with it; unset it to let ftpy pick clang-19 or clang.");
        }
        println!("\nTo install clang and its TSan runtime:");
        for command in t.install_commands() {
            println!("  {command}");
        }
    }
    t.ready()
}
