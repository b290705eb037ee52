//! Fetch a source tarball into the content-addressed cache, and trust it only by its sha256.
//!
//! The cache names each file by the digest the recipe expects: `<cache>/<sha256>.tar.xz`.
//! Bytes stream into `<sha256>.partial` while being hashed; the partial file is renamed into
//! place only when the digest matches. A mismatch deletes the file and ends the fetch: it is
//! never retried, from the same source or another. Network errors are retried: every source
//! in order, then a pause that doubles each round. A transfer cut short resumes with a range
//! request when the server allows it, and restarts from zero when it does not.
//! A cached file is hashed again on every use.
//!
//! Every transfer is bounded ([`DownloadLimits`]): a file larger than the cap is refused (before
//! reading, when the server announces its size), and one that arrives slower than a minimum
//! rate is given up, like curl's `--speed-limit`/`--speed-time`. A `file://` source must be a
//! regular file. A failure to write into the cache (a full disk) ends the fetch as a local
//! error, never blamed on the network, and leaves no `.partial` behind. Addresses are shown
//! with any password masked ([`crate::output::redact`]); a user part is sent as HTTP Basic auth.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::interpreters::digest::{Sha256Digest, Sha256Hasher, sha256_file};
use crate::output::progress::Reporter;
use crate::output::redact::redact;

const MIB: u64 = 1024 * 1024;

/// Where a source can be had, in the order to try.
#[derive(Clone, Debug)]
pub struct Sources {
    pub urls: Vec<String>,
    /// What the source is, for the messages when no source has it.
    pub wanted: Option<Wanted>,
}

/// The release a source is fetched for: named in the error when no source has it, and, when a
/// mirror is listable (`file://`), compared with what the mirror holds.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// The release, as its mirror directory and file name spell it: `3.13.14`.
    pub version: crate::interpreters::version::Version,
    /// The builds asked for (`3.13.14t`), to suggest the same builds of a release a mirror has.
    pub keys: Vec<crate::interpreters::version::InstallKey>,
    /// The mirror bases tried, as configured.
    pub mirrors: Vec<String>,
}

/// The most version directories of a mirror named in a message.
const MAX_LISTED_VERSIONS: usize = 20;
/// The most directory entries of a mirror read to find them: a mirror of python.org has a few
/// hundred; anything far beyond that is not worth reading for a hint.
const MAX_MIRROR_ENTRIES: usize = 5000;

/// What a listable mirror holds, for a hint.
#[derive(Debug, Clone)]
pub struct MirrorListing {
    /// The mirror's base as shown (password masked).
    pub base: String,
    /// Release directories holding their tarball, oldest first, at most [`MAX_LISTED_VERSIONS`]:
    /// the ones nearest the release looked for.
    pub versions: Vec<crate::interpreters::version::Version>,
    /// How many more there were.
    pub more: usize,
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Rounds over all sources after the first.
    pub retries: u32,
    pub first_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { retries: 3, first_pause: Duration::from_secs(1) }
    }
}

/// How big and how slow one source download may be.
#[derive(Clone, Debug)]
pub struct DownloadLimits {
    /// The most bytes a source file may have. A CPython source archive is 20 to 30 MB.
    pub max_bytes: u64,
    /// The slowest average rate, in bytes per second, accepted over `rate_window`.
    pub min_rate: u64,
    pub rate_window: Duration,
}

impl DownloadLimits {
    pub const DEFAULT_MAX_MIB: u64 = 512;
    pub const DEFAULT_RATE_WINDOW_SECS: u64 = 30;
    /// 1 KiB/s: slower than that for the whole window, the connection is as good as dead.
    pub const MIN_RATE: u64 = 1024;

