//! The build cache: each successful build's installed tree, kept as a zstd-compressed tar, so
//! that installing the same thing again is a restore of seconds instead of a build of minutes,
//! under any home, on any machine that can run it.
//!
//! An entry is keyed by everything that decides the bits ([`BuildInputs`]): source digest,
//! variant, profile and configure arguments (not the prefix), compiler and its version, target
//! triple, and the C library's family. The prefix is not in the key because a build is made for
//! a long placeholder prefix ([`crate::interpreters::relocate`]) and archived as it was made;
//! every restore rewrites it for where it lands. The builder's glibc version is not in the key
//! either: it is recorded, and an entry is restored only onto a glibc at least as new.
//!
//! `<home>/cache/builds/<key>.tar.zst` holds the tree and `<key>.json` its [`EntryMeta`]. An
//! entry appears only once its build passed its checks ([`BuildCache::prepare`], then
//! [`Prepared::commit`]). A restore hashes the archive as it unpacks it into staging; an archive
//! that does not match, or does not unpack, is deleted and never installed. The same entries
//! travel to a remote cache ([`crate::interpreters::remote_cache`]) under [`Entry::id`].

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::interpreters::digest::{HashingReader, HashingWriter, Sha256Digest, sha256_reader};
use crate::interpreters::post_install_check::CheckReport;
use crate::interpreters::relocate::{self, RelocateError};
use crate::interpreters::unpack;
use crate::system::clock::unix_now_ms;
use crate::system::toolchain::{Libc, Toolchain};

/// Bumped when the archive layout changes, so old entries stop matching.
/// 2: hard links are kept as links (a free-threaded tree's python3.13 and python3.13t).
/// 3: relocatable: the tree names the placeholder prefix its metadata records; no prefix in the key.
const FORMAT: u32 = 3;

/// Everything that decides what a build produces.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BuildInputs {
    pub format: u32,
    pub install_key: String,
    pub source_sha256: Sha256Digest,
    pub profile: String,
    /// ftpy's configure arguments without `--prefix`.
    pub configure_args: Vec<String>,
    pub compiler: String,
    pub target: String,
    /// `glibc`, `musl`: a build for one never runs on the other.
    pub libc: String,
    /// The variables configure reads that change the result (CC, CFLAGS, ...), when set.
    pub environment: Vec<(String, String)>,
}

impl BuildInputs {
    pub fn new(
        install_key: String,
        source_sha256: Sha256Digest,
        profile: String,
        configure_args: &[String],
        toolchain: &Toolchain,
    ) -> BuildInputs {
        BuildInputs {
            format: FORMAT,
            install_key,
            source_sha256,
            profile,
            configure_args: configure_args.iter().filter(|a| !a.starts_with("--prefix=")).cloned().collect(),
            compiler: toolchain.compiler.clone(),
            target: toolchain.target.clone(),
            libc: toolchain.libc.family.clone(),
            environment: toolchain.environment.clone(),
        }
    }

    /// The cache key: sha256 of the canonical JSON of the inputs.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("inputs serialize");
        sha256_reader(&json[..]).expect("in-memory read").to_string()
    }

    /// `ftpy-3.14.6t-<first 16 hex digits of the key>`: what `ftpy cache key` prints, what
    /// `cache list` shows, and the tag (or file name) of the entry in a remote cache.
    pub fn id(&self) -> String {
        entry_id(&self.install_key, &self.key())
    }
}

/// See [`BuildInputs::id`].
pub fn entry_id(install_key: &str, key: &str) -> String {
    format!("ftpy-{install_key}-{}", key.get(..16).unwrap_or(key))
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

/// What `<key>.json` holds (and a remote cache's metadata of the entry).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntryMeta {
    pub inputs: BuildInputs,
    pub archive_sha256: Sha256Digest,
    pub archive_bytes: u64,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// How long the build that produced it took.
    pub build_seconds: f64,
    /// The prefix the archived tree names: where it was built for.
    pub prefix: PathBuf,
    /// The C library it was linked against: `glibc` and its version.
    pub libc: String,
    pub libc_version: Option<String>,
    /// The ftpy that made it.
    pub ftpy_version: String,
    /// What the checks of the build saw.
    pub checks: CheckReport,
}

