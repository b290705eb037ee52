//! Building wheels from source with the free-threaded interpreter (`pip wheel --no-binary`),
//! keeping them in a wheelhouse per interpreter, and reading a failed build's log for the
//! blockers free-threaded builds are known to hit.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use crate::context::Context;
use crate::error::Error;
use crate::interpreters::installation::Installation;
use crate::interpreters::version::{Variant, VersionRequest};
use crate::output::progress::format_duration;
use crate::output::terminal_text::escape_control;
use crate::projects::gil_scan;
use crate::projects::twin_venvs::Environment;
use crate::wheels::WheelsError;
use crate::wheels::check::{self, CheckReport, Purpose, Selection};
use crate::wheels::resolve::{Row, Verdict};
use crate::wheels::tags::{DistFilename, normalize_name};

/// A known reason a package does not build for free-threaded CPython, with what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocker {
    /// The build pins a Cython older than 3.1, the first with free-threading support.
    OldCython(String),
    /// The package builds for the limited API (abi3), which free-threaded builds do not have.
    LimitedApi,
    /// A Rust extension whose PyO3 predates 0.23.
    OldPyO3,
    /// The interpreter's own headers are missing: its installation is broken.
    BrokenInterpreter,
    /// A C header is missing: a system package is needed.
    MissingHeader { header: String, package: Option<&'static str> },
}

impl Blocker {
    pub fn hint(&self) -> String {
        match self {
            Blocker::OldCython(pin) => format!(
                "its build pins Cython ({pin}); free-threaded builds need Cython 3.1 or newer: use a newer release of the package, or build it with `PIP_CONSTRAINT` naming cython>=3.1"
            ),
            Blocker::LimitedApi => "it builds for the limited API (Py_LIMITED_API, abi3 wheels), which free-threaded CPython does not support: the package needs a non-abi3 build for cp3XXt".into(),
            Blocker::OldPyO3 => "it is a Rust extension on a PyO3 older than 0.23, the first that supports free-threaded Python: a newer release of the package is needed".into(),
            Blocker::BrokenInterpreter => "the interpreter's own headers (Python.h) are missing: reinstall it with `ftpy install --reinstall`".into(),
            Blocker::MissingHeader { header, package: Some(package) } => {
                format!("the C header {header} is missing: install {package} (Debian/Ubuntu name)")
            }
            Blocker::MissingHeader { header, package: None } => {
                format!("the C header {header} is missing: install the development package that provides it")
            }
        }
    }
}

/// Development packages (Debian names) for headers sdists commonly need, beyond those of
/// CPython's own build (`SystemDependency::for_header`).
const HEADER_PACKAGES: &[(&str, &str)] = &[
    ("libxml/", "libxml2-dev"),
    ("libxslt/", "libxslt1-dev"),
    ("jpeglib.h", "libjpeg-dev"),
    ("png.h", "libpng-dev"),
    ("yaml.h", "libyaml-dev"),
    ("libpq-fe.h", "libpq-dev"),
    ("pg_config.h", "libpq-dev"),
    ("mysql.h", "default-libmysqlclient-dev"),
    ("krb5.h", "libkrb5-dev"),
    ("gmp.h", "libgmp-dev"),
    ("hdf5.h", "libhdf5-dev"),
    ("cblas.h", "libopenblas-dev"),
];