    pub fn new(max_mib: u64, rate_window_secs: u64) -> DownloadLimits {
        DownloadLimits {
            max_bytes: max_mib.saturating_mul(MIB),
            min_rate: Self::MIN_RATE,
            rate_window: Duration::from_secs(rate_window_secs),
        }
    }
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits::new(Self::DEFAULT_MAX_MIB, Self::DEFAULT_RATE_WINDOW_SECS)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("sha256 mismatch for {url}\n  expected: {expected}\n  actual:   {actual}")]
    ChecksumMismatch { url: String, expected: Sha256Digest, actual: Sha256Digest },
    #[error(
        "the cached source {} does not match its sha256 and was deleted\n  expected: {expected}\n  actual:   {actual}",
        path.display()
    )]
    CachedMismatch { path: PathBuf, expected: Sha256Digest, actual: Sha256Digest },
    #[error(
        "could not download the source{} from any of {} location(s):\n{}",
        wanted.as_ref().map(|w| format!(" of {}", w.version)).unwrap_or_default(),
        failures.len(),
        list_failures(failures)
    )]
    Unavailable {
        failures: Vec<(String, SourceFailure)>,
        wanted: Option<Wanted>,
        /// What each listable mirror holds, when no source had the file.
        listings: Vec<MirrorListing>,
    },
    #[error("the download was stopped by a signal (what arrived is kept, to be resumed)")]
    Interrupted,
    #[error("cannot write to the source cache {}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl crate::error::Diagnose for DownloadError {
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            DownloadError::Interrupted => ExitCode::Interrupted,
            DownloadError::ChecksumMismatch { .. } | DownloadError::CachedMismatch { .. } => {
                ExitCode::Verification
            }
            DownloadError::Unavailable { .. } => ExitCode::Network,
            DownloadError::Cache { .. } => ExitCode::LocalError,
        }
    }

    fn hints(&self) -> Vec<String> {
        self.next_steps()
    }
}

impl DownloadError {
    /// True when every source answered that it does not have the file (as opposed to network
    /// trouble): the address or mirror layout is wrong rather than the connection.
    pub fn all_not_found(&self) -> bool {
        self.all_failed(|f| matches!(f, SourceFailure::NotFound))
    }

    fn all_failed(&self, what: impl Fn(&SourceFailure) -> bool) -> bool {
        matches!(self, DownloadError::Unavailable { failures, .. } if failures.iter().all(|(_, f)| what(f)))
    }

    fn any_failed(&self, what: impl Fn(&SourceFailure) -> bool) -> bool {
        matches!(self, DownloadError::Unavailable { failures, .. } if failures.iter().any(|(_, f)| what(f)))
    }

    /// What to do next.
    fn next_steps(&self) -> Vec<String> {
        match self {
            DownloadError::ChecksumMismatch { .. } => vec![
                "nothing was installed and the download was deleted; no other source was tried".into(),
                "a mirror that serves different bytes than python.org published is broken or tampered with: check --mirror / FTPY_MIRROR".into(),
            ],
            DownloadError::CachedMismatch { .. } => {
                vec!["run the same command again to download the source afresh".into()]
            }
            DownloadError::Cache { path, source } => {
                let dir = path.parent().unwrap_or(path);
                if source.raw_os_error() == Some(libc::ENOSPC) || source.raw_os_error() == Some(libc::EDQUOT)
                {
                    vec![
                        format!("the disk holding {} is full: free some space there (`df -h {}`) and run the same command again", dir.display(), dir.display()),
                        "or point FTPY_HOME (--home) at a file system with room for the sources and the builds".into(),
                    ]
                } else {
                    vec![format!(
                        "check that {} is a directory you can write to, on a disk with free space; nothing partial was kept",
                        dir.display()
                    )]
                }
            }
            DownloadError::Unavailable { .. } => {
                let mut hints = Vec::new();
                if self.any_failed(|f| matches!(f, SourceFailure::TooLarge { .. })) {
                    hints.push(format!(
                        "a CPython source archive is 20 to 30 MB: check the recipe's URL and the mirror; FTPY_MAX_DOWNLOAD_MIB raises the cap (now {} MiB)",
                        self.cap_mib().unwrap_or(DownloadLimits::DEFAULT_MAX_MIB)
                    ));
                }
                if self.any_failed(|f| matches!(f, SourceFailure::NotRegular(_))) {
                    hints.push("a file:// source must name a regular file (a mirror: file:///absolute/path/to/the/mirror)".into());
                }
                if self.all_not_found() {
                    hints.extend(self.not_found_hints());
                } else if self.any_failed(SourceFailure::is_transient) {
                    hints.push("check the network connection or proxy (HTTPS_PROXY), or point --mirror / FTPY_MIRROR at a reachable mirror".into());
                }
                hints
            }
            _ => Vec::new(),
        }
    }

