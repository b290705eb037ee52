//! Which installed extension modules turn the GIL back on in a free-threaded interpreter.
//!
//! Every extension module in the environment's site-packages is imported in a fresh process with
//! `PYTHON_GIL` unset. CPython re-enables the GIL when it loads a module that did not declare
//! `Py_mod_gil = Py_MOD_GIL_NOT_USED`, and says so with a RuntimeWarning naming that module; the
//! probe records the warning and `sys._is_gil_enabled()` after the import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const LIST_EXTENSIONS: &str = include_str!("python/list_extensions.py");
const IMPORT_PROBE: &str = include_str!("python/import_probe.py");

#[derive(Clone, Debug, Deserialize)]
pub struct ExtensionModule {
    pub module: String,
    pub distribution: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProbeOutput {
    gil_enabled: bool,
    warnings: Vec<String>,
    error: Option<String>,
}

/// A module whose import left the GIL enabled.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GilCulprit {
    /// The module CPython named in its warning (or the imported one, when there was no warning).
    pub module: String,
    pub distribution: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct GilReport {
    pub modules_checked: usize,
    pub culprits: Vec<GilCulprit>,
    /// Modules that could not be imported at all, with the error.
    pub import_errors: Vec<(String, String)>,
}

impl GilReport {
    pub fn keeps_gil_off(&self) -> bool {
        self.culprits.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot scan the extension modules of {}: {message}", python.display())]
pub struct ScanError {
    pub python: PathBuf,
    pub message: String,
}

impl crate::error::Diagnose for ScanError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::LocalError
    }

    fn hints(&self) -> Vec<String> {
        vec!["the environment's python could not run the scan: recreate both with `ftpy venv`".into()]
    }
}

/// The extension modules installed in the site-packages of `python`'s environment.
pub fn list_extensions(python: &Path) -> Result<Vec<ExtensionModule>, ScanError> {
    let fail = |message: String| ScanError { python: python.to_path_buf(), message };
    let output = crate::system::python::python(python)
        .args(["-c", LIST_EXTENSIONS])
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| fail(format!("unreadable module list: {e}")))
}

/// Import every extension module in the environment in its own process, several at a time,
/// and collect the ones that turn the GIL back on.
pub fn scan(python: &Path) -> Result<GilReport, ScanError> {
    let modules = list_extensions(python)?;
    let owners: BTreeMap<String, Option<String>> =
        modules.iter().map(|m| (m.module.clone(), m.distribution.clone())).collect();
    let results = crate::system::pool::map(&modules, crate::system::pool::workers_up_to(8), |module| {
        (module.module.clone(), probe_import(python, &module.module))
    });

    let mut report = GilReport { modules_checked: modules.len(), ..GilReport::default() };
    for (module, result) in results {
        match result {
            Err(message) => report.import_errors.push((module, message)),
            Ok(out) => {
                if let Some(error) = out.error {
                    report.import_errors.push((module.clone(), error));
                }
                let mut named: Vec<String> = out.warnings.iter().filter_map(|w| warned_module(w)).collect();
                if out.gil_enabled && named.is_empty() {
                    named.push(module.clone());
                }
                for name in named {
                    let distribution = owners.get(&name).cloned().flatten();
                    let culprit = GilCulprit { module: name, distribution };
                    if !report.culprits.contains(&culprit) {
                        report.culprits.push(culprit);
                    }
                }
            }
        }
    }
    report.culprits.sort();
    report.import_errors.sort();
    Ok(report)
}

fn probe_import(python: &Path, module: &str) -> Result<ProbeOutput, String> {
    let output = crate::system::python::python(python)
        .args(["-c", IMPORT_PROBE, module])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|_| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        format!("the import crashed ({}): {}", output.status, stderr.trim().lines().last().unwrap_or(""))
    })
}

/// The module named in CPython's warning: "The global interpreter lock (GIL) has been enabled
/// to load module 'pkg._core', which has not declared ...".
fn warned_module(message: &str) -> Option<String> {
    let rest = message.split("to load module '").nth(1)?;
    Some(rest.split('\'').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_module_from_cpythons_warning() {
        let text = "The global interpreter lock (GIL) has been enabled to load module 'gilext._core', \
                    which has not declared that it can run safely without the GIL. To override this \
                    behavior and keep the GIL disabled (at your own risk), run with PYTHON_GIL=0 or -Xgil=0.";
        assert_eq!(warned_module(text).as_deref(), Some("gilext._core"));
        assert_eq!(warned_module("something else"), None);
    }
}