/// What a failed build's log says about why.
pub fn diagnose(log: &str) -> Vec<Blocker> {
    let mut found = Vec::new();
    let mut push = |b: Blocker| {
        if !found.contains(&b) {
            found.push(b);
        }
    };
    for line in log.lines() {
        let lower = line.to_ascii_lowercase();
        if let Some(pin) = cython_pin(&lower) {
            push(Blocker::OldCython(pin));
        }
        if lower.contains("limited api is not currently supported in the free-threaded build")
            || (lower.contains("py_limited_api") && lower.contains("py_gil_disabled"))
        {
            push(Blocker::LimitedApi);
        }
        if lower.contains("pyo3")
            && (lower.contains("free-threaded")
                || lower.contains("free threaded")
                || lower.contains("gil_disabled"))
        {
            push(Blocker::OldPyO3);
        }
        if let Some(rest) = line.split("fatal error: ").nth(1)
            && let Some(header) = rest.split(':').next()
            && header.ends_with(".h")
        {
            if header.trim() == "Python.h" {
                push(Blocker::BrokenInterpreter);
                continue;
            }
            let header = header.trim().to_string();
            let package = crate::system::sysdeps::SystemDependency::for_header(&header)
                .map(|dep| dep.package(crate::system::sysdeps::Platform::Debian))
                .or_else(|| {
                    HEADER_PACKAGES
                        .iter()
                        .find(|(h, _)| header.starts_with(h) || header == *h)
                        .map(|(_, p)| *p)
                });
            push(Blocker::MissingHeader { header, package });
        }
    }
    found
}

/// A Cython pin below 3.1 in a build requirement line: `cython<3.1`, `Cython>=0.29.21,<3.0`,
/// `cython==0.29.37`.
fn cython_pin(lower: &str) -> Option<String> {
    let at = lower.find("cython")?;
    let spec: String = lower[at + 6..]
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | '\'' | '"' | ';'))
        .collect();
    let too_old = spec.split(',').any(|clause| {
        let (op, version) = if let Some(v) = clause.strip_prefix("==") {
            ("==", v)
        } else if let Some(v) = clause.strip_prefix("<=") {
            ("<=", v)
        } else if let Some(v) = clause.strip_prefix('<') {
            ("<", v)
        } else {
            return false;
        };
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if op == "<" { (major, minor) <= (3, 1) } else { (major, minor) < (3, 1) }
    });
    too_old.then(|| format!("cython{spec}"))
}

/// What the builds of C extensions get: the compiler the interpreter was built with (its
/// sysconfig `CC`, `CXX`) and `-fsanitize=thread` (with `-g`, for the reports' line numbers).
pub fn sanitizer_env(base: &Installation) -> std::io::Result<Vec<(String, String)>> {
    let out = crate::system::python::python(base.interpreter())
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('CC') or ''); print(sysconfig.get_config_var('CXX') or '')"])
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let cc = lines.next().unwrap_or("").trim().to_string();
    let cxx = lines.next().unwrap_or("").trim().to_string();
    Ok(compose_build_env(&cc, &cxx))
}

fn compose_build_env(cc: &str, cxx: &str) -> Vec<(String, String)> {
    let cc = if cc.is_empty() { "clang".to_string() } else { cc.to_string() };
    // configure may pair clang with the system's g++; a C++ extension must use the same TSan
    // runtime as the interpreter, so it gets clang's own C++ driver.
    let cxx = if cxx.contains("clang") {
        cxx.to_string()
    } else if cc.contains("clang") {
        cc.replacen("clang", "clang++", 1)
    } else {
        cxx.to_string()
    };
    let flags = "-fsanitize=thread -g".to_string();
    let mut vars = vec![("CC".to_string(), cc)];
    if !cxx.is_empty() {
        vars.push(("CXX".to_string(), cxx));
    }
    vars.extend([
        ("CFLAGS".to_string(), flags.clone()),
        ("CXXFLAGS".to_string(), flags),
        ("LDFLAGS".to_string(), "-fsanitize=thread".to_string()),
    ]);
    vars
}

/// The wheel already in `wheelhouse` for this project and version, if any.
pub fn find_built(wheelhouse: &Path, name: &str, version: &str) -> Option<PathBuf> {
    let entries = fs::read_dir(wheelhouse).ok()?;
    entries.flatten().map(|e| e.path()).find(|path| {
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        DistFilename::parse(file, name).is_some_and(|d| d.is_wheel() && d.version.to_string() == version)
    })
}