    /// No source has the file: say what was looked for, what a listable mirror holds instead,
    /// and how to pin a release it has; the layout only when a mirror holds no release at all.
    fn not_found_hints(&self) -> Vec<String> {
        let DownloadError::Unavailable { wanted, listings, .. } = self else { return Vec::new() };
        let Some(wanted) = wanted else {
            return vec![
                "a mirror must be laid out like python.org: <base>/3.13.5/Python-3.13.5.tar.xz".into(),
            ];
        };
        let version = &wanted.version;
        let layout = format!(
            "a mirror must be laid out like python.org: <base>/{}/Python-{version}.tar.xz",
            version.release_directory()
        );
        if wanted.mirrors.is_empty() {
            return vec![format!(
                "{version} is not where its recipe says; check the recipe's url (FTPY_RECIPES)"
            )];
        }
        let mut hints = Vec::new();
        for listing in listings {
            if listing.versions.is_empty() {
                hints.push(format!("{} holds no release at all; {layout}", listing.base));
                continue;
            }
            let names: Vec<String> = listing.versions.iter().map(ToString::to_string).collect();
            let more = if listing.more > 0 { format!(" and {} more", listing.more) } else { String::new() };
            hints.push(format!("{} has no {version}; it holds {}{more}", listing.base, names.join(", ")));
        }
        // The newest release of the same series some listable mirror holds.
        let held = listings
            .iter()
            .flat_map(|l| l.versions.iter())
            .filter(|v| v.series() == version.series() && v.is_final())
            .max();
        match held {
            Some(held) => {
                let keys: Vec<String> = wanted
                    .keys
                    .iter()
                    .map(|k| {
                        crate::interpreters::version::InstallKey {
                            version: held.clone(),
                            variant: k.variant,
                            build: k.build,
                        }
                        .to_string()
                    })
                    .collect();
                hints.push(format!(
                    "ask for a release the mirror holds: `ftpy install {}` (a series such as 3.13t means its newest release in ftpy's recipes, {version})",
                    keys.join(" ")
                ));
            }
            None => {
                if listings.is_empty() {
                    hints.push(format!("the mirror may not hold {version} yet: ask for a release it holds, e.g. `ftpy install {}.<patch>{}`, or add {version} to it; {layout}",
                        version.series(),
                        wanted.keys.first().map(|k| k.variant.suffix()).unwrap_or_default()));
                } else {
                    hints.push(format!(
                        "add {version} to the mirror ({layout}), or ask for a release it holds"
                    ));
                }
            }
        }
        hints
    }

    fn cap_mib(&self) -> Option<u64> {
        let DownloadError::Unavailable { failures, .. } = self else { return None };
        failures.iter().find_map(|(_, f)| match f {
            SourceFailure::TooLarge { limit, .. } => Some(limit / MIB),
            _ => None,
        })
    }
}

/// Why one source could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SourceFailure {
    #[error("not found (404)")]
    NotFound,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("{0}")]
    Network(String),
    #[error("unsupported address (use http://, https:// or file://)")]
    UnsupportedScheme,
    #[error("local file error: {0}")]
    Local(String),
    #[error("not a regular file ({0}); refused")]
    NotRegular(&'static str),
    #[error("{}", describe_too_large(*limit, *announced))]
    TooLarge { limit: u64, announced: Option<u64> },
    #[error(
        "the transfer stalled: {bytes} bytes in the last {seconds} s, under the minimum of {min_rate} bytes/s"
    )]
    TooSlow { bytes: u64, seconds: u64, min_rate: u64 },
    #[error("stopped by a signal")]
    Interrupted,
    /// Writing into the cache failed: a local error that ends the whole fetch.
    #[error("cannot write the download: {0}")]
    Write(io::Error),
}

fn describe_too_large(limit: u64, announced: Option<u64>) -> String {
    match announced {
        Some(size) => format!(
            "the source announced {}, more than the {} MiB a source download may be; refused before reading",
            crate::output::progress::human_bytes(size),
            limit / MIB
        ),
        None => {
            format!("the download exceeded {} MiB, the most a source download may be; stopped", limit / MIB)
        }
    }
}

