//! Moving an installed CPython tree from the prefix it was built for to another one.
//!
//! A build names its install prefix in three kinds of file:
//! - text: `_sysconfigdata_*.py`, `_sysconfig_vars_*.json` and `build-details.json` (3.14),
//!   `config-3.X*/Makefile`, `python-config.py`, `lib/pkgconfig/*.pc`, `python3.X-config`, and the
//!   `#!` line of the scripts in `bin/` (`pip3`, `pydoc3.X`, `idle3.X`, ...);
//! - binary: the interpreter (and `libpython`) keep the prefix as a C string, the fallback of
//!   `getpath` (CPython finds its real prefix from the executable's location, so the fallback is
//!   never used, but it names the old place);
//! - `.pyc` files, whose `co_filename` importlib replaces with the real path at load time: left
//!   as they are.
//!
//! [`relocate_tree`] rewrites every occurrence of the old prefix that stands as a whole path (not
//! the start of a longer name: `/opt/p/3.14.6` is not found in `/opt/p/3.14.6t`) in every file
//! but `.pyc`. Text files take the new prefix at any length. In a binary file nothing may move:
//! other strings and offsets point into it, and a linker may have merged a short string into the
//! tail of a longer one (`lib` inside `/prefix/lib`). So there the new prefix takes exactly the
//! old one's length, padded with `/.` (and one extra `/` for an odd gap): `/new/././.` is the
//! same directory. A binary can therefore move only to a prefix no longer than the one it was
//! built for, and a tree meant to travel is built for a long placeholder prefix
//! ([`PLACEHOLDER_PREFIX_LEN`]). Files are written whole through a temporary and a rename;
//! hard links stay linked, symbolic links stay links (never followed). A relocation that fails
//! half-way leaves the tree half rewritten: it works on a staged tree, which is then discarded.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::system::files;

/// How long a prefix the binaries of a portable build hold: room for any home a user is
/// likely to have (`/home/<name>/.local/share/ftpy/versions/3.14.6t-tsan` is about 60).
pub const PLACEHOLDER_PREFIX_LEN: usize = 200;

/// The prefix a build is configured for, to be relocated wherever it is installed or restored:
/// [`PLACEHOLDER_PREFIX_LEN`] bytes, a name no real path has.
pub fn placeholder_prefix() -> PathBuf {
    const START: &str = "/ftpy-relocatable-build-prefix-";
    PathBuf::from(format!("{START}{}", "_".repeat(PLACEHOLDER_PREFIX_LEN - START.len())))
}

/// The prefix to configure a build for that is installed at `prefix`: the placeholder, unless
/// `prefix` is longer than it (then the build is made for `prefix` itself, and can only move to
/// a prefix as short).
pub fn build_prefix_for(prefix: &Path) -> PathBuf {
    if prefix.as_os_str().len() <= PLACEHOLDER_PREFIX_LEN {
        placeholder_prefix()
    } else {
        prefix.to_path_buf()
    }
}

/// The most files a tree may hold, and the largest file read whole (a static interpreter with
/// debug information is under 100 MiB).
const MAX_FILES: usize = 200_000;
const MAX_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum RelocateError {
    #[error("cannot relocate {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} holds the build prefix in a binary string, which cannot take the {}-byte {} (at most {} bytes fit)",
        path.display(),
        to_len,
        to.display(),
        room
    )]
    TooLong { path: PathBuf, to: PathBuf, to_len: usize, room: usize },
    #[error("the prefixes must be absolute paths without a trailing slash: {}", path.display())]
    BadPrefix { path: PathBuf },
    #[error("{} has more than {MAX_FILES} files or a file over {} MiB", path.display(), MAX_FILE_BYTES >> 20)]
    TooBig { path: PathBuf },
}

/// What was rewritten.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Relocated {
    pub text_files: usize,
    pub binary_files: usize,
}