pub struct BuildOutcome {
    pub wheel: Result<PathBuf, Vec<Blocker>>,
    pub log: PathBuf,
    /// When the build failed: what the backend and pip said about why (bounded, escaped).
    pub said: Vec<String>,
}

/// `pip wheel --no-deps --no-binary NAME NAME==VERSION` with the interpreter, a throw-away pip
/// cache (so no wheel built earlier is picked up), into `wheelhouse`.
/// `vars` are set for the build (the sanitizer's compiler and flags for a TSan build).
pub fn build(
    python: &Path,
    name: &str,
    version: &str,
    index_args: &[String],
    wheelhouse: &Path,
    log: &Path,
    vars: &[(String, String)],
) -> std::io::Result<BuildOutcome> {
    fs::create_dir_all(wheelhouse)?;
    let scratch = tempfile::Builder::new().prefix(".build-").tempdir_in(wheelhouse)?;
    let out = File::create(log)?;
    let status = crate::system::python::python(python)
        .args(["-m", "pip", "wheel", "-v", "--disable-pip-version-check", "--no-input", "--no-deps"])
        .args(["--no-binary", name, "--cache-dir"])
        .arg(scratch.path().join("cache"))
        .arg("--wheel-dir")
        .arg(scratch.path().join("out"))
        .args(index_args)
        .arg(format!("{name}=={version}"))
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()?;
    let text = fs::read_to_string(log).unwrap_or_default();
    let failed = |text: &str| BuildOutcome {
        wheel: Err(diagnose(text)),
        log: log.to_path_buf(),
        said: crate::projects::pip::key_lines(text),
    };
    if !status.success() {
        return Ok(failed(&text));
    }
    let built = fs::read_dir(scratch.path().join("out"))?.flatten().map(|e| e.path()).find(|p| {
        let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        DistFilename::parse(file, name).is_some_and(|d| d.is_wheel())
    });
    let Some(built) = built else {
        return Ok(failed(&text));
    };
    let target = wheelhouse.join(built.file_name().expect("a file"));
    fs::rename(&built, &target)?;
    Ok(BuildOutcome { wheel: Ok(target), log: log.to_path_buf(), said: vec![] })
}

/// The normalized project name of a wheel file in a wheelhouse.
pub fn wheel_project(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    Some(normalize_name(file.split('-').next()?))
}

/// What became of one package that needed a wheel.
#[derive(Debug)]
pub enum BuildState {
    /// A wheel of this version was already in the wheelhouse.
    Reused(PathBuf),
    Built(PathBuf),
    /// With the blockers' hints and what the build said.
    Failed {
        log: PathBuf,
        hints: Vec<String>,
        said: Vec<String>,
    },
}

/// What to build: the requirements a check finds without a wheel for the target, and where to
/// put the wheels.
#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    /// The requirements, the target interpreter (which must be installed and free-threaded) and
    /// the index, as for a check.
    pub selection: Selection,
    /// Where the wheels go; `None`: the home's wheelhouse for the interpreter, which `ftpy venv`
    /// installs from.
    pub wheelhouse: Option<PathBuf>,
}

/// What a build did, package by package, and what proving the wheels gave.
pub struct BuildReport {
    /// The target's ABI tag, e.g. `cp313t`.
    pub label: String,
    pub wheelhouse: PathBuf,
    /// Each package that needed a wheel; empty when nothing had to be built.
    pub builds: Vec<(Row, BuildState)>,
    pub verified: Verified,
    /// Built packages not proved because something they need cannot be installed: the name of
    /// that something, by package.
    pub blocked: BTreeMap<String, String>,
}

impl BuildReport {
    /// Nothing needed a wheel: every requirement has one, or cannot be built from an sdist.
    pub fn nothing_to_build(&self) -> bool {
        self.builds.is_empty()
    }

