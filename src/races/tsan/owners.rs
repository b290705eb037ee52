//! Whose code a TSan frame is in. TSan names a frame's shared object by its file name
//! (`_racecounter.cpython-314t-x86_64-linux-gnu.so`), so [`Owners::scan`] first indexes the
//! shared objects of the environment's site-packages (each with its importable module name and
//! the distribution whose RECORD lists it) and of the interpreter's own `lib-dynload`; a name
//! found in neither is judged by its shape (the interpreter, libpython, system libraries).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Entries looked at while indexing one directory tree, and how deep.
const MAX_ENTRIES: usize = 200_000;
const MAX_DEPTH: usize = 12;
/// Bytes read of one RECORD file.
const MAX_RECORD_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// The interpreter, libpython, or one of CPython's own extension modules (`lib-dynload`).
    #[serde(rename = "cpython")]
    CPython,
    /// An extension module outside CPython: its dotted module name and, when an installed
    /// distribution's RECORD lists it, the distribution.
    Package { distribution: Option<String>, module: String },
    /// A system library (libstdc++, libm, ...).
    System { object: String },
    /// A shared object ftpy cannot place.
    Unknown { object: String },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::CPython => f.write_str("CPython"),
            Owner::Package { distribution: Some(dist), module } => write!(f, "{module} (package {dist})"),
            Owner::Package { distribution: None, module } => write!(f, "{module}"),
            Owner::System { object } => write!(f, "system library {object}"),
            Owner::Unknown { object } if object.is_empty() => f.write_str("unknown"),
            Owner::Unknown { object } => write!(f, "{object}"),
        }
    }
}

/// The index of shared objects by file name.
#[derive(Debug, Default)]
pub struct Owners {
    by_file_name: HashMap<String, Owner>,
    /// The base installation's prefix: what is under it (outside site-packages) is CPython's.
    cpython_prefix: Option<PathBuf>,
}

fn file_name(object: &str) -> &str {
    object.rsplit('/').next().unwrap_or(object)
}

/// `pkg/_core.cpython-314t-x86_64-linux-gnu.so` → `pkg._core`.
fn module_name(relative: &Path) -> Option<String> {
    let mut parts: Vec<String> = relative
        .parent()
        .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let file = relative.file_name()?.to_string_lossy().into_owned();
    parts.push(file.split('.').next()?.to_string());
    Some(parts.join("."))
}

fn is_shared_object(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.")
}

impl Owners {
    /// Index the shared objects under each of `site_packages` (the user's code) and in
    /// `lib_dynload` (CPython's own modules).
    pub fn scan(
        site_packages: &[PathBuf],
        lib_dynload: Option<&Path>,
        cpython_prefix: Option<&Path>,
    ) -> Owners {
        let mut owners =
            Owners { cpython_prefix: cpython_prefix.map(Path::to_path_buf), ..Owners::default() };
        if let Some(dir) = lib_dynload
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for entry in entries.flatten().take(MAX_ENTRIES) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_shared_object(&name) {
                    owners.by_file_name.insert(name, Owner::CPython);
                }
            }
        }
        for root in site_packages {
            let distributions = record_index(root);
            let mut seen = 0;
            walk(root, root, 0, &mut seen, &mut |relative| {
                let name = relative.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if !is_shared_object(&name) || owners.by_file_name.contains_key(&name) {
                    return;
                }
                if let Some(module) = module_name(relative) {
                    let distribution = distributions.get(relative).cloned();
                    owners.by_file_name.insert(name, Owner::Package { distribution, module });
                }
            });
        }
        owners
    }

    #[cfg(test)]
    pub fn for_tests(entries: &[(&str, Owner)]) -> Owners {
        Owners {
            by_file_name: entries.iter().map(|(n, o)| (n.to_string(), o.clone())).collect(),
            cpython_prefix: None,
        }
    }

    /// Whose code `object` (as a frame names it) is.
    pub fn owner_of(&self, object: &str) -> Owner {
        let name = file_name(object);
        if let Some(owner) = self.by_file_name.get(name) {
            return owner.clone();
        }
        let in_site_packages = object.contains("/site-packages/");
        if !in_site_packages
            && self.cpython_prefix.as_deref().is_some_and(|prefix| Path::new(object).starts_with(prefix))
        {
            return Owner::CPython;
        }
        if ((name == "python" || name.starts_with("python3")) && !name.contains(".so"))
            || name.starts_with("libpython3")
        {
            return Owner::CPython;
        }
        if in_site_packages
            && is_shared_object(name)
            && let Some((_, relative)) = object.rsplit_once("/site-packages/")
            && let Some(module) = module_name(Path::new(relative))
        {
            // Installed after ftpy indexed the environment, or not found by the bounded walk.
            return Owner::Package { distribution: None, module };
        }
        if name.contains(".cpython-") && is_shared_object(name) {
            // An extension module outside site-packages (built in place in the project).
            let module = name.split('.').next().unwrap_or(name).to_string();
            if object.contains("/lib-dynload/") {
                return Owner::CPython;
            }
            return Owner::Package { distribution: None, module };
        }
        const SYSTEM: [&str; 9] = [
            "libstdc++",
            "libgcc_s",
            "libm.so",
            "libz.so",
            "libssl",
            "libcrypto",
            "libffi",
            "libgomp",
            "libatomic",
        ];
        if SYSTEM.iter().any(|p| name.starts_with(p)) || self.is_runtime_object(object) {
            return Owner::System { object: name.to_string() };
        }
        Owner::Unknown { object: name.to_string() }
    }

    /// The TSan runtime and libc: frames there are never where a race is.
    pub fn is_runtime_object(&self, object: &str) -> bool {
        const RUNTIME: [&str; 7] =
            ["libc.so", "libpthread", "ld-linux", "libtsan", "libclang_rt.tsan", "libdl", "librt"];
        let name = file_name(object);
        RUNTIME.iter().any(|p| name.starts_with(p))
    }
}