impl SourceFailure {
    /// Worth another try later: the network, or a server error.
    fn is_transient(&self) -> bool {
        match self {
            SourceFailure::Network(_) | SourceFailure::TooSlow { .. } => true,
            SourceFailure::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            SourceFailure::NotFound
            | SourceFailure::UnsupportedScheme
            | SourceFailure::Local(_)
            | SourceFailure::NotRegular(_)
            | SourceFailure::TooLarge { .. }
            | SourceFailure::Interrupted
            | SourceFailure::Write(_) => false,
        }
    }
}

fn list_failures(failures: &[(String, SourceFailure)]) -> String {
    let lines: Vec<String> = failures.iter().map(|(url, f)| format!("  {}: {f}", redact(url))).collect();
    lines.join("\n")
}

pub struct Downloader {
    agent: ureq::Agent,
    cache_dir: PathBuf,
    retry: RetryPolicy,
    limits: DownloadLimits,
}

impl Downloader {
    pub fn new(cache_dir: PathBuf, retry: RetryPolicy, limits: DownloadLimits) -> Downloader {
        let agent = crate::system::http::agent();
        Downloader { agent, cache_dir, retry, limits }
    }

    pub fn cached_path(&self, expected: &Sha256Digest) -> PathBuf {
        self.cache_dir.join(format!("{expected}.tar.xz"))
    }

