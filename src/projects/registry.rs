//! The projects whose twin environments ftpy made, so that `ftpy uninstall` can tell which of
//! them an installation is the base of. One small file per project under `<home>/projects/`,
//! named by a digest of the project's path and holding that path; the environments' own records
//! (`ftpy-venv.json`) say which installation each was made from. A project that no longer has
//! environments made by ftpy is dropped from the registry when it is next read.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::interpreters::digest::sha256_reader;
use crate::interpreters::home::Home;
use crate::interpreters::version::{InstallKey, Variant};
use crate::projects::twin_venvs::Environment;

/// Reading stops here: a registry is one file per project a user works on.
const MOST_PROJECTS: usize = 10_000;
const LARGEST_ENTRY: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    root: PathBuf,
}

fn registry_dir(home: &Home) -> PathBuf {
    home.root().join("projects")
}

/// Remember that `root` has environments made by ftpy. Written whole or not at all
/// (`write_atomic`); a failure here costs only the warning in `uninstall`, so it is returned for the
/// caller to report, never to fail the command.
pub fn register(home: &Home, root: &Path) -> io::Result<()> {
    let dir = registry_dir(home);
    fs::create_dir_all(&dir)?;
    let digest = sha256_reader(root.as_os_str().as_encoded_bytes())?.to_string();
    let path = dir.join(format!("{}.json", &digest[..16]));
    let text = serde_json::to_string(&Entry { root: root.to_path_buf() }).map_err(io::Error::other)?;
    crate::system::files::write_atomic(&path, (text + "\n").as_bytes())
}

/// The environments (of registered projects) made from the installation `key` at `prefix`.
pub fn dependents(home: &Home, key: &InstallKey, prefix: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(registry_dir(home)) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten().take(MOST_PROJECTS) {
        let path = entry.path();
        let Some(root) = read_entry(&path) else { continue };
        let mut any_env = false;
        for variant in [Variant::Gil, Variant::Freethreaded] {
            let env = Environment::in_project(&root, variant);
            let Some(record) = env.record() else { continue };
            any_env = true;
            if record.key == key.to_string() && record.base_interpreter.starts_with(prefix) {
                found.push(env.path.clone());
            }
        }
        if !any_env {
            // The project or its environments are gone: nothing to protect any more.
            let _ = fs::remove_file(&path);
        }
    }
    found.sort();
    found
}

fn read_entry(path: &Path) -> Option<PathBuf> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || path.extension().is_none_or(|e| e != "json") {
        return None;
    }
    let mut text = String::new();
    fs::File::open(path).ok()?.take(LARGEST_ENTRY).read_to_string(&mut text).ok()?;
    serde_json::from_str::<Entry>(&text).ok().map(|e| e.root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::twin_venvs::EnvRecord;

    #[test]
    fn environments_made_from_an_installation_are_found_until_they_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::locate(Some(dir.path().join("home"))).unwrap();
        let prefix = home.root().join("versions/3.14.6t");
        let key: InstallKey = "3.14.6t".parse().unwrap();
        let project = dir.path().join("proj");
        let ft = Environment::in_project(&project, Variant::Freethreaded);
        fs::create_dir_all(&ft.path).unwrap();
        let record = |key: &str| EnvRecord {
            key: key.into(),
            base_interpreter: prefix.join("bin/python3.14t"),
            requirements: "requirements.txt".into(),
            created_at: 0,
        };
        ft.write_record(&record("3.14.6t")).unwrap();
        assert!(dependents(&home, &key, &prefix).is_empty(), "not registered yet");
        register(&home, &project).unwrap();
        register(&home, &project).unwrap();
        assert_eq!(dependents(&home, &key, &prefix), vec![ft.path.clone()]);
        let other: InstallKey = "3.14.6".parse().unwrap();
        assert!(dependents(&home, &other, &home.root().join("versions/3.14.6")).is_empty());
        // A record of another installation, a garbage entry, then the environments gone.
        fs::write(registry_dir(&home).join("junk.json"), "{not json").unwrap();
        assert_eq!(dependents(&home, &key, &prefix).len(), 1);
        fs::remove_dir_all(&project).unwrap();
        assert!(dependents(&home, &key, &prefix).is_empty());
        let left: Vec<_> =
            fs::read_dir(registry_dir(&home)).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("junk.json")], "the gone project is forgotten");
    }
}
