//! configure, make, make install: one out-of-tree build of one variant.
//!
//! Every argument reaches the child process as argv, never through a shell. All output goes to
//! the build log; the terminal sees only the phase (configure, compile, profile run, install).
//! On failure the error carries the log's tail and, where the cause is recognisable, the system
//! package that is missing.

use std::fmt;
use std::fs;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod log;
pub mod stages;
pub mod timing;

use crate::interpreters::recipe::Series;
use crate::interpreters::version::{BuildKind, InstallKey, Variant};
use crate::output::progress::Task;
use crate::system::sysdeps::SystemDependency;
use log::BuildLog;

/// How hard to optimise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// `--enable-optimizations --with-lto`: PGO and LTO, what a production interpreter needs.
    Optimized,
    /// Neither: several times quicker to build, for development and tests.
    Fast,
    /// The fastest interpreter: clang 19 or later, PGO, LTO, BOLT (`--enable-bolt`) and, from
    /// 3.14, the tail-calling interpreter (`--with-tail-call-interp`). Needs clang, llvm-profdata,
    /// llvm-bolt and merge-fdata (`./install.sh --build-deps --max`).
    Max,
    /// ThreadSanitizer: `--disable-gil --with-thread-sanitizer`, no PGO or LTO, compiled by a
    /// compiler whose TSan runtime works (clang). Free-threaded only; its own installation,
    /// `3.14.6t-tsan`, beside the release build.
    Tsan,
}

impl Profile {
    /// The kind of installation this profile makes: a TSan build has its own key.
    pub fn build_kind(self) -> BuildKind {
        match self {
            Profile::Optimized | Profile::Fast | Profile::Max => BuildKind::Release,
            Profile::Tsan => BuildKind::Tsan,
        }
    }

    /// Whether the build is trained: profile-guided, in stages (see [`stages`]).
    pub fn uses_pgo(self) -> bool {
        matches!(self, Profile::Optimized | Profile::Max)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Optimized => "optimized",
            Profile::Fast => "fast",
            Profile::Max => "max",
            Profile::Tsan => "tsan",
        })
    }
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub profile: Profile,
    pub jobs: usize,
    /// Extra `configure` arguments, passed last and verbatim.
    pub extra_configure: Vec<String>,
    /// Compile through ccache when it is on PATH.
    pub ccache: bool,
}

/// The configure arguments for one build, in order: prefix, the series' flags, the variant, the
/// profile, then the user's own.
pub fn configure_args(
    series: &Series,
    variant: Variant,
    options: &BuildOptions,
    prefix: &Path,
) -> Vec<String> {
    let mut args = vec![format!("--prefix={}", prefix.display())];
    args.extend(series.configure_flags.iter().cloned());
    if variant == Variant::Freethreaded {
        args.push("--disable-gil".into());
    }
    match options.profile {
        Profile::Optimized => {
            args.push("--enable-optimizations".into());
            args.push("--with-lto".into());
        }
        Profile::Max => {
            args.push("--enable-optimizations".into());
            args.push("--with-lto".into());
            args.push("--enable-bolt".into());
            if series.name >= TAIL_CALL_SERIES {
                args.push("--with-tail-call-interp".into());
            }
        }
        Profile::Fast => {}
        Profile::Tsan => args.push("--with-thread-sanitizer".into()),
    }
    args.extend(options.extra_configure.iter().cloned());
    args
}

/// The first series with the tail-calling interpreter (`--with-tail-call-interp`).
pub const TAIL_CALL_SERIES: crate::interpreters::version::MinorVersion =
    crate::interpreters::version::MinorVersion { major: 3, minor: 14 };

