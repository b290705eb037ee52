//! Can this machine build CPython? The checks behind `ftpy doctor`, which `ftpy install` also
//! makes before it downloads anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::interpreters::version::MinorVersion;
use crate::system::sysdeps::{Platform, SystemDependency, is_present};

/// Below this much free space in the home, a build is likely to fail part-way.
pub const REQUIRED_FREE_BYTES: u64 = 3 * 1024 * 1024 * 1024;

/// The system cannot build CPython yet: what is missing, and the commands that install it.
#[derive(Debug, thiserror::Error)]
#[error("this system cannot build CPython yet: {}", missing.join(", "))]
pub struct NotReady {
    pub missing: Vec<String>,
    pub commands: Vec<String>,
}

impl crate::error::Diagnose for NotReady {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::NotReady
    }

    fn hints(&self) -> Vec<String> {
        let mut hints: Vec<String> = self.commands.iter().map(|c| format!("run `{c}`")).collect();
        hints.push("`ftpy doctor` shows every check; --no-system-check skips this one".into());
        hints
    }
}

/// What a ThreadSanitizer build (`--profile tsan`) needs besides [`Diagnosis`]: the compiler
/// [`crate::system::tsan::find_compiler`] picks (its probe compiled, linked and ran a racy
/// program, and the runtime reported the race) and the kernel's `vm.mmap_rnd_bits`.
pub struct TsanDiagnosis {
    pub compiler: Result<crate::system::tsan::TsanCompiler, crate::system::tsan::TsanError>,
    pub mmap_rnd_bits: Option<u32>,
}

impl TsanDiagnosis {
    pub fn run() -> TsanDiagnosis {
        TsanDiagnosis {
            compiler: crate::system::tsan::find_compiler(),
            mmap_rnd_bits: crate::system::tsan::mmap_rnd_bits(),
        }
    }

    pub fn ready(&self) -> bool {
        self.compiler.is_ok()
    }

    /// Whether the randomisation is above what older TSan runtimes (before LLVM 18, gcc's
    /// libtsan) take: they abort at start ("unexpected memory mapping").
    pub fn high_entropy(&self) -> bool {
        self.mmap_rnd_bits.is_some_and(|bits| bits > crate::system::tsan::SAFE_MMAP_RND_BITS)
    }

    /// The commands that install clang and its TSan runtime here: the detected platform's, else
    /// one per platform that has them.
    pub fn install_commands(&self) -> Vec<String> {
        let command = |p: Platform| p.tsan_packages().map(|packages| p.install_command(packages));
        match Platform::detect() {
            Some(platform) => match command(platform) {
                Some(c) => vec![c],
                None => vec![format!(
                    "install clang and its compiler-rt (the TSan runtime) with {}'s package manager",
                    platform.name()
                )],
            },
            None => Platform::ALL
                .iter()
                .filter_map(|p| command(*p).map(|c| format!("{c} ({})", p.name())))
                .collect(),
        }
    }
}

pub struct Diagnosis {
    /// The series whose build the diagnosis is for: what is required depends on it.
    pub series: MinorVersion,
    pub platform: Option<Platform>,
    /// Every dependency and whether it is there.
    pub findings: Vec<(SystemDependency, bool)>,
    /// Free bytes on the file system that holds the home, where `df` could tell.
    pub free_bytes: Option<u64>,
    /// The directory the free space was measured in.
    pub measured_at: PathBuf,
    /// `Err` with the reason when the home cannot be written.
    pub home_writable: Result<(), String>,
    /// `$CC`, when it is set: a compiler that does not work is then the variable's fault, and no
    /// package fixes it.
    pub cc_variable: Option<String>,
}

impl Diagnosis {
    /// Check the system for a build of `series` whose installs go under `home_dir`.
    pub fn run(home_dir: &Path, series: MinorVersion) -> Diagnosis {
        let measured_at = nearest_existing(home_dir);
        Diagnosis {
            series,
            platform: Platform::detect(),
            findings: SystemDependency::ALL.iter().map(|d| (*d, is_present(*d))).collect(),
            free_bytes: free_bytes(&measured_at),
            home_writable: writable(&measured_at),
            measured_at,
            cc_variable: std::env::var("CC").ok().filter(|cc| !cc.trim().is_empty()),
        }
    }

