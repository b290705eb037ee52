//! Running an environment's own pip, with its whole output going to a log file, and reading that
//! log when it fails: which packages could not be installed, and why, in a few lines.
//!
//! pip reads the user's own configuration (pip.conf, `PIP_INDEX_URL`, ...), so ftpy never names
//! an index itself.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why one package could not be installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageFailure {
    /// It had to be built from source, and the build failed.
    BuildFailed,
    /// The index has no release of it that fits this interpreter and platform.
    NoMatchingDistribution,
}

impl PackageFailure {
    pub fn describe(&self) -> &'static str {
        match self {
            PackageFailure::BuildFailed => "no usable wheel, and building it from source failed",
            PackageFailure::NoMatchingDistribution => "no release fits this interpreter",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("pip could not install the requirements")]
pub struct PipFailure {
    pub log: PathBuf,
    /// Packages named in pip's errors, in the order pip named them.
    pub packages: Vec<(String, PackageFailure)>,
    /// The few lines of the log that say what went wrong (pip's ERROR lines, compiler errors).
    pub key_lines: Vec<String>,
}

/// `python -m pip install ARGS` in `cwd`, everything it prints going to `log`.
pub fn install(python: &Path, args: &[String], cwd: &Path, log: &Path) -> Result<(), PipFailure> {
    let fail =
        |message: String| PipFailure { log: log.to_path_buf(), packages: vec![], key_lines: vec![message] };
    let out = File::create(log).map_err(|e| fail(format!("cannot write {}: {e}", log.display())))?;
    let err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut command = Command::new(python);
    command
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"])
        .args(args)
        .current_dir(cwd)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Under `ftpy venv`'s guard, a SIGTERM to ftpy stops pip and its build backends too.
    crate::interrupt::prepare_child(&mut command);
    let status = command
        .spawn()
        .and_then(|mut child| {
            let _running = crate::interrupt::record_group(&child, "pip install");
            crate::interrupt::wait_stopping_on_signal(&mut child)
        })
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let (packages, key_lines) = read_failure(&text);
    Err(PipFailure { log: log.to_path_buf(), packages, key_lines })
}

/// The failed packages and the telling lines of a failed pip run's output.
pub fn read_failure(text: &str) -> (Vec<(String, PackageFailure)>, Vec<String>) {
    let mut packages: Vec<(String, PackageFailure)> = Vec::new();
    let mut add = |name: &str, why: PackageFailure| {
        let name = name.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        if !name.is_empty() && !packages.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            packages.push((name, why));
        }
    };
    // The package pip is working on: while collecting, the last "Collecting"/"Processing" line
    // (metadata and build-requirement failures name it only that way); once pip builds wheels,
    // the last "Building wheel for X" line.
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Collecting ").or_else(|| line.strip_prefix("Processing ")) {
            current = Some(requirement_name(rest));
        } else if line.starts_with("Building wheels for collected packages") {
            current = None;
        } else if let Some(rest) = line.strip_prefix("Building wheel for ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            if line.trim_end_matches('\'').ends_with("error") {
                add(&name, PackageFailure::BuildFailed);
            }
            current = Some(name);
        } else if let Some(rest) = line.strip_prefix("ERROR: Failed building wheel for ") {
            add(rest, PackageFailure::BuildFailed);
        } else if let Some(list) = line
            .split_once("Failed to build installable wheels for some pyproject.toml based projects")
            .map(|(_, rest)| rest)
        {
            for name in list
                .trim()
                .trim_start_matches(':')
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
            {
                add(name, PackageFailure::BuildFailed);
            }
        } else if let Some(rest) = line.strip_prefix("Failed to build ") {
            for name in rest.split_whitespace() {
                add(name, PackageFailure::BuildFailed);
            }
        } else if let Some(rest) = line.strip_prefix("ERROR: No matching distribution found for ") {
            add(&requirement_name(rest), PackageFailure::NoMatchingDistribution);
        } else if line.contains("metadata-generation-failed") || line.contains("subprocess-exited-with-error")
        {
            if let Some(name) = &current {
                add(name, PackageFailure::BuildFailed);
            }
        }
    }
    let key_lines = text
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("ERROR:")
                || t.contains(" error: ")
                || t.contains("#error")
                || t.starts_with("error:")
        })
        .map(|l| l.trim_start().to_string())
        .fold(Vec::<String>::new(), |mut seen, l| {
            if !seen.contains(&l) {
                seen.push(l);
            }
            seen
        });
    let key_lines = key_lines.iter().rev().take(8).rev().cloned().collect();
    (packages, key_lines)
}

/// `numpy>=2 (from -r req.txt (line 1))` → `numpy`; `./pkgs/foo` → `foo`; a wheel or sdist file
/// name → its project name.
fn requirement_name(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let first = first.trim_end_matches('/');
    let base = first.rsplit('/').next().unwrap_or(first);
    let end = base
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(base.len());
    let name = &base[..end];
    // A file name: drop the version and everything after it.
    match name.find(|c: char| c == '-').filter(|_| name.ends_with(".whl") || name.contains(".tar")) {
        Some(dash) => name[..dash].to_string(),
        None => name.trim_end_matches(".tar.gz").trim_end_matches(".zip").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_packages_whose_build_failed() {
        let log = "\
Processing /tmp/p/pkgs/gilonly
  Installing build dependencies: started
Processing /tmp/p/pkgs/purepkg
Building wheels for collected packages: gilonly, purepkg
  Building wheel for gilonly (pyproject.toml): started
  error: subprocess-exited-with-error
  src/gilonly.c:3:2: error: #error \"gilonly needs the GIL\"
  Building wheel for gilonly (pyproject.toml): finished with status 'error'
  Building wheel for purepkg (pyproject.toml): finished with status 'done'
Collecting numpy>=2 (from -r req.txt (line 2))
ERROR: Failed to build installable wheels for some pyproject.toml based projects (gilonly, numpy)
";
        let (packages, lines) = read_failure(log);
        assert_eq!(
            packages,
            vec![
                ("gilonly".to_string(), PackageFailure::BuildFailed),
                ("numpy".to_string(), PackageFailure::BuildFailed)
            ]
        );
        assert!(lines.iter().any(|l| l.contains("#error")));
        assert!(lines.iter().all(|l| !l.contains("Installing build")));
    }

    #[test]
    fn names_missing_distributions() {
        let log = "\
Collecting nosuchpkg==9 (from -r r.txt (line 1))
ERROR: Could not find a version that satisfies the requirement nosuchpkg==9 (from versions: 1.0)
ERROR: No matching distribution found for nosuchpkg==9
";
        let (packages, _) = read_failure(log);
        assert_eq!(packages, vec![("nosuchpkg".to_string(), PackageFailure::NoMatchingDistribution)]);
    }

    #[test]
    fn metadata_failure_names_the_package_being_processed() {
        let log = "\
Processing ./vendor/oldpkg-1.0.tar.gz
  Preparing metadata (pyproject.toml): finished with status 'error'
  error: metadata-generation-failed
";
        assert_eq!(read_failure(log).0, vec![("oldpkg".to_string(), PackageFailure::BuildFailed)]);
    }
}
