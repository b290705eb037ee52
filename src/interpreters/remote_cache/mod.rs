//! Remote build caches: a team's builds, made once and restored anywhere.
//!
//! - [`oci`]: a registry client for the OCI distribution API.
//! - [`static_store`]: a read-only directory of entries served over `https://`, `http://` or
//!   `file://`, in the layout `ftpy cache export` writes.
//! - [`RemoteCache`] (here): either store, opened from the URL a user gives, with the one set of
//!   operations install and `ftpy cache push|pull` need: look an entry up by its id, download its
//!   archive, push a local entry.
//!
//! An entry is the local build cache's ([`crate::interpreters::build_cache`]): its archive and
//! its [`EntryMeta`], under [`crate::interpreters::build_cache::Entry::id`]. In a registry it is
//! one OCI artifact tagged with the id, following the ORAS conventions: the artifact type
//! [`ARTIFACT_TYPE`], the empty config, the archive as its one layer (with a title annotation),
//! and the metadata in the manifest's annotations.
//!
//! Nothing from a remote is trusted before it is checked, in this order: the metadata names the
//! layer's digest and size; the metadata is that of the build asked for, and this machine can
//! run it ([`EntryMeta::unusable_for`]); the bytes have the digest (as they arrive); the local
//! cache then takes them in only with the recorded sha256, and restores through the same safe
//! unpacking and post-install checks as any build.

pub mod oci;
pub mod static_store;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Diagnose, ExitCode};
use crate::interpreters::build_cache::{BuildCache, BuildCacheError, BuildInputs, Entry, EntryMeta};
use crate::interpreters::digest::sha256_reader;
use crate::interpreters::download::DownloadLimits;
use oci::{Credentials, Descriptor, Manifest, OciError, Registry, RegistryUrl};
use static_store::StaticStore;

/// The `artifactType` of an ftpy build in a registry.
pub const ARTIFACT_TYPE: &str = "application/vnd.ftpy.build.v1";
/// The media type of the layer: the installed tree, as a zstd-compressed tar.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.ftpy.build.tree.v1.tar+zstd";
/// The manifest annotation that holds the entry's metadata (JSON).
pub const METADATA_ANNOTATION: &str = "dev.ftpy.build.metadata";
/// The largest metadata document read.
const MAX_METADATA_BYTES: u64 = 1 << 20;

/// The variable that names the remote cache when `--remote-cache` is not given.
pub const REMOTE_CACHE_VAR: &str = "FTPY_REMOTE_CACHE";

