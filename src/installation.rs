//! Installed interpreters and their receipts.
//!
//! A directory under `<home>/versions/` is an installation only once its receipt exists: the
//! receipt is written last, atomically, after the checks passed. A directory without one (a crash
//! between the move and the checks) is invisible to `list` and `which`, and the next install of
//! that key clears it away.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::CheckReport;
use crate::digest::Sha256Digest;
use crate::home::Home;
use crate::version::{InstallKey, Variant, VersionRequest};

pub const RECEIPT_FILE: &str = "ftpy-receipt.json";

/// What was built and how, recorded beside the installation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    pub key: String,
    pub source_url: String,
    pub source_sha256: Sha256Digest,
    pub profile: String,
    pub configure_args: Vec<String>,
    pub build_seconds: f64,
    /// Seconds since the Unix epoch.
    pub installed_at: u64,
    /// The build cache entry this tree came from or went into.
    #[serde(default)]
    pub build_cache_key: Option<String>,
    #[serde(default)]
    pub restored_from_cache: bool,
    pub checks: CheckReport,
}

#[derive(Clone, Debug)]
pub struct Installation {
    pub key: InstallKey,
    pub prefix: PathBuf,
    pub receipt: Receipt,
}

impl Installation {
    pub fn interpreter(&self) -> PathBuf {
        self.prefix.join("bin").join(self.key.interpreter_name())
    }
}

/// Every complete installation, oldest version first.
pub fn installed(home: &Home) -> io::Result<Vec<Installation>> {
    let entries = match fs::read_dir(home.versions_dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(key) = entry.file_name().to_string_lossy().parse::<InstallKey>() else {
            continue;
        };
        let prefix = entry.path();
        if let Some(receipt) = read_receipt(&prefix) {
            found.push(Installation { key, prefix, receipt });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

/// The newest installation the request accepts, in the requested variant only.
pub fn find_installed(home: &Home, request: &VersionRequest) -> io::Result<Option<Installation>> {
    Ok(matching_installed(home, request)?.pop())
}

/// Every installation the request accepts, oldest first. Unlike recipe resolution, a
/// pre-release counts: if it is installed, it was asked for.
pub fn matching_installed(home: &Home, request: &VersionRequest) -> io::Result<Vec<Installation>> {
    Ok(installed(home)?
        .into_iter()
        .filter(|i| i.key.variant == request.variant && request.matches(&i.key.version))
        .collect())
}

/// Versions installed in both builds, oldest first, as (GIL, free-threaded).
pub fn installed_pairs(home: &Home) -> io::Result<Vec<(Installation, Installation)>> {
    let all = installed(home)?;
    let mut pairs = Vec::new();
    for gil in all.iter().filter(|i| i.key.variant == Variant::Gil) {
        if let Some(ft) =
            all.iter().find(|i| i.key.variant == Variant::Freethreaded && i.key.version == gil.key.version)
        {
            pairs.push((gil.clone(), ft.clone()));
        }
    }
    Ok(pairs)
}

pub fn read_receipt(prefix: &Path) -> Option<Receipt> {
    let text = fs::read_to_string(prefix.join(RECEIPT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Write the receipt through a temporary file and a rename: it appears whole or not at all.
pub fn write_receipt(prefix: &Path, receipt: &Receipt) -> io::Result<()> {
    let temporary = prefix.join(format!(".{RECEIPT_FILE}.partial"));
    let text = serde_json::to_string_pretty(receipt).map_err(io::Error::other)?;
    fs::write(&temporary, text + "\n")?;
    fs::File::open(&temporary)?.sync_all()?;
    fs::rename(&temporary, prefix.join(RECEIPT_FILE))
}

/// Remove an installation (or the remains of a failed one) so that no reader sees it half
/// gone: it is first renamed out of `versions/` into `tmp/`, then deleted.
pub fn remove_tree(home: &Home, prefix: &Path) -> io::Result<()> {
    if fs::symlink_metadata(prefix).is_err() {
        return Ok(());
    }
    fs::create_dir_all(home.tmp_dir())?;
    let name = prefix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let trash = home.tmp_dir().join(format!("removing-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&trash);
    fs::rename(prefix, &trash)?;
    fs::remove_dir_all(&trash)
}