    /// A verified copy of the file with digest `expected`, from the cache or from `sources`.
    pub fn fetch(
        &self,
        sources: &Sources,
        expected: &Sha256Digest,
        reporter: &Reporter,
    ) -> Result<PathBuf, DownloadError> {
        let cache_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DownloadError::Cache { path, source }
        };
        fs::create_dir_all(&self.cache_dir).map_err(cache_err(&self.cache_dir))?;
        // One fetch per digest at a time; a second process waits and then finds it cached.
        let lock_path = self.cache_dir.join(format!("{expected}.lock"));
        let lock = File::create(&lock_path).map_err(cache_err(&lock_path))?;
        let waiting = || reporter.info(format!("Waiting for another ftpy process to download {expected}"));
        match crate::system::interrupt::lock_exclusive(&lock, waiting) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(DownloadError::Interrupted),
            Err(e) => return Err(cache_err(&lock_path)(e)),
        }

        let target = self.cached_path(expected);
        if target.exists() {
            let actual = sha256_file(&target).map_err(cache_err(&target))?;
            if &actual == expected {
                reporter.info(format!("Using cached source {}", target.display()));
                return Ok(target);
            }
            let _ = fs::remove_file(&target);
            return Err(DownloadError::CachedMismatch { path: target, expected: *expected, actual });
        }

        let partial = self.cache_dir.join(format!("{expected}.partial"));
        let mut failures: Vec<(String, SourceFailure)> = Vec::new();
        let mut pause = self.retry.first_pause;
        for round in 0..=self.retry.retries {
            if round > 0 {
                reporter.info(format!(
                    "Retrying in {}s (round {} of {})",
                    pause.as_secs_f32(),
                    round + 1,
                    self.retry.retries + 1
                ));
                let resume_at = std::time::Instant::now() + pause;
                while std::time::Instant::now() < resume_at {
                    if crate::system::interrupt::requested() {
                        return Err(DownloadError::Interrupted);
                    }
                    thread::sleep(Duration::from_millis(50).min(pause));
                }
                pause *= 2;
            }
            let mut any_transient = false;
            for url in &sources.urls {
                if failures.iter().any(|(u, f)| u == url && !f.is_transient()) {
                    continue;
                }
                let mut attempt = self.fetch_one(url, &partial, reporter);
                if let Ok(fetched) = &attempt
                    && fetched.resumed
                    && &fetched.digest != expected
                {
                    // The first part may have come from elsewhere: blame this source only for a
                    // whole file it sent alone.
                    reporter.warn(format!(
                        "{}: resumed download does not verify; downloading it whole",
                        redact(url)
                    ));
                    let _ = fs::remove_file(&partial);
                    attempt = self.fetch_one(url, &partial, reporter);
                }
                match attempt.map(|fetched| fetched.digest) {
                    Ok(actual) if &actual == expected => {
                        fs::rename(&partial, &target).map_err(cache_err(&target))?;
                        return Ok(target);
                    }
                    Ok(actual) => {
                        let _ = fs::remove_file(&partial);
                        return Err(DownloadError::ChecksumMismatch {
                            url: redact(url),
                            expected: *expected,
                            actual,
                        });
                    }
                    Err(SourceFailure::Interrupted) => return Err(DownloadError::Interrupted),
                    Err(SourceFailure::Write(source)) => {
                        // A full disk is no reason to try another source; keep nothing of it.
                        let _ = fs::remove_file(&partial);
                        return Err(DownloadError::Cache { path: partial, source });
                    }
                    Err(failure) => {
                        if matches!(failure, SourceFailure::TooLarge { .. }) {
                            let _ = fs::remove_file(&partial);
                        }
                        reporter.warn(format!("{}: {failure}", redact(url)));
                        any_transient |= failure.is_transient();
                        failures.retain(|(u, _)| u != url);
                        failures.push((url.clone(), failure));
                    }
                }
            }
            if !any_transient {
                break;
            }
        }
        let listings = match &sources.wanted {
            Some(wanted) if failures.iter().all(|(_, f)| matches!(f, SourceFailure::NotFound)) => {
                wanted.mirrors.iter().filter_map(|m| list_mirror(m, &wanted.version)).collect()
            }
            _ => Vec::new(),
        };
        Err(DownloadError::Unavailable { failures, wanted: sources.wanted.clone(), listings })
    }

    /// One attempt at one source: stream into `partial` (resuming what is there when the
    /// server allows) and return the digest of the whole file, and whether it was resumed.
    fn fetch_one(&self, url: &str, partial: &Path, reporter: &Reporter) -> Result<Fetched, SourceFailure> {
        let shown = redact(url);
        if let Some(path) = url.strip_prefix("file://") {
            return self.copy_local(path, partial, &shown, reporter);
        }
        if !is_supported_url(url) {
            return Err(SourceFailure::UnsupportedScheme);
        }
        let max = self.limits.max_bytes;
        let mut have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
        if have >= max {
            let _ = fs::remove_file(partial);
            have = 0;
        }
        let mut request = crate::system::http::get(&self.agent, url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let response = request.call().map_err(|e| SourceFailure::Network(redact(&e.to_string())))?;
        let status = response.status().as_u16();
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let offset = match status {
            206 if have > 0 => {
                if range_start(response.headers()) != Some(have) {
                    let _ = fs::remove_file(partial);
                    return Err(SourceFailure::Network(
                        "the server resumed at the wrong offset; restarting".into(),
                    ));
                }
                have
            }
            200 => 0,
            416 => {
                // What we have is not a prefix the server recognises: start over next round.
                let _ = fs::remove_file(partial);
                return Err(SourceFailure::Network("range not satisfiable; restarting".into()));
            }
            404 | 410 => return Err(SourceFailure::NotFound),
            code => return Err(SourceFailure::Status(code)),
        };
        let total = length.map(|l| l.saturating_add(offset));
        if let Some(total) = total.filter(|t| *t > max) {
            return Err(SourceFailure::TooLarge { limit: max, announced: Some(total) });
        }
        let (mut file, mut hasher) = if offset > 0 {
            reporter.info(format!("Resuming {shown} at {}", crate::output::progress::human_bytes(have)));
            let mut file =
                OpenOptions::new().read(true).append(true).open(partial).map_err(SourceFailure::Write)?;
            let mut hasher = Sha256Hasher::default();
            hash_into(&mut file, &mut hasher).map_err(SourceFailure::Write)?;
            (file, hasher)
        } else {
            reporter.info(format!("Downloading {shown}"));
            (File::create(partial).map_err(SourceFailure::Write)?, Sha256Hasher::default())
        };
        let mut transfer = reporter.transfer("source", total, offset);
        let mut body = response.into_body().into_reader();
        let mut reader = transfer.reader(&mut body);
        let streamed = self.stream(&mut reader, &mut file, &mut hasher, offset, |e| {
            SourceFailure::Network(format!("transfer interrupted: {}", redact(&e.to_string())))
        });
        transfer.finish();
        // On a network error, what arrived is kept for a range request next time.
        let received = streamed?;
        file.sync_all().map_err(SourceFailure::Write)?;
        if let Some(length) = length.filter(|l| received < *l) {
            // Cut short: keep what arrived for a range request next time.
            return Err(SourceFailure::Network(format!("transfer ended after {received} of {length} bytes")));
        }
        Ok(Fetched { digest: hasher.finish(), resumed: offset > 0 })
    }

    /// Copy `reader` to the end of `file` through `hasher`; `already` bytes are in it from
    /// before. Return how many bytes came. Stops at the size cap, when fewer bytes than the
    /// minimum rate allows came over the last window, and at a signal.
    fn stream(
        &self,
        reader: &mut impl Read,
        file: &mut File,
        hasher: &mut Sha256Hasher,
        already: u64,
        read_failure: impl Fn(io::Error) -> SourceFailure,
    ) -> Result<u64, SourceFailure> {
        let limits = &self.limits;
        let mut buffer = vec![0u8; 128 * 1024];
        let mut received: u64 = 0;
        let (mut window_start, mut window_bytes) = (Instant::now(), 0u64);
        loop {
            if crate::system::interrupt::requested() {
                // Keep what arrived: the next install resumes it with a range request.
                return Err(SourceFailure::Interrupted);
            }
            let n = match reader.read(&mut buffer) {
                Ok(0) => return Ok(received),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_failure(e)),
            };
            if already + received + n as u64 > limits.max_bytes {
                return Err(SourceFailure::TooLarge { limit: limits.max_bytes, announced: None });
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(SourceFailure::Write)?;
            received += n as u64;
            window_bytes += n as u64;
            let elapsed = window_start.elapsed();
            if elapsed >= limits.rate_window {
                if (window_bytes as f64) < limits.min_rate as f64 * elapsed.as_secs_f64() {
                    return Err(SourceFailure::TooSlow {
                        bytes: window_bytes,
                        seconds: elapsed.as_secs(),
                        min_rate: limits.min_rate,
                    });
                }
                (window_start, window_bytes) = (Instant::now(), 0);
            }
        }
    }

    /// A `file://` source: a regular file, read in full. `path` is what follows `file://`.
    fn copy_local(
        &self,
        path: &str,
        partial: &Path,
        shown: &str,
        reporter: &Reporter,
    ) -> Result<Fetched, SourceFailure> {
        if !path.starts_with('/') {
            return Err(SourceFailure::Local(
                "a file:// address needs an absolute path: file:///path".into(),
            ));
        }
        let source = Path::new(path);
        // The type is checked before opening: opening a FIFO for reading waits for a writer,
        // and a device can stream forever.
        let metadata = match fs::metadata(source) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SourceFailure::NotFound),
            Err(e) => return Err(SourceFailure::Local(e.to_string())),
        };
        check_regular(&metadata)?;
        if metadata.len() > self.limits.max_bytes {
            return Err(SourceFailure::TooLarge {
                limit: self.limits.max_bytes,
                announced: Some(metadata.len()),
            });
        }
        // Non-blocking, and checked again once open: the path may have changed in between.
        let mut input = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(source)
            .map_err(|e| SourceFailure::Local(e.to_string()))?;
        check_regular(&input.metadata().map_err(|e| SourceFailure::Local(e.to_string()))?)?;
        reporter.info(format!("Copying {shown}"));
        let mut output = File::create(partial).map_err(SourceFailure::Write)?;
        let mut hasher = Sha256Hasher::default();
        self.stream(&mut input, &mut output, &mut hasher, 0, |e| SourceFailure::Local(e.to_string()))?;
        output.sync_all().map_err(SourceFailure::Write)?;
        Ok(Fetched { digest: hasher.finish(), resumed: false })
    }
}

