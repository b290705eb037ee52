//! Safe extraction of a `.tar.xz` into a staging directory.
//!
//! Every entry must land inside the destination. Refused, with the entry named: absolute paths,
//! `..` components, symlinks whose target leaves the destination (resolved lexically through the
//! archive's other links, whether or not the target exists), hard links to anything outside it,
//! writing through a symlink, and device or FIFO entries. An archive that unpacks to more than
//! [`Limits::default`] allows is refused as too large before it fills the disk. Modes lose their
//! setuid, setgid and sticky bits and group and world write; directories stay writable by their
//! owner so that the staging directory can always be removed. The archive has been verified by
//! digest before it gets here; these checks are the second line, for a recipe or mirror that a
//! user supplied.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use tar::EntryType;

use crate::output::terminal_text::escape_control;

/// Mode bits never kept from an archive: setuid, setgid, sticky, group and world write.
const STRIPPED_MODE_BITS: u32 = 0o7022;

/// How many symlinks one resolution may pass through before it counts as a loop (Linux's own
/// limit is 40).
const MAX_LINK_HOPS: usize = 40;

/// Bounds on what one archive may unpack to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Total size of the entries' contents.
    pub max_bytes: u64,
    pub max_entries: u64,
    /// Archive metadata read for one entry (headers, long names, pax records) that the tar
    /// reader holds in memory.
    pub max_metadata_bytes: u64,
}