/// Rewrite the tree at `tree` (wherever it stands now) so that it works at `to` instead of `from`,
/// the prefix it was built or last relocated for.
pub fn relocate_tree(tree: &Path, from: &Path, to: &Path) -> Result<Relocated, RelocateError> {
    for prefix in [from, to] {
        let text = prefix.to_string_lossy();
        if !prefix.is_absolute() || text.len() < 2 || text.ends_with('/') {
            return Err(RelocateError::BadPrefix { path: prefix.to_path_buf() });
        }
    }
    let (from_bytes, to_bytes) = (from.as_os_str().as_encoded_bytes(), to.as_os_str().as_encoded_bytes());
    let mut report = Relocated::default();
    if from_bytes == to_bytes {
        return Ok(report);
    }
    // The first path seen of each inode: later names of it are linked to the rewritten file.
    let mut rewritten: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for path in regular_files(tree)? {
        let io_err = |source| RelocateError::Io { path: path.clone(), source };
        let meta = fs::symlink_metadata(&path).map_err(io_err)?;
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = rewritten.get(&inode) {
            relink(first, &path).map_err(io_err)?;
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(RelocateError::TooBig { path });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        fs::File::open(&path).and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut bytes)).map_err(io_err)?;
        if find_whole(&bytes, from_bytes, 0).is_none() {
            continue;
        }
        let binary = bytes.contains(&0);
        let new = if binary {
            replace_same_length(&bytes, from_bytes, to_bytes).ok_or_else(|| RelocateError::TooLong {
                path: path.clone(),
                to: to.to_path_buf(),
                to_len: to_bytes.len(),
                room: from_bytes.len(),
            })?
        } else {
            replace_whole(&bytes, from_bytes, to_bytes)
        };
        files::write_atomic_with_mode(&path, &new, meta.permissions().mode() & 0o7777).map_err(io_err)?;
        // The temporary was made under the umask: give the file its mode back exactly.
        fs::set_permissions(&path, meta.permissions()).map_err(io_err)?;
        rewritten.insert(inode, path);
        if binary {
            report.binary_files += 1;
        } else {
            report.text_files += 1;
        }
    }
    Ok(report)
}

/// Files in `tree` (not `.pyc`) that still name `prefix` as a whole path.
#[cfg(test)]
pub fn mentions(tree: &Path, prefix: &Path) -> Result<Vec<PathBuf>, RelocateError> {
    let needle = prefix.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for path in regular_files(tree)? {
        let io_err = |source| RelocateError::Io { path: path.clone(), source };
        if fs::symlink_metadata(&path).map_err(io_err)?.len() > MAX_FILE_BYTES {
            return Err(RelocateError::TooBig { path });
        }
        let bytes = fs::read(&path).map_err(io_err)?;
        if find_whole(&bytes, needle, 0).is_some() {
            found.push(path);
        }
    }
    Ok(found)
}

/// Every regular file under `tree` but `.pyc`, in a stable order, bounded in number.
fn regular_files(tree: &Path) -> Result<Vec<PathBuf>, RelocateError> {
    let mut found = Vec::new();
    let mut pending = vec![tree.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let io_err = |source| RelocateError::Io { path: dir.clone(), source };
        let mut entries: Vec<_> =
            fs::read_dir(&dir).map_err(io_err)?.collect::<Result<_, _>>().map_err(io_err)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let kind =
                entry.file_type().map_err(|source| RelocateError::Io { path: path.clone(), source })?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && path.extension().is_none_or(|e| e != "pyc") {
                found.push(path);
            }
            if found.len() + pending.len() > MAX_FILES {
                return Err(RelocateError::TooBig { path: tree.to_path_buf() });
            }
        }
    }
    Ok(found)
}

/// Make `path` another name of `first` again, atomically.
fn relink(first: &Path, path: &Path) -> io::Result<()> {
    let temporary = path.with_file_name(format!(
        ".{}.{}.link",
        path.file_name().unwrap_or_default().to_string_lossy(),
        files::unique_tag()
    ));
    fs::hard_link(first, &temporary)?;
    fs::rename(&temporary, path).inspect_err(|_| {
        let _ = fs::remove_file(&temporary);
    })
}

