//! After-install checks: run the new interpreter and make sure it is what was asked for.
//!
//! The probe runs in isolated mode with `PYTHON_GIL` unset, so that neither the environment nor
//! user site-packages can change the answer.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::interpreters::version::{InstallKey, MinorVersion, Variant};
use crate::system::sysdeps::{SystemDependency, modules_for, required_modules};

const PROBE: &str = r#"
import importlib, json, platform, sys, sysconfig
is_gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)
report = {
    "version": platform.python_version(),
    "gil_disabled_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": is_gil_enabled(),
    "modules": {},
    "pip": None,
}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        report["modules"][name] = None
    except Exception as error:
        report["modules"][name] = "%s: %s" % (type(error).__name__, error)
try:
    import pip
    report["pip"] = pip.__version__
except Exception:
    pass
report["gil_enabled_after_imports"] = is_gil_enabled()
print(json.dumps(report))
"#;

/// What the probe saw; kept in the receipt, and read back tolerantly (missing fields default).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CheckReport {
    pub version: String,
    pub gil_disabled_build: bool,
    pub gil_enabled: bool,
    pub gil_enabled_after_imports: bool,
    /// Every module checked (required and optional, from [`crate::system::sysdeps::STDLIB_MODULES`]):
    /// name to `None` when it imported, or the import error.
    pub modules: BTreeMap<String, Option<String>>,
    /// Which of `modules` the install required. (Receipts before this field: all of them.)
    #[serde(default)]
    pub required_modules: Vec<String>,
    pub pip: Option<String>,
}

impl CheckReport {
    pub fn missing_modules(&self) -> Vec<(&str, &str)> {
        self.modules.iter().filter_map(|(name, error)| error.as_deref().map(|e| (name.as_str(), e))).collect()
    }

    fn is_required(&self, module: &str) -> bool {
        self.required_modules.is_empty() || self.required_modules.iter().any(|m| m == module)
    }

    /// `3.13.5, GIL disabled, ssl zlib ctypes sqlite3 lzma bz2, pip 25.1.1`
    pub fn summary(&self) -> String {
        let gil = if self.gil_enabled { "GIL enabled" } else { "GIL disabled" };
        let ok: Vec<&str> =
            self.modules.iter().filter(|(_, e)| e.is_none()).map(|(n, _)| n.as_str()).collect();
        let pip = self.pip.as_deref().map(|v| format!("pip {v}")).unwrap_or_else(|| "no pip".into());
        format!("Python {}, {gil}, modules: {}, {pip}", self.version, ok.join(" "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot run the new interpreter {path}: {message}")]
    Probe { path: String, message: String },
    #[error("the new interpreter reports version {actual}, not {expected}")]
    WrongVersion { expected: String, actual: String },
    #[error("{key} was built without free-threading: Py_GIL_DISABLED is not set")]
    NotFreethreaded { key: String },
    #[error("{key} is a free-threaded build, but sys._is_gil_enabled() is True with PYTHON_GIL unset")]
    GilEnabled { key: String },
    #[error("{key} was asked for as a GIL build, but the result is free-threaded")]
    UnexpectedlyFreethreaded { key: String },
    #[error("the new interpreter lacks required modules:\n{}", list(missing))]
    MissingModules { missing: Vec<(String, String)> },
    #[error("pip is missing from the new interpreter (ensurepip did not run)")]
    NoPip,
}

fn list(missing: &[(String, String)]) -> String {
    let lines: Vec<String> = missing.iter().map(|(m, e)| format!("  {m}: {e}")).collect();
    lines.join("\n")
}

impl crate::error::Diagnose for CheckError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::CheckFailed
    }

    fn hints(&self) -> Vec<String> {
        match self {
            CheckError::MissingModules { missing } => {
                let mut hints: Vec<String> = Vec::new();
                for (module, _) in missing {
                    if let Some(dep) = SystemDependency::for_module(module) {
                        let hint = dep.install_hint();
                        if !hints.contains(&hint) {
                            hints.push(hint);
                        }
                    }
                }
                hints.push("then install again; or accept the gaps with --allow-missing-modules".into());
                hints
            }
            CheckError::NoPip => vec!["do not pass --without-ensurepip in --configure-opt".into()],
            _ => vec![],
        }
    }
}

/// Run `interpreter`, of `series`, with the probe and return what it reports. A TSan build
/// (`tsan_suppressions`: its suppressions file) runs with CPython's suppressions, and a race
/// report of CPython's own does not fail the probe.
pub fn probe(
    interpreter: &Path,
    series: MinorVersion,
    tsan_suppressions: Option<&Path>,
) -> Result<CheckReport, CheckError> {
    let path = interpreter.display().to_string();
    let modules: Vec<&str> = modules_for(series).map(|m| m.import).collect();
    let mut command = crate::system::python::python(interpreter);
    command.arg("-I").arg("-c").arg(PROBE).args(&modules);
    if let Some(suppressions) = tsan_suppressions {
        command.env("TSAN_OPTIONS", crate::interpreters::build::tsan_options_for_own_runs(suppressions));
    }
    // During an install, the terminal's Ctrl-C must not kill the probe and pass for a failed
    // check: ftpy notes the signal, and the probe's answer stands.
    let output = crate::system::interrupt::prepare_child(&mut command)
        .output()
        .map_err(|e| CheckError::Probe { path: path.clone(), message: e.to_string() })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CheckError::Probe { path, message: format!("{}: {}", output.status, stderr.trim()) });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let mut report: CheckReport = serde_json::from_str(last).map_err(|e| CheckError::Probe {
        path,
        message: format!("unreadable probe output ({e}): {}", stdout.trim()),
    })?;
    report.required_modules = required_modules(series).into_iter().map(String::from).collect();
    Ok(report)
}