/// What a `file://` mirror holds: its release directories (`3.13.5/`) that hold their tarball
/// (`Python-3.13.5.tar.xz`), nearest to `wanted` first, at most [`MAX_LISTED_VERSIONS`] shown
/// (oldest first). None for a mirror that cannot be listed (http, unreadable).
fn list_mirror(base: &str, wanted: &crate::interpreters::version::Version) -> Option<MirrorListing> {
    let dir = Path::new(base.strip_prefix("file://")?);
    let mut found: Vec<crate::interpreters::version::Version> = Vec::new();
    for entry in fs::read_dir(dir).ok()?.take(MAX_MIRROR_ENTRIES).flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(version) = name.parse::<crate::interpreters::version::Version>() else { continue };
        if version.to_string() != name || !version.is_final() {
            continue;
        }
        let tarball = entry.path().join(format!("Python-{version}.tar.xz"));
        if fs::metadata(&tarball).is_ok_and(|m| m.is_file()) {
            found.push(version);
        }
    }
    // The nearest: the same series first, then by distance of series, newest first.
    let rank = |v: &crate::interpreters::version::Version| {
        let series = |major: u32, minor: u32| i64::from(major) * 1000 + i64::from(minor);
        let distance = (series(v.major, v.minor) - series(wanted.major, wanted.minor)).abs();
        (distance, std::cmp::Reverse(v.clone()))
    };
    found.sort_by_key(rank);
    let more = found.len().saturating_sub(MAX_LISTED_VERSIONS);
    found.truncate(MAX_LISTED_VERSIONS);
    found.sort();
    Some(MirrorListing { base: redact(base), versions: found, more })
}