impl Default for Limits {
    /// CPython 3.14.6's source unpacks to 116 MB in 5,534 entries: far inside these. Trees
    /// restored from the build cache go through the same limits.
    fn default() -> Self {
        Limits { max_bytes: 2 << 30, max_entries: 200_000, max_metadata_bytes: 1 << 20 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("refusing to unpack {archive}: entry `{entry}` {reason}")]
    Unsafe { archive: String, entry: String, reason: &'static str },
    #[error("refusing to unpack {archive}: archive too large: {what}")]
    TooLarge { archive: String, what: String },
    #[error("cannot unpack {archive}")]
    Io {
        archive: String,
        #[source]
        source: io::Error,
    },
    #[error("{archive} does not hold a single top-level source directory")]
    Layout { archive: String },
}

/// Unpack `archive` into `dest` (which must exist and be empty) and return the single
/// top-level directory it holds, such as `dest/Python-3.13.5`.
pub fn unpack_tar_xz(archive: &Path, dest: &Path) -> Result<PathBuf, UnpackError> {
    let name = archive.display().to_string();
    let file = File::open(archive).map_err(|source| UnpackError::Io { archive: name.clone(), source })?;
    unpack_tar(xz2::read::XzDecoder::new(BufReader::new(file)), dest, &name)
}

/// Unpack an uncompressed tar stream; `name` names it in errors.
pub fn unpack_tar(reader: impl Read, dest: &Path, name: &str) -> Result<PathBuf, UnpackError> {
    unpack_tar_with(reader, dest, name, Limits::default())
}

/// [`unpack_tar`] within `limits`.
pub fn unpack_tar_with(
    reader: impl Read,
    dest: &Path,
    name: &str,
    limits: Limits,
) -> Result<PathBuf, UnpackError> {
    let name = name.to_string();
    let budget = Rc::new(Budget::default());
    let too_large = |what: String| UnpackError::TooLarge { archive: name.clone(), what };
    let io_err = |source: io::Error| {
        if budget.exceeded.get() {
            too_large(format!(
                "more than {} of archive metadata for one entry",
                human_bytes(limits.max_metadata_bytes)
            ))
        } else {
            UnpackError::Io { archive: name.clone(), source }
        }
    };
    let mut tar = tar::Archive::new(Bounded { inner: reader, budget: budget.clone() });
    tar.set_preserve_mtime(true);
    tar.set_preserve_permissions(false);
    tar.set_mask(STRIPPED_MODE_BITS);
    tar.set_unpack_xattrs(false);
    let dest = dest.canonicalize().map_err(io_err)?;
    // What the archive itself made, so that every check is a lookup in memory rather than a
    // walk of the disk per entry (the destination starts empty, and only this loop writes
    // there): each symlink with its target, and the directories known to exist.
    let mut symlinks: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut directories: HashSet<PathBuf> = HashSet::new();
    let (mut count, mut total, mut last_size) = (0u64, 0u64, 0u64);
    let mut entries = tar.entries().map_err(io_err)?;
    loop {
        // What the tar reader reads before it hands out the next entry: what is left unread of
        // the last one (all of a skipped entry's data), and this one's headers, long names and
        // pax records. Unused allowance is not carried over.
        let unread = budget.left.get().min(last_size);
        budget.left.set(unread.saturating_add(limits.max_metadata_bytes));
        let Some(entry) = entries.next() else { break };
        let mut entry = entry.map_err(io_err)?;
        let path = entry.path().map_err(io_err)?.into_owned();
        let unsafe_entry = |reason| UnpackError::Unsafe {
            archive: name.clone(),
            entry: escape_control(&path.display().to_string()).into_owned(),
            reason,
        };
        count += 1;
        if count > limits.max_entries {
            return Err(too_large(format!("more than {} entries", limits.max_entries)));
        }
        total = total.saturating_add(entry.size());
        if total > limits.max_bytes {
            return Err(too_large(format!(
                "more than {} unpacked (at `{}`)",
                human_bytes(limits.max_bytes),
                escape_control(&path.display().to_string())
            )));
        }
        last_size = entry.size();
        budget.left.set(budget.left.get().saturating_add(last_size));
        let relative =
            entry_path(&path).ok_or_else(|| unsafe_entry("has an absolute path or a `..` component"))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        match kind {
            // Metadata for the whole archive (git archive writes one), nothing to unpack.
            EntryType::XGlobalHeader => continue,
            EntryType::Regular | EntryType::Continuous | EntryType::Directory => {}
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(io_err)?
                    .ok_or_else(|| unsafe_entry("is a symlink without a target"))?;
                let parent = relative.parent().unwrap_or(Path::new(""));
                if target.is_absolute() || normalize(&parent.join(&target)).is_none() {
                    return Err(unsafe_entry("is a symlink pointing outside the archive"));
                }
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(io_err)?
                    .ok_or_else(|| unsafe_entry("is a hard link without a target"))?;
                match entry_path(&target) {
                    // A link to a symlink would copy it to another directory, where its
                    // relative target may point elsewhere: refused with the outside ones.
                    Some(target)
                        if !through_symlink(&symlinks, &target) && !symlinks.contains_key(&target) => {}
                    _ => return Err(unsafe_entry("is a hard link to a file outside the archive")),
                }
            }
            _ => return Err(unsafe_entry("is a device, FIFO or other special file")),
        }
        if through_symlink(&symlinks, &relative) {
            return Err(unsafe_entry("would be written through a symlink"));
        }
        let parent = relative.parent().unwrap_or(Path::new(""));
        if !parent.as_os_str().is_empty() && !directories.contains(parent) {
            let made = dest.join(parent);
            fs::create_dir_all(&made).map_err(at(&made)).map_err(io_err)?;
            directories
                .extend(parent.ancestors().filter(|a| !a.as_os_str().is_empty()).map(Path::to_path_buf));
        }
        let target = dest.join(&relative);
        if kind == EntryType::Directory && symlinks.contains_key(&relative) {
            // Making it would follow the link (and its mode would be set through it).
            return Err(unsafe_entry("is a directory where the archive made a symlink"));
        }
        if kind == EntryType::Link {
            // Made here, from the checked name inside the destination: the tar reader would
            // take a link's target relative to the working directory.
            let link = entry.link_name().map_err(io_err)?.and_then(|t| entry_path(&t)).unwrap_or_default();
            fs::hard_link(dest.join(link), &target).map_err(at(&target)).map_err(io_err)?;
        } else {
            entry.unpack(&target).map_err(at(&target)).map_err(io_err)?;
        }
        // A file, link or symlink replaces what stood at its path (the reader removes it and
        // creates anew, never writing through it).
        symlinks.remove(&relative);
        if kind == EntryType::Symlink {
            let link = entry.link_name().map_err(io_err)?.unwrap_or_default().into_owned();
            symlinks.insert(relative.clone(), link);
        }
        if kind == EntryType::Directory {
            directories.insert(relative.clone());
            // Writable by its owner, so that its entries can be written and the staging
            // directory removed even when the archive says 0555.
            let dir = dest.join(&relative);
            let mode = fs::symlink_metadata(&dir).map_err(at(&dir)).map_err(io_err)?.permissions().mode();
            fs::set_permissions(&dir, fs::Permissions::from_mode((mode | 0o700) & 0o7777))
                .map_err(at(&dir))
                .map_err(io_err)?;
        }
    }
    // Each link was lexically inside on its own; resolved through one another, as the kernel
    // would, they must still be, whether or not their final target exists.
    let mut links: Vec<&PathBuf> = symlinks.keys().collect();
    links.sort();
    for link in links {
        if let Err(reason) = resolve_inside(&symlinks, link) {
            return Err(UnpackError::Unsafe {
                archive: name,
                entry: escape_control(&link.display().to_string()).into_owned(),
                reason,
            });
        }
    }
    let mut top = fs::read_dir(&dest).map_err(io_err)?.flatten().map(|e| e.path());
    // A directory itself (Fix: a symlink `top -> .` passed, and became the tree that install
    // moves into place and relocates).
    match (top.next(), top.next()) {
        (Some(dir), None) if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) => Ok(dir),
        _ => Err(UnpackError::Layout { archive: name }),
    }
}