/// Everything one build needs to know.
#[derive(Clone, Debug)]
pub struct BuildPlan {
    pub key: InstallKey,
    pub source_dir: PathBuf,
    pub build_dir: PathBuf,
    pub configure_args: Vec<String>,
    /// Shared by the builds that run at the same time; `jobs` is its size, for the log.
    pub jobserver: jobserver::Client,
    pub jobs: usize,
    /// `ccache`, put in front of the C compiler.
    pub compiler_launcher: Option<PathBuf>,
    /// The C compiler configure is given as `CC` when ftpy chose it (`--profile tsan`: the
    /// compiler whose TSan runtime works); `None`: `$CC`, else configure's own choice.
    pub cc: Option<String>,
    /// Put in front of PATH for configure and make: where the compiler's own tools are
    /// (llvm-profdata, llvm-bolt, merge-fdata for `--profile max`).
    pub tools_dir: Option<PathBuf>,
    /// The make runs, in order (see [`stages`]).
    pub stages: Vec<stages::MakeStage>,
    /// `make install DESTDIR=`: the tree lands at `<destdir>/<prefix>`.
    pub destdir: PathBuf,
    pub log_path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Configure,
    Make,
    Install,
    /// ensurepip, run by the staged interpreter.
    Pip,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Configure => "configure",
            Step::Make => "make",
            Step::Install => "make install",
            Step::Pip => "ensurepip",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{step} failed{} ({status}); last lines of {}:\n{}", during(*step, phase), log.display(), indent(tail))]
    StepFailed {
        step: Step,
        status: String,
        log: PathBuf,
        tail: Vec<String>,
        missing: Option<SystemDependency>,
        /// The phase that failed (e.g. the PGO training run).
        phase: String,
        /// What the step cost until it failed (a retried step's first attempt is counted too).
        times: timing::BuildTimes,
    },
    #[error("make install did not produce {}", path.display())]
    NoInterpreter { path: PathBuf, log: PathBuf },
    #[error("cannot run `{program}`: is it installed?")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("{step} was stopped by a signal")]
    Interrupted { step: Step },
    #[error("cannot write the build log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    pub fn log_path(&self) -> Option<&Path> {
        match self {
            BuildError::StepFailed { log, .. } | BuildError::NoInterpreter { log, .. } => Some(log),
            _ => None,
        }
    }

    /// What to do about a build log that cannot be written: a local problem, not the build's.
    pub fn log_hints(&self) -> Vec<String> {
        let BuildError::Log { path, source } = self else { return Vec::new() };
        let dir = path.parent().unwrap_or(path);
        if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)) {
            vec![
                format!(
                    "the disk holding {} is full (or a file-size limit, `ulimit -f`, was reached): free some space there (`df -h {}`) and run the same command again",
                    dir.display(),
                    dir.display()
                ),
                "or point FTPY_HOME (--home) at a file system with room for the builds and their logs".into(),
            ]
        } else {
            vec![format!(
                "check that {} is a directory you can write to, on a disk with free space",
                dir.display()
            )]
        }
    }

    pub fn missing_dependency(&self) -> Option<SystemDependency> {
        match self {
            BuildError::StepFailed { missing, .. } => *missing,
            BuildError::Spawn { program, .. } if program.ends_with("make") => Some(SystemDependency::Make),
            _ => None,
        }
    }
}

impl crate::error::Diagnose for BuildError {
    fn exit_code(&self) -> crate::error::ExitCode {
        match self {
            BuildError::Interrupted { .. } => crate::error::ExitCode::Interrupted,
            // The log's disk, not the build: a local error (issue 12: a full disk exited 6).
            BuildError::Log { .. } => crate::error::ExitCode::LocalError,
            _ => crate::error::ExitCode::BuildFailed,
        }
    }

    fn hints(&self) -> Vec<String> {
        if let BuildError::Log { .. } = self {
            return self.log_hints();
        }
        let mut hints = Vec::new();
        if let Some(dep) = self.missing_dependency() {
            hints.push(dep.install_hint());
            hints.push("`./install.sh --build-deps` installs everything CPython needs on Debian, Ubuntu, Fedora and Alpine".into());
        }
        if let Some(log) = self.log_path() {
            hints.push(format!("the full build log is {}", log.display()));
        }
        hints
    }
}