fn check_regular(metadata: &fs::Metadata) -> Result<(), SourceFailure> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(SourceFailure::NotRegular(what))
}

/// A complete transfer, not yet compared with the expected digest.
struct Fetched {
    digest: Sha256Digest,
    resumed: bool,
}

/// The first byte of a 206 response's `Content-Range: bytes START-END/TOTAL`.
fn range_start(headers: &ureq::http::HeaderMap) -> Option<u64> {
    let value = headers.get("content-range")?.to_str().ok()?;
    value.trim().strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// The address forms ftpy can fetch from.
pub fn is_supported_url(url: &str) -> bool {
    ["http://", "https://", "file://"].iter().any(|scheme| url.starts_with(scheme))
}

/// Refuse a mirror list (`--mirror` / `FTPY_MIRROR`, trimmed) with an empty entry or an entry
/// that cannot be a mirror, before any download.
pub fn check_mirrors(mirrors: &[String]) -> Result<(), crate::error::Error> {
    use crate::error::Error;
    use crate::output::terminal_text::escape_control;
    let mirror_hint = || {
        vec!["a mirror looks like https://host/python/ or file:///absolute/path, laid out like python.org's ftp/python/ (<base>/3.13.5/Python-3.13.5.tar.xz)".into()]
    };
    if mirrors.iter().any(String::is_empty) {
        let list = escape_control(&redact(&mirrors.join(","))).into_owned();
        let message = if list.trim().is_empty() {
            "--mirror was given an empty URL".to_string()
        } else {
            format!("the mirror list `{list}` (--mirror / FTPY_MIRROR) has an empty entry")
        };
        return Err(Error::Usage { message, hints: mirror_hint() });
    }
    for mirror in mirrors {
        if let Err(why) = check_mirror(mirror) {
            return Err(Error::Usage {
                message: format!("mirror `{}` cannot be used: {why}", escape_control(&redact(mirror))),
                hints: mirror_hint(),
            });
        }
    }
    Ok(())
}

/// Why `base` cannot be a mirror, if it cannot. A mirror is an http(s) URL with a host, or a
/// `file:///` URL with an absolute path below the root; release paths are appended to it.
pub fn check_mirror(base: &str) -> Result<(), String> {
    if !is_supported_url(base) {
        return Err("it is not an http://, https:// or file:// URL".into());
    }
    // A URL parser drops tabs and line breaks and refuses the rest: the address fetched would
    // not be the one shown, or every fetch would fail as if the network had.
    if base.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            "it contains white space or a control character: percent-encode it (a space is %20)".into()
        );
    }
    if let Some(path) = base.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err("a file:// mirror needs an absolute path: file:///path/to/mirror".into());
        }
        if path.trim_matches('/').is_empty() {
            return Err("it names no directory".into());
        }
        if path.contains(['?', '#']) {
            return Err("a file:// mirror cannot have a query or fragment".into());
        }
        return Ok(());
    }
    // What the URL parser says may quote the URL: only its own words are kept.
    let parsed = url::Url::parse(base).map_err(|e| format!("it is not a valid URL ({e})"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a mirror base cannot have a query or fragment: release paths are appended to it".into());
    }
    Ok(())
}

/// Read what a file already holds into the hasher, leaving the cursor at its end.
fn hash_into(file: &mut File, hasher: &mut Sha256Hasher) -> io::Result<()> {
    file.seek(io::SeekFrom::Start(0))?;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(()),
            n => hasher.update(&buffer[..n]),
        }
    }
}
