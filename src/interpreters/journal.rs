//! Crash consistency of `<home>/versions`: the journal an install writes before it moves any
//! tree, and the recovery every later command runs first.
//!
//! Before an install moves a tree into `versions/<key>`, it writes `<home>/tmp/journal-<key>.json`
//! (atomically, with fsync) naming the key and, on `--reinstall`, where the previous tree is set
//! aside (`<home>/tmp/previous-<key>-<unique>`, outside any staging directory). The journal is
//! removed only once the install is committed (receipt written, previous tree dropped) or rolled
//! back. If ftpy is killed in between, the next command that reads or changes installations
//! finds the journal and, when no live process holds the key's lock, finishes or undoes it:
//!
//! - the new tree has its receipt: it is the installation; the set-aside previous one goes (a
//!   damaged previous tree is kept in `<home>/damaged/`);
//! - it has none: it is removed (the journal proves it half-made) and the previous tree comes
//!   back.
//!
//! Trees on their way out (`tmp/removing-<key>-*`, from `uninstall`) and staging directories
//! whose keys nobody holds are deleted too. Nothing else under `versions/` is ever deleted by
//! recovery: a tree no journal explains is damaged, not garbage.
//!
//! [`kill_point`] is a test hook at each boundary between these steps: with
//! `FTPY_TEST_PAUSE_AT=<name>`, ftpy writes the name to `FTPY_TEST_PAUSE_FILE` and waits there to
//! be killed (tests/crash.rs). Without the variable it does nothing.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::interpreters::home::Home;
use crate::interpreters::installation;
use crate::interpreters::version::InstallKey;
use crate::output::progress::Reporter;

const JOURNAL_PREFIX: &str = "journal-";
const ASIDE_PREFIX: &str = "previous-";
const JOURNAL_FORMAT: u32 = 1;

/// The boundaries between the steps that change `versions/` or a project's environments, where
/// a test can kill ftpy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillPoint {
    /// The source is unpacked in the staging directory; nothing is built yet.
    SourceUnpacked,
    /// A build-cache archive is unpacked in the staging directory.
    RestoreUnpacked,
    /// The journal is written; nothing has moved.
    JournalWritten,
    /// `--reinstall`: the previous tree is set aside; `versions/<key>` is empty.
    PreviousSetAside,
    /// The new tree is in `versions/<key>`, without a receipt; the checks are about to run.
    Placed,
    /// The checks passed; the receipt is not written yet.
    Checked,
    /// The receipt is written; the set-aside previous tree is still there.
    ReceiptWritten,
    /// The previous tree is dropped; the journal is not removed yet.
    Committed,
    /// Installed; keeping a copy in the build cache.
    StoringInCache,
    /// A tree is renamed out of `versions/` into `tmp/removing-*`, not yet deleted.
    TreeMovedOut,
    /// `ftpy venv`: both old environments are set aside.
    VenvSetAside,
    /// `ftpy venv`: both new environments are made and checked, without their records.
    VenvFilled,
    /// `ftpy venv`: both records are written; the old environments are still set aside.
    VenvRecordsWritten,
}

impl KillPoint {
    pub const ALL: [KillPoint; 13] = [
        KillPoint::SourceUnpacked,
        KillPoint::RestoreUnpacked,
        KillPoint::JournalWritten,
        KillPoint::PreviousSetAside,
        KillPoint::Placed,
        KillPoint::Checked,
        KillPoint::ReceiptWritten,
        KillPoint::Committed,
        KillPoint::StoringInCache,
        KillPoint::TreeMovedOut,
        KillPoint::VenvSetAside,
        KillPoint::VenvFilled,
        KillPoint::VenvRecordsWritten,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KillPoint::SourceUnpacked => "install:source-unpacked",
            KillPoint::RestoreUnpacked => "install:restore-unpacked",
            KillPoint::JournalWritten => "install:journal-written",
            KillPoint::PreviousSetAside => "install:previous-set-aside",
            KillPoint::Placed => "install:placed",
            KillPoint::Checked => "install:checked",
            KillPoint::ReceiptWritten => "install:receipt-written",
            KillPoint::Committed => "install:committed",
            KillPoint::StoringInCache => "install:storing-in-cache",
            KillPoint::TreeMovedOut => "remove:moved-out",
            KillPoint::VenvSetAside => "venv:set-aside",
            KillPoint::VenvFilled => "venv:filled",
            KillPoint::VenvRecordsWritten => "venv:records-written",
        }
    }
}