/// ` during the PGO training run`, when the step has phases of its own.
fn during(step: Step, phase: &str) -> String {
    if phase.is_empty() || phase == step.to_string() || step != Step::Make {
        String::new()
    } else {
        format!(" during the {phase}")
    }
}

fn indent(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| format!("  | {l}")).collect();
    lines.join("\n")
}

/// Run configure, make and make install for `plan`, reporting phases to `task`; returns what
/// each phase cost, which is also written at the end of the log.
pub fn build_interpreter(plan: &BuildPlan, task: &mut Task) -> Result<timing::BuildTimes, BuildError> {
    let log_err = |source| BuildError::Log { path: plan.log_path.clone(), source };
    if let Some(dir) = plan.log_path.parent() {
        fs::create_dir_all(dir).map_err(log_err)?;
    }
    fs::create_dir_all(&plan.build_dir).map_err(log_err)?;
    let mut log = BuildLog::create(&plan.log_path).map_err(log_err)?;
    log.line(&format!("ftpy build of {}", plan.key)).map_err(log_err)?;
    let mut times = timing::BuildTimes::default();

    let configure = plan.source_dir.join("configure");
    let mut command = Command::new(&configure);
    command.args(&plan.configure_args);
    match (&plan.compiler_launcher, &plan.cc) {
        (Some(launcher), cc) => {
            let cc = cc.clone().unwrap_or_else(crate::system::toolchain::c_compiler);
            let cc = format!("{} {cc}", launcher.display());
            log.line(&format!("using ccache: CC={cc}")).map_err(log_err)?;
            command.env("CC", cc);
        }
        (None, Some(cc)) => {
            log.line(&format!("CC={cc}")).map_err(log_err)?;
            command.env("CC", cc);
        }
        (None, None) => {}
    }
    times.extend(run_step(Step::Configure, "configure", command, plan, &mut log, task, None)?);

    let make = crate::system::toolchain::make_program();
    log.line(&format!("make jobserver: {} jobs, shared with concurrent builds", plan.jobs))
        .map_err(log_err)?;
    let make_stage = |stage: &stages::MakeStage| {
        let mut command = Command::new(&make);
        command.args(stage.target).args(&stage.variables);
        plan.jobserver.configure_make(&mut command);
        command
    };
    for stage in &plan.stages {
        let within = || stage.phases_within.then(stages::FinalStagePhases::default);
        match run_step(Step::Make, stage.phase, make_stage(stage), plan, &mut log, task, within()) {
            Ok(phases) => times.extend(phases),
            Err(BuildError::StepFailed { times: failed, .. }) if stage.retry_once => {
                times.extend(failed.marked("failed attempt"));
                log.line(&format!("ftpy: the {} failed; running it once more", stage.phase))
                    .map_err(log_err)?;
                let again = format!("{} (second attempt)", stage.phase);
                times.extend(run_step(
                    Step::Make,
                    &again,
                    make_stage(stage),
                    plan,
                    &mut log,
                    task,
                    within(),
                )?);
            }
            Err(e) => return Err(e),
        }
    }

    let mut command = Command::new(&make);
    // pip is installed below, by the new interpreter itself: make's ensurepip runs the build
    // directory's python, which sees the site-packages of the final prefix, so on a reinstall
    // it finds the previous installation's pip there and skips the staged tree.
    command.arg("install").arg(format!("DESTDIR={}", plan.destdir.display())).arg("ENSUREPIP=no");
    plan.jobserver.configure_make(&mut command);
    times.extend(run_step(Step::Install, "install", command, plan, &mut log, task, None)?);
    if plan.key.build == BuildKind::Tsan {
        install_tsan_suppressions(plan)
            .map_err(|source| BuildError::Log { path: log.path().to_path_buf(), source })?;
    }
    if let Some(pip) = install_pip(plan, &mut log, task)? {
        times.extend(pip);
    }
    log.note(&format!("\nftpy: where the time went\n{times}")).map_err(log_err)?;
    Ok(times)
}

