//! Safe extraction of a `.tar.xz` into a staging directory.
//!
//! Every entry must land inside the destination. Refused, with the entry named:
//! absolute paths, `..` components, symlinks whose target leaves the destination, hard links to
//! anything outside it, writing through a symlink, and device or FIFO entries. The archive has
//! been verified by digest before it gets here; these checks are the second line, for a recipe
//! or mirror that a user supplied.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("refusing to unpack {archive}: entry `{entry}` {reason}")]
    Unsafe { archive: String, entry: String, reason: &'static str },
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
    let name = name.to_string();
    let io_err = |source| UnpackError::Io { archive: name.clone(), source };
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_mtime(true);
    tar.set_preserve_permissions(true);
    tar.set_unpack_xattrs(false);
    let dest = dest.canonicalize().map_err(io_err)?;
    let mut symlinks = Vec::new();
    for entry in tar.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let path = entry.path().map_err(io_err)?.into_owned();
        let unsafe_entry =
            |reason| UnpackError::Unsafe { archive: name.clone(), entry: path.display().to_string(), reason };
        let relative =
            entry_path(&path).ok_or_else(|| unsafe_entry("has an absolute path or a `..` component"))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        match entry.header().entry_type() {
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
                symlinks.push(relative.clone());
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
                        if !through_symlink(&dest, &target)
                            && !fs::symlink_metadata(dest.join(&target)).is_ok_and(|m| m.is_symlink()) => {}
                    _ => return Err(unsafe_entry("is a hard link to a file outside the archive")),
                }
            }
            _ => return Err(unsafe_entry("is a device, FIFO or other special file")),
        }
        if through_symlink(&dest, &relative) {
            return Err(unsafe_entry("would be written through a symlink"));
        }
        if !entry.unpack_in(&dest).map_err(io_err)? {
            return Err(unsafe_entry("was refused by the extractor"));
        }
    }
    // Each link was lexically inside; resolved through one another they must still be.
    for link in symlinks {
        if let Ok(resolved) = fs::canonicalize(dest.join(&link)) {
            if !resolved.starts_with(&dest) {
                return Err(UnpackError::Unsafe {
                    archive: name,
                    entry: link.display().to_string(),
                    reason: "is a symlink that resolves outside the archive",
                });
            }
        }
    }
    let mut top = fs::read_dir(&dest).map_err(io_err)?.flatten().map(|e| e.path());
    match (top.next(), top.next()) {
        (Some(dir), None) if dir.is_dir() => Ok(dir),
        _ => Err(UnpackError::Layout { archive: name }),
    }
}

/// The path with `.` removed and `..` applied, or `None` if it is absolute or climbs past its
/// start. Purely lexical: symlinks are checked again once they exist.
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

/// True when an existing ancestor of `dest/relative` (below `dest`) is a symlink.
fn through_symlink(dest: &Path, relative: &Path) -> bool {
    let mut current = dest.to_path_buf();
    let parent = relative.parent().unwrap_or(Path::new(""));
    for part in parent.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}