/// How long a paused ftpy waits to be killed before it goes on: a bound, not a timing.
const PAUSE_LIMIT: Duration = Duration::from_secs(600);

/// Test hook: with `FTPY_TEST_PAUSE_AT` naming this point, write the name to
/// `FTPY_TEST_PAUSE_FILE` and wait (up to [`PAUSE_LIMIT`]) to be killed. Otherwise nothing.
pub fn kill_point(point: KillPoint) {
    let Some(wanted) = std::env::var_os("FTPY_TEST_PAUSE_AT") else { return };
    if wanted != point.name() {
        return;
    }
    if let Some(file) = std::env::var_os("FTPY_TEST_PAUSE_FILE") {
        let _ = fs::write(file, point.name());
    }
    std::thread::sleep(PAUSE_LIMIT);
}

pub use crate::system::files::{sync_dir, unique_tag};

/// Where `--reinstall` sets the previous tree of `key` aside.
pub fn aside_path(home: &Home, key: &InstallKey) -> PathBuf {
    home.tmp_dir().join(format!("{ASIDE_PREFIX}{key}-{}", unique_tag()))
}

/// Where a damaged tree replaced by `--reinstall` is kept: `<home>/damaged/<key>-<unique>`.
pub fn damaged_backup_path(home: &Home, key: &InstallKey) -> PathBuf {
    home.root().join("damaged").join(format!("{key}-{}", unique_tag()))
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    key: String,
    pid: u32,
    /// Where the previous tree is set aside, when there is one.
    previous: Option<PathBuf>,
    /// The previous tree was damaged: keep it in `<home>/damaged/` rather than delete it.
    #[serde(default)]
    keep_previous: bool,
}

/// An install of one key in progress. Dropping it leaves the journal for recovery; only
/// [`Journal::finish`] removes it.
pub struct Journal {
    path: PathBuf,
}

/// `<home>/tmp/journal-<key>.json`.
pub fn journal_path(home: &Home, key: &InstallKey) -> PathBuf {
    home.journal_path(key)
}

impl Journal {
    /// Write the journal (durably) before anything under `versions/<key>` moves.
    pub fn begin(
        home: &Home,
        key: &InstallKey,
        previous: Option<&Path>,
        keep_previous: bool,
    ) -> io::Result<Journal> {
        let record = Record {
            format: JOURNAL_FORMAT,
            key: key.to_string(),
            pid: std::process::id(),
            previous: previous.map(Path::to_path_buf),
            keep_previous,
        };
        let path = journal_path(home, key);
        let text = serde_json::to_string_pretty(&record).map_err(io::Error::other)?;
        crate::system::files::write_atomic(&path, (text + "\n").as_bytes())?;
        kill_point(KillPoint::JournalWritten);
        Ok(Journal { path })
    }

