//! What a ThreadSanitizer build of CPython needs of this machine: a C compiler whose TSan
//! runtime links and runs here, and a kernel whose address-space randomisation that runtime
//! copes with.
//!
//! [`find_compiler`] picks the compiler of `--profile tsan`: `$CC` when it is set (the user's
//! choice, checked and never replaced), else the first of [`CANDIDATES`] that passes [`probe`].
//! The probe compiles a tiny program with a data race on purpose with `-fsanitize=thread`, runs
//! it, and passes only when the runtime reports that race: a compiler that links the flag but
//! whose runtime aborts at start (the `vm.mmap_rnd_bits` case) or reports nothing fails it.
//!
//! clang is preferred, as CPython's own TSan CI uses it and its suppressions are written for it.
//! gcc 12's libtsan also passes the probe here (see README: what works with gcc 12 and clang 19),
//! so `CC=gcc` is accepted when set, but never picked on its own.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The compilers tried, in order, when `$CC` is not set: the distribution's `clang-19` (Debian
/// 12's newest clang, with its runtime in `libclang-rt-19-dev`), then whatever `clang` is.
pub const CANDIDATES: &[&str] = &["clang-19", "clang"];

/// The ASLR entropy above which older TSan runtimes abort at start ("unexpected memory
/// mapping"); what `sudo sysctl vm.mmap_rnd_bits=28` sets it back to.
pub const SAFE_MMAP_RND_BITS: u32 = 28;

/// How long the probe program may take to compile, and then to run.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// Two threads increment one counter without a lock: TSan must say so.
const RACE: &str = r#"#include <pthread.h>
static int counter;
static void *work(void *arg) { for (int i = 0; i < 10000; i++) counter++; return arg; }
int main(void) {
    pthread_t a, b;
    pthread_create(&a, 0, work, 0);
    pthread_create(&b, 0, work, 0);
    pthread_join(a, 0);
    pthread_join(b, 0);
    return counter == 0;
}
"#;

/// Why a compiler cannot make a TSan build here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeFailure {
    /// Not on PATH (or not runnable).
    NotFound,
    /// `-fsanitize=thread` does not compile or link: no TSan runtime (`libtsan`, `libclang-rt`).
    DoesNotLink(String),
    /// The program links but the runtime aborts before `main`: its memory layout does not fit
    /// the kernel's address-space randomisation (`vm.mmap_rnd_bits`).
    RuntimeAborts(String),
    /// It ran, but reported no race, or failed otherwise (what it printed).
    NoReport(String),
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeFailure::NotFound => f.write_str("not found"),
            ProbeFailure::DoesNotLink(why) => write!(f, "cannot link -fsanitize=thread: {why}"),
            ProbeFailure::RuntimeAborts(why) => write!(f, "its TSan runtime aborts at start: {why}"),
            ProbeFailure::NoReport(why) => write!(f, "its TSan runtime did not report a known race: {why}"),
        }
    }
}

/// The compiler a TSan build uses: the `CC` it is given, and the first line of its `--version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsanCompiler {
    pub cc: String,
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TsanError {
    #[error("no C compiler here can make a ThreadSanitizer build: {}", describe(tried))]
    NoCompiler { tried: Vec<(String, ProbeFailure)>, mmap_rnd_bits: Option<u32> },
    #[error("CC is set to `{cc}`, which cannot make a ThreadSanitizer build: {failure}")]
    CcCannot { cc: String, failure: ProbeFailure, mmap_rnd_bits: Option<u32> },
}

fn describe(tried: &[(String, ProbeFailure)]) -> String {
    let parts: Vec<String> = tried.iter().map(|(cc, why)| format!("{cc}: {why}")).collect();
    parts.join("; ")
}

impl crate::error::Diagnose for TsanError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::NotReady
    }

    fn hints(&self) -> Vec<String> {
        let (failures, bits): (Vec<&ProbeFailure>, Option<u32>) = match self {
            TsanError::NoCompiler { tried, mmap_rnd_bits } => {
                (tried.iter().map(|(_, f)| f).collect(), *mmap_rnd_bits)
            }
            TsanError::CcCannot { failure, mmap_rnd_bits, .. } => (vec![failure], *mmap_rnd_bits),
        };
        let mut hints = Vec::new();
        if failures.iter().any(|f| matches!(f, ProbeFailure::RuntimeAborts(_))) {
            hints.push(mmap_fix(bits));
        }
        if let TsanError::CcCannot { .. } = self {
            hints.push(
                "unset CC to let ftpy pick clang-19 or clang, or set CC to a clang whose TSan runtime works"
                    .into(),
            );
        }
        hints.push(install_hint());
        hints.push(
            "`ftpy doctor --profile tsan` checks the compiler, its runtime and vm.mmap_rnd_bits".into(),
        );
        hints
    }
}

/// The command that installs clang-19 and its TSan runtime here (Debian and Ubuntu; elsewhere
/// the distribution's clang and compiler-rt).
pub fn install_hint() -> String {
    let packages = crate::system::sysdeps::TSAN_PACKAGES_DEBIAN;
    let command = crate::system::sysdeps::Platform::Debian.install_command(packages);
    format!(
        "install clang and its TSan runtime: `{command}` on Debian/Ubuntu (`./install.sh --build-deps --tsan` does it), clang and compiler-rt elsewhere"
    )
}

