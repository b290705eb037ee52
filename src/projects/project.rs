//! A Python project as ftpy reads it: its directory, the Python it asks for (`.python-version`,
//! `requires-python`) and what it needs installed (requirements files, or pyproject.toml).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;
use crate::interpreters::version::{Variant, Version, VersionRequest};

/// The two environments of a project, named so a person sees at once which is which.
pub const GIL_ENV: &str = ".venv-gil";
pub const FT_ENV: &str = ".venv-ft";
/// The ThreadSanitizer environment (`ftpy venv --tsan`), made apart from the twins.
pub const TSAN_ENV: &str = ".venv-tsan";

pub fn env_name(variant: Variant) -> &'static str {
    match variant {
        Variant::Gil => GIL_ENV,
        Variant::Freethreaded => FT_ENV,
    }
}

/// What `[project]` and `[build-system]` in pyproject.toml say, as far as ftpy needs it.
#[derive(Clone, Debug, Default)]
pub struct PyProject {
    pub requires_python: Option<String>,
    pub dependencies: Vec<String>,
    /// A `[build-system]` table: the project can be installed itself (`pip install -e .`).
    pub has_build_system: bool,
}

/// A pyproject.toml is a few KiB; this is far past any real one.
const MAX_PYPROJECT_BYTES: u64 = 4 << 20;

impl PyProject {
    pub fn read(path: &Path) -> Result<PyProject, Error> {
        // Bounded: a checked-out project's pyproject.toml may be a sparse file of any size.
        let bytes =
            crate::interpreters::installation::read_small_file(path, MAX_PYPROJECT_BYTES).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    Error::Usage {
                        message: format!("{} {e}", path.display()),
                        hints: vec!["fix the file, or name requirements files with -r".into()],
                    }
                } else {
                    Error::io("cannot read pyproject.toml")(e)
                }
            })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Usage {
            message: format!("{} is not valid: it is not UTF-8 text", path.display()),
            hints: vec!["fix the file, or name requirements files with -r".into()],
        })?;
        PyProject::parse(&text).map_err(|message| Error::Usage {
            message: format!("{} is not valid: {message}", path.display()),
            hints: vec!["fix the file, or name requirements files with -r".into()],
        })
    }

    pub fn parse(text: &str) -> Result<PyProject, String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let project = doc.get("project").and_then(|p| p.as_table());
        let dependencies = match project.and_then(|p| p.get("dependencies")) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(String::from).ok_or("[project].dependencies must hold strings"))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("[project].dependencies must be an array of strings".into()),
        };
        Ok(PyProject {
            requires_python: project
                .and_then(|p| p.get("requires-python"))
                .and_then(|v| v.as_str())
                .map(String::from),
            dependencies,
            has_build_system: doc.contains_key("build-system"),
        })
    }
}

/// Where the choice of Python came from, for the message that reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PythonSource {
    Flag,
    PythonVersionFile(PathBuf),
    RequiresPython(String),
    NewestInstalled,
}

impl std::fmt::Display for PythonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PythonSource::Flag => f.write_str("--python"),
            PythonSource::PythonVersionFile(path) => write!(f, "{}", path.display()),
            PythonSource::RequiresPython(spec) => write!(f, "requires-python {spec}"),
            PythonSource::NewestInstalled => f.write_str("the newest installed pair"),
        }
    }
}

/// What the project accepts as its Python, before looking at what is installed.
#[derive(Clone, Debug)]
pub enum PythonWish {
    /// A version request; its `t` does not matter, a pair has both builds.
    Request(VersionRequest),
    /// A PEP 440 specifier set from `requires-python`.
    Specifiers(pep440_rs::VersionSpecifiers),
    Any,
}

impl PythonWish {
    pub fn accepts(&self, version: &Version) -> bool {
        match self {
            PythonWish::Request(request) => request.matches(version),
            PythonWish::Specifiers(specifiers) => {
                pep440_rs::Version::from_str(&version.to_string()).is_ok_and(|v| specifiers.contains(&v))
            }
            PythonWish::Any => true,
        }
    }