/// Compare the report with what was asked for. Missing modules are returned as warnings when
/// allowed, and are an error otherwise.
pub fn evaluate(
    report: &CheckReport,
    key: &InstallKey,
    allow_missing_modules: bool,
) -> Result<Vec<String>, CheckError> {
    let expected = key.version.to_string();
    if report.version != expected {
        return Err(CheckError::WrongVersion { expected, actual: report.version.clone() });
    }
    let name = key.to_string();
    match key.variant {
        Variant::Freethreaded if !report.gil_disabled_build => {
            return Err(CheckError::NotFreethreaded { key: name });
        }
        Variant::Freethreaded if report.gil_enabled || report.gil_enabled_after_imports => {
            return Err(CheckError::GilEnabled { key: name });
        }
        Variant::Gil if report.gil_disabled_build => {
            return Err(CheckError::UnexpectedlyFreethreaded { key: name });
        }
        _ => {}
    }
    let (missing, optional): (Vec<(&str, &str)>, Vec<(&str, &str)>) =
        report.missing_modules().into_iter().partition(|(m, _)| report.is_required(m));
    let mut missing: Vec<(String, String)> =
        missing.into_iter().map(|(m, e)| (m.to_string(), e.to_string())).collect();
    // A module asked for but absent from the answer was not checked: never a pass.
    for module in report.required_modules.iter().filter(|m| !report.modules.contains_key(*m)) {
        missing.push((module.clone(), "not reported by the probe".into()));
    }
    let mut warnings = Vec::new();
    if !optional.is_empty() {
        let names: Vec<&str> = optional.iter().map(|(m, _)| *m).collect();
        let mut packages: Vec<String> = Vec::new();
        for dep in optional.iter().filter_map(|(m, _)| SystemDependency::for_module(m)) {
            let name = dep.to_string();
            if !packages.contains(&name) {
                packages.push(name);
            }
        }
        warnings.push(format!(
            "optional modules not built: {} (for them, install {} and reinstall; `ftpy doctor` names the packages)",
            names.join(", "),
            packages.join(", ")
        ));
    }
    if !missing.is_empty() {
        if !allow_missing_modules {
            return Err(CheckError::MissingModules { missing });
        }
        warnings.extend(missing.iter().map(|(m, e)| format!("module {m} is missing ({e})")));
    }
    if report.pip.is_none() {
        return Err(CheckError::NoPip);
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnose;

    fn report(version: &str, ft_build: bool, gil: bool) -> CheckReport {
        CheckReport {
            version: version.into(),
            gil_disabled_build: ft_build,
            gil_enabled: gil,
            gil_enabled_after_imports: gil,
            modules: modules_for(series(version)).map(|m| (m.import.to_string(), None)).collect(),
            required_modules: required_modules(series(version)).into_iter().map(String::from).collect(),
            pip: Some("25.1".into()),
        }
    }

    fn series(version: &str) -> MinorVersion {
        version.parse::<crate::interpreters::version::Version>().unwrap().series()
    }

    fn key(s: &str) -> InstallKey {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_what_was_asked_for() {
        assert_eq!(
            evaluate(&report("3.13.5", true, false), &key("3.13.5t"), false).unwrap(),
            Vec::<String>::new()
        );
        assert!(evaluate(&report("3.13.5", false, true), &key("3.13.5"), false).is_ok());
    }

    #[test]
    fn refuses_a_freethreaded_request_that_got_the_gil() {
        let err = evaluate(&report("3.13.5", false, true), &key("3.13.5t"), false).unwrap_err();
        assert!(matches!(err, CheckError::NotFreethreaded { .. }));
        let err = evaluate(&report("3.13.5", true, true), &key("3.13.5t"), false).unwrap_err();
        assert!(matches!(err, CheckError::GilEnabled { .. }));
        let mut r = report("3.13.5", true, false);
        r.gil_enabled_after_imports = true;
        assert!(matches!(evaluate(&r, &key("3.13.5t"), false), Err(CheckError::GilEnabled { .. })));
    }

    #[test]
    fn refuses_wrong_version_and_wrong_variant() {
        let err = evaluate(&report("3.13.4", true, false), &key("3.13.5t"), false).unwrap_err();
        assert_eq!(err.to_string(), "the new interpreter reports version 3.13.4, not 3.13.5");
        let err = evaluate(&report("3.13.5", true, false), &key("3.13.5"), false).unwrap_err();
        assert!(matches!(err, CheckError::UnexpectedlyFreethreaded { .. }));
    }

    #[test]
    fn missing_module_fails_unless_allowed_and_hints_the_package() {
        let mut r = report("3.13.5", true, false);
        r.modules.insert("ssl".into(), Some("ModuleNotFoundError: No module named '_ssl'".into()));
        let err = evaluate(&r, &key("3.13.5t"), false).unwrap_err();
        assert!(err.hints().iter().any(|h| h.contains("libssl-dev")), "{:?}", err.hints());
        let warnings = evaluate(&r, &key("3.13.5t"), true).unwrap();
        assert_eq!(warnings.len(), 1);
        r.pip = None;
        assert!(matches!(evaluate(&r, &key("3.13.5t"), true), Err(CheckError::NoPip)));
    }

    #[test]
    fn zstd_is_checked_and_required_from_3_14() {
        let r = report("3.14.6", true, false);
        assert_eq!(r.modules.get("compression.zstd"), Some(&None));
        assert!(r.required_modules.iter().any(|m| m == "compression.zstd"));
        assert!(!report("3.13.5", true, false).modules.contains_key("compression.zstd"));
        let mut r = report("3.14.6", true, false);
        r.modules
            .insert("compression.zstd".into(), Some("ModuleNotFoundError: No module named '_zstd'".into()));
        let err = evaluate(&r, &key("3.14.6t"), false).unwrap_err();
        assert!(err.to_string().contains("compression.zstd"), "{err}");
        assert!(err.hints().iter().any(|h| h.contains("libzstd-dev")), "{:?}", err.hints());
    }

    #[test]
    fn a_missing_optional_module_is_reported_not_fatal() {
        let mut r = report("3.14.6", false, true);
        r.modules.insert("tkinter".into(), Some("ModuleNotFoundError: No module named '_tkinter'".into()));
        r.modules.insert("readline".into(), Some("ModuleNotFoundError: No module named 'readline'".into()));
        let warnings = evaluate(&r, &key("3.14.6"), false).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("readline, tkinter"), "{warnings:?}");
        assert!(warnings[0].contains("the Tk headers"), "{warnings:?}");
    }

    #[test]
    fn a_receipt_from_before_the_module_table_still_reads() {
        let old = r#"{"version":"3.13.5","gil_disabled_build":true,"gil_enabled":false,
            "gil_enabled_after_imports":false,"modules":{"ssl":null},"pip":"25.1.1"}"#;
        let r: CheckReport = serde_json::from_str(old).unwrap();
        assert!(r.required_modules.is_empty());
        assert!(r.is_required("ssl"));
    }
}