/// A byte that continues a path component: a prefix followed by one is only the start of a
/// longer name.
fn continues_name(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"._-+@~".contains(&byte)
}

/// The next occurrence of `needle` at or after `start` that stands as a whole path.
fn find_whole(haystack: &[u8], needle: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    while at + needle.len() <= haystack.len() {
        let offset = haystack[at..].windows(needle.len()).position(|w| w == needle)?;
        let found = at + offset;
        // Back over a word glued to the front (`-L`, `-I`): a `/` before it means the match is
        // the tail of a longer path (`/x/opt/p`), anything else a separator (`-L/opt/p`).
        // Slashes right before the match are part of it when nothing names a directory before
        // them (Fix: `//opt/p` and `file:///opt/p` were left naming the old prefix).
        let word = haystack[..found].iter().rev().take_while(|&&b| continues_name(b)).count();
        let tail_of_longer = if word == 0 {
            let slashes = haystack[..found].iter().rev().take_while(|&&b| b == b'/').count();
            slashes > 0 && found > slashes && continues_name(haystack[found - slashes - 1])
        } else {
            found > word && haystack[found - word - 1] == b'/'
        };
        let after = haystack.get(found + needle.len()).copied();
        if !tail_of_longer && !after.is_some_and(continues_name) {
            return Some(found);
        }
        at = found + 1;
    }
    None
}

/// `haystack` with every whole occurrence of `from` replaced by `to`.
fn replace_whole(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut copied = 0;
    while let Some(found) = find_whole(haystack, from, copied) {
        out.extend_from_slice(&haystack[copied..found]);
        out.extend_from_slice(to);
        copied = found + from.len();
    }
    out.extend_from_slice(&haystack[copied..]);
    out
}

