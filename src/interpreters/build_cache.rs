//! The build cache: each successful build's installed tree, kept as a zstd-compressed tar, so
//! that installing the same thing again is a restore of seconds instead of a build of minutes.
//!
//! An entry is keyed by everything that decides the result ([`BuildInputs`]): source digest,
//! variant, configure arguments (which hold the install prefix and the profile's flags), compiler
//! and its version, target triple. `<home>/cache/builds/<key>.tar.zst` holds the tree and
//! `<key>.json` the inputs and the archive's sha256, recorded when it was made. A restore hashes
//! the archive as it unpacks it into staging; an archive that does not match, or does not
//! unpack, is deleted and never installed.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::interpreters::digest::{HashingReader, HashingWriter, Sha256Digest, sha256_reader};
use crate::interpreters::unpack;
use crate::system::clock::unix_now_ms;
use crate::system::toolchain::Toolchain;

/// Bumped when the archive layout changes, so old entries stop matching.
/// 2: hard links are kept as links (a free-threaded tree's python3.13 and python3.13t).
const FORMAT: u32 = 2;

/// Everything that decides what a build produces.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BuildInputs {
    pub format: u32,
    pub install_key: String,
    pub source_sha256: Sha256Digest,
    pub profile: String,
    pub configure_args: Vec<String>,
    pub compiler: String,
    pub target: String,
    /// The variables configure reads that change the result (CC, CFLAGS, ...), when set.
    pub environment: Vec<(String, String)>,
}

impl BuildInputs {
    pub fn new(
        install_key: String,
        source_sha256: Sha256Digest,
        profile: String,
        configure_args: Vec<String>,
        toolchain: &Toolchain,
    ) -> BuildInputs {
        BuildInputs {
            format: FORMAT,
            install_key,
            source_sha256,
            profile,
            configure_args,
            compiler: toolchain.compiler.clone(),
            target: toolchain.target.clone(),
            environment: toolchain.environment.clone(),
        }
    }

    /// The cache key: sha256 of the canonical JSON of the inputs.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("inputs serialize");
        sha256_reader(&json[..]).expect("in-memory read").to_string()
    }
}

/// Add `source` to the archive as `name`, directories first and in name order, so that the
/// same tree always makes the same archive. A file with several links is stored once; its
/// other names become hard-link entries pointing at the first (`seen`: inode to archive name).
fn append_tree<W: io::Write>(
    tar: &mut tar::Builder<W>,
    source: &Path,
    name: &Path,
    seen: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(source)?;
    if meta.is_file() && meta.nlink() > 1 {
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = seen.get(&inode) {
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            return tar.append_link(&mut header, name, first);
        }
        seen.insert(inode, name.to_path_buf());
    }
    tar.append_path_with_name(source, name)?;
    if meta.is_dir() {
        let mut children: Vec<_> =
            fs::read_dir(source)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            append_tree(tar, &source.join(&child), &name.join(&child), seen)?;
        }
    }
    Ok(())
}

/// What `<key>.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryMeta {
    pub inputs: BuildInputs,
    pub archive_sha256: Sha256Digest,
    pub archive_bytes: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// How long the build that produced it took.
    pub build_seconds: f64,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub meta: EntryMeta,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildCacheError {
    #[error("the cached build {} is corrupt ({reason}) and was deleted", archive.display())]
    Corrupt { archive: PathBuf, reason: String },
    #[error("build cache I/O error at {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub struct BuildCache {
    dir: PathBuf,
}