    /// The install is committed or rolled back: nothing is left to recover.
    pub fn finish(self) -> io::Result<()> {
        fs::remove_file(&self.path)?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Drop the set-aside previous tree of a committed install: delete it, or keep a damaged one
/// in `<home>/damaged/`. Returns what was done, for the user.
pub fn drop_previous(home: &Home, key: &InstallKey, aside: &Path, keep: bool) -> io::Result<String> {
    if keep {
        let backup = damaged_backup_path(home, key);
        if let Some(dir) = backup.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::rename(aside, &backup)?;
        return Ok(format!(
            "the damaged tree that was {} is kept at {}; delete it once nothing in it is needed",
            home.version_dir(key).display(),
            backup.display()
        ));
    }
    fs::remove_dir_all(aside)?;
    Ok(format!("removed the previous {key}"))
}

/// Finish or undo what an install of `key` left in its journal. The caller holds the key's
/// lock. Returns what was done, for the user; an error leaves the journal for the next try.
pub fn recover_key(home: &Home, key: &InstallKey) -> io::Result<Vec<String>> {
    let path = journal_path(home, key);
    // Bounded and non-blocking: a journal is a few hundred bytes.
    let read = installation::read_small_file(&path, 1 << 20).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    });
    let text = match read {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(with(format!("cannot read the journal {}", path.display()))(e)),
    };
    let record: Record = serde_json::from_str(&text)
        .map_err(|e| io::Error::other(format!("the journal {} is unreadable: {e}", path.display())))?;
    if record.format > JOURNAL_FORMAT {
        return Err(io::Error::other(format!(
            "the journal {} was written by a newer ftpy (format {})",
            path.display(),
            record.format
        )));
    }
    // Never act on a path the journal should not name: only ftpy's own set-aside trees, in
    // this home's tmp/ (found by name, so a home that moved still recovers).
    let aside_prefix = format!("{ASIDE_PREFIX}{key}-");
    let previous = match record.previous.as_deref().map(Path::file_name) {
        Some(Some(name))
            if record.key == key.to_string() && name.to_string_lossy().starts_with(&aside_prefix) =>
        {
            Some(home.tmp_dir().join(name))
        }
        None if record.key == key.to_string() => None,
        _ => {
            return Err(io::Error::other(format!(
                "the journal {} names something else than {key}",
                path.display()
            )));
        }
    };
    let prefix = home.version_dir(key);
    let committed = installation::read_receipt(&prefix).is_some();
    let mut done = Vec::new();
    match previous {
        Some(aside) if fs::symlink_metadata(&aside).is_ok() => {
            if committed {
                let what = drop_previous(home, key, &aside, record.keep_previous)
                    .map_err(with(format!("cannot drop the set-aside {}", aside.display())))?;
                done.push(format!("{key}: an interrupted install had completed; {what}"));
            } else {
                remove_tree(home, &prefix)
                    .map_err(with(format!("cannot remove the half-made {}", prefix.display())))?;
                fs::rename(&aside, &prefix).map_err(with(format!(
                    "cannot put the previous installation {} back as {}",
                    aside.display(),
                    prefix.display()
                )))?;
                done.push(format!(
                    "{key}: put back the previous installation, which an interrupted `ftpy install --reinstall` had set aside"
                ));
            }
        }
        // Nothing was set aside yet (the previous tree is still in place), or it is gone
        // because the install had committed: either way versions/<key> is as it should be.
        Some(_) => {}
        None => {
            if !committed && fs::symlink_metadata(&prefix).is_ok() {
                remove_tree(home, &prefix)
                    .map_err(with(format!("cannot remove the half-made {}", prefix.display())))?;
                done.push(format!("{key}: removed the half-made tree of an interrupted install"));
            }
        }
    }
    fs::remove_file(&path).map_err(with(format!("cannot remove the journal {}", path.display())))?;
    sync_dir(&home.tmp_dir())?;
    Ok(done)
}

/// An I/O error with what was being done, for a message that names the paths.
fn with(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Take `key`'s lock if no process holds it (that process would be the owner of what it
/// left). `None`: it is held, or there is no lock to take (a home that cannot be written).
fn try_lock_key(home: &Home, key: &str) -> Option<File> {
    let dir = home.locks_dir();
    fs::create_dir_all(&dir).ok()?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{key}.lock")))
        .ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => None,
    }
}