/// What to do about a runtime that aborts at start under high ASLR entropy.
pub fn mmap_fix(bits: Option<u32>) -> String {
    let sudo = if crate::system::toolchain::is_root() { "" } else { "sudo " };
    let now = bits.map(|b| format!(" (it is {b})")).unwrap_or_default();
    format!(
        "lower the kernel's address-space randomisation{now}: `{sudo}sysctl vm.mmap_rnd_bits={SAFE_MMAP_RND_BITS}` (until reboot; a file in /etc/sysctl.d keeps it), or use a compiler with an LLVM 18 or newer TSan runtime (clang-19), which copes"
    )
}

/// `vm.mmap_rnd_bits`, read from `/proc/sys/vm/mmap_rnd_bits`; `None` where there is none.
pub fn mmap_rnd_bits() -> Option<u32> {
    let bytes =
        crate::interpreters::installation::read_small_file(Path::new("/proc/sys/vm/mmap_rnd_bits"), 64)
            .ok()?;
    String::from_utf8_lossy(&bytes).trim().parse().ok()
}

/// The compiler of a TSan build: `$CC` when set (checked), else the first candidate that works.
pub fn find_compiler() -> Result<TsanCompiler, TsanError> {
    if let Some(cc) = std::env::var("CC").ok().filter(|c| !c.trim().is_empty()) {
        return probe(&cc).map_err(|failure| TsanError::CcCannot {
            cc,
            failure,
            mmap_rnd_bits: mmap_rnd_bits(),
        });
    }
    let mut tried = Vec::new();
    for candidate in CANDIDATES {
        match probe(candidate) {
            Ok(found) => return Ok(found),
            Err(failure) => tried.push((candidate.to_string(), failure)),
        }
    }
    Err(TsanError::NoCompiler { tried, mmap_rnd_bits: mmap_rnd_bits() })
}

/// Compile, link and run the racy program with `cc` (words: a program and its first
/// arguments) and `-fsanitize=thread`; pass when the runtime reports the race.
pub fn probe(cc: &str) -> Result<TsanCompiler, ProbeFailure> {
    let mut words = cc.split_whitespace();
    let program = words.next().ok_or(ProbeFailure::NotFound)?;
    let leading: Vec<&str> = words.collect();
    let version = Command::new(program)
        .args(&leading)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|_| ProbeFailure::NotFound)?;
    let version =
        String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("unknown").trim().to_string();
    let dir =
        tempfile::tempdir().map_err(|e| ProbeFailure::DoesNotLink(format!("no temporary directory: {e}")))?;
    let source = dir.path().join("race.c");
    let binary = dir.path().join("race");
    fs::write(&source, RACE)
        .map_err(|e| ProbeFailure::DoesNotLink(format!("cannot write {}: {e}", source.display())))?;
    let mut compile = Command::new(program);
    compile
        .args(&leading)
        .args(["-fsanitize=thread", "-g", "-O1"])
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .arg("-pthread");
    let (status, output) = run_bounded(compile).map_err(ProbeFailure::DoesNotLink)?;
    if !status.success() {
        let said = last_lines(&output);
        let why = if said.is_empty() {
            format!("the compiler exited with {status} and said nothing")
        } else {
            said
        };
        return Err(ProbeFailure::DoesNotLink(why));
    }
    let mut run = Command::new(&binary);
    // The probe judges the runtime as it is: no options of the user's may quiet it.
    run.env_remove("TSAN_OPTIONS");
    let (status, output) = run_bounded(run).map_err(ProbeFailure::NoReport)?;
    if output.contains("WARNING: ThreadSanitizer: data race") {
        return Ok(TsanCompiler { cc: cc.to_string(), version });
    }
    if output.contains("unexpected memory mapping") || output.contains("FATAL: ThreadSanitizer") {
        return Err(ProbeFailure::RuntimeAborts(last_lines(&output)));
    }
    Err(ProbeFailure::NoReport(format!("{status}: {}", last_lines(&output))))
}

/// Run `command` to its end within [`PROBE_LIMIT`], its stdout and stderr together (bounded).
fn run_bounded(mut command: Command) -> Result<(std::process::ExitStatus, String), String> {
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let writer_err = writer.try_clone().map_err(|e| e.to_string())?;
    command.stdin(Stdio::null()).stdout(writer).stderr(writer_err);
    let mut child = command.spawn().map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    drop(command);
    let collected = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = reader.take(1 << 20).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < PROBE_LIMIT => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {} s", PROBE_LIMIT.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let output = collected.join().unwrap_or_default();
    Ok((status, output))
}

/// The last few non-empty lines of `text`, on one line.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_compiler_is_not_found() {
        assert_eq!(probe("ftpy-no-such-compiler-here"), Err(ProbeFailure::NotFound));
        assert_eq!(probe("  "), Err(ProbeFailure::NotFound));
    }

    #[test]
    fn a_compiler_that_cannot_link_the_flag_is_said_so() {
        // `false` runs and fails: as a compiler without the TSan runtime does.
        assert!(matches!(probe("false"), Err(ProbeFailure::DoesNotLink(_))));
        let silent = probe("false").unwrap_err().to_string();
        assert!(silent.ends_with("said nothing"), "{silent}");
    }

    #[test]
    fn the_mmap_fix_names_the_safe_value() {
        let fix = mmap_fix(Some(32));
        assert!(fix.contains("sysctl vm.mmap_rnd_bits=28") && fix.contains("it is 32"), "{fix}");
    }

    #[test]
    fn reads_mmap_rnd_bits_where_the_kernel_has_it() {
        if Path::new("/proc/sys/vm/mmap_rnd_bits").exists() {
            assert!(mmap_rnd_bits().is_some_and(|b| (8..=64).contains(&b)));
        }
    }
}