/// Where CPython's source keeps the TSan suppressions of the free-threaded build (its own CI
/// runs its TSan jobs with them).
pub const TSAN_SUPPRESSIONS_SOURCE: &str = "Tools/tsan/suppressions_free_threading.txt";

/// The prefix `plan` installs into (`--prefix`, the last one given).
fn configured_prefix(plan: &BuildPlan) -> Option<&Path> {
    plan.configure_args.iter().rev().find_map(|a| a.strip_prefix("--prefix=")).map(Path::new)
}

/// Copy CPython's TSan suppressions from the source tree into the staged tree, at
/// [`crate::interpreters::installation::TSAN_SUPPRESSIONS`]: the installation carries them.
fn install_tsan_suppressions(plan: &BuildPlan) -> io::Result<()> {
    let Some(prefix) = configured_prefix(plan) else { return Ok(()) };
    let from = plan.source_dir.join(TSAN_SUPPRESSIONS_SOURCE);
    let to = crate::interpreters::installation::tsan_suppressions_at(&staged_prefix(&plan.destdir, prefix));
    let text = fs::read(&from).map_err(|e| {
        io::Error::new(e.kind(), format!("the source has no {} ({e})", TSAN_SUPPRESSIONS_SOURCE))
    })?;
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    crate::system::files::write_atomic(&to, &text)
}

/// `TSAN_OPTIONS` for ftpy's own runs of a TSan interpreter (ensurepip, the checks): CPython's
/// suppressions, and a report of a race in CPython itself that they miss is written to the
/// log but does not fail the run (exit code 0): it says nothing about the install.
pub fn tsan_options_for_own_runs(suppressions: &Path) -> String {
    format!("suppressions={} halt_on_error=0 exitcode=0", suppressions.display())
}

/// The `--with-ensurepip` choice of the configure arguments: `None` for no pip.
fn ensurepip_mode(configure_args: &[String]) -> Option<&'static str> {
    let mut mode = Some("install");
    for arg in configure_args {
        match arg.as_str() {
            "--without-ensurepip" | "--with-ensurepip=no" => mode = None,
            "--with-ensurepip=upgrade" => mode = Some("upgrade"),
            "--with-ensurepip" | "--with-ensurepip=yes" | "--with-ensurepip=install" => {
                mode = Some("install")
            }
            _ => {}
        }
    }
    mode
}

/// Run ensurepip with the staged interpreter, isolated, so that only its own (empty)
/// site-packages counts; then point the scripts pip wrote at the final prefix.
fn install_pip(
    plan: &BuildPlan,
    log: &mut BuildLog,
    task: &mut Task,
) -> Result<Option<timing::BuildTimes>, BuildError> {
    let Some(mode) = ensurepip_mode(&plan.configure_args) else { return Ok(None) };
    let Some(prefix) = configured_prefix(plan) else {
        return Ok(None);
    };
    let staged = staged_prefix(&plan.destdir, prefix);
    let interpreter = staged.join("bin").join(plan.key.interpreter_name());
    if !interpreter.exists() {
        return Ok(None); // `NoInterpreter` is reported by the caller.
    }
    let mut command = crate::system::python::python(&interpreter);
    command.args(["-I", "-m", "ensurepip"]);
    if mode == "upgrade" {
        command.arg("--upgrade");
    }
    // A shared libpython must be the staged one, not the previous installation's.
    let lib = staged.join("lib");
    let library_path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(old) if !old.is_empty() => {
            let mut joined = lib.into_os_string();
            joined.push(":");
            joined.push(old);
            joined
        }
        _ => lib.into_os_string(),
    };
    command.env("LD_LIBRARY_PATH", library_path);
    if plan.key.build == BuildKind::Tsan {
        let suppressions = crate::interpreters::installation::tsan_suppressions_at(&staged);
        command.env("TSAN_OPTIONS", tsan_options_for_own_runs(&suppressions));
    }
    let times = run_step(Step::Pip, "install pip", command, plan, log, task, None)?;
    relocate_scripts(&staged.join("bin"), &staged, prefix)
        .map_err(|source| BuildError::Log { path: log.path().to_path_buf(), source })?;
    Ok(Some(times))
}

