//! Installed interpreters, their receipts, and the `<home>/bin` links to them.
//!
//! A directory under `<home>/versions/` is an installation only once its receipt exists: the
//! receipt is written last, atomically, after the checks passed. ftpy deletes a tree under
//! `versions/` only when it can prove it left the tree half-made: a journal (see
//! [`crate::interpreters::journal`]) names every tree an install is moving. Anything else there without a
//! readable receipt is [`Damaged`]: `list` shows it, `which` skips it, `install` refuses to touch
//! it without `--reinstall`, and `uninstall` removes it.
//!
//! A ThreadSanitizer build (`3.14.6t-tsan`, [`BuildKind::Tsan`]) is an installation of its own
//! beside the release build: a request picks it only when it says `-tsan`, pairs and the
//! newest-installed lookups for environments never do, and its `<home>/bin` links carry the
//! suffix (`python3.14t-tsan`). It holds CPython's TSan suppressions at
//! [`Installation::tsan_suppressions`]; [`newest_tsan`] finds one for `ftpy run --tsan`.
//!
//! Receipts carry a `format` (absent: 1) and are read tolerantly: unknown fields are ignored and
//! every field but `key` has a default, so a receipt from an older or newer ftpy still reads.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::interpreters::digest::Sha256Digest;
use crate::interpreters::home::Home;
use crate::interpreters::post_install_check::CheckReport;
use crate::interpreters::version::{BuildKind, InstallKey, MinorVersion, Variant, Version, VersionRequest};

pub const RECEIPT_FILE: &str = "ftpy-receipt.json";

/// The receipt format this ftpy writes. A receipt without the field is format 1.
pub const RECEIPT_FORMAT: u32 = 1;

fn first_format() -> u32 {
    1
}

/// What was built and how, recorded beside the installation. Only `key` is required.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(default = "first_format")]
    pub format: u32,
    pub key: String,
    #[serde(default)]
    pub source_url: String,
    #[serde(default)]
    pub source_sha256: Option<Sha256Digest>,
    #[serde(default)]
    pub profile: String,
    #[serde(default)]
    pub configure_args: Vec<String>,
    /// The C compiler of the build, `clang-19: Debian clang version 19.1.7 (...)`: its name and
    /// the first line of its `--version` (empty in receipts before this field).
    #[serde(default)]
    pub compiler: String,
    #[serde(default)]
    pub build_seconds: f64,
    /// Where the build's time went, phase by phase (empty for a tree restored from a cache).
    #[serde(default, skip_serializing_if = "crate::interpreters::build::timing::BuildTimes::is_empty")]
    pub build_phases: crate::interpreters::build::timing::BuildTimes,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub installed_at: u64,
    /// The build cache entry this tree came from or went into.
    #[serde(default)]
    pub build_cache_key: Option<String>,
    #[serde(default)]
    pub restored_from_cache: bool,
    #[serde(default)]
    pub checks: CheckReport,
}

/// A tree under `versions/` that no receipt makes an installation and no journal explains.
#[derive(Clone, Debug)]
pub struct Damaged {
    pub key: InstallKey,
    pub prefix: PathBuf,
    /// What is wrong, e.g. `its receipt ftpy-receipt.json is missing`.
    pub problem: String,
}

/// What a receipt read found.
pub enum ReceiptState {
    Valid(Box<Receipt>),
    /// Nothing at the prefix at all.
    Absent,
    /// Something is there, but not an installation: the reason.
    Damaged(String),
}

#[derive(Clone, Debug)]
pub struct Installation {
    pub key: InstallKey,
    pub prefix: PathBuf,
    pub receipt: Receipt,
}

/// Where a TSan installation keeps CPython's suppressions, relative to its prefix.
pub const TSAN_SUPPRESSIONS: &str = "share/ftpy/tsan-suppressions.txt";

impl Installation {
    pub fn interpreter(&self) -> PathBuf {
        self.prefix.join("bin").join(self.key.interpreter_name())
    }

