//! Changing files and trees so that a reader, or ftpy after a `kill -9`, never sees them half
//! done.
//!
//! - [`write_atomic`]: a file appears whole or not at all (a temporary beside it, fsync, rename,
//!   fsync of the directory).
//! - [`remove_tree`]: a tree leaves its place in one rename into a trash directory, and only then
//!   is deleted, so no reader sees it half gone.
//! - [`Transaction`]: trees replaced together. Each old tree is set aside under a name the
//!   caller chooses (so the caller's crash recovery can find it); `commit` keeps the new trees,
//!   and dropping or `roll_back` puts the old ones back. In the spirit of rustup's transaction.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A tag no other temporary name of this process or another has: `<pid>-<counter>-<nanos>`
/// (crash recovery reads the pid back to tell a live writer from a dead one).
pub fn unique_tag() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Write `bytes` to `path`: readers see the previous contents or all of the new ones, and after
/// a crash the file is one or the other. The file gets `mode` (e.g. 0o600 for caches that may
/// hold private data); the temporary is created with it, so it is never wider.
pub fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.{}.partial", unique_tag()));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// [`write_atomic_with_mode`] with the usual 0644 (less the umask).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, bytes, 0o644)
}

/// Make the entries of `dir` (a rename, a new file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Open `path` for reading only if it is a regular file: a FIFO would wait for a writer and a
/// device could stream forever. The type is checked before opening and again on the open
/// (non-blocking) handle, since the path may change in between.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let not_regular =
        || io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display()));
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Remove `path` so that no reader sees it half gone: a directory is renamed into `trash_dir`
/// (`<trash_dir>/<trash_prefix><name>-<unique>`) and then deleted; a file or symbolic link is
/// removed in place, which is atomic already. `moved_out` runs between the two steps (a test
/// hook for kills). If ftpy dies in between, whatever owns `trash_dir` deletes what is there.
pub fn remove_tree(
    path: &Path,
    trash_dir: &Path,
    trash_prefix: &str,
    moved_out: impl FnOnce(),
) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    fs::create_dir_all(trash_dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let trash = trash_dir.join(format!("{trash_prefix}{name}-{}", unique_tag()));
    fs::rename(path, &trash)?;
    moved_out();
    fs::remove_dir_all(&trash)
}

/// How a transaction takes a new tree away again on roll-back.
#[derive(Clone, Debug)]
pub enum Discard {
    /// `remove_dir_all` where it stands (fine where crash recovery tells a half-deleted tree
    /// from a whole one by other means).
    InPlace,
    /// [`remove_tree`] through this trash directory, with this name prefix.
    Via { trash_dir: PathBuf, prefix: String },
}

/// One replaced tree: where it lives, and where its old self waits.
#[derive(Debug)]
struct Step {
    target: PathBuf,
    aside: Option<PathBuf>,
}

/// Trees replaced together, all or none. Dropped without [`Transaction::commit`], it rolls back.
#[must_use = "a transaction rolls back when dropped; commit it"]
pub struct Transaction {
    steps: Vec<Step>,
    discard: Discard,
    done: bool,
}

/// A roll-back that could not put everything back: what is where, and how to finish by hand.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_roll_back(target, aside.as_deref(), source))]
pub struct RollBackError {
    pub target: PathBuf,
    pub aside: Option<PathBuf>,
    #[source]
    pub source: io::Error,
}

fn describe_roll_back(target: &Path, aside: Option<&Path>, error: &io::Error) -> String {
    match aside {
        Some(aside) => format!(
            "cannot put the previous {} back ({error}); it is at {}: `rm -rf {target:?} && mv {aside:?} {target:?}` restores it",
            target.display(),
            aside.display(),
        ),
        None => format!("cannot remove the incomplete {} ({error})", target.display()),
    }
}

impl Transaction {
    pub fn new(discard: Discard) -> Transaction {
        Transaction { steps: Vec::new(), discard, done: false }
    }