impl EntryMeta {
    /// Why this entry cannot serve `inputs` on this machine, if it cannot.
    pub fn unusable_for(&self, inputs: &BuildInputs, here: &Libc) -> Option<String> {
        if &self.inputs != inputs {
            let mut differ = Vec::new();
            let (a, b) = (&self.inputs, inputs);
            if a.install_key != b.install_key {
                differ.push(format!("it is {}, not {}", a.install_key, b.install_key));
            }
            if a.source_sha256 != b.source_sha256 {
                differ.push(format!("its source sha256 is {}", a.source_sha256));
            }
            if a.profile != b.profile || a.configure_args != b.configure_args {
                differ.push(format!("it was configured {} ({})", a.profile, a.configure_args.join(" ")));
            }
            if a.compiler != b.compiler || a.target != b.target || a.environment != b.environment {
                differ.push(format!("it was built by {} for {}", a.compiler, a.target));
            }
            if differ.is_empty() {
                differ.push("its build inputs differ".into());
            }
            return Some(format!("its metadata does not match the build asked for: {}", differ.join("; ")));
        }
        if self.inputs.libc != self.libc || !here.can_run(&self.libc, self.libc_version.as_deref()) {
            return Some(format!(
                "it was linked against {} {}, which this machine's {} {} cannot run",
                self.libc,
                self.libc_version.as_deref().unwrap_or("(unknown version)"),
                here.family,
                here.version.as_deref().unwrap_or("")
            ));
        }
        // The prefix relocation replaces: the placeholder, or a plain absolute path of two
        // components or more, so that metadata cannot make a restore rewrite `/usr` or `/`
        // throughout the tree.
        let plain = self.prefix.is_absolute()
            && self.prefix.components().skip(1).all(|c| matches!(c, std::path::Component::Normal(_)))
            && self.prefix.components().count() >= 3
            && !self.prefix.as_os_str().as_encoded_bytes().ends_with(b"/");
        if !plain && self.prefix != relocate::placeholder_prefix() {
            return Some(format!(
                "its build prefix {} is neither ftpy's placeholder nor an absolute path of two components or more",
                self.prefix.display()
            ));
        }
        None
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub meta: EntryMeta,
}

impl Entry {
    pub fn id(&self) -> String {
        entry_id(&self.meta.inputs.install_key, &self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildCacheError {
    #[error("the cached build {} is corrupt ({reason}) and was deleted", archive.display())]
    Corrupt { archive: PathBuf, reason: String },
    #[error("the cached build {} cannot be used here: {reason}", archive.display())]
    Unusable { archive: PathBuf, reason: String },
    #[error("cannot move the cached build to {}", to.display())]
    Relocate {
        to: PathBuf,
        #[source]
        source: RelocateError,
    },
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

    /// Archive `tree`, which names `prefix`, under the key of `inputs`: into a partial file that
    /// becomes the entry only when [`Prepared::commit`] is called (after the checks passed), and
    /// is removed if it never is.
    pub fn prepare(
        &self,
        tree: &Path,
        inputs: &BuildInputs,
        prefix: &Path,
    ) -> Result<Prepared, BuildCacheError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let key = inputs.key();
        self.remove_dead_partials(&key);
        let partial = self.dir.join(format!("{key}.tar.zst.partial-{}", std::process::id()));
        let written = (|| -> io::Result<(Sha256Digest, u64)> {
            let encoder = zstd::Encoder::new(HashingWriter::new(File::create(&partial)?), ZSTD_LEVEL)?;
            let mut tar = tar::Builder::new(encoder);
            tar.follow_symlinks(false);
            tar.mode(tar::HeaderMode::Complete);
            append_tree(&mut tar, tree, Path::new(&inputs.install_key), &mut HashMap::new())?;
            let (file, digest, bytes) = tar.into_inner()?.finish()?.finish();
            file.sync_all()?;
            Ok((digest, bytes))
        })();
        match written {
            Ok((archive_sha256, archive_bytes)) => Ok(Prepared {
                cache_dir: self.dir.clone(),
                key,
                partial: Some(partial),
                inputs: inputs.clone(),
                prefix: prefix.to_path_buf(),
                archive_sha256,
                archive_bytes,
            }),
            Err(e) => {
                let _ = fs::remove_file(&partial);
                Err(io_err(&partial)(e))
            }
        }
    }

    /// Remove what a killed store or download of `key` left (`<key>.tar.zst.partial-<pid>`)
    /// once its process is gone (Fix: each one stayed until a `cache prune` a day later; an
    /// archive is 30 to 100 MB). Another process's file in progress is left alone.
    pub fn remove_dead_partials(&self, key: &str) {
        let start = format!("{key}.tar.zst.partial-");
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) =
                name.to_str().and_then(|n| n.strip_prefix(&start)).and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
            let gone = pid > 0
                && pid != std::process::id() as i32
                && unsafe { libc::kill(pid, 0) } == -1
                && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// The entry for `inputs`, if the cache holds one.
    pub fn find(&self, inputs: &BuildInputs) -> Option<Entry> {
        let key = inputs.key();
        let meta: EntryMeta = serde_json::from_str(&fs::read_to_string(self.meta_path(&key)).ok()?).ok()?;
        self.archive_path(&key).exists().then_some(Entry { key, meta })
    }

    /// The entry under `key`, if the cache holds one.
    pub fn entry(&self, key: &str) -> Option<Entry> {
        let meta: EntryMeta = serde_json::from_str(&fs::read_to_string(self.meta_path(key)).ok()?).ok()?;
        self.archive_path(key).exists().then(|| Entry { key: key.to_string(), meta })
    }

    /// Write every entry into `dir` as a static remote cache reads it: `<id>.tar.zst` and
    /// `<id>.json`, each appearing whole. An entry `dir` holds already (same archive sha256) is
    /// left as it is. Returns each entry, and whether it was written.
    pub fn export(&self, dir: &Path) -> Result<Vec<(Entry, bool)>, BuildCacheError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut done = Vec::new();
        for entry in self.list() {
            let id = entry.id();
            let (archive, meta_path) = (dir.join(format!("{id}.tar.zst")), dir.join(format!("{id}.json")));
            let there = fs::read_to_string(&meta_path)
                .ok()
                .and_then(|t| serde_json::from_str::<EntryMeta>(&t).ok())
                .is_some_and(|m| m.archive_sha256 == entry.meta.archive_sha256)
                && fs::metadata(&archive).is_ok_and(|m| m.len() == entry.meta.archive_bytes);
            if !there {
                let partial = dir.join(format!(".{id}.tar.zst.partial-{}", std::process::id()));
                let copied = fs::copy(self.archive_path(&entry.key), &partial)
                    .and_then(|_| File::open(&partial)?.sync_all())
                    .and_then(|()| fs::rename(&partial, &archive));
                if let Err(e) = copied {
                    let _ = fs::remove_file(&partial);
                    return Err(io_err(&archive)(e));
                }
                let json = serde_json::to_string_pretty(&entry.meta).expect("metadata serializes");
                crate::system::files::write_atomic(&meta_path, json.as_bytes())
                    .map_err(io_err(&meta_path))?;
            }
            done.push((entry, !there));
        }
        Ok(done)
    }

    /// The archive file of an entry.
    pub fn archive_file(&self, entry: &Entry) -> PathBuf {
        self.archive_path(&entry.key)
    }

    /// Restore the entry for `inputs` into the empty directory `dest`, rewritten to work at
    /// `prefix`; return the restored tree and the entry, or `None` when there is no entry. A
    /// corrupt entry is deleted; one this machine cannot run is left for others.
    pub fn restore(
        &self,
        inputs: &BuildInputs,
        dest: &Path,
        prefix: &Path,
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
        if meta.inputs != *inputs {
            return Err(corrupt("metadata does not match its key".into()));
        }
        if let Some(reason) = meta.unusable_for(inputs, &Libc::detect()) {
            return Err(BuildCacheError::Unusable { archive, reason });
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
        relocate::relocate_tree(&tree, &meta.prefix, prefix)
            .map_err(|source| BuildCacheError::Relocate { to: prefix.to_path_buf(), source })?;
        Ok(Some((tree, Entry { key, meta })))
    }

    /// Take `file` (an archive fetched from elsewhere) in as the entry `meta` describes, for
    /// `inputs`: refused unless the metadata is that of `inputs`, this machine can run it, and
    /// the file has the recorded size and sha256. The file is moved, or removed when refused.
    pub fn import(
        &self,
        meta: &EntryMeta,
        inputs: &BuildInputs,
        file: &Path,
    ) -> Result<Entry, BuildCacheError> {
        let refuse = |reason: String| {
            let _ = fs::remove_file(file);
            BuildCacheError::Unusable { archive: file.to_path_buf(), reason }
        };
        if let Some(reason) = meta.unusable_for(inputs, &Libc::detect()) {
            return Err(refuse(reason));
        }
        let (actual, bytes) = File::open(file)
            .and_then(|f| {
                let mut hashing = HashingReader::new(f);
                let bytes = io::copy(&mut hashing, &mut io::sink())?;
                Ok((hashing.finish(), bytes))
            })
            .map_err(io_err(file))?;
        if actual != meta.archive_sha256 || bytes != meta.archive_bytes {
            return Err(refuse(format!(
                "the archive has sha256 {actual} ({bytes} bytes); its metadata records {} ({} bytes)",
                meta.archive_sha256, meta.archive_bytes
            )));
        }
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let key = inputs.key();
        let archive = self.archive_path(&key);
        fs::rename(file, &archive).map_err(io_err(&archive))?;
        self.write_meta(&key, meta)?;
        Ok(Entry { key, meta: meta.clone() })
    }

    fn write_meta(&self, key: &str, meta: &EntryMeta) -> Result<(), BuildCacheError> {
        let meta_path = self.meta_path(key);
        let json = serde_json::to_string_pretty(meta).expect("metadata serializes");
        crate::system::files::write_atomic(&meta_path, json.as_bytes()).map_err(io_err(&meta_path))
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

/// The zstd level of cache archives: about as fast to write as the build's own install step,
/// and restores decompress at several hundred MB/s whatever the level.
pub const ZSTD_LEVEL: i32 = 3;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildCacheError + use<> {
    let path = path.to_path_buf();
    move |source| BuildCacheError::Io { path, source }
}

/// An archive written but not yet an entry: see [`BuildCache::prepare`].
pub struct Prepared {
    cache_dir: PathBuf,
    key: String,
    partial: Option<PathBuf>,
    inputs: BuildInputs,
    prefix: PathBuf,
    archive_sha256: Sha256Digest,
    archive_bytes: u64,
}

impl Prepared {
    /// Make the archive the entry of its key, with what the build took and what its checks saw.
    pub fn commit(mut self, build_seconds: f64, checks: &CheckReport) -> Result<Entry, BuildCacheError> {
        let cache = BuildCache::new(self.cache_dir.clone());
        let partial = self.partial.take().expect("committed once");
        let archive = cache.archive_path(&self.key);
        if let Err(e) = fs::rename(&partial, &archive) {
            let _ = fs::remove_file(&partial);
            return Err(io_err(&archive)(e));
        }
        let libc = Libc::detect();
        let meta = EntryMeta {
            inputs: self.inputs.clone(),
            archive_sha256: self.archive_sha256,
            archive_bytes: self.archive_bytes,
            created_at_ms: unix_now_ms(),
            build_seconds,
            prefix: self.prefix.clone(),
            libc: libc.family,
            libc_version: libc.version,
            ftpy_version: env!("CARGO_PKG_VERSION").into(),
            checks: checks.clone(),
        };
        cache.write_meta(&self.key, &meta)?;
        Ok(Entry { key: self.key.clone(), meta })
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if let Some(partial) = self.partial.take() {
            let _ = fs::remove_file(partial);
        }
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
            configure_args: vec!["--disable-gil".into()],
            compiler: "cc: gcc 12".into(),
            target: "x86_64-linux-gnu".into(),
            libc: Libc::detect().family,
            environment: vec![],
        }
    }

    const BUILT_FOR: &str = "/build/prefix";

    fn tree(dir: &Path) -> PathBuf {
        let tree = dir.join("prefix");
        fs::create_dir_all(tree.join("bin")).unwrap();
        fs::create_dir_all(tree.join("lib/pkgconfig")).unwrap();
        fs::write(tree.join("lib/pkgconfig/python3.pc"), format!("prefix={BUILT_FOR}\n")).unwrap();
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
        let mut o = base.clone();
        o.libc = "musl".into();
        others.push(o);
        for other in others {
            assert_ne!(base.key(), other.key(), "{other:?}");
        }
        assert_eq!(base.key(), inputs("3.13.5t").key(), "stable");
    }

    #[test]
    fn the_prefix_is_not_part_of_the_key() {
        let toolchain = Toolchain::detect();
        let sha: Sha256Digest = "0".repeat(64).parse().unwrap();
        let at = |prefix: &str| {
            let args = vec![format!("--prefix={prefix}"), "--disable-gil".to_string()];
            BuildInputs::new("3.14.6t".into(), sha, "fast".into(), &args, &toolchain)
        };
        assert_eq!(
            at("/home/a/.local/share/ftpy/versions/3.14.6t").key(),
            at("/opt/ftpy/versions/3.14.6t").key()
        );
        assert_eq!(at("/x").configure_args, ["--disable-gil"]);
        assert!(
            at("/x").id().starts_with("ftpy-3.14.6t-") && at("/x").id().len() == "ftpy-3.14.6t-".len() + 16
        );
    }

    /// Archive `tree` (built for `prefix`) as the entry of `inputs`, as an install does.
    fn store(cache: &BuildCache, tree: &Path, inputs: &BuildInputs, prefix: &Path, seconds: f64) -> Entry {
        cache.prepare(tree, inputs, prefix).unwrap().commit(seconds, &CheckReport::default()).unwrap()
    }

    #[test]
    fn store_then_restore_round_trips_the_tree() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        let inputs = inputs("3.13.5t");
        let prepared = cache.prepare(&tree(dir.path()), &inputs, Path::new(BUILT_FOR)).unwrap();
        assert!(cache.list().is_empty(), "not an entry before it is committed");
        prepared.commit(12.0, &CheckReport::default()).unwrap();
        assert_eq!(cache.list().len(), 1);
        let dest = dir.path().join("restore");
        fs::create_dir(&dest).unwrap();
        let (restored, entry) =
            cache.restore(&inputs, &dest, Path::new("/elsewhere/3.13.5t")).unwrap().unwrap();
        assert_eq!(
            fs::read_to_string(restored.join("lib/pkgconfig/python3.pc")).unwrap(),
            "prefix=/elsewhere/3.13.5t\n"
        );
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
            let entry = store(&cache, &tree(dir.path()), &inputs, Path::new(BUILT_FOR), 1.0);
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
            let err = cache.restore(&inputs, &dest, Path::new("/x")).unwrap_err();
            assert!(matches!(err, BuildCacheError::Corrupt { .. }), "{damage}: {err}");
            assert!(!archive.exists(), "{damage}");
            assert!(cache.restore(&inputs, &dest, Path::new("/x")).unwrap().is_none());
        }
    }

    #[test]
    fn an_abandoned_archive_never_becomes_an_entry() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        drop(cache.prepare(&tree(dir.path()), &inputs("3.13.5t"), Path::new(BUILT_FOR)).unwrap());
        assert_eq!(fs::read_dir(cache.dir()).unwrap().count(), 0, "the partial archive is removed");
    }