    /// The error the build ends with when a package could not be built or the wheels could not
    /// be installed to be proved, with a hint for each.
    pub fn finish(&self) -> Result<(), WheelsError> {
        let mut failed = Vec::new();
        let mut hints = Vec::new();
        for (row, state) in &self.builds {
            if let BuildState::Failed { log, hints: found, said } = state {
                let name = escape_control(&row.name);
                failed.push(name.to_string());
                for hint in found {
                    hints.push(format!("{name}: {hint}"));
                }
                for line in said.iter().take(4) {
                    hints.push(format!("{name}: the build said: {line}"));
                }
                hints.push(format!("{name}: the build log is {}", log.display()));
            }
        }
        if let Verified::InstallFailed(failure) = &self.verified {
            // Packages pip could not install that are not ours to build: name them and what pip said.
            let ours: Vec<String> = self.builds.iter().map(|(r, _)| normalize_name(&r.name)).collect();
            let others: Vec<String> = failure
                .packages
                .iter()
                .map(|(name, _)| escape_control(name).into_owned())
                .filter(|name| !ours.contains(&normalize_name(name)))
                .collect();
            if others.is_empty() && failed.is_empty() {
                failed.push("a dependency of the built wheels".into());
            }
            failed.extend(others.iter().map(|n| format!("{n} (a dependency, in the scratch install)")));
            for line in failure.key_lines.iter().take(4) {
                hints.push(format!("the scratch install said: {line}"));
            }
            hints.push(format!(
                "the wheels could not be installed to be checked; pip's output is in {}",
                failure.log.display()
            ));
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(WheelsError::Build { failed, hints })
    }
}

/// `ftpy wheels build` (and `ftpy venv --build-wheels`): check the requirements against the
/// index, build from source each release that has only an sdist for the free-threaded target
/// (reusing wheels already in the wheelhouse), then prove the wheels in a scratch environment.
/// Progress goes to `ctx.reporter`; the tables are the caller's to print
/// (`wheels::report::print_build`), and [`BuildReport::finish`] gives the error to end with.
pub fn build_missing(ctx: &Context, request: &BuildRequest) -> Result<BuildReport, Error> {
    if let Some(text) = &request.selection.python
        && text.parse::<VersionRequest>().is_ok_and(|r| r.variant == Variant::Gil)
    {
        return Err(Error::Usage {
            message: format!(
                "--python {text} is a GIL build: `ftpy wheels build` builds for free-threaded interpreters"
            ),
            hints: vec![format!("add the `t`: --python {text}t")],
        });
    }
    let CheckReport { python, target, index, rows, .. } =
        check::run(ctx, &request.selection, &[], Purpose::Build)?;
    let Some(inst) = python.installed.clone() else {
        return Err(crate::interpreters::install::InstallError::NotInstalled {
            request: python.series_request(),
            suggest_install: true,
        }
        .into());
    };
    let wheelhouse = request.wheelhouse.clone().unwrap_or_else(|| ctx.home.wheelhouse_dir(&inst.key));
    // For a ThreadSanitizer build, a binary wheel is no use: TSan cannot see inside it.
    let tsan = request.selection.tsan;
    let wanted: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(r.verdict, Verdict::MustBuild | Verdict::Wheelhouse)
                || (tsan && r.verdict == Verdict::TargetWheel)
        })
        .collect();
    let build_vars = if tsan {
        sanitizer_env(&inst).map_err(Error::io("cannot ask the interpreter for its compiler"))?
    } else {
        Vec::new()
    };
    for row in rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::WillNotLoad | Verdict::NotFound | Verdict::Unchecked))
    {
        ctx.reporter.warn(format!(
            "{}: {} (nothing to build from)",
            escape_control(&row.name),
            crate::wheels::report::verdict_text(row, &target).0
        ));
    }
    let label = python.label();
    if wanted.is_empty() {
        return Ok(BuildReport {
            label,
            wheelhouse,
            builds: Vec::new(),
            verified: Verified::Nothing,
            blocked: BTreeMap::new(),
        });
    }
    ctx.home.create()?;
    let index_args: Vec<String> = index
        .urls
        .iter()
        .enumerate()
        .flat_map(|(i, url)| {
            [if i == 0 { "--index-url" } else { "--extra-index-url" }.to_string(), url.clone()]
        })
        .collect();
    let mut states: Vec<(Row, BuildState)> = Vec::new();
    for row in &wanted {
        let version = row.version.clone().expect("must-build rows have a version");
        if let Some(existing) = find_built(&wheelhouse, &row.name, &version) {
            states.push(((*row).clone(), BuildState::Reused(existing)));
            continue;
        }
        let started = Instant::now();
        let mut task = ctx.reporter.task(&format!("{} {version}", row.name));
        if std::io::stderr().is_terminal() {
            // The spinner shows the time as it runs.
            task.phase("building from source");
        } else {
            // A plain line now, and the time it took when done (not a start time of "0s").
            ctx.reporter.info(format!("{} {version}: building from source", escape_control(&row.name)));
        }
        let log = ctx.home.logs_dir().join(format!("wheel-{}-{version}-{}.log", row.name, inst.key));
        let outcome =
            build(&inst.interpreter(), &row.name, &version, &index_args, &wheelhouse, &log, &build_vars)
                .map_err(Error::io("cannot run pip wheel"))?;
        task.finish();
        let took = started.elapsed();
        ctx.reporter.info(format!(
            "{} {version}: {} in {}",
            escape_control(&row.name),
            if outcome.wheel.is_ok() { "built" } else { "FAILED" },
            format_duration(took)
        ));
        states.push((
            (*row).clone(),
            match outcome.wheel {
                Ok(path) => BuildState::Built(path),
                Err(blockers) => BuildState::Failed {
                    log: outcome.log,
                    hints: blockers.iter().map(|b| b.hint()).collect(),
                    said: outcome.said,
                },
            },
        ));
    }

    // A wheel whose dependencies cannot be installed (one failed to build here, or the index
    // has nothing that loads) cannot be proved: leave it out of the scratch install, which
    // would only build the failed one again and fail.
    let blocked = blocked_by(&rows, &states);
    let wheels: Vec<PathBuf> = states
        .iter()
        .filter(|(row, _)| !blocked.contains_key(&row.name))
        .filter_map(|(_, s)| match s {
            BuildState::Built(p) | BuildState::Reused(p) => Some(p.clone()),
            BuildState::Failed { .. } => None,
        })
        .collect();
    // Prove the wheels: install them into a scratch environment and import each extension
    // module in a fresh process with PYTHON_GIL unset.
    let verified = if wheels.is_empty() {
        Verified::Nothing
    } else {
        verify(ctx, &inst, &wheels, &wheelhouse, &index_args)?
    };
    Ok(BuildReport { label, wheelhouse, builds: states, verified, blocked })
}