    /// Make way for a new `target`: whatever is there moves to `aside`. From now on a roll-back
    /// removes what is at `target` and moves `aside` back.
    pub fn replace(&mut self, target: &Path, aside: PathBuf) -> io::Result<()> {
        let aside = match fs::symlink_metadata(target) {
            Ok(_) => {
                fs::rename(target, &aside)?;
                Some(aside)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        self.steps.push(Step { target: target.to_path_buf(), aside });
        Ok(())
    }

    /// The new trees stay. Returns the set-aside old trees, for the caller to delete or keep.
    pub fn commit_keeping_asides(mut self) -> Vec<PathBuf> {
        self.done = true;
        self.steps.drain(..).filter_map(|s| s.aside).collect()
    }

    /// The new trees stay; the old ones are deleted (best effort: a leftover is only space).
    pub fn commit(self) {
        for aside in self.commit_keeping_asides() {
            let _ = fs::remove_dir_all(&aside);
        }
    }

    /// The new trees (complete or not) go; the old ones come back, last step first. Every step
    /// is tried; each that fails is returned, and its old tree stays where it waits.
    pub fn roll_back(mut self) -> Result<(), Vec<RollBackError>> {
        self.done = true;
        let failures = self.undo();
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    fn undo(&mut self) -> Vec<RollBackError> {
        let mut failures = Vec::new();
        for step in self.steps.drain(..).rev() {
            if let Err(source) = undo_step(&step, &self.discard) {
                failures.push(RollBackError { target: step.target, aside: step.aside, source });
            }
        }
        failures
    }
}

fn undo_step(step: &Step, discard: &Discard) -> io::Result<()> {
    if fs::symlink_metadata(&step.target).is_ok() {
        match discard {
            Discard::InPlace => match fs::symlink_metadata(&step.target)?.is_dir() {
                true => fs::remove_dir_all(&step.target)?,
                false => fs::remove_file(&step.target)?,
            },
            Discard::Via { trash_dir, prefix } => remove_tree(&step.target, trash_dir, prefix, || {})?,
        }
    }
    if let Some(aside) = &step.aside {
        fs::rename(aside, &step.target)?;
    }
    Ok(())
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.undo();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(path: &Path, content: &str) {
        fs::create_dir_all(path).unwrap();
        fs::write(path.join("file"), content).unwrap();
    }

    fn content(path: &Path) -> String {
        fs::read_to_string(path.join("file")).unwrap()
    }

    #[test]
    fn write_atomic_replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipt.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic_with_mode(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("receipt.json")]);
    }

    #[test]
    fn write_atomic_into_a_missing_directory_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("missing/x"), b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_keeps_the_new_trees_and_deletes_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        tree(&a, "old a");
        let mut t = Transaction::new(Discard::InPlace);
        t.replace(&a, dir.path().join("a.previous")).unwrap();
        t.replace(&b, dir.path().join("b.previous")).unwrap();
        tree(&a, "new a");
        tree(&b, "new b");
        t.commit();
        assert_eq!((content(&a), content(&b)), ("new a".into(), "new b".into()));
        assert!(!dir.path().join("a.previous").exists());
    }

    #[test]
    fn drop_without_commit_puts_every_old_tree_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        tree(&a, "old a");
        tree(&b, "old b");
        {
            let mut t =
                Transaction::new(Discard::Via { trash_dir: dir.path().join("trash"), prefix: "rm-".into() });
            t.replace(&a, dir.path().join("a.previous")).unwrap();
            t.replace(&b, dir.path().join("b.previous")).unwrap();
            tree(&a, "half new a");
        }
        assert_eq!((content(&a), content(&b)), ("old a".into(), "old b".into()));
        assert_eq!(
            fs::read_dir(dir.path().join("trash")).unwrap().count(),
            0,
            "the new tree went through the trash"
        );
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "trash"]);
    }

    #[test]
    fn a_roll_back_that_cannot_restore_says_where_the_old_tree_is() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        tree(&a, "old a");
        let aside = dir.path().join("a.previous");
        let mut t = Transaction::new(Discard::InPlace);
        t.replace(&a, aside.clone()).unwrap();
        fs::remove_dir_all(&aside).unwrap();
        let errors = t.roll_back().unwrap_err();
        let error = &errors[0];
        assert_eq!(error.aside.as_deref(), Some(aside.as_path()));
        assert!(error.to_string().contains("a.previous"), "{error}");
    }

    #[test]
    fn remove_tree_goes_through_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        tree(&a, "x");
        let trash = dir.path().join("trash");
        let mut seen = Vec::new();
        remove_tree(&a, &trash, "removing-", || {
            seen = fs::read_dir(&trash)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap();
        assert!(!a.exists());
        assert!(seen.len() == 1 && seen[0].starts_with("removing-a-"), "{seen:?}");
        assert_eq!(fs::read_dir(&trash).unwrap().count(), 0);
        remove_tree(&a, &trash, "removing-", || {}).unwrap();
    }
}