fn walk(root: &Path, dir: &Path, depth: usize, seen: &mut usize, visit: &mut dyn FnMut(&Path)) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return;
        }
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() {
            walk(root, &path, depth + 1, seen, visit);
        } else if let Ok(relative) = path.strip_prefix(root) {
            visit(relative);
        }
    }
}

/// Shared objects listed by each `*.dist-info/RECORD` under `root`, by their path relative to
/// it, to the distribution's name (from the directory name, `name-version.dist-info`).
fn record_index(root: &Path) -> HashMap<PathBuf, String> {
    use std::io::Read;
    let mut index = HashMap::new();
    let Ok(entries) = std::fs::read_dir(root) else { return index };
    for entry in entries.flatten().take(MAX_ENTRIES) {
        let dir = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = dir.strip_suffix(".dist-info") else { continue };
        let name = stem.split('-').next().unwrap_or(stem).to_string();
        let Ok(file) = std::fs::File::open(entry.path().join("RECORD")) else { continue };
        let mut text = String::new();
        if file.take(MAX_RECORD_BYTES).read_to_string(&mut text).is_err() {
            continue;
        }
        for line in text.lines() {
            let path = line.split(',').next().unwrap_or("").trim_matches('"');
            if is_shared_object(path) && !path.starts_with("..") {
                index.insert(PathBuf::from(path), name.clone());
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_packages_and_lib_dynload_are_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site-packages");
        let dynload = dir.path().join("lib-dynload");
        for path in [
            site.join("racecounter/_counter.cpython-314t-x86_64-linux-gnu.so"),
            site.join("loose.cpython-314t-x86_64-linux-gnu.so"),
            site.join("racecounter-0.1.dist-info/RECORD"),
            dynload.join("_asyncio.cpython-314t-x86_64-linux-gnu.so"),
        ] {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
        }
        std::fs::write(
            site.join("racecounter-0.1.dist-info/RECORD"),
            "racecounter/_counter.cpython-314t-x86_64-linux-gnu.so,sha256=x,10\nracecounter/__init__.py,,\n",
        )
        .unwrap();
        let owners =
            Owners::scan(&[site], Some(&dynload), Some(Path::new("/opt/ftpy/versions/3.14.6t-tsan")));
        assert_eq!(
            owners.owner_of("_counter.cpython-314t-x86_64-linux-gnu.so"),
            Owner::Package {
                distribution: Some("racecounter".into()),
                module: "racecounter._counter".into()
            }
        );
        assert_eq!(
            owners.owner_of("/x/loose.cpython-314t-x86_64-linux-gnu.so"),
            Owner::Package { distribution: None, module: "loose".into() }
        );
        assert_eq!(owners.owner_of("_asyncio.cpython-314t-x86_64-linux-gnu.so"), Owner::CPython);
        assert_eq!(owners.owner_of("python3.14t"), Owner::CPython);
        assert_eq!(owners.owner_of("/src/Python-3.14.6/python"), Owner::CPython);
        assert_eq!(owners.owner_of("/opt/ftpy/versions/3.14.6t-tsan/lib/libffi-ish.so"), Owner::CPython);
        assert_eq!(
            owners.owner_of(
                "/p/.venv-tsan/lib/python3.14t/site-packages/pkg/sub/_x.cpython-314t-x86_64-linux-gnu.so"
            ),
            Owner::Package { distribution: None, module: "pkg.sub._x".into() }
        );
        assert_eq!(owners.owner_of("libpython3.14t.so.1.0"), Owner::CPython);
        assert_eq!(owners.owner_of("libstdc++.so.6"), Owner::System { object: "libstdc++.so.6".into() });
        assert_eq!(owners.owner_of("libfoo.so"), Owner::Unknown { object: "libfoo.so".into() });
        assert!(owners.is_runtime_object("libc.so.6") && !owners.is_runtime_object("libfoo.so"));
        assert_eq!(
            owners.owner_of("built.cpython-314t-x86_64-linux-gnu.so"),
            Owner::Package { distribution: None, module: "built".into() }
        );
    }
}