/// What proving the wheels gave.
pub enum Verified {
    /// Nothing to install (every wheel failed, or each waits for one that failed).
    Nothing,
    Scanned(gil_scan::GilReport),
    /// The scratch install failed: the table still shows every build, with this beside it.
    InstallFailed(crate::projects::pip::PipFailure),
}

/// The built packages that cannot be installed because something they depend on (directly or
/// through others) failed to build here or has nothing installable, with that something.
fn blocked_by(rows: &[Row], states: &[(Row, BuildState)]) -> BTreeMap<String, String> {
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<(String, String)> = states
        .iter()
        .filter(|(_, s)| matches!(s, BuildState::Failed { .. }))
        .map(|(r, _)| (r.name.clone(), r.name.clone()))
        .chain(
            rows.iter()
                .filter(|r| {
                    matches!(r.verdict, Verdict::WillNotLoad | Verdict::NotFound | Verdict::Unchecked)
                })
                .map(|r| (r.name.clone(), r.name.clone())),
        )
        .collect();
    // Walk up `required_by` ("parent version") from each failure; each name once.
    while let Some((name, cause)) = queue.pop() {
        let Some(row) = rows.iter().find(|r| r.name == name) else { continue };
        for parent in &row.required_by {
            let parent = parent.split_whitespace().next().unwrap_or("").to_string();
            if !blocked.contains_key(&parent) && parent != cause {
                blocked.insert(parent.clone(), cause.clone());
                queue.push((parent, cause.clone()));
            }
        }
    }
    blocked
}