    /// `$CC` when it is set and does not compile: what to fix instead of installing a package.
    pub fn broken_cc(&self) -> Option<&str> {
        let compiler_missing =
            self.findings.iter().any(|(d, present)| *d == SystemDependency::CCompiler && !present);
        self.cc_variable.as_deref().filter(|_| compiler_missing)
    }

    /// What is missing, described: a broken `$CC` is named as such.
    pub fn describe(&self, dep: SystemDependency) -> String {
        match (dep, self.broken_cc()) {
            (SystemDependency::CCompiler, Some(cc)) => {
                format!("a C compiler (CC is set to `{cc}`, which does not compile: fix or unset CC)")
            }
            _ => dep.to_string(),
        }
    }

    /// Missing pieces that stop a build, or that make it fail ftpy's module checks. With
    /// `allow_missing_modules`, only the tools count.
    pub fn missing_required(&self, allow_missing_modules: bool) -> Vec<SystemDependency> {
        self.findings
            .iter()
            .filter(|(dep, present)| {
                !present
                    && dep.required_for(self.series)
                    && (!allow_missing_modules || dep.module().is_none())
            })
            .map(|(dep, _)| *dep)
            .collect()
    }

    pub fn missing(&self) -> Vec<SystemDependency> {
        self.findings.iter().filter(|(_, present)| !present).map(|(dep, _)| *dep).collect()
    }

    pub fn enough_space(&self) -> bool {
        self.free_bytes.is_none_or(|free| free >= REQUIRED_FREE_BYTES)
    }

    pub fn ready(&self, allow_missing_modules: bool) -> bool {
        self.missing_required(allow_missing_modules).is_empty()
            && self.enough_space()
            && self.home_writable.is_ok()
    }

    /// `Err` with what is missing and the commands that install it, when a build of the series
    /// could not succeed here: the check `ftpy install` makes before it downloads anything.
    pub fn require(&self, allow_missing_modules: bool) -> Result<(), NotReady> {
        if self.ready(allow_missing_modules) {
            return Ok(());
        }
        let deps = self.missing_required(allow_missing_modules);
        let mut missing: Vec<String> = deps.iter().map(|d| self.describe(*d)).collect();
        if !self.enough_space() {
            missing.push(format!(
                "free disk space ({} in {}, a build needs {}; free some, or point FTPY_HOME elsewhere)",
                crate::output::progress::human_bytes(self.free_bytes.unwrap_or(0)),
                self.measured_at.display(),
                crate::output::progress::human_bytes(REQUIRED_FREE_BYTES)
            ));
        }
        if let Err(reason) = &self.home_writable {
            missing.push(reason.clone());
        }
        Err(NotReady { missing, commands: self.install_commands(&deps) })
    }

    /// The commands that install `deps`: one for the detected platform, else one per platform.
    pub fn install_commands(&self, deps: &[SystemDependency]) -> Vec<String> {
        // A broken $CC is fixed by fixing the variable, not by a package.
        let deps: Vec<SystemDependency> = deps
            .iter()
            .copied()
            .filter(|d| !(*d == SystemDependency::CCompiler && self.broken_cc().is_some()))
            .collect();
        let deps = &deps[..];
        if deps.is_empty() {
            return Vec::new();
        }
        let command = |platform: Platform| {
            // On macOS the compiler and make come from the command line tools, not Homebrew.
            let (tools, packaged): (Vec<SystemDependency>, Vec<SystemDependency>) =
                deps.iter().partition(|d| {
                    platform == Platform::MacOs
                        && matches!(d, SystemDependency::CCompiler | SystemDependency::Make)
                });
            let mut commands: Vec<String> = Vec::new();
            if !tools.is_empty() {
                commands.push(SystemDependency::CCompiler.install_command(platform));
            }
            let mut packages: Vec<&str> = packaged.iter().map(|d| d.package(platform)).collect();
            packages.dedup();
            if !packages.is_empty() {
                commands.push(platform.install_command(&packages));
            }
            commands.join(" && ")
        };
        match self.platform {
            Some(platform) => vec![command(platform)],
            None => Platform::ALL.iter().map(|p| format!("{} ({})", command(*p), p.name())).collect(),
        }
    }
}