    /// The request to hand to `ftpy install --pair`, when there is one to give.
    pub fn install_request(&self) -> Option<String> {
        match self {
            PythonWish::Request(request) => {
                Some(VersionRequest { variant: Variant::Gil, ..request.clone() }.to_string())
            }
            _ => None,
        }
    }
}

/// Decide what Python the project wants: `--python`, else the nearest `.python-version` (in the
/// project or a parent, as pyenv reads it), else `requires-python`, else anything.
pub fn python_wish(
    flag: Option<&str>,
    root: &Path,
    pyproject: Option<&PyProject>,
) -> Result<(PythonWish, PythonSource), Error> {
    if let Some(text) = flag {
        return Ok((PythonWish::Request(text.parse()?), PythonSource::Flag));
    }
    if let Some((path, request)) = python_version_file(root)? {
        return Ok((PythonWish::Request(request), PythonSource::PythonVersionFile(path)));
    }
    if let Some(spec) = pyproject.and_then(|p| p.requires_python.as_deref()) {
        let specifiers = pep440_rs::VersionSpecifiers::from_str(spec).map_err(|e| Error::Usage {
            message: format!("requires-python `{spec}` in pyproject.toml is not a PEP 440 specifier: {e}"),
            hints: vec!["name the version with --python".into()],
        })?;
        return Ok((PythonWish::Specifiers(specifiers), PythonSource::RequiresPython(spec.to_string())));
    }
    Ok((PythonWish::Any, PythonSource::NewestInstalled))
}

/// The first `.python-version` found from `root` upwards, and the first entry in it that is a
/// CPython version (pyenv's file may also name `system` or a virtualenv; those are skipped).
fn python_version_file(root: &Path) -> Result<Option<(PathBuf, VersionRequest)>, Error> {
    for dir in root.ancestors() {
        let path = dir.join(".python-version");
        // Bounded and without blocking: a FIFO would wait for a writer, a device never end.
        let text = match crate::interpreters::installation::read_small_file(&path, 64 * 1024) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Err(Error::Usage {
                    message: format!("{} {e}", path.display()),
                    hints: vec![
                        "make it a small text file naming a version such as 3.13t, or pass --python".into(),
                    ],
                });
            }
            Err(_) => continue,
        };
        let entries: Vec<&str> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        for entry in &entries {
            if let Ok(request) = entry.parse::<VersionRequest>() {
                return Ok(Some((path, request)));
            }
        }
        // pyenv's `system`, or an empty file: no version named here; look further.
        if entries.iter().all(|e| *e == "system") {
            continue;
        }
        return Err(Error::Usage {
            message: format!(
                "{} names no CPython version ftpy understands: {}",
                path.display(),
                if entries.is_empty() {
                    "it is empty".to_string()
                } else {
                    crate::output::terminal_text::escape_shortened(&entries.join(", "), 200)
                }
            ),
            hints: vec!["write a version such as 3.13 or 3.13t in it, or pass --python".into()],
        });
    }
    Ok(None)
}

/// What goes into both environments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirements {
    /// `-r` files given on the command line, or the project's requirements.txt.
    Files(Vec<PathBuf>),
    /// The project itself, editable (`-e .`), with its dependencies.
    EditableProject,
    /// `[project].dependencies` of a pyproject.toml without a build system.
    Dependencies(Vec<String>),
    Nothing,
}

impl Requirements {
    /// `-r` files when given; else the project itself when it can be built, else its declared
    /// dependencies; else a `requirements.txt` beside it.
    pub fn choose(
        root: &Path,
        files: &[PathBuf],
        pyproject: Option<&PyProject>,
        deps_only: bool,
    ) -> Requirements {
        if !files.is_empty() {
            return Requirements::Files(files.to_vec());
        }
        if let Some(project) = pyproject {
            if project.has_build_system && !deps_only {
                return Requirements::EditableProject;
            }
            if !project.dependencies.is_empty() {
                return Requirements::Dependencies(project.dependencies.clone());
            }
        }
        let plain = root.join("requirements.txt");
        if plain.is_file() {
            return Requirements::Files(vec![plain]);
        }
        Requirements::Nothing
    }