/// `haystack` with every whole occurrence of `from` replaced by `to` padded to the same length
/// (`/.` repeated, and one more `/` for an odd gap), so that no byte after it moves. None when
/// `to` is longer than `from`.
fn replace_same_length(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let gap = from.len().checked_sub(to.len())?;
    let mut padded = to.to_vec();
    if gap % 2 == 1 {
        padded.push(b'/');
    }
    for _ in 0..gap / 2 {
        padded.extend_from_slice(b"/.");
    }
    let out = replace_whole(haystack, from, &padded);
    debug_assert_eq!(out.len(), haystack.len());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_found_only_as_a_whole_path() {
        let text = b"a=/opt/p/3.14.6t b=/opt/p/3.14.6 c=/x/opt/p/3.14.6 d='/opt/p/3.14.6/lib' -L/opt/p/3.14.6/lib -Wl,-rpath,/opt/p/3.14.6";
        let out = replace_whole(text, b"/opt/p/3.14.6", b"/new");
        assert_eq!(
            out,
            b"a=/opt/p/3.14.6t b=/new c=/x/opt/p/3.14.6 d='/new/lib' -L/new/lib -Wl,-rpath,/new".to_vec()
        );
    }

    #[test]
    fn slashes_before_a_prefix_are_part_of_it() {
        let text = b"a=//opt/p/lib b=file:///opt/p/x c=/x//opt/p d=.//opt/p e='//opt/p'";
        let out = replace_whole(text, b"/opt/p", b"/new");
        assert_eq!(out, b"a=//new/lib b=file:///new/x c=/x//opt/p d=.//opt/p e='//new'".to_vec());
    }

    #[test]
    fn binaries_keep_every_byte_in_place() {
        let blob = b"\x7fELF\0/old/prefix\0/x/old/prefix/lib:/old/prefix/bin\0tail\0";
        let out = replace_same_length(blob, b"/old/prefix", b"/n").unwrap();
        assert_eq!(out.len(), blob.len());
        let strings: Vec<&[u8]> = out.split(|&b| b == 0).filter(|s| !s.is_empty()).collect();
        // 11 bytes become `/n` and 9 of padding: one `/` (odd gap) and four `/.`.
        assert_eq!(strings, [&b"\x7fELF"[..], b"/n//./././.", b"/x/old/prefix/lib:/n//././././bin", b"tail"]);
        // A string the linker merged into the tail of a longer one (`lib` at the end of
        // `/old/prefix/lib`) still reads the same at the same offset.
        let merged = b"\0/old/prefix/lib\0";
        let tail = merged.len() - 4;
        let out = replace_same_length(merged, b"/old/prefix", b"/n").unwrap();
        assert_eq!(&out[tail..], b"lib\0");
        assert!(replace_same_length(blob, b"/old/prefix", b"/a/much/longer/prefix").is_none());
    }

    #[test]
    fn relocates_text_binaries_and_hard_links_and_leaves_pyc_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        let from = Path::new("/build/placeholder/prefix/of/some/length");
        let to = Path::new("/home/u/ftpy/versions/3.14.6t");
        fs::create_dir_all(tree.join("bin")).unwrap();
        fs::create_dir_all(tree.join("lib/python3.14/__pycache__")).unwrap();
        let pip = tree.join("bin/pip3");
        fs::write(&pip, format!("#!{}/bin/python3.14\nimport pip\n", from.display())).unwrap();
        fs::set_permissions(&pip, fs::Permissions::from_mode(0o755)).unwrap();
        let python = tree.join("bin/python3.14t");
        fs::write(
            &python,
            [b"\x7fELF\0".as_slice(), from.as_os_str().as_encoded_bytes(), b"\0rest"].concat(),
        )
        .unwrap();
        fs::hard_link(&python, tree.join("bin/python3.14")).unwrap();
        std::os::unix::fs::symlink("python3.14", tree.join("bin/python3")).unwrap();
        let pyc = tree.join("lib/python3.14/__pycache__/x.cpython-314.pyc");
        fs::write(&pyc, from.as_os_str().as_encoded_bytes()).unwrap();
        fs::write(tree.join("lib/python3.14/other.py"), "nothing here\n").unwrap();

        let report = relocate_tree(&tree, from, to).unwrap();
        assert_eq!(report, Relocated { text_files: 1, binary_files: 1 });
        assert_eq!(
            fs::read_to_string(&pip).unwrap(),
            format!("#!{}/bin/python3.14\nimport pip\n", to.display())
        );
        assert_eq!(fs::metadata(&pip).unwrap().permissions().mode() & 0o777, 0o755);
        let a = fs::metadata(&python).unwrap();
        let b = fs::metadata(tree.join("bin/python3.14")).unwrap();
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "still one file with two names");
        assert!(fs::symlink_metadata(tree.join("bin/python3")).unwrap().is_symlink());
        assert_eq!(mentions(&tree, from).unwrap(), Vec::<PathBuf>::new(), "only the .pyc names it");
        assert!(fs::read(&pyc).unwrap().starts_with(b"/build"));
        let names: Vec<_> = fs::read_dir(tree.join("bin")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 4, "no temporary left: {names:?}");
    }

    #[test]
    fn a_binary_cannot_move_to_a_longer_prefix() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("lib.so"), b"\0/short\0").unwrap();
        let error = relocate_tree(dir.path(), Path::new("/short"), Path::new("/much/longer")).unwrap_err();
        assert!(matches!(error, RelocateError::TooLong { room: 6, .. }), "{error}");
        assert_eq!(fs::read(dir.path().join("lib.so")).unwrap(), b"\0/short\0", "left as it was");
    }

    #[test]
    fn refuses_relative_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(relocate_tree(dir.path(), Path::new("rel"), Path::new("/x")).is_err());
        assert!(relocate_tree(dir.path(), Path::new("/x/"), Path::new("/y")).is_err());
    }
}