#[derive(Debug, thiserror::Error)]
pub enum RemoteCacheError {
    #[error(transparent)]
    Registry(#[from] OciError),
    #[error(transparent)]
    Static(#[from] static_store::StaticStoreError),
    #[error("`{text}` is not a remote cache URL: {why}")]
    BadUrl { text: String, why: String },
    #[error("{url} is read-only: builds are pushed to an OCI registry (oci://...)")]
    ReadOnly { url: String },
    #[error("the entry {id} at {url} is not usable: {reason}")]
    BadEntry { id: String, url: String, reason: String },
    #[error("the entry {id} at {url} was refused")]
    Refused {
        id: String,
        url: String,
        #[source]
        source: BuildCacheError,
    },
    #[error("{key} has no relocatable archive in the build cache, so there is nothing to push")]
    NoArchive { key: String, profile: String },
    #[error("cannot keep what the remote cache sent in {}", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Diagnose for RemoteCacheError {
    fn exit_code(&self) -> ExitCode {
        match self {
            RemoteCacheError::BadUrl { .. } | RemoteCacheError::ReadOnly { .. } => ExitCode::Usage,
            RemoteCacheError::Registry(OciError::BadUrl { .. }) => ExitCode::Usage,
            RemoteCacheError::Local { .. } => ExitCode::LocalError,
            RemoteCacheError::NoArchive { .. } => ExitCode::NotCached,
            _ => ExitCode::RemoteCache,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            RemoteCacheError::BadUrl { .. } | RemoteCacheError::Registry(OciError::BadUrl { .. }) => vec![
                "a registry: oci://ghcr.io/OWNER/ftpy-builds (HTTPS) or oci+http://127.0.0.1:5000/ftpy/builds; \
                 a directory made by `ftpy cache export`: https://, http:// or file:// URL"
                    .into(),
            ],
            RemoteCacheError::Registry(OciError::Denied { credentials: true, .. }) => vec![
                "check FTPY_REMOTE_CACHE_TOKEN (and FTPY_REMOTE_CACHE_USER), or the registry's entry in ~/.docker/config.json"
                    .into(),
                "pushing needs write access to the repository (on GitHub: `permissions: packages: write`)".into(),
            ],
            RemoteCacheError::Registry(OciError::Denied { credentials: false, .. }) => vec![
                "give a token in FTPY_REMOTE_CACHE_TOKEN (user in FTPY_REMOTE_CACHE_USER), or log in with `docker login`"
                    .into(),
            ],
            RemoteCacheError::NoArchive { key, profile } => vec![
                "it was installed with --no-build-cache, its archive was pruned since, or an older ftpy made it".into(),
                format!("`ftpy install --reinstall --profile {profile} {key}` makes one (it builds {key} again)"),
            ],
            RemoteCacheError::ReadOnly { .. } => vec![
                "https://, http:// and file:// name a directory made by `ftpy cache export`, which is only read; \
                 push to a registry: oci://HOST/REPO, or oci+http://HOST:PORT/REPO for one over plain HTTP"
                    .into(),
            ],
            RemoteCacheError::Registry(OciError::Unreachable { .. }) => {
                vec!["check the URL and that the registry is up; the remote cache is optional: without it ftpy builds".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// Where a found entry's archive is.
#[derive(Clone, Debug)]
enum ArchiveAt {
    Layer(Descriptor),
    Static(String),
}

/// An entry a remote cache holds: its metadata, checked against its own archive descriptor.
#[derive(Clone, Debug)]
pub struct Found {
    pub meta: EntryMeta,
    archive: ArchiveAt,
}

/// What a push came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The archive was uploaded (bytes).
    Uploaded(u64),
    /// The registry held the archive already; the tag was (re)written.
    AlreadyThere,
}

pub enum RemoteCache {
    Registry(Registry),
    Static(StaticStore),
}

impl RemoteCache {
    /// Open the store `text` names, with the credentials `env` gives for it. `timeout` bounds
    /// each request (a download too).
    pub fn open(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
        timeout: Duration,
        max_bytes: u64,
        small_timeout: Duration,
    ) -> Result<RemoteCache, RemoteCacheError> {
        let text = text.trim();
        if text.starts_with("oci://") || text.starts_with("oci+http://") {
            let url: RegistryUrl = text.parse()?;
            let credentials = Credentials::find(&url.host, env);
            return Ok(RemoteCache::Registry(Registry::new(
                url,
                credentials,
                timeout,
                max_bytes,
                small_timeout,
            )));
        }
        match StaticStore::new(text, timeout, max_bytes, small_timeout) {
            Ok(store) => Ok(RemoteCache::Static(store)),
            Err(why) => Err(RemoteCacheError::BadUrl { text: crate::output::redact::redact(text), why }),
        }
    }

    /// The store's URL as it may be shown: never with credentials.
    pub fn url(&self) -> String {
        match self {
            RemoteCache::Registry(registry) => registry.url().to_string(),
            RemoteCache::Static(store) => store.url(),
        }
    }

    /// The entry tagged (or named) `id`, if the store holds it, with its metadata checked
    /// against its archive's descriptor.
    pub fn lookup(&mut self, id: &str) -> Result<Option<Found>, RemoteCacheError> {
        let url = self.url();
        let bad =
            |reason: String| RemoteCacheError::BadEntry { id: id.to_string(), url: url.clone(), reason };
        match self {
            RemoteCache::Registry(registry) => {
                if !oci::is_valid_tag(id) {
                    return Err(bad("it is not a valid tag".into()));
                }
                let Some(manifest) = registry.manifest(id)? else { return Ok(None) };
                if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
                    return Err(bad(format!(
                        "its artifactType is {}, not {ARTIFACT_TYPE}",
                        manifest.artifact_type.as_deref().unwrap_or("missing")
                    )));
                }
                let [layer] = manifest.layers.as_slice() else {
                    return Err(bad(format!("it has {} layers, not one", manifest.layers.len())));
                };
                if layer.media_type != LAYER_MEDIA_TYPE {
                    return Err(bad(format!("its layer is {}, not {LAYER_MEDIA_TYPE}", layer.media_type)));
                }
                let text = manifest
                    .annotations
                    .get(METADATA_ANNOTATION)
                    .ok_or_else(|| bad("it has no metadata".into()))?;
                let meta: EntryMeta = serde_json::from_str(text)
                    .map_err(|e| bad(format!("its metadata does not parse: {e}")))?;
                let digest = layer.sha256()?;
                if digest != meta.archive_sha256 || layer.size != meta.archive_bytes {
                    return Err(bad(format!(
                        "its layer is sha256:{digest} ({} bytes), its metadata names sha256:{} ({} bytes)",
                        layer.size, meta.archive_sha256, meta.archive_bytes
                    )));
                }
                Ok(Some(Found { meta, archive: ArchiveAt::Layer(layer.clone()) }))
            }
            RemoteCache::Static(store) => {
                let Some(bytes) = store.read_small(&format!("{id}.json"), MAX_METADATA_BYTES)? else {
                    return Ok(None);
                };
                let meta: EntryMeta = serde_json::from_slice(&bytes)
                    .map_err(|e| bad(format!("its metadata does not parse: {e}")))?;
                Ok(Some(Found { meta, archive: ArchiveAt::Static(format!("{id}.tar.zst")) }))
            }
        }
    }

    /// Copy the archive of `found` into `out` (created, or truncated), checking its size and,
    /// for a registry, its digest as it arrives. `out` is removed on failure. A transfer slower
    /// than `limits` allows, or a signal (Ctrl-C, SIGTERM), stops it.
    pub fn download(
        &mut self,
        found: &Found,
        out: &Path,
        limits: &DownloadLimits,
    ) -> Result<u64, RemoteCacheError> {
        let local = |source| RemoteCacheError::Local { path: out.to_path_buf(), source };
        let file = File::create(out).map_err(local)?;
        let mut file = Watched::new(file, limits);
        let result = match (&mut *self, &found.archive) {
            (RemoteCache::Registry(registry), ArchiveAt::Layer(layer)) => {
                registry.fetch_blob(layer, &mut file).map(|()| layer.size).map_err(RemoteCacheError::from)
            }
            (RemoteCache::Static(store), ArchiveAt::Static(name)) => {
                store.copy_to(name, found.meta.archive_bytes, &mut file).map_err(RemoteCacheError::from)
            }
            _ => unreachable!("an entry is downloaded from the store that found it"),
        };
        let synced = result.and_then(|bytes| file.inner.sync_all().map(|()| bytes).map_err(local));
        if synced.is_err() {
            let _ = fs::remove_file(out);
        }
        synced
    }

    /// Upload the local `entry` (its archive is `archive`) under its id.
    pub fn push(&mut self, entry: &Entry, archive: &Path) -> Result<Pushed, RemoteCacheError> {
        let url = self.url();
        let RemoteCache::Registry(registry) = self else {
            return Err(RemoteCacheError::ReadOnly { url });
        };
        let id = entry.id();
        if !oci::is_valid_tag(&id) {
            return Err(RemoteCacheError::BadEntry { id, url, reason: "it is not a valid tag".into() });
        }
        let local = |source| RemoteCacheError::Local { path: archive.to_path_buf(), source };
        let empty = sha256_reader(oci::EMPTY_CONFIG).expect("in-memory read");
        registry.push_blob(&empty, oci::EMPTY_CONFIG.len() as u64, oci::EMPTY_CONFIG)?;
        let digest = entry.meta.archive_sha256;
        let pushed = if registry.has_blob(&digest)? {
            Pushed::AlreadyThere
        } else {
            let file = File::open(archive).map_err(local)?;
            let size = file.metadata().map_err(local)?.len();
            if size != entry.meta.archive_bytes {
                return Err(RemoteCacheError::BadEntry {
                    id,
                    url,
                    reason: format!(
                        "the local archive {} has {size} bytes, its metadata records {}",
                        archive.display(),
                        entry.meta.archive_bytes
                    ),
                });
            }
            registry.push_blob(&digest, size, io::BufReader::new(file))?;
            Pushed::Uploaded(size)
        };
        registry.put_manifest(&id, &manifest_of(entry))?;
        Ok(pushed)
    }
}

/// The manifest of an entry: the ORAS layout, with the metadata whole in one annotation and the
/// parts a person looks for in their own.
pub fn manifest_of(entry: &Entry) -> Manifest {
    let meta = &entry.meta;
    let mut layer = Descriptor::of(LAYER_MEDIA_TYPE, meta.archive_sha256, meta.archive_bytes);
    layer.annotations.insert("org.opencontainers.image.title".into(), format!("{}.tar.zst", entry.id()));
    let empty = sha256_reader(oci::EMPTY_CONFIG).expect("in-memory read");
    let mut annotations = BTreeMap::new();
    annotations.insert(METADATA_ANNOTATION.into(), serde_json::to_string(meta).expect("metadata serializes"));
    annotations.insert("dev.ftpy.build.key".into(), meta.inputs.install_key.clone());
    annotations.insert("dev.ftpy.build.profile".into(), meta.inputs.profile.clone());
    annotations.insert("dev.ftpy.build.source-sha256".into(), meta.inputs.source_sha256.to_string());
    annotations.insert("dev.ftpy.build.compiler".into(), meta.inputs.compiler.clone());
    annotations.insert(
        "dev.ftpy.build.libc".into(),
        format!("{} {}", meta.libc, meta.libc_version.as_deref().unwrap_or("")).trim().to_string(),
    );
    annotations.insert("dev.ftpy.build.checks".into(), meta.checks.summary());
    Manifest {
        schema_version: 2,
        media_type: Some(oci::MANIFEST_MEDIA_TYPE.into()),
        artifact_type: Some(ARTIFACT_TYPE.into()),
        config: Descriptor::of(oci::EMPTY_CONFIG_MEDIA_TYPE, empty, oci::EMPTY_CONFIG.len() as u64),
        layers: vec![layer],
        annotations,
    }
}

/// Fetch the entry for `inputs` from `remote` into the local `cache`: `None` when the remote
/// does not hold it. Everything is checked before the local cache takes it in.
pub fn pull_into(
    remote: &mut RemoteCache,
    cache: &BuildCache,
    inputs: &BuildInputs,
    limits: &DownloadLimits,
) -> Result<Option<(Entry, u64)>, RemoteCacheError> {
    let id = inputs.id();
    let Some(found) = remote.lookup(&id)? else { return Ok(None) };
    let here = crate::system::toolchain::Libc::detect();
    if let Some(reason) = found.meta.unusable_for(inputs, &here) {
        return Err(RemoteCacheError::BadEntry { id, url: remote.url(), reason });
    }
    fs::create_dir_all(cache.dir())
        .map_err(|source| RemoteCacheError::Local { path: cache.dir().to_path_buf(), source })?;
    cache.remove_dead_partials(&inputs.key());
    let partial = cache.dir().join(format!("{}.tar.zst.partial-{}", inputs.key(), std::process::id()));
    let bytes = remote.download(&found, &partial, limits)?;
    match cache.import(&found.meta, inputs, &partial) {
        Ok(entry) => Ok(Some((entry, bytes))),
        Err(source) => {
            let _ = fs::remove_file(&partial);
            Err(RemoteCacheError::Refused { id, url: remote.url(), source })
        }
    }
}

/// The remote cache a command was given: `--remote-cache`, else `FTPY_REMOTE_CACHE` (empty is
/// unset).
pub fn configured(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(REMOTE_CACHE_VAR).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Open the remote cache `url` with the credentials of this process's environment, within
/// `limits`.
pub fn open(url: &str, limits: &DownloadLimits) -> Result<RemoteCache, RemoteCacheError> {
    RemoteCache::open(
        url,
        |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
        REQUEST_TIMEOUT,
        limits.max_bytes,
        small_answer_timeout(limits),
    )
}

/// How long a small answer (a manifest, a token, an entry's metadata) may take whole: twice
/// the window over which a transfer must keep its minimum rate (FTPY_DOWNLOAD_SPEED_TIME), and
/// at least 10 s.
pub fn small_answer_timeout(limits: &DownloadLimits) -> Duration {
    (limits.rate_window * 2).max(Duration::from_secs(10))
}

/// How long one request to a remote cache may take, a download of an archive included (about
/// 100 MB: 30 minutes is 55 KB/s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A download's file, written through a check of the transfer: it fails once a signal asked
/// ftpy to stop (Fix: Ctrl-C and SIGTERM were noted and ignored until the archive had come
/// whole, up to [`REQUEST_TIMEOUT`]), or once fewer bytes than the minimum rate came over the
/// last window (Fix: a registry that sent a byte a minute held an install for the whole
/// timeout), as source downloads do.
struct Watched {
    inner: File,
    min_rate: u64,
    window: Duration,
    window_start: std::time::Instant,
    window_bytes: u64,
}

impl Watched {
    fn new(inner: File, limits: &DownloadLimits) -> Watched {
        Watched {
            inner,
            min_rate: limits.min_rate,
            window: limits.rate_window,
            window_start: std::time::Instant::now(),
            window_bytes: 0,
        }
    }
}

impl io::Write for Watched {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if crate::system::interrupt::requested() {
            return Err(io::Error::other("stopped by a signal"));
        }
        let elapsed = self.window_start.elapsed();
        if elapsed >= self.window {
            if (self.window_bytes as f64) < self.min_rate as f64 * elapsed.as_secs_f64() {
                return Err(io::Error::other(format!(
                    "the transfer stalled: {} bytes in the last {} s, under the minimum of {} bytes/s",
                    self.window_bytes,
                    elapsed.as_secs(),
                    self.min_rate
                )));
            }
            (self.window_start, self.window_bytes) = (std::time::Instant::now(), 0);
        }
        let n = self.inner.write(buf)?;
        self.window_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