    /// Arguments for `pip install`, run in the project directory.
    pub fn pip_args(&self) -> Vec<String> {
        match self {
            Requirements::Files(files) => {
                files.iter().flat_map(|f| ["-r".to_string(), f.display().to_string()]).collect()
            }
            Requirements::EditableProject => vec!["-e".into(), ".".into()],
            Requirements::Dependencies(deps) => deps.clone(),
            Requirements::Nothing => Vec::new(),
        }
    }

    /// The `ftpy wheels build` command that covers the same requirements, for the interpreter
    /// `key` whose wheelhouse `ftpy venv` reads.
    pub fn rebuild_command(&self, key: &str, root: &Path) -> String {
        match self {
            Requirements::Files(files) => {
                let args: Vec<String> = files.iter().map(|f| format!("-r {}", f.display())).collect();
                format!("ftpy wheels build --python {key} {}", args.join(" "))
            }
            _ => format!("ftpy wheels build --python {key} {}", root.display()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Requirements::Files(files) => {
                files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
            }
            Requirements::EditableProject => "the project itself (-e .)".into(),
            Requirements::Dependencies(deps) => format!("{} dependencies from pyproject.toml", deps.len()),
            Requirements::Nothing => "no requirements".into(),
        }
    }
}

/// The project directory: the one named, else the nearest directory from here upwards that
/// holds the twin environments (`look_for_envs`), or else a pyproject.toml, a requirements.txt
/// or the environments; else the current directory.
pub fn find_root(explicit: Option<&Path>, look_for_envs: bool) -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(Error::io("cannot read the current directory"))?;
    if let Some(dir) = explicit {
        let dir = cwd.join(dir);
        if !dir.is_dir() {
            return Err(Error::Usage {
                message: format!("project directory {} does not exist", dir.display()),
                hints: vec![],
            });
        }
        return Ok(dir);
    }
    for dir in cwd.ancestors() {
        let envs = [GIL_ENV, FT_ENV, TSAN_ENV].iter().any(|env| dir.join(env).is_dir());
        let project = dir.join("pyproject.toml").is_file() || dir.join("requirements.txt").is_file();
        if envs || (!look_for_envs && project) {
            return Ok(dir.to_path_buf());
        }
    }
    Ok(cwd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_project_table() {
        let p = PyProject::parse(
            "[project]\nname='demo'\nrequires-python='>=3.13'\ndependencies=['attrs>=23', 'numpy; python_version>=\"3.13\"']\n\
             [build-system]\nrequires=['hatchling']\nbuild-backend='hatchling.build'\n",
        )
        .unwrap();
        assert_eq!(p.requires_python.as_deref(), Some(">=3.13"));
        assert_eq!(p.dependencies.len(), 2);
        assert!(p.has_build_system);
        assert!(PyProject::parse("[project]\ndependencies='x'").is_err());
        assert!(PyProject::parse("not toml [").is_err());
    }

    #[test]
    fn a_huge_pyproject_is_refused_unread() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("pyproject.toml");
        // Sparse: 64 MiB of nothing on disk, read whole before.
        fs::File::create(&path).unwrap().set_len(64 << 20).unwrap();
        let err = PyProject::read(&path).unwrap_err().to_string();
        assert!(err.contains("is larger than 4096 KiB"), "{err}");
    }

