//! Building wheels from source with the free-threaded interpreter (`pip wheel --no-binary`),
//! keeping them in a wheelhouse per interpreter, and reading a failed build's log for the
//! blockers free-threaded builds are known to hit.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;

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
pub fn build(
    python: &Path,
    name: &str,
    version: &str,
    index_args: &[String],
    wheelhouse: &Path,
    log: &Path,
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

#[cfg(test)]
mod tests {
    use super::*;

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
