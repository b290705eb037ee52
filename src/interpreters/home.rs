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

    /// `<home>/tmp/journal-<key>.json`: the journal of an install of `key` in progress (see
    /// [`crate::interpreters::journal`]).
    pub fn journal_path(&self, key: &InstallKey) -> PathBuf {
        self.tmp_dir().join(format!("journal-{key}.json"))
    }
}

impl crate::error::Diagnose for HomeError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::LocalError
    }

    fn hints(&self) -> Vec<String> {
        vec!["set FTPY_HOME to a directory you can write to".into()]
    }
}
