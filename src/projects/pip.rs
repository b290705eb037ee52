//! Running an environment's own pip, with its whole output going to a log file, and reading that
//! log when it fails: which packages could not be installed, and why, in a few lines.
//!
//! pip reads the user's own configuration (pip.conf, `PIP_INDEX_URL`, ...), so ftpy never names
//! an index itself.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

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
    install_with(python, args, cwd, log, &[])
}

/// [`install`] with these variables set for pip and the builds it runs (`ftpy venv --tsan`'s
/// compiler and `-fsanitize=thread` flags).
pub fn install_with(
    python: &Path,
    args: &[String],
    cwd: &Path,
    log: &Path,
    vars: &[(String, String)],
) -> Result<(), PipFailure> {
    let fail =
        |message: String| PipFailure { log: log.to_path_buf(), packages: vec![], key_lines: vec![message] };
    let out = File::create(log).map_err(|e| fail(format!("cannot write {}: {e}", log.display())))?;
    let err = out.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut command = crate::system::python::python(python);
    command
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"])
        .args(args)
        .envs(vars.iter().map(|(name, value)| (name, value)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Under `ftpy venv`'s guard, a SIGTERM to ftpy stops pip and its build backends too.
    crate::system::interrupt::prepare_child(&mut command);
    let status = command
        .spawn()
        .and_then(|mut child| {
            let _running = crate::system::interrupt::record_group(&child, "pip install");
            crate::system::interrupt::wait_stopping_on_signal(&mut child)
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
        } else if (line.contains("metadata-generation-failed")
            || line.contains("subprocess-exited-with-error"))
            && let Some(name) = &current
        {
            add(name, PackageFailure::BuildFailed);
        }
    }
    (packages, key_lines(text))
}

/// At most this many lines of a failed run are shown, each cut to [`SHOWN_LINE_CHARS`].
const MAX_KEY_LINES: usize = 8;
const MAX_CAUSE_LINES: usize = 4;
const SHOWN_LINE_CHARS: usize = 240;

/// The telling lines of a failed pip run: first what the build backend itself said (the
/// exception that ended it, its `error:` lines, compiler errors), then pip's own `ERROR:` lines;
/// pip's generic "subprocess-exited-with-error" only when nothing says more. Bounded, each
/// line shortened and with control characters escaped.
pub fn key_lines(text: &str) -> Vec<String> {
    let mut causes: Vec<String> = Vec::new();
    let mut pip_errors: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        let list = if is_cause(line) {
            &mut causes
        } else if line.starts_with("ERROR:") || is_generic(line) {
            &mut pip_errors
        } else {
            continue;
        };
        let shown = crate::output::terminal_text::escape_shortened(line, SHOWN_LINE_CHARS);
        if !list.contains(&shown) {
            list.push(shown);
        }
    }
    if !causes.is_empty() {
        pip_errors.retain(|l| !is_generic(l));
    }
    // The last causes are the ones that ended the build.
    let skip = causes.len().saturating_sub(MAX_CAUSE_LINES);
    let mut out: Vec<String> = causes.into_iter().skip(skip).collect();
    let room = MAX_KEY_LINES - out.len();
    let skip = pip_errors.len().saturating_sub(room);
    out.extend(pip_errors.into_iter().skip(skip));
    out
}

/// pip's own words for "the build backend failed", which say nothing of why.
fn is_generic(line: &str) -> bool {
    matches!(line, "error: subprocess-exited-with-error" | "error: metadata-generation-failed")
}

/// A line in which a build backend, or the compiler it ran, says why it failed: a Python
/// exception (`RuntimeError: ...`, `setuptools.errors.CompileError: ...`), an `error:` line
/// of its own, a compiler error (`x.c:3:2: error: ...`, `fatal error: ...`).
fn is_cause(line: &str) -> bool {
    if is_generic(line) {
        return false;
    }
    if line.starts_with("error:") || line.contains(" error: ") {
        return true;
    }
    let Some((head, message)) = line.split_once(": ") else { return false };
    let last = head.rsplit('.').next().unwrap_or(head);
    !message.trim().is_empty()
        && head.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && (last.ends_with("Error") || last.ends_with("Exception"))
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
    match name.find('-').filter(|_| name.ends_with(".whl") || name.contains(".tar")) {
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

    /// pip 26.1 installing an sdist whose backend refuses the interpreter (as cffi 2.x does on
    /// 3.13t), without -v: the backend's output is boxed.
    const CFFI_ON_313T: &str = "\
Collecting argon2-cffi-bindings (from argon2-cffi==25.1.0->-r requirements.txt (line 1))
  Using cached argon2_cffi_bindings-25.1.0-cp39-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl.metadata (7.4 kB)
Collecting cffi>=1.0.1 (from argon2-cffi-bindings->argon2-cffi==25.1.0->-r requirements.txt (line 1))
  Using cached cffi-2.1.1.tar.gz (523 kB)
  Installing build dependencies: started
  Installing build dependencies: finished with status 'done'
  Getting requirements to build wheel: started
  Getting requirements to build wheel: finished with status 'error'
  error: subprocess-exited-with-error
  
  \u{d7} Getting requirements to build wheel did not run successfully.
  \u{2502} exit code: 1
  \u{2570}\u{2500}> [12 lines of output]
      Traceback (most recent call last):
        File \"/home/u/p/.venv-ft/lib/python3.13t/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py\", line 389, in <module>
          main()
          ~~~~^^
        File \"/home/u/p/.venv-ft/lib/python3.13t/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py\", line 373, in main
          json_out[\"return_val\"] = hook(**hook_input[\"kwargs\"])
                                   ~~~~^^^^^^^^^^^^^^^^^^^^^^^^
        File \"/tmp/pip-build-env-4k2_x1/overlay/lib/python3.13t/site-packages/setuptools/build_meta.py\", line 331, in get_requires_for_build_wheel
          return self._get_build_requires(config_settings, requirements=[])
        File \"<string>\", line 27, in <module>
      RuntimeError: CFFI does not support the free-threaded build of CPython 3.13. Upgrade to free-threaded 3.14 or newer
      [end of output]
  
  note: This error originates from a subprocess, and is likely not a problem with pip.
ERROR: Failed to build 'cffi' when getting requirements to build wheel
";

    #[test]
    fn shows_the_exception_the_build_backend_raised() {
        let (packages, lines) = read_failure(CFFI_ON_313T);
        assert_eq!(packages, vec![("cffi".to_string(), PackageFailure::BuildFailed)]);
        assert_eq!(
            lines,
            vec![
                "RuntimeError: CFFI does not support the free-threaded build of CPython 3.13. Upgrade to free-threaded 3.14 or newer",
                "ERROR: Failed to build 'cffi' when getting requirements to build wheel",
            ],
            "the generic subprocess line says nothing once the cause is known"
        );
    }

    /// `pip wheel -v` (as `ftpy wheels build` runs it), a setuptools build whose compiler fails:
    /// the output streams unboxed, and the generic line follows the cause.
    #[test]
    fn shows_compiler_and_backend_errors_of_a_verbose_build() {
        let log = "\
Processing ./gilonly-1.0.tar.gz
  Running command Building wheel for gilonly (pyproject.toml)
  running build_ext
  building 'gilonly._core' extension
  gcc -fno-strict-overflow -Wsign-compare -DNDEBUG -g -O3 -Wall -fPIC -I/h/versions/3.14.6t/include/python3.14t -c src/core.c -o build/temp/src/core.o
  src/core.c:5:2: error: #error \"gilonly needs the GIL\"
      5 | #error \"gilonly needs the GIL\"
        |  ^~~~~
  error: command '/usr/bin/gcc' failed with exit code 1
  error: subprocess-exited-with-error
  
  \u{d7} Building wheel for gilonly (pyproject.toml) did not run successfully.
  \u{2502} exit code: 1
  \u{2570}\u{2500}> No available output.
  
  note: This error originates from a subprocess, and is likely not a problem with pip.
  full command: /h/versions/3.14.6t/bin/python3.14t /h/.../_in_process.py build_wheel /tmp/tmpx
  Building wheel for gilonly (pyproject.toml): finished with status 'error'
  ERROR: Failed building wheel for gilonly
Failed to build gilonly
ERROR: Failed to build one or more wheels
";
        let (packages, lines) = read_failure(log);
        assert_eq!(packages, vec![("gilonly".to_string(), PackageFailure::BuildFailed)]);
        assert_eq!(lines[0], "src/core.c:5:2: error: #error \"gilonly needs the GIL\"");
        assert_eq!(lines[1], "error: command '/usr/bin/gcc' failed with exit code 1");
        assert!(lines.contains(&"ERROR: Failed building wheel for gilonly".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("subprocess-exited")), "{lines:?}");
        // Without any cause, pip's own words are all there is.
        let bare = "  error: subprocess-exited-with-error\nERROR: Failed to build one or more wheels\n";
        assert_eq!(
            key_lines(bare),
            ["error: subprocess-exited-with-error", "ERROR: Failed to build one or more wheels"]
        );
    }

    #[test]
    fn what_is_shown_is_bounded_and_escaped() {
        let mut log = String::new();
        for i in 0..1000 {
            log.push_str(&format!("  ValueError: number {i} {}\n", "x".repeat(10_000)));
            log.push_str(&format!("ERROR: pip line {i}\n"));
        }
        log.push_str("  OSError: \u{1b}[2Jcleared\n");
        let lines = key_lines(&log);
        assert_eq!(lines.len(), 8);
        assert!(lines.iter().all(|l| l.chars().count() < 300), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{lines:?}");
        assert_eq!(lines[3], "OSError: \\x1b[2Jcleared", "the last cause ends the build");
        assert_eq!(lines[7], "ERROR: pip line 999");
        // Words that merely look like exceptions are not.
        assert!(key_lines("  Note: this is fine\n  See also: MyError: no\n  warning: unused\n").is_empty());
    }
}