    #[test]
    fn an_import_must_match_the_inputs_the_machine_and_the_bytes() {
        let dir = tempfile::TempDir::new().unwrap();
        let source = BuildCache::new(dir.path().join("a"));
        let inputs = inputs("3.13.5t");
        let entry = store(&source, &tree(dir.path()), &inputs, Path::new(BUILT_FOR), 1.0);
        let cache = BuildCache::new(dir.path().join("b"));
        let fetched = |name: &str| {
            let path = dir.path().join(name);
            fs::copy(source.archive_file(&entry), &path).unwrap();
            path
        };
        let mut other = inputs.clone();
        other.install_key = "3.13.5".into();
        let err = cache.import(&entry.meta, &other, &fetched("1")).unwrap_err().to_string();
        assert!(err.contains("it is 3.13.5t, not 3.13.5"), "{err}");
        let mut newer = entry.meta.clone();
        newer.libc_version = Some("9.99".into());
        let err = cache.import(&newer, &inputs, &fetched("2")).unwrap_err().to_string();
        assert!(err.contains("linked against glibc 9.99"), "{err}");
        for prefix in ["/usr", "/", "relative/path", "/a/../b"] {
            let mut odd = entry.meta.clone();
            odd.prefix = PathBuf::from(prefix);
            let err = cache.import(&odd, &inputs, &fetched("p")).unwrap_err().to_string();
            assert!(err.contains("is neither ftpy's placeholder nor an absolute path"), "{prefix}: {err}");
        }
        let mut wrong = entry.meta.clone();
        wrong.archive_sha256 = "1".repeat(64).parse().unwrap();
        let err = cache.import(&wrong, &inputs, &fetched("3")).unwrap_err().to_string();
        assert!(err.contains("its metadata records 1111"), "{err}");
        assert!(!dir.path().join("3").exists(), "a refused file is removed");
        assert!(cache.list().is_empty());
        cache.import(&entry.meta, &inputs, &fetched("4")).unwrap();
        assert!(cache.find(&inputs).is_some());
    }

    #[test]
    fn export_writes_the_static_layout_once() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        let entry = store(&cache, &tree(dir.path()), &inputs("3.13.5t"), Path::new(BUILT_FOR), 1.0);
        let out = dir.path().join("out");
        let done = cache.export(&out).unwrap();
        assert_eq!(done.len(), 1);
        assert!(done[0].1, "written");
        let id = entry.id();
        assert_eq!(
            fs::read(out.join(format!("{id}.tar.zst"))).unwrap(),
            fs::read(cache.archive_file(&entry)).unwrap()
        );
        let meta: EntryMeta =
            serde_json::from_str(&fs::read_to_string(out.join(format!("{id}.json"))).unwrap()).unwrap();
        assert_eq!(meta, entry.meta);
        assert!(!cache.export(&out).unwrap()[0].1, "kept the second time");
        assert_eq!(fs::read_dir(&out).unwrap().count(), 2, "no partial files left");
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::TempDir::new().unwrap();
        let cache = BuildCache::new(dir.path().join("builds"));
        let t = tree(dir.path());
        for key in ["3.13.4", "3.13.5", "3.13.5t"] {
            store(&cache, &t, &inputs(key), Path::new(BUILT_FOR), 1.0);
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