    #[test]
    fn python_version_file_entries() {
        let dir = tempfile::TempDir::new().unwrap();
        let sub = dir.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        fs::write(dir.path().join(".python-version"), "# pinned\nsystem\n3.13t\n3.12\n").unwrap();
        let (wish, source) = python_wish(None, &sub, None).unwrap();
        assert_eq!(source, PythonSource::PythonVersionFile(dir.path().join(".python-version")));
        assert!(wish.accepts(&"3.13.5".parse().unwrap()));
        assert!(!wish.accepts(&"3.14.0".parse().unwrap()));
        assert_eq!(wish.install_request().as_deref(), Some("3.13"));

        fs::write(dir.path().join(".python-version"), "banana\n").unwrap();
        assert!(matches!(python_wish(None, &sub, None), Err(Error::Usage { .. })));
        fs::write(dir.path().join(".python-version"), "system\n").unwrap();
        assert_eq!(python_wish(None, &sub, None).unwrap().1, PythonSource::NewestInstalled);
        // --python wins over the file.
        let (wish, source) = python_wish(Some("3.14t"), &sub, None).unwrap();
        assert_eq!(source, PythonSource::Flag);
        assert!(wish.accepts(&"3.14.1".parse().unwrap()));
    }

    #[test]
    fn python_version_files_that_are_not_files_or_print_escapes_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join(".python-version");
        // A FIFO waited for a writer forever; /dev/zero was read until memory ran out. Judged in
        // a thread, so that a wait fails the test instead of hanging it.
        let judged = |root: PathBuf| {
            let (send, receive) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                send.send(python_wish(None, &root, None).map(|w| w.1).map_err(|e| e.to_string()))
            });
            receive.recv_timeout(std::time::Duration::from_secs(20)).expect("reading .python-version hung")
        };
        let status = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success());
        let err = judged(dir.path().to_path_buf()).unwrap_err();
        assert!(err.contains(&path.display().to_string()) && err.contains("not a regular file"), "{err}");
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        assert!(judged(dir.path().to_path_buf()).unwrap_err().contains("not a regular file"));
        fs::remove_file(&path).unwrap();
        fs::write(&path, "\u{1b}]0;TITLE\u{7}\u{1b}[2Jbanana\n").unwrap();
        let err = judged(dir.path().to_path_buf()).unwrap_err();
        assert!(err.contains("\\x1b]0;TITLE\\x07\\x1b[2Jbanana") && !err.contains('\u{1b}'), "{err:?}");
    }

    #[test]
    fn requires_python_is_a_specifier_set() {
        let dir = tempfile::TempDir::new().unwrap();
        let project = PyProject { requires_python: Some(">=3.13,<3.15".into()), ..Default::default() };
        let (wish, _) = python_wish(None, dir.path(), Some(&project)).unwrap();
        assert!(wish.accepts(&"3.13.5".parse().unwrap()));
        assert!(wish.accepts(&"3.14.2".parse().unwrap()));
        assert!(!wish.accepts(&"3.15.0".parse().unwrap()));
        assert!(!wish.accepts(&"3.12.9".parse().unwrap()));
        let bad = PyProject { requires_python: Some("at least 3.13".into()), ..Default::default() };
        assert!(python_wish(None, dir.path(), Some(&bad)).is_err());
    }

    #[test]
    fn requirement_choice() {
        let dir = tempfile::TempDir::new().unwrap();
        let buildable =
            PyProject { has_build_system: true, dependencies: vec!["a".into()], ..Default::default() };
        let plain = PyProject { dependencies: vec!["a".into()], ..Default::default() };
        assert_eq!(
            Requirements::choose(dir.path(), &[], Some(&buildable), false),
            Requirements::EditableProject
        );
        assert_eq!(
            Requirements::choose(dir.path(), &[], Some(&buildable), true),
            Requirements::Dependencies(vec!["a".into()])
        );
        assert_eq!(Requirements::choose(dir.path(), &[], Some(&plain), false).pip_args(), vec!["a"]);
        assert_eq!(Requirements::choose(dir.path(), &[], None, false), Requirements::Nothing);
        fs::write(dir.path().join("requirements.txt"), "a\n").unwrap();
        assert_eq!(
            Requirements::choose(dir.path(), &[], None, false).pip_args(),
            vec!["-r".to_string(), dir.path().join("requirements.txt").display().to_string()]
        );
    }
}