    /// `<prefix>/share/ftpy/tsan-suppressions.txt`: CPython's own ThreadSanitizer suppressions
    /// for the free-threaded build (`Tools/tsan/suppressions_free_threading.txt` of its source),
    /// copied there by the build. Only a [`BuildKind::Tsan`] installation has one.
    pub fn tsan_suppressions(&self) -> Option<PathBuf> {
        (self.key.build == BuildKind::Tsan).then(|| tsan_suppressions_at(&self.prefix))
    }
}

/// [`TSAN_SUPPRESSIONS`] under `prefix`.
pub fn tsan_suppressions_at(prefix: &Path) -> PathBuf {
    prefix.join(TSAN_SUPPRESSIONS)
}

/// Every complete installation, oldest version first.
pub fn installed(home: &Home) -> io::Result<Vec<Installation>> {
    Ok(scan(home)?.0)
}

/// The installations and the damaged trees under `versions/`, each oldest version first.
/// Entries whose name is no install key are not ftpy's and are left out.
pub fn scan(home: &Home) -> io::Result<(Vec<Installation>, Vec<Damaged>)> {
    let entries = match fs::read_dir(home.versions_dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let (mut found, mut damaged) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let Ok(key) = entry.file_name().to_string_lossy().parse::<InstallKey>() else {
            continue;
        };
        let prefix = entry.path();
        match receipt_state(&prefix, &key) {
            ReceiptState::Valid(receipt) => found.push(Installation { key, prefix, receipt: *receipt }),
            // A journal explains it: an install in progress, or one the next command recovers.
            ReceiptState::Damaged(_) if home.journal_path(&key).exists() => {}
            ReceiptState::Damaged(problem) => damaged.push(Damaged { key, prefix, problem }),
            ReceiptState::Absent => {}
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    damaged.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((found, damaged))
}

/// The newest installation the request accepts, in the requested variant only.
pub fn find_installed(home: &Home, request: &VersionRequest) -> io::Result<Option<Installation>> {
    Ok(matching_installed(home, request)?.pop())
}

/// Every installation the request accepts, oldest first: in its variant and build kind only
/// (`3.14t` never gives `3.14.6t-tsan`). Unlike recipe resolution, a pre-release counts: if it
/// is installed, it was asked for.
pub fn matching_installed(home: &Home, request: &VersionRequest) -> io::Result<Vec<Installation>> {
    Ok(installed(home)?.into_iter().filter(|i| request.accepts_key(&i.key)).collect())
}

/// The newest release installation of `variant` whose version `accepts` takes: a project's
/// wish, say, which may be a specifier set rather than a request. Never a TSan build.
pub fn newest_installed(
    home: &Home,
    variant: Variant,
    accepts: impl Fn(&Version) -> bool,
) -> io::Result<Option<Installation>> {
    Ok(installed(home)?
        .into_iter()
        .rfind(|i| i.key.variant == variant && i.key.build == BuildKind::Release && accepts(&i.key.version)))
}

/// The newest ThreadSanitizer installation, of `series` when given (finals before
/// pre-releases of the same series are not preferred: the newest version wins, as `which`).
/// What `ftpy run --tsan` and `ftpy venv --tsan` base the TSan environment on.
pub fn newest_tsan(home: &Home, series: Option<MinorVersion>) -> io::Result<Option<Installation>> {
    Ok(installed(home)?
        .into_iter()
        .rfind(|i| i.key.build == BuildKind::Tsan && series.is_none_or(|s| i.key.version.series() == s)))
}

/// Versions installed in both release builds, oldest first, as (GIL, free-threaded).
pub fn installed_pairs(home: &Home) -> io::Result<Vec<(Installation, Installation)>> {
    let all: Vec<Installation> =
        installed(home)?.into_iter().filter(|i| i.key.build == BuildKind::Release).collect();
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

/// The receipt of the installation at `prefix`, if it has a valid one.
pub fn read_receipt(prefix: &Path) -> Option<Receipt> {
    let key = prefix.file_name()?.to_string_lossy().parse::<InstallKey>().ok()?;
    match receipt_state(prefix, &key) {
        ReceiptState::Valid(receipt) => Some(*receipt),
        _ => None,
    }
}

/// Whether `prefix` holds the installation `key`, nothing, or something damaged (and what).
pub fn receipt_state(prefix: &Path, key: &InstallKey) -> ReceiptState {
    match fs::symlink_metadata(prefix) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return ReceiptState::Absent,
        Err(e) => return ReceiptState::Damaged(format!("it cannot be read: {e}")),
        Ok(meta) if meta.file_type().is_symlink() => {
            return ReceiptState::Damaged("it is a symbolic link, not a directory".into());
        }
        Ok(meta) if !meta.is_dir() => return ReceiptState::Damaged("it is a file, not a directory".into()),
        Ok(_) => {}
    }
    let text = match read_small_file(&prefix.join(RECEIPT_FILE), MAX_RECEIPT_BYTES) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return ReceiptState::Damaged(format!("its receipt {RECEIPT_FILE} is missing"));
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            return ReceiptState::Damaged(format!("its receipt {RECEIPT_FILE} {e}"));
        }
        Err(e) => return ReceiptState::Damaged(format!("its receipt {RECEIPT_FILE} cannot be read: {e}")),
    };
    match serde_json::from_slice::<Receipt>(&text) {
        Ok(receipt) if receipt.key == key.to_string() => ReceiptState::Valid(Box::new(receipt)),
        Ok(receipt) => {
            ReceiptState::Damaged(format!("its receipt {RECEIPT_FILE} names {:?}, not {key}", receipt.key))
        }
        Err(e) => ReceiptState::Damaged(format!("its receipt {RECEIPT_FILE} is unreadable: {e}")),
    }
}