/// Install the wheels (dependencies from the index) into a scratch environment made from the
/// interpreter, then scan their extension modules.
fn verify(
    ctx: &Context,
    inst: &Installation,
    wheels: &[PathBuf],
    wheelhouse: &Path,
    index_args: &[String],
) -> Result<Verified, Error> {
    let scratch = tempfile::Builder::new()
        .prefix("verify-")
        .tempdir_in(ctx.home.tmp_dir())
        .map_err(Error::io("cannot create a scratch directory"))?;
    let env = Environment { variant: Variant::Freethreaded, path: scratch.path().join("env") };
    env.create(inst)?;
    let mut args: Vec<String> = vec!["--find-links".into(), wheelhouse.display().to_string()];
    args.extend(index_args.iter().cloned());
    args.extend(wheels.iter().map(|w| w.display().to_string()));
    let log = ctx.home.logs_dir().join(format!("wheel-verify-{}.log", inst.key));
    if let Err(failure) = crate::projects::pip::install(&env.python(), &args, scratch.path(), &log) {
        return Ok(Verified::InstallFailed(failure));
    }
    let names: Vec<String> = wheels.iter().filter_map(|w| wheel_project(w)).collect();
    let mut report = gil_scan::scan(&env.python())?;
    report.culprits.retain(|c| c.distribution.as_deref().is_some_and(|d| names.contains(&normalize_name(d))));
    Ok(Verified::Scanned(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_uses_the_interpreters_compiler_with_the_sanitizer() {
        let vars = compose_build_env("clang-19", "g++");
        let get = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("CC"), Some("clang-19"));
        assert_eq!(get("CXX"), Some("clang++-19"));
        assert_eq!(get("CFLAGS"), Some("-fsanitize=thread -g"));
        assert_eq!(get("LDFLAGS"), Some("-fsanitize=thread"));
    }

    #[test]
    fn recognizes_known_blockers() {
        let log = "\
  Collecting Cython<3.0 (from -r build-reqs (line 1))
  Include/Python.h:52:4: error: #error \"The limited API is not currently supported in the free-threaded build\"
  error: the configured Python interpreter is free-threaded; PyO3 0.22 does not support it (requires PyO3 0.23)
  src/x.c:3:10: fatal error: yaml.h: No such file or directory
  src/y.c:3:10: fatal error: weird/thing.h: No such file or directory
";
        let found = diagnose(log);
        assert_eq!(found[0], Blocker::OldCython("cython<3.0".into()));
        assert_eq!(found[1], Blocker::LimitedApi);
        assert_eq!(found[2], Blocker::OldPyO3);
        assert_eq!(
            found[3],
            Blocker::MissingHeader { header: "yaml.h".into(), package: Some("libyaml-dev") }
        );
        assert!(found[4].hint().contains("weird/thing.h"));
        assert!(diagnose("Collecting cython>=3.1\nCollecting Cython==3.1.2\n").is_empty());
        assert_eq!(diagnose("Collecting cython==0.29.37")[0], Blocker::OldCython("cython==0.29.37".into()));
        assert_eq!(
            diagnose("Collecting Cython>=0.29.21,<3.0")[0],
            Blocker::OldCython("cython>=0.29.21,<3.0".into())
        );
        assert_eq!(
            diagnose("x.c:1:10: fatal error: Python.h: No such file or directory")[0],
            Blocker::BrokenInterpreter
        );
    }
}
