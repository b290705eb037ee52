//! Every exit code ftpy uses, as a name. A code is chosen by naming its category
//! (`ExitCode::Verification`), never by a bare number; this enum is the one table the man page's
//! EXIT STATUS section is made from and README.md's "Exit codes" table is checked against.

/// The category of an outcome, and the process exit status it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    LocalError = 1,
    Usage = 2,
    NotFound = 3,
    Network = 4,
    Verification = 5,
    BuildFailed = 6,
    CheckFailed = 7,
    UnsafeArchive = 8,
    NotReady = 9,
    RequirementsFailed = 10,
    RunFailed = 11,
    WheelsMissing = 12,
    WheelBuildFailed = 13,
    InUse = 14,
    Damaged = 15,
    NotCached = 16,
    RemoteCache = 17,
    RacesFound = 18,
    Interrupted = 130,
}

impl ExitCode {
    /// Every code, in numeric order.
    pub const ALL: [ExitCode; 20] = [
        ExitCode::Success,
        ExitCode::LocalError,
        ExitCode::Usage,
        ExitCode::NotFound,
        ExitCode::Network,
        ExitCode::Verification,
        ExitCode::BuildFailed,
        ExitCode::CheckFailed,
        ExitCode::UnsafeArchive,
        ExitCode::NotReady,
        ExitCode::RequirementsFailed,
        ExitCode::RunFailed,
        ExitCode::WheelsMissing,
        ExitCode::WheelBuildFailed,
        ExitCode::InUse,
        ExitCode::Damaged,
        ExitCode::NotCached,
        ExitCode::RemoteCache,
        ExitCode::RacesFound,
        ExitCode::Interrupted,
    ];

    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// What the code means, for the man page and README.md.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::LocalError => "unexpected local error: the file system, permissions, a full disk",
            ExitCode::Usage => {
                "bad usage or input: an unparsable request, an invalid option, an invalid recipe file"
            }
            ExitCode::NotFound => "not found: no recipe for the request, or not installed",
            ExitCode::Network => {
                "network: no source could be downloaded, or the package index could not be read"
            }
            ExitCode::Verification => "verification: a sha256 mismatch",
            ExitCode::BuildFailed => "build failed",
            ExitCode::CheckFailed => {
                "the built interpreter (or an environment made from it) failed its checks; nothing installed"
            }
            ExitCode::UnsafeArchive => "unsafe archive refused",
            ExitCode::NotReady => {
                "this system cannot build CPython yet (missing compiler, headers, disk space): `ftpy doctor`"
            }
            ExitCode::RequirementsFailed => {
                "`ftpy venv`: the requirements could not be installed (the environments are as before); `ftpy run --stress`: pytest-run-parallel could not be installed"
            }
            ExitCode::RunFailed => {
                "`ftpy run`: the command failed in at least one environment; with `--stress`, the suite fails (or cannot run) without threads"
            }
            ExitCode::WheelsMissing => {
                "`ftpy wheels check --strict`: something has no wheel that loads in the target"
            }
            ExitCode::WheelBuildFailed => "`ftpy wheels build`: a package could not be built",
            ExitCode::InUse => {
                "`ftpy uninstall`: twin environments are based on the installation (no `--force`)"
            }
            ExitCode::Damaged => {
                "an installation is damaged (no readable receipt); ftpy will not touch it unasked"
            }
            ExitCode::NotCached => {
                "not cached: `--no-build` found no build this machine can use (nothing was built), or `cache push` no archive to push"
            }
            ExitCode::RemoteCache => {
                "`ftpy cache push|pull`: the remote cache could not be read or written (installs fall back to building)"
            }
            ExitCode::RacesFound => {
                "`ftpy run --stress` or `--tsan`: races found (tests that pass alone and fail under threads, or ThreadSanitizer reports outside CPython)"
            }
            ExitCode::Interrupted => {
                "interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT): nothing half-installed, environments as before"
            }
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;
    use std::path::Path;

    #[test]
    fn all_is_every_code_once_in_order() {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, codes, "one entry per code, in order");
    }

    /// Every category is chosen somewhere outside this file: a code nothing returns is a
    /// stale row in the table people read.
    #[test]
    fn every_code_is_used_somewhere() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut text = String::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("error/exit_code.rs")
                {
                    text.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        for code in ExitCode::ALL {
            if code == ExitCode::Success {
                continue;
            }
            let name = format!("ExitCode::{code:?}");
            assert!(text.contains(&name), "{name} is in the table but nothing returns it");
        }
    }

    #[test]
    fn readme_lists_the_same_exit_codes() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
        let section = readme.split("### Exit codes").nth(1).expect("README.md has an Exit codes section");
        let codes: Vec<u8> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok())
            .collect();
        let table: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, table, "README.md's Exit codes table and ExitCode::ALL");
    }
}