/// `<destdir>/<prefix>`, the way `make install DESTDIR=` lays it out.
fn staged_prefix(destdir: &Path, prefix: &Path) -> PathBuf {
    destdir.join(prefix.strip_prefix("/").unwrap_or(prefix))
}

/// Scripts in `bin` that name the staged prefix (pip's, in their `#!` line or in the `/bin/sh`
/// trampoline pip writes for long paths) name `prefix` instead; written whole through a
/// temporary file, mode kept.
fn relocate_scripts(bin: &Path, staged: &Path, prefix: &Path) -> io::Result<()> {
    const LARGEST_SCRIPT: u64 = 1024 * 1024;
    let from = staged.as_os_str().as_encoded_bytes();
    let to = prefix.as_os_str().as_encoded_bytes();
    for entry in fs::read_dir(bin)? {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        if !meta.is_file() || meta.len() > LARGEST_SCRIPT {
            continue;
        }
        let bytes = fs::read(entry.path())?;
        if !bytes.starts_with(b"#!") || !bytes.windows(from.len()).any(|w| w == from) {
            continue;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(to);
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        use std::os::unix::fs::PermissionsExt;
        crate::system::files::write_atomic_with_mode(&entry.path(), &out, meta.permissions().mode())?;
        // The mode exactly as it was, whatever the umask.
        fs::set_permissions(entry.path(), meta.permissions())?;
    }
    Ok(())
}

/// Run one step, its output to the log; `phase` is what the terminal shows, and `within`
/// finds the phases the step announces as it goes. Returns what each phase cost.
fn run_step(
    step: Step,
    phase: &str,
    mut command: Command,
    plan: &BuildPlan,
    log: &mut BuildLog,
    task: &mut Task,
    mut within: Option<stages::FinalStagePhases>,
) -> Result<timing::BuildTimes, BuildError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let log_path = log.path().to_path_buf();
    let log_err = |source| BuildError::Log { path: log_path.clone(), source };
    let argv: Vec<String> = std::iter::once(program.clone())
        .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect();
    log.note(&format!("\n$ cd {} && {}", plan.build_dir.display(), argv.join(" "))).map_err(log_err)?;

    let (reader, writer) = io::pipe().map_err(log_err)?;
    let writer_err = writer.try_clone().map_err(log_err)?;
    command
        .current_dir(&plan.build_dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err)
        .env("LC_ALL", "C")
        .env_remove("PYTHON_GIL");
    if let Some(dir) = &plan.tools_dir {
        let mut path = dir.clone().into_os_string();
        if let Some(old) = std::env::var_os("PATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(old);
        }
        command.env("PATH", path);
    }
    // A build runs code from the source tarball (configure, the PGO test run): it gets no
    // credential of ftpy's, nor the CI job's token.
    for var in crate::system::python::SECRETS.iter().chain(&["GITHUB_TOKEN"]) {
        command.env_remove(var);
    }
    // Its own process group, so that ftpy can stop the whole build (make, the compilers, the
    // PGO test run) when told to stop, even by a signal sent to ftpy alone; default signals.
    crate::system::interrupt::prepare_child(&mut command);
    if crate::system::interrupt::requested() {
        return Err(BuildError::Interrupted { step });
    }
    task.phase(phase);
    let mut child =
        command.spawn().map_err(|source| BuildError::Spawn { program: program.clone(), source })?;
    let clock = std::sync::Mutex::new(timing::StepClock::start(child.id(), phase));
    // Recorded until it ends, so that a run after a `kill -9` of this one stops what is left.
    let _running = crate::system::interrupt::record_group(&child, &format!("build of {}", plan.key));
    // The pipe's write ends live in `command`; drop it so the reader sees the end.
    drop(command);

    // The output is read on a thread of its own while this one waits, ready to stop the build.
    let (read, status) = std::thread::scope(|scope| {
        let lines = scope.spawn(|| -> io::Result<_> {
            let mut missing = None;
            let mut current = phase.to_string();
            let mut output = BufReader::new(reader);
            let mut bytes = Vec::new();
            // Each line reaches the log whole as it is read; a failing write (a full disk) ends
            // the reading: the pipe closes and the build stops on its next write, rather than
            // run on unlogged.
            while log.copy_line(&mut output, &mut bytes)? {
                let line = String::from_utf8_lossy(&bytes);
                match within.as_mut().and_then(|phases| phases.entered_by(&line)) {
                    Some(next) => {
                        task.phase(next);
                        clock.lock().unwrap_or_else(|e| e.into_inner()).next(next);
                        current = next.to_string();
                    }
                    None => task.tick(),
                }
                missing = missing.or_else(|| SystemDependency::from_log_line(&line));
            }
            Ok((missing, current))
        });
        let status = crate::system::interrupt::wait_stopping_on_signal_with(&mut child, || {
            clock.lock().unwrap_or_else(|e| e.into_inner()).exited()
        });
        (lines.join().expect("build log reader panicked"), status)
    });
    let (missing, last_phase) = read.map_err(log_err)?;
    let status = status.map_err(|source| BuildError::Spawn { program, source })?;
    log.note(&format!("# {step}: {status}")).map_err(log_err)?;
    if status.success() {
        return Ok(clock.into_inner().unwrap_or_else(|e| e.into_inner()).finish());
    }
    if crate::system::interrupt::requested() {
        return Err(BuildError::Interrupted { step });
    }
    Err(BuildError::StepFailed {
        step,
        status: status.to_string(),
        log: log_path,
        tail: log.tail().to_vec(),
        missing,
        phase: last_phase,
        times: clock.into_inner().unwrap_or_else(|e| e.into_inner()).finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpreters::recipe::FreeThreading;

    fn series() -> Series {
        Series {
            name: "3.13".parse().unwrap(),
            free_threading: FreeThreading::Experimental,
            configure_flags: vec!["--with-ensurepip=install".into()],
            releases: vec![],
        }
    }

    #[test]
    fn freethreaded_optimized_flags() {
        let options = BuildOptions {
            profile: Profile::Optimized,
            jobs: 2,
            extra_configure: vec!["--with-pydebug".into()],
            ccache: false,
        };
        let args =
            configure_args(&series(), Variant::Freethreaded, &options, Path::new("/h/versions/3.13.5t"));
        assert_eq!(
            args,
            [
                "--prefix=/h/versions/3.13.5t",
                "--with-ensurepip=install",
                "--disable-gil",
                "--enable-optimizations",
                "--with-lto",
                "--with-pydebug"
            ]
        );
    }

    #[test]
    fn gil_fast_flags_have_neither_disable_gil_nor_optimizations() {
        let options =
            BuildOptions { profile: Profile::Fast, jobs: 2, extra_configure: vec![], ccache: false };
        let args = configure_args(&series(), Variant::Gil, &options, Path::new("/p"));
        assert_eq!(args, ["--prefix=/p", "--with-ensurepip=install"]);
    }

    #[test]
    fn tsan_flags_are_free_threaded_sanitized_and_never_pgo() {
        let options =
            BuildOptions { profile: Profile::Tsan, jobs: 2, extra_configure: vec![], ccache: false };
        let args = configure_args(&series(), Variant::Freethreaded, &options, Path::new("/p"));
        assert_eq!(
            args,
            ["--prefix=/p", "--with-ensurepip=install", "--disable-gil", "--with-thread-sanitizer"]
        );
        assert_eq!(Profile::Tsan.build_kind(), BuildKind::Tsan);
        assert_eq!(Profile::Fast.build_kind(), BuildKind::Release);
        assert_eq!(
            tsan_options_for_own_runs(Path::new("/p/share/ftpy/tsan-suppressions.txt")),
            "suppressions=/p/share/ftpy/tsan-suppressions.txt halt_on_error=0 exitcode=0"
        );
    }

    #[test]
    fn max_adds_bolt_everywhere_and_tail_calls_from_3_14() {
        let options = BuildOptions { profile: Profile::Max, jobs: 2, extra_configure: vec![], ccache: false };
        let args = configure_args(&series(), Variant::Freethreaded, &options, Path::new("/p"));
        assert_eq!(
            args,
            [
                "--prefix=/p",
                "--with-ensurepip=install",
                "--disable-gil",
                "--enable-optimizations",
                "--with-lto",
                "--enable-bolt"
            ]
        );
        let mut series = series();
        series.name = "3.14".parse().unwrap();
        let args = configure_args(&series, Variant::Gil, &options, Path::new("/p"));
        assert_eq!(args.last().map(String::as_str), Some("--with-tail-call-interp"));
        assert!(Profile::Max.uses_pgo() && Profile::Optimized.uses_pgo());
        assert!(!Profile::Fast.uses_pgo() && !Profile::Tsan.uses_pgo());
        assert_eq!(Profile::Max.build_kind(), BuildKind::Release);
    }

    #[test]
    fn a_failure_names_the_phase_of_make_it_happened_in() {
        assert_eq!(during(Step::Make, "PGO training run"), " during the PGO training run");
        assert_eq!(during(Step::Make, "compile"), " during the compile");
        assert_eq!(during(Step::Configure, "configure"), "");
        assert_eq!(during(Step::Make, ""), "");
    }

    #[test]
    fn ensurepip_follows_the_last_configure_choice() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ensurepip_mode(&args(&["--prefix=/p", "--with-ensurepip=install"])), Some("install"));
        assert_eq!(ensurepip_mode(&args(&["--with-ensurepip=install", "--without-ensurepip"])), None);
        assert_eq!(ensurepip_mode(&args(&["--with-ensurepip=upgrade"])), Some("upgrade"));
        assert_eq!(ensurepip_mode(&args(&[])), Some("install"));
    }

    #[test]
    fn scripts_are_pointed_at_the_final_prefix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let prefix = Path::new("/home/u/.local/share/ftpy/versions/3.14.6t");
        let staged = staged_prefix(&dir.path().join("dest"), prefix);
        let bin = staged.join("bin");
        fs::create_dir_all(&bin).unwrap();
        let python = format!("{}/bin/python3.14t", staged.display());
        // The short form, and the trampoline pip writes when the path is too long for `#!`.
        fs::write(bin.join("pip3"), format!("#!{python}\nimport sys\n")).unwrap();
        let trampoline = format!("#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\nimport sys\n");
        fs::write(bin.join("pip3.14"), trampoline).unwrap();
        fs::write(bin.join("python3.14t"), b"\x7fELF binary naming nothing").unwrap();
        std::os::unix::fs::symlink("pip3", bin.join("pip")).unwrap();
        fs::set_permissions(bin.join("pip3"), fs::Permissions::from_mode(0o755)).unwrap();
        relocate_scripts(&bin, &staged, prefix).unwrap();
        let final_python = format!("{}/bin/python3.14t", prefix.display());
        assert_eq!(fs::read_to_string(bin.join("pip3")).unwrap(), format!("#!{final_python}\nimport sys\n"));
        let trampoline = fs::read_to_string(bin.join("pip3.14")).unwrap();
        assert!(
            trampoline.contains(&format!("\"{final_python}\"")) && !trampoline.contains("dest"),
            "{trampoline}"
        );
        assert_eq!(fs::metadata(bin.join("pip3")).unwrap().permissions().mode() & 0o777, 0o755);
        assert!(fs::symlink_metadata(bin.join("pip")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_dir(&bin).unwrap().count(), 4, "no temporary files left");
    }
}
