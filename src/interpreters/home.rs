//! The ftpy home and its layout. Everything ftpy writes lives under one root:
//!
//! ```text
//! <home>/versions/<key>/   installed interpreters (3.13.5, 3.13.5t), each with a receipt
//! <home>/bin/              python3.13, python3.13t, ...: links to the newest build of each series
//! <home>/cache/sources/    downloaded tarballs, named by their sha256
//! <home>/cache/builds/     installed trees of earlier builds, keyed by their build inputs
//! <home>/logs/             one build log per install, one pip log per environment
//! <home>/wheels/<key>/      wheels rebuilt for one interpreter (`ftpy wheels build`)
//! <home>/locks/            one lock file per install key; `<pgid>.pgid` per running build
//! <home>/tmp/              staging directories; same file system as versions/, for atomic renames;
//!                          install journals and set-aside trees (see `journal.rs`)
//! <home>/damaged/          damaged trees that `install --reinstall` replaced, kept for the user
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::interpreters::installation::{self, Installation};
use crate::interpreters::version::InstallKey;

#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot tell where ftpy should keep its files: no data directory for this user")]
    NoDataDir,
    #[error("cannot create the ftpy home at {}", path.display())]
    NotWritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Home {
    /// `FTPY_HOME` when set, else the platform's data directory (`~/.local/share/ftpy` on Linux).
    pub fn locate(explicit: Option<PathBuf>) -> Result<Home, HomeError> {
        let root = match explicit {
            Some(path) => path,
            None => dirs::data_dir().ok_or(HomeError::NoDataDir)?.join("ftpy"),
        };
        let root = if root.is_relative() {
            std::env::current_dir().map(|cwd| cwd.join(&root)).unwrap_or(root)
        } else {
            root
        };
        Ok(Home { root })
    }

    /// Create the directories ftpy writes into; reading commands never call this.
    pub fn create(&self) -> Result<(), HomeError> {
        for dir in [
            self.versions_dir(),
            self.bin_dir(),
            self.sources_dir(),
            self.logs_dir(),
            self.locks_dir(),
            self.tmp_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(|source| HomeError::NotWritable { path: dir, source })?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn versions_dir(&self) -> PathBuf {
        self.root.join("versions")
    }

    pub fn version_dir(&self, key: &InstallKey) -> PathBuf {
        self.versions_dir().join(key.to_string())
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    pub fn sources_dir(&self) -> PathBuf {
        self.cache_dir().join("sources")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn builds_dir(&self) -> PathBuf {
        self.cache_dir().join("builds")
    }

    /// Wheels built from source for one installed interpreter, e.g. `<home>/wheels/3.13.5t`.
    pub fn wheelhouse_dir(&self, key: &InstallKey) -> PathBuf {
        self.root.join("wheels").join(key.to_string())
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Point `<home>/bin/python<X.Y>[t]` (and `pip<X.Y>[t]`) at the newest installed build of
    /// each series and variant, and remove links whose target is gone. Each link is replaced by
    /// a rename, so a reader never sees it missing.
    pub fn refresh_links(&self) -> io::Result<()> {
        let bin = self.bin_dir();
        fs::create_dir_all(&bin)?;
        fs::create_dir_all(self.locks_dir())?;
        // Two processes installing different versions must not undo each other's links.
        let lock = fs::File::create(self.locks_dir().join("bin.lock"))?;
        lock.lock()?;
        let installed = installation::installed(self).unwrap_or_default();
        let mut wanted: Vec<(String, PathBuf)> = Vec::new();
        for inst in &installed {
            let newest = installed
                .iter()
                .filter(|o| {
                    o.key.version.series() == inst.key.version.series() && o.key.variant == inst.key.variant
                })
                .max_by(|a, b| a.key.version.cmp(&b.key.version))
                .is_some_and(|n| n.key == inst.key);
            if !newest {
                continue;
            }
            // A free-threaded build installs python3.13t but names its pip pip3.13.
            let series = inst.key.version.series();
            let suffix = inst.key.variant.suffix();
            for (link, file) in [
                (format!("python{series}{suffix}"), format!("python{series}{suffix}")),
                (format!("pip{series}{suffix}"), format!("pip{series}")),
            ] {
                let target = inst.prefix.join("bin").join(file);
                if target.exists() {
                    wanted.push((link, target));
                }
            }
        }
        for (name, target) in &wanted {
            let link = bin.join(name);
            if fs::read_link(&link).is_ok_and(|current| &current == target) {
                continue;
            }
            let temporary = bin.join(format!(".{name}.{}", std::process::id()));
            let _ = fs::remove_file(&temporary);
            symlink(target, &temporary)?;
            fs::rename(&temporary, &link)?;
        }
        let versions = self.versions_dir();
        for entry in fs::read_dir(&bin)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = fs::read_link(&path).is_ok_and(|t| t.starts_with(&versions));
            if ours && !wanted.iter().any(|(n, _)| *n == name) {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// The `<home>/bin` link that points at this installation, if the installation is the one
    /// linked for its series (what `list` marks with `*`).
    pub fn linked_name(&self, inst: &Installation) -> Option<PathBuf> {
        let link = self.bin_dir().join(inst.key.interpreter_name());
        let target = fs::read_link(&link).ok()?;
        target.starts_with(&inst.prefix).then_some(link)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    fs::copy(target, link).map(|_| ())
}

impl crate::error::Diagnose for HomeError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::LocalError
    }

    fn hints(&self) -> Vec<String> {
        vec!["set FTPY_HOME to a directory you can write to".into()]
    }
}