/// A receipt is a few KiB; anything much larger is not one.
const MAX_RECEIPT_BYTES: u64 = 1 << 20;

/// The contents of `path`, a regular file of at most `limit` bytes. Opened without blocking and
/// checked on the open handle, so a FIFO (which would wait for a writer) or a device (which
/// may never end) is refused, as is a file too large: an `InvalidInput` error that says which.
pub fn read_small_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is larger than {} KiB", limit / 1024),
        ));
    }
    Ok(bytes)
}

/// Write the receipt atomically: it appears whole or not at all.
pub fn write_receipt(prefix: &Path, receipt: &Receipt) -> io::Result<()> {
    let text = serde_json::to_string_pretty(receipt).map_err(io::Error::other)?;
    crate::system::files::write_atomic(&prefix.join(RECEIPT_FILE), (text + "\n").as_bytes())
}

/// Point `<home>/bin/python<X.Y>[t][-tsan]` (and `pip<X.Y>[t][-tsan]`) at the newest installed
/// build of each series, variant and build kind, and remove links whose target is gone. Each link is replaced by
/// a rename, so a reader never sees it missing.
pub fn refresh_links(home: &Home) -> io::Result<()> {
    let bin = home.bin_dir();
    fs::create_dir_all(&bin)?;
    fs::create_dir_all(home.locks_dir())?;
    // Two processes installing different versions must not undo each other's links.
    let lock = fs::File::create(home.locks_dir().join("bin.lock"))?;
    lock.lock()?;
    let installed = installed(home).unwrap_or_default();
    let mut wanted: Vec<(String, PathBuf)> = Vec::new();
    for inst in &installed {
        let newest = installed
            .iter()
            .filter(|o| {
                o.key.version.series() == inst.key.version.series()
                    && o.key.variant == inst.key.variant
                    && o.key.build == inst.key.build
            })
            .max_by(|a, b| a.key.version.cmp(&b.key.version))
            .is_some_and(|n| n.key == inst.key);
        if !newest {
            continue;
        }
        // A free-threaded build installs python3.13t but names its pip pip3.13.
        let series = inst.key.version.series();
        let suffix = inst.key.variant.suffix();
        let build = inst.key.build.suffix();
        for (link, file) in [
            (inst.key.link_name(), inst.key.interpreter_name()),
            (format!("pip{series}{suffix}{build}"), format!("pip{series}")),
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
    let versions = home.versions_dir();
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
pub fn linked_name(home: &Home, inst: &Installation) -> Option<PathBuf> {
    let link = home.bin_dir().join(inst.key.link_name());
    let target = fs::read_link(&link).ok()?;
    target.starts_with(&inst.prefix).then_some(link)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    fs::copy(target, link).map(|_| ())
}