/// An I/O error while writing one entry, with the path it was written to (as the tar reader's
/// own `unpack_in` names it): `failed to unpack `…/top/h``, caused by the error itself.
#[derive(Debug, thiserror::Error)]
#[error("failed to unpack `{}`", escape_control(&path.display().to_string()))]
struct EntryError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// Wraps an I/O error at `path` in an [`EntryError`], keeping its kind.
fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |source| io::Error::new(source.kind(), EntryError { path: path.to_path_buf(), source })
}

/// What the tar reader may still read, refilled entry by entry.
#[derive(Default)]
struct Budget {
    left: Cell<u64>,
    exceeded: Cell<bool>,
}

/// The decompressed stream, cut off with an error once the budget is spent: a header that
/// claims a huge long name or pax record would otherwise be read into memory whole.
struct Bounded<R> {
    inner: R,
    budget: Rc<Budget>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.budget.left.get();
        if left == 0 && !buf.is_empty() {
            // Only an error if there is more to read: the stream may end here.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.budget.exceeded.set(true);
            return Err(io::Error::other("archive too large"));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.budget.left.set(left - n as u64);
        Ok(n)
    }
}

/// Resolve the symlink `link` component by component as the kernel would, following the
/// symlinks the archive made (`symlinks`: path to target) and treating other names as plain
/// directories. Fails if the walk leaves the destination, meets an absolute target, or passes
/// too many links.
fn resolve_inside(symlinks: &HashMap<PathBuf, PathBuf>, link: &Path) -> Result<(), &'static str> {
    const OUTSIDE: &str = "is a symlink that resolves outside the archive";
    let mut at: Vec<OsString> = match link.parent() {
        Some(parent) => parent.components().map(|c| c.as_os_str().to_os_string()).collect(),
        None => Vec::new(),
    };
    let first = symlinks.get(link).ok_or("is a symlink that cannot be read back")?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    if first.is_absolute() {
        return Err(OUTSIDE);
    }
    pending.extend(first.components().map(|c| c.as_os_str().to_os_string()));
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match Path::new(&part).components().next() {
            None | Some(Component::CurDir) => {}
            Some(Component::ParentDir) => {
                if at.pop().is_none() {
                    return Err(OUTSIDE);
                }
            }
            Some(Component::Normal(_)) => {
                at.push(part);
                let here: PathBuf = at.iter().collect();
                if let Some(target) = symlinks.get(&here) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err("is a symlink in a chain too long to resolve (a loop)");
                    }
                    if target.is_absolute() {
                        return Err(OUTSIDE);
                    }
                    at.pop();
                    for c in target.components().rev() {
                        pending.push_front(c.as_os_str().to_os_string());
                    }
                }
            }
            Some(Component::RootDir | Component::Prefix(_)) => return Err(OUTSIDE),
        }
    }
    Ok(())
}