impl BuildCache {
    pub fn new(dir: PathBuf) -> BuildCache {
        BuildCache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn archive_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.tar.zst"))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Archive `tree` (an installed prefix) under the key of `inputs`. The archive appears
    /// only when complete: it is written to a partial file and renamed, then its metadata.
    pub fn store(
        &self,
        tree: &Path,
        inputs: &BuildInputs,
        build_seconds: f64,
    ) -> Result<Entry, BuildCacheError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BuildCacheError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let key = inputs.key();
        let archive = self.archive_path(&key);
        let partial = self.dir.join(format!("{key}.tar.zst.partial-{}", std::process::id()));
        let written = (|| -> io::Result<(Sha256Digest, u64)> {
            let encoder = zstd::Encoder::new(HashingWriter::new(File::create(&partial)?), 3)?;
            let mut tar = tar::Builder::new(encoder);
            tar.follow_symlinks(false);
            tar.mode(tar::HeaderMode::Complete);
            append_tree(&mut tar, tree, Path::new(&inputs.install_key), &mut HashMap::new())?;
            let (file, digest, bytes) = tar.into_inner()?.finish()?.finish();
            file.sync_all()?;
            Ok((digest, bytes))
        })();
        let (archive_sha256, archive_bytes) = match written {
            Ok(done) => done,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(io_err(&partial)(e));
            }
        };
        fs::rename(&partial, &archive).map_err(io_err(&archive))?;
        let meta = EntryMeta {
            inputs: inputs.clone(),
            archive_sha256,
            archive_bytes,
            created_at_ms: unix_now_ms(),
            build_seconds,
        };
        let meta_path = self.meta_path(&key);
        let json =
            serde_json::to_string_pretty(&meta).map_err(|e| io_err(&meta_path)(io::Error::other(e)))?;
        crate::system::files::write_atomic(&meta_path, json.as_bytes()).map_err(io_err(&meta_path))?;
        Ok(Entry { key, meta })
    }

    /// Restore the entry for `inputs` into the empty directory `dest`, returning the restored
    /// tree and the entry, or `None` when there is no entry. A corrupt entry is deleted.
    pub fn restore(
        &self,
        inputs: &BuildInputs,
        dest: &Path,
    ) -> Result<Option<(PathBuf, Entry)>, BuildCacheError> {
        let key = inputs.key();
        let archive = self.archive_path(&key);
        let meta_path = self.meta_path(&key);
        if !archive.exists() || !meta_path.exists() {
            return Ok(None);
        }
        let corrupt = |reason: String| {
            let _ = fs::remove_file(&archive);
            let _ = fs::remove_file(&meta_path);
            BuildCacheError::Corrupt { archive: archive.clone(), reason }
        };
        let meta: EntryMeta = match fs::read_to_string(&meta_path).map(|t| serde_json::from_str(&t)) {
            Ok(Ok(meta)) => meta,
            Ok(Err(e)) => return Err(corrupt(format!("unreadable metadata: {e}"))),
            Err(e) => return Err(BuildCacheError::Io { path: meta_path, source: e }),
        };
        if &meta.inputs != inputs {
            return Err(corrupt("metadata does not match its key".into()));
        }
        let file =
            File::open(&archive).map_err(|source| BuildCacheError::Io { path: archive.clone(), source })?;
        let mut hashing = HashingReader::new(file);
        let unpacked = zstd::Decoder::new(&mut hashing).map_err(|e| e.to_string()).and_then(|decoder| {
            unpack::unpack_tar(decoder, dest, &archive.display().to_string()).map_err(|e| e.to_string())
        });
        // Hash what the decoder left unread too: the digest covers the whole file.
        let drained = io::copy(&mut hashing, &mut io::sink());
        let tree = match (unpacked, drained) {
            (Ok(tree), Ok(_)) => tree,
            (Err(e), _) => return Err(corrupt(e)),
            (_, Err(e)) => return Err(corrupt(e.to_string())),
        };
        let actual = hashing.finish();
        if actual != meta.archive_sha256 {
            return Err(corrupt(format!("sha256 {actual}, recorded {}", meta.archive_sha256)));
        }
        Ok(Some((tree, Entry { key, meta })))
    }

    /// Every complete entry, oldest first.
    pub fn list(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".json")?.to_string();
                let meta: EntryMeta = serde_json::from_str(&fs::read_to_string(e.path()).ok()?).ok()?;
                self.archive_path(&key).exists().then_some(Entry { key, meta })
            })
            .collect();
        entries.sort_by_key(|e| e.meta.created_at_ms);
        entries
    }

    /// Remove entries beyond the newest `keep`, and those older than `older_than`; also what
    /// interrupted stores left (partial files, an archive without metadata) once a day old, so
    /// that a store in progress is never touched. Returns what was removed.
    pub fn prune(
        &self,
        keep: Option<usize>,
        older_than: Option<Duration>,
    ) -> Result<Vec<Entry>, BuildCacheError> {
        let entries = self.list();
        let now = unix_now_ms() / 1000;
        let total = entries.len();
        let mut removed = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let beyond_keep = keep.is_some_and(|k| total - index > k);
            let too_old =
                older_than.is_some_and(|d| now.saturating_sub(entry.meta.created_at_ms / 1000) > d.as_secs());
            if beyond_keep || too_old {
                self.remove(&entry.key)?;
                removed.push(entry);
            }
        }
        for e in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let orphan = name.strip_suffix(".tar.zst").is_some_and(|key| !self.meta_path(key).exists());
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(86_400));
            if (orphan || name.contains(".partial")) && stale {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(removed)
    }

    pub fn remove(&self, key: &str) -> Result<(), BuildCacheError> {
        for path in [self.meta_path(key), self.archive_path(key)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(BuildCacheError::Io { path, source }),
            }
        }
        Ok(())
    }
}