/// Before a command reads or changes installations: recover every journal, finish every
/// deletion and remove every staging directory that a dead ftpy left. Work that a live process
/// owns (its key's lock is held) is left alone; nothing here waits. Problems become warnings.
pub fn recover_all(home: &Home, reporter: &Reporter) {
    let Ok(entries) = fs::read_dir(home.tmp_dir()) else { return };
    let mut names: Vec<String> =
        entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    // Journals first: one may name a tree that must come back before anything else is judged.
    names.sort_by_key(|n| !n.starts_with(JOURNAL_PREFIX));
    for name in names {
        let path = home.tmp_dir().join(&name);
        if let Some(key) = name.strip_prefix(JOURNAL_PREFIX).and_then(|r| r.strip_suffix(".json")) {
            let Ok(key) = key.parse::<InstallKey>() else { continue };
            let Some(_lock) = try_lock_key(home, &key.to_string()) else { continue };
            match recover_key(home, &key) {
                Ok(done) => done.into_iter().for_each(|d| reporter.warn(format!("recovered: {d}"))),
                Err(e) => reporter.warn(format!(
                    "cannot recover what an interrupted install of {key} left ({e}); `ftpy list` shows the state"
                )),
            }
        } else if let Some(rest) = name.strip_prefix(TRASH_PREFIX) {
            // `removing-<key>-<pid>-<n>-<nanos>`: finish the deletion.
            let Some(key) = key_before_tag(rest, 3) else { continue };
            let Some(_lock) = try_lock_key(home, key) else { continue };
            let _ = fs::remove_dir_all(&path);
        } else if let Some(rest) = name.strip_prefix(&format!(".{JOURNAL_PREFIX}")) {
            // A journal that was being written (`.journal-<key>.json.<tag>.partial`, see
            // `files::write_atomic`, or `.journal-<key>-<pid>-<n>-<nanos>` from an ftpy before
            // it): nothing had moved yet.
            let current =
                rest.strip_suffix(".partial").and_then(|r| r.split_once(".json.")).map(|(key, _)| key);
            let Some(key) = current.or_else(|| key_before_tag(rest, 3)) else {
                continue;
            };
            if key.parse::<InstallKey>().is_err() {
                continue;
            }
            let Some(_lock) = try_lock_key(home, key) else { continue };
            let _ = fs::remove_file(&path);
        } else if let Some(rest) = name.strip_prefix("install-") {
            // A staging directory: `install-<key>[+<key>]-<random>`.
            let Some((keys, _)) = rest.rsplit_once('-') else { continue };
            let mut locks = Vec::new();
            for key in keys.split('+') {
                match try_lock_key(home, key) {
                    Some(lock) => locks.push(lock),
                    None => break,
                }
            }
            if locks.len() == keys.split('+').count() {
                let _ = fs::remove_dir_all(&path);
            }
        }
    }
}

/// `3.13.5t-12-0-999` with 3 tag parts: `3.13.5t`.
fn key_before_tag(name: &str, parts: usize) -> Option<&str> {
    let mut rest = name;
    for _ in 0..parts {
        rest = rest.rsplit_once('-')?.0;
    }
    rest.parse::<InstallKey>().ok().map(|_| rest)
}

/// Remove an installation (or the remains of a failed one) so that no reader sees it half
/// gone: a directory is first renamed out of `versions/` into `tmp/removing-<key>-<unique>`,
/// then deleted (if ftpy dies in between, the next command finishes the deletion: see
/// [`recover_all`]).
pub fn remove_tree(home: &Home, prefix: &Path) -> io::Result<()> {
    crate::system::files::remove_tree(prefix, &home.tmp_dir(), TRASH_PREFIX, || {
        kill_point(KillPoint::TreeMovedOut)
    })
}