/// The path with `.` removed and `..` applied, or `None` if it is absolute or climbs past its
/// start. Purely lexical: symlinks are resolved once they all exist.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// An entry's own path: relative, and without any `..` (archives have no reason for one).
fn entry_path(path: &Path) -> Option<PathBuf> {
    if path.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    normalize(path)
}

/// True when an ancestor of `relative` is a symlink the archive made.
fn through_symlink(symlinks: &HashMap<PathBuf, PathBuf>, relative: &Path) -> bool {
    !symlinks.is_empty() && relative.ancestors().skip(1).any(|a| symlinks.contains_key(a))
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b => format!("{b} bytes"),
    }
}

impl crate::error::Diagnose for UnpackError {
    fn exit_code(&self) -> crate::error::ExitCode {
        match self {
            UnpackError::Unsafe { .. } | UnpackError::TooLarge { .. } => {
                crate::error::ExitCode::UnsafeArchive
            }
            _ => crate::error::ExitCode::LocalError,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            UnpackError::Unsafe { .. } | UnpackError::TooLarge { .. } => {
                vec!["nothing was installed; the archive matched the sha256 its recipe names, so check that recipe (FTPY_RECIPES)".into()]
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One hand-made entry: (type, name, link target, mode, data). Headers are written byte by
    /// byte so that entries the tar crate would refuse to create can be made too.
    type Raw<'a> = (EntryType, &'a str, &'a str, u32, &'a [u8]);

    fn header(kind: EntryType, name: &str, link: &str, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_mode(mode);
        header.set_size(size);
        header.set_entry_type(kind);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        header
    }

    fn tar(entries: &[Raw]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (kind, name, link, mode, data) in entries {
            builder.append(&header(*kind, name, link, *mode, data.len() as u64), *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn unpack(bytes: &[u8], limits: Limits) -> (tempfile::TempDir, Result<PathBuf, UnpackError>) {
        let dir = tempfile::TempDir::new().unwrap();
        let result = unpack_tar_with(bytes, dir.path(), "test.tar", limits);
        (dir, result)
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    const DIR: EntryType = EntryType::Directory;
    const FILE: EntryType = EntryType::Regular;
    const LINK: EntryType = EntryType::Symlink;

    #[test]
    fn what_the_archive_made_decides_and_nothing_is_written_through_its_links() {
        // A directory entry over a symlink would be made (and chmod-ed) through it.
        let over = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (DIR, "top/real/", "", 0o755, b""),
            (LINK, "top/a", "real", 0o777, b""),
            (DIR, "top/a/", "", 0o700, b""),
        ]);
        let (dir, result) = unpack(&over, Limits::default());
        assert!(
            matches!(&result, Err(UnpackError::Unsafe { reason, .. }) if reason.contains("where the archive made a symlink")),
            "{result:?}"
        );
        assert_eq!(mode(&dir.path().join("top/real")), 0o755);
        // A file may replace a symlink (the link goes, nothing is written through it), and a
        // hard link to that path then links the file, not the old symlink.
        let replaced = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (FILE, "top/target", "", 0o644, b"keep"),
            (LINK, "top/a", "target", 0o777, b""),
            (FILE, "top/a", "", 0o644, b"new"),
            (EntryType::Link, "top/hard", "top/a", 0o644, b""),
        ]);
        let (dir, result) = unpack(&replaced, Limits::default());
        result.unwrap();
        assert_eq!(fs::read(dir.path().join("top/target")).unwrap(), b"keep");
        assert_eq!(fs::read(dir.path().join("top/hard")).unwrap(), b"new");
        assert!(!fs::symlink_metadata(dir.path().join("top/a")).unwrap().is_symlink());
        // Hard links are made inside the destination, wherever the process runs.
        let linked = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (FILE, "top/f", "", 0o644, b"x"),
            (EntryType::Link, "top/g", "top/f", 0o644, b""),
        ]);
        let (dir, result) = unpack(&linked, Limits::default());
        result.unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(dir.path().join("top/g")).unwrap().ino(),
            fs::metadata(dir.path().join("top/f")).unwrap().ino()
        );
    }

    #[test]
    fn the_top_level_entry_is_a_directory_not_a_link_to_one() {
        let (dir, result) = unpack(&tar(&[(LINK, "top", ".", 0o777, b"")]), Limits::default());
        assert!(matches!(result, Err(UnpackError::Layout { .. })), "{result:?}");
        assert!(fs::symlink_metadata(dir.path().join("top")).unwrap().is_symlink());
        let (dir, result) = unpack(&tar(&[(DIR, "top/", "", 0o755, b"")]), Limits::default());
        assert_eq!(result.unwrap(), dir.path().canonicalize().unwrap().join("top"));
    }

    #[test]
    fn dangling_link_chains_that_leave_the_tree_are_refused() {
        // `up` points back at `top`, so `esc` climbs three levels above it; its final target does
        // not exist, which let it through when only existing targets were checked.
        let chain = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (DIR, "top/deep/down/", "", 0o755, b""),
            (LINK, "top/deep/down/up", "../..", 0o777, b""),
            (LINK, "top/esc", "deep/down/up/../../../nonexistent", 0o777, b""),
        ]);
        let (_dir, result) = unpack(&chain, Limits::default());
        match result {
            Err(UnpackError::Unsafe { entry, reason, .. }) => {
                assert_eq!(entry, "top/esc");
                assert!(reason.contains("resolves outside"), "{reason}");
            }
            other => panic!("accepted: {other:?}"),
        }
        // The same through a link that comes later in the archive than the one using it.
        let later = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (LINK, "top/esc", "a/../../missing", 0o777, b""),
            (DIR, "top/b/", "", 0o755, b""),
            (LINK, "top/a", "b/../..", 0o777, b""),
        ]);
        assert!(matches!(unpack(&later, Limits::default()).1, Err(UnpackError::Unsafe { .. })));
        let looped = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (LINK, "top/x", "y/z", 0o777, b""),
            (LINK, "top/y", "x", 0o777, b""),
        ]);
        let err = unpack(&looped, Limits::default()).1.unwrap_err();
        assert!(err.to_string().contains("loop"), "{err}");

        // Links that stay inside, dangling or not, are kept as they are.
        let fine = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (DIR, "top/deep/down/", "", 0o755, b""),
            (LINK, "top/deep/down/up", "../..", 0o777, b""),
            (LINK, "top/via", "deep/down/up/deep/../missing", 0o777, b""),
            (LINK, "top/dangling", "not/yet/there", 0o777, b""),
            (FILE, "top/file", "", 0o644, b"x"),
            (LINK, "top/deep/file", "../file", 0o777, b""),
        ]);
        let (dir, result) = unpack(&fine, Limits::default());
        assert_eq!(result.unwrap(), dir.path().canonicalize().unwrap().join("top"));
        assert_eq!(
            fs::read_link(dir.path().join("top/via")).unwrap(),
            Path::new("deep/down/up/deep/../missing")
        );
        assert_eq!(fs::read(dir.path().join("top/deep/file")).unwrap(), b"x");
    }

    #[test]
    fn modes_lose_special_and_shared_write_bits_and_directories_stay_removable() {
        let bytes = tar(&[
            (DIR, "top/", "", 0o1777, b""),
            (DIR, "top/ro/", "", 0o555, b""),
            (FILE, "top/ro/inside", "", 0o644, b"x"),
            (FILE, "top/suid", "", 0o6777, b"#!/bin/sh\n"),
            (FILE, "top/shared", "", 0o666, b""),
            (FILE, "top/plain", "", 0o640, b""),
        ]);
        let (dir, result) = unpack(&bytes, Limits::default());
        let top = result.unwrap();
        assert_eq!(mode(&top), 0o755);
        assert_eq!(mode(&top.join("ro")), 0o755, "owner-writable, so the staging directory can go");
        assert_eq!(mode(&top.join("suid")), 0o755);
        assert_eq!(mode(&top.join("shared")), 0o644);
        assert_eq!(mode(&top.join("plain")), 0o640);
        fs::remove_dir_all(dir.path()).unwrap();
    }

    #[test]
    fn archives_past_the_limits_are_refused_before_they_are_unpacked() {
        let small = Limits { max_bytes: 10, max_entries: 3, max_metadata_bytes: 4096 };
        let files = |n: usize, size: usize| {
            let names: Vec<String> = (0..n).map(|i| format!("top/f{i}")).collect();
            let data = vec![b'x'; size];
            let mut entries: Vec<(EntryType, String, Vec<u8>)> = vec![(DIR, "top/".into(), vec![])];
            entries.extend(names.into_iter().map(|n| (FILE, n, data.clone())));
            let raw: Vec<Raw> =
                entries.iter().map(|(k, n, d)| (*k, n.as_str(), "", 0o644, d.as_slice())).collect();
            tar(&raw)
        };
        let (_d, result) = unpack(&files(2, 5), small);
        assert!(result.is_ok(), "{result:?}");
        let err = unpack(&files(3, 1), small).1.unwrap_err();
        assert_eq!(err.to_string(), "refusing to unpack test.tar: archive too large: more than 3 entries");
        let err = unpack(&files(2, 6), small).1.unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to unpack test.tar: archive too large: more than 10 bytes unpacked (at `top/f1`)"
        );

        // A header that claims 3 GiB is refused on sight, with the default limits: nothing of
        // it is read or written.
        let mut claim = header(FILE, "top/huge", "", 0o644, 3 << 30).as_bytes().to_vec();
        claim.extend(vec![b'x'; 4096]);
        let (dir, result) = unpack(&claim, Limits::default());
        assert!(result.is_err_and(|e| e.to_string().contains("archive too large: more than 2 GiB unpacked")));
        assert!(!dir.path().join("top/huge").exists());

        // A long name is read into memory whole by the tar reader: bounded too.
        let long = vec![b'a'; 8192];
        let mut stream =
            header(EntryType::GNULongName, "././@LongLink", "", 0o644, long.len() as u64).as_bytes().to_vec();
        stream.extend(&long);
        stream.extend(tar(&[(FILE, "top/x", "", 0o644, b"")]));
        let err = unpack(&stream, small).1.unwrap_err();
        assert!(matches!(err, UnpackError::TooLarge { .. }), "{err:?}");
        assert!(err.to_string().contains("metadata"), "{err}");

        // Data that is skipped rather than unpacked (a global pax header's) is no metadata.
        let global = vec![b'c'; 8];
        let roomy = Limits { max_bytes: 1 << 20, ..small };
        let big = vec![b'y'; 10_000];
        let skipped = tar(&[
            (EntryType::XGlobalHeader, "pax_global_header", "", 0o644, &global),
            (DIR, "./", "", 0o755, &big),
            (DIR, "top/", "", 0o755, b""),
        ]);
        let (_d, result) = unpack(&skipped, roomy);
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn entry_names_are_escaped_when_shown() {
        let bytes = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (FILE, "top/\x1b[2J\x1b]0;pwn\x07\nfake: ok/../x", "", 0o644, b""),
        ]);
        let err = unpack(&bytes, Limits::default()).1.unwrap_err().to_string();
        assert!(!err.chars().any(|c| c.is_control()), "{err:?}");
        assert!(err.contains(r"top/\x1b[2J\x1b]0;pwn\x07\nfake: ok/../x"), "{err}");
    }

    #[test]
    fn io_errors_name_the_entry_they_were_writing() {
        let bytes = tar(&[
            (DIR, "top/", "", 0o755, b""),
            (FILE, "top/f", "", 0o644, b"x"),
            (EntryType::Link, "top/h", "top/f", 0o644, b""),
            (EntryType::Link, "top/h", "top/f", 0o644, b""),
        ]);
        let err = unpack(&bytes, Limits::default()).1.unwrap_err();
        assert!(matches!(err, UnpackError::Io { .. }), "{err:?}");
        let mut chain = vec![err.to_string()];
        let mut source = std::error::Error::source(&err);
        while let Some(e) = source {
            chain.push(e.to_string());
            source = e.source();
        }
        assert_eq!(chain.len(), 3, "{chain:?}");
        assert!(chain[1].starts_with("failed to unpack `") && chain[1].ends_with("/top/h`"), "{chain:?}");
        assert!(chain[2].contains("os error 17"), "{chain:?}");
    }
}