/// What pruning removed from a directory of cached files.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub files: usize,
    pub bytes: u64,
}

/// Prune the regular files directly in `dir` that `protect` does not claim (symbolic links and
/// directories are never touched): those last modified longer than `older_than` ago, and those
/// beyond the newest `keep`. A missing directory has nothing to prune.
pub fn prune_files(
    dir: &Path,
    keep: Option<usize>,
    older_than: Option<Duration>,
    protect: impl Fn(&str) -> bool,
) -> io::Result<Pruned> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Pruned::default()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<(Duration, u64, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.file_type().is_file() || protect(&name) {
            continue;
        }
        let age = meta.modified().ok().and_then(|t| t.elapsed().ok()).unwrap_or_default();
        files.push((age, meta.len(), entry.path()));
    }
    // Newest first.
    files.sort_by_key(|(age, _, _)| *age);
    let mut pruned = Pruned::default();
    for (index, (age, bytes, path)) in files.into_iter().enumerate() {
        let beyond_keep = keep.is_some_and(|k| index >= k);
        let too_old = older_than.is_some_and(|limit| age > limit);
        if !(beyond_keep || too_old) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                pruned.files += 1;
                pruned.bytes += bytes;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pruned)
}

/// `30d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(seconds)?))
}

impl crate::error::Diagnose for BuildCacheError {
    fn exit_code(&self) -> crate::error::ExitCode {
        crate::error::ExitCode::LocalError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(key: &str) -> BuildInputs {
        BuildInputs {
            format: FORMAT,
            install_key: key.into(),
            source_sha256: "0".repeat(64).parse().unwrap(),
            profile: "fast".into(),
            configure_args: vec!["--prefix=/x".into()],
            compiler: "cc: gcc 12".into(),
            target: "x86_64-linux-gnu".into(),
            environment: vec![],
        }
    }

    fn tree(dir: &Path) -> PathBuf {
        let tree = dir.join("prefix");
        fs::create_dir_all(tree.join("bin")).unwrap();
        fs::write(tree.join("bin/python3.13t"), "#!/bin/sh\n").unwrap();
        fs::hard_link(tree.join("bin/python3.13t"), tree.join("bin/python3.13")).unwrap();
        std::os::unix::fs::symlink("python3.13t", tree.join("bin/python3")).unwrap();
        tree
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = inputs("3.13.5t");
        let mut others = vec![inputs("3.13.5")];
        let mut o = base.clone();
        o.profile = "optimized".into();
        others.push(o);
        let mut o = base.clone();
        o.configure_args.push("--with-lto".into());
        others.push(o);
        let mut o = base.clone();
        o.compiler = "cc: gcc 13".into();
        others.push(o);
        let mut o = base.clone();
        o.target = "aarch64-linux-gnu".into();
        others.push(o);
        let mut o = base.clone();
        o.environment.push(("CFLAGS".into(), "-O1".into()));
        others.push(o);
        let mut o = base.clone();
        o.source_sha256 = "1".repeat(64).parse().unwrap();
        others.push(o);
        for other in others {
            assert_ne!(base.key(), other.key(), "{other:?}");
        }
        assert_eq!(base.key(), inputs("3.13.5t").key(), "stable");
    }

    #[test]
    fn store_then_restore_round_trips_the_tree() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        let inputs = inputs("3.13.5t");
        cache.store(&tree(dir.path()), &inputs, 12.0).unwrap();
        assert_eq!(cache.list().len(), 1);
        let dest = dir.path().join("restore");
        fs::create_dir(&dest).unwrap();
        let (restored, entry) = cache.restore(&inputs, &dest).unwrap().unwrap();
        assert_eq!(restored, dest.canonicalize().unwrap().join("3.13.5t"));
        assert_eq!(fs::read_to_string(restored.join("bin/python3.13t")).unwrap(), "#!/bin/sh\n");
        assert_eq!(fs::read_link(restored.join("bin/python3")).unwrap(), Path::new("python3.13t"));
        // Hard links stay links: one file, two names, stored once.
        let (a, b) = (
            fs::metadata(restored.join("bin/python3.13t")).unwrap(),
            fs::metadata(restored.join("bin/python3.13")).unwrap(),
        );
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
        assert_eq!(entry.meta.build_seconds, 12.0);
    }