/// `tmp/removing-<key>-<unique>`: a tree on its way out, no longer an installation.
pub const TRASH_PREFIX: &str = "removing-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_point_names_are_distinct() {
        let mut names: Vec<&str> = KillPoint::ALL.iter().map(|p| p.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KillPoint::ALL.len());
    }

    fn home() -> (tempfile::TempDir, Home, InstallKey) {
        let dir = tempfile::TempDir::new().unwrap();
        let home = Home::locate(Some(dir.path().to_path_buf())).unwrap();
        home.create().unwrap();
        (dir, home, "3.13.5t".parse().unwrap())
    }

    /// A tree at `path` holding `file`, with a receipt when `receipt`.
    fn tree(path: &Path, file: &str, receipt: bool) {
        fs::create_dir_all(path).unwrap();
        fs::write(path.join(file), "").unwrap();
        if receipt {
            fs::write(path.join(installation::RECEIPT_FILE), r#"{"key": "3.13.5t"}"#).unwrap();
        }
    }

    #[test]
    fn recovery_restores_or_drops_by_the_receipt_and_never_deletes_an_unmoved_tree() {
        let (_dir, home, key) = home();
        let prefix = home.version_dir(&key);
        // Killed during the checks of a reinstall: the old tree comes back.
        let aside = aside_path(&home, &key);
        Journal::begin(&home, &key, Some(&aside), false).unwrap();
        tree(&aside, "old", true);
        tree(&prefix, "new", false);
        assert_eq!(recover_key(&home, &key).unwrap().len(), 1);
        assert!(prefix.join("old").exists() && !aside.exists());
        assert!(!journal_path(&home, &key).exists());

        // Killed after the receipt: the new tree stays, the old one goes.
        let aside = aside_path(&home, &key);
        Journal::begin(&home, &key, Some(&aside), false).unwrap();
        fs::rename(&prefix, &aside).unwrap();
        tree(&prefix, "new", true);
        recover_key(&home, &key).unwrap();
        assert!(prefix.join("new").exists() && !aside.exists());

        // Killed before a damaged tree was set aside: it is still in place, and stays.
        fs::remove_file(prefix.join(installation::RECEIPT_FILE)).unwrap();
        let aside = aside_path(&home, &key);
        Journal::begin(&home, &key, Some(&aside), true).unwrap();
        assert!(recover_key(&home, &key).unwrap().is_empty());
        assert!(prefix.join("new").exists());

        // A fresh install killed before its receipt: the journal proves the tree half-made.
        Journal::begin(&home, &key, None, false).unwrap();
        assert_eq!(recover_key(&home, &key).unwrap().len(), 1);
        assert!(!prefix.exists());

        // A journal this ftpy cannot read changes nothing and stays.
        tree(&prefix, "new", false);
        fs::write(
            journal_path(&home, &key),
            r#"{"format": 9, "key": "3.13.5t", "pid": 1, "previous": null}"#,
        )
        .unwrap();
        assert!(recover_key(&home, &key).is_err());
        assert!(prefix.join("new").exists() && journal_path(&home, &key).exists());

        // Nor does one that is a FIFO (it would wait for a writer) or endless: an error, at once.
        fs::remove_file(journal_path(&home, &key)).unwrap();
        let status = std::process::Command::new("mkfifo").arg(journal_path(&home, &key)).status().unwrap();
        assert!(status.success());
        let err = recover_key(&home, &key).unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
        fs::remove_file(journal_path(&home, &key)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", journal_path(&home, &key)).unwrap();
        assert!(recover_key(&home, &key).is_err());
        assert!(prefix.join("new").exists());
    }

    #[test]
    fn a_journal_killed_while_being_written_is_cleaned_up() {
        let (_dir, home, key) = home();
        let aside = aside_path(&home, &key);
        Journal::begin(&home, &key, Some(&aside), false).unwrap();
        let names = || -> Vec<String> {
            fs::read_dir(home.tmp_dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into())
                .collect()
        };
        assert_eq!(names(), ["journal-3.13.5t.json"], "written whole, no temporary left");
        fs::remove_file(journal_path(&home, &key)).unwrap();
        // What `files::write_atomic` leaves when killed before its rename.
        let partial = home.tmp_dir().join(format!(".journal-{key}.json.{}.partial", unique_tag()));
        fs::write(&partial, "{").unwrap();
        // And what an ftpy before it left: `.journal-<key>-<pid>-<n>-<nanos>`.
        fs::write(home.tmp_dir().join(format!(".journal-{key}-123-0-456")), "{").unwrap();
        recover_all(&home, &Reporter::new(true));
        assert!(names().is_empty(), "{:?}", names());
    }

    #[test]
    fn trash_names_give_back_their_key() {
        let tag = unique_tag();
        let name = format!("3.15.0b4t-{tag}");
        assert_eq!(key_before_tag(&name, 3), Some("3.15.0b4t"));
        assert_eq!(key_before_tag("3.13.5-1-2", 3), None);
        assert_ne!(unique_tag(), unique_tag());
    }

    #[test]
    fn remove_tree_leaves_nothing_in_tmp() {
        let dir = tempfile::TempDir::new().unwrap();
        let home = Home::locate(Some(dir.path().to_path_buf())).unwrap();
        home.create().unwrap();
        let file = home.versions_dir().join("3.13.5t");
        fs::write(&file, "a file where a tree should be").unwrap();
        remove_tree(&home, &file).unwrap();
        let tree = home.versions_dir().join("3.13.5");
        fs::create_dir_all(tree.join("bin")).unwrap();
        remove_tree(&home, &tree).unwrap();
        assert!(fs::symlink_metadata(&file).is_err() && !tree.exists());
        assert_eq!(fs::read_dir(home.tmp_dir()).unwrap().count(), 0);
    }
}