fn nearest_existing(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    while !current.exists() {
        match current.parent() {
            Some(parent) => current = parent.to_path_buf(),
            None => break,
        }
    }
    current
}

/// `df -Pk DIR`: portable across Linux, the BSDs and macOS.
fn free_bytes(dir: &Path) -> Option<u64> {
    let output = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let available_kib: u64 = text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()?;
    Some(available_kib * 1024)
}

fn writable(dir: &Path) -> Result<(), String> {
    tempfile::Builder::new()
        .prefix(".ftpy-write-test")
        .tempfile_in(dir)
        .map(|_| ())
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosis(missing: &[SystemDependency]) -> Diagnosis {
        Diagnosis {
            series: MinorVersion { major: 3, minor: 14 },
            platform: Some(Platform::Debian),
            findings: SystemDependency::ALL.iter().map(|d| (*d, !missing.contains(d))).collect(),
            free_bytes: Some(10 * REQUIRED_FREE_BYTES),
            measured_at: PathBuf::from("/"),
            home_writable: Ok(()),
            cc_variable: None,
        }
    }

    #[test]
    fn optional_headers_do_not_stop_a_build() {
        let d = diagnosis(&[SystemDependency::Tk, SystemDependency::Gdbm]);
        assert!(d.ready(false));
        assert!(d.install_commands(&d.missing())[0].ends_with("apt-get install -y libgdbm-dev tk-dev"));
    }

    #[test]
    fn required_headers_stop_a_build_unless_modules_may_be_missing() {
        let d = diagnosis(&[SystemDependency::Ssl]);
        assert!(!d.ready(false));
        assert!(d.ready(true));
        let d = diagnosis(&[SystemDependency::CCompiler]);
        assert!(!d.ready(true), "no compiler, no build");
    }

    #[test]
    fn zstd_is_required_from_3_14_only() {
        let mut d = diagnosis(&[SystemDependency::Zstd]);
        assert!(!d.ready(false));
        assert_eq!(d.missing_required(false), vec![SystemDependency::Zstd]);
        assert!(
            d.install_commands(&d.missing_required(false))[0].ends_with("apt-get install -y libzstd-dev")
        );
        d.series = MinorVersion { major: 3, minor: 13 };
        assert!(d.ready(false), "3.13 has no compression.zstd");
    }

    #[test]
    fn a_broken_cc_variable_is_named_instead_of_a_package() {
        let mut d = diagnosis(&[SystemDependency::CCompiler]);
        assert_eq!(d.install_commands(&d.missing()).len(), 1, "build-essential without CC");
        d.cc_variable = Some("/nonexistent/cc".into());
        assert!(d.install_commands(&d.missing()).is_empty());
        assert!(d.describe(SystemDependency::CCompiler).contains("CC is set to `/nonexistent/cc`"));
        assert!(!d.ready(false));
    }

    #[test]
    fn low_disk_or_unwritable_home_is_not_ready() {
        let mut d = diagnosis(&[]);
        d.free_bytes = Some(REQUIRED_FREE_BYTES - 1);
        assert!(!d.ready(false));
        let mut d = diagnosis(&[]);
        d.home_writable = Err("read-only".into());
        assert!(!d.ready(false));
    }

    #[test]
    fn unknown_platform_gets_every_command() {
        let mut d = diagnosis(&[SystemDependency::Zlib]);
        d.platform = None;
        let commands = d.install_commands(&[SystemDependency::Zlib]);
        assert_eq!(commands.len(), Platform::ALL.len());
        assert!(commands.iter().any(|c| c.starts_with("zypper install -y zlib-devel")));
    }

    #[test]
    fn measures_free_space_here() {
        assert!(free_bytes(Path::new("/")).is_some_and(|b| b > 0));
    }
}