    #[test]
    fn corrupt_or_truncated_archive_is_deleted_not_restored() {
        for damage in ["flip", "truncate"] {
            let dir = tempfile::TempDir::new().unwrap();
            let cache = BuildCache::new(dir.path().join("builds"));
            let inputs = inputs("3.13.5t");
            let entry = cache.store(&tree(dir.path()), &inputs, 1.0).unwrap();
            let archive = cache.archive_path(&entry.key);
            let mut bytes = fs::read(&archive).unwrap();
            match damage {
                "flip" => {
                    let last = bytes.len() - 1;
                    bytes[last] ^= 0xff;
                }
                _ => bytes.truncate(bytes.len() / 2),
            }
            fs::write(&archive, bytes).unwrap();
            let dest = dir.path().join("restore");
            fs::create_dir(&dest).unwrap();
            let err = cache.restore(&inputs, &dest).unwrap_err();
            assert!(matches!(err, BuildCacheError::Corrupt { .. }), "{damage}: {err}");
            assert!(!archive.exists(), "{damage}");
            assert!(cache.restore(&inputs, &dest).unwrap().is_none());
        }
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        let t = tree(dir.path());
        for key in ["3.13.4", "3.13.5", "3.13.5t"] {
            cache.store(&t, &inputs(key), 1.0).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let removed = cache.prune(Some(1), None).unwrap();
        let removed: Vec<&str> = removed.iter().map(|e| e.meta.inputs.install_key.as_str()).collect();
        assert_eq!(removed, ["3.13.4", "3.13.5"]);
        let kept: Vec<String> = cache.list().into_iter().map(|e| e.meta.inputs.install_key).collect();
        assert_eq!(kept, ["3.13.5t"]);
        assert!(cache.prune(None, Some(Duration::from_secs(3600))).unwrap().is_empty());
    }

    #[test]
    fn prune_files_keeps_what_is_protected_and_the_newest() {
        let dir = tempfile::TempDir::new().unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(40 * 86_400);
        for (name, aged) in [("a", true), ("b", true), ("keep-me", true), ("c", false), ("d", false)] {
            let path = dir.path().join(name);
            fs::write(&path, name).unwrap();
            if aged {
                File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
            }
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let protect = |name: &str| name == "keep-me";
        let thirty_days = Some(Duration::from_secs(30 * 86_400));
        let pruned = prune_files(dir.path(), None, thirty_days, protect).unwrap();
        assert_eq!(pruned, Pruned { files: 2, bytes: 2 });
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["c", "d", "keep-me", "link", "sub"]);
        assert_eq!(prune_files(dir.path(), Some(1), None, protect).unwrap().files, 1);
        assert!(prune_files(&dir.path().join("none"), Some(0), None, protect).unwrap().files == 0);
    }

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_age("d"), None);
        assert_eq!(parse_age("10y"), None);
        assert_eq!(parse_age("10"), None);
    }
}
