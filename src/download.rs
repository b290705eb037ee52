//! Fetch a source tarball into the content-addressed cache, and trust it only by its sha256.
//!
//! The cache names each file by the digest the recipe expects: `<cache>/<sha256>.tar.xz`.
//! Bytes stream into `<sha256>.partial` while being hashed; the partial file is renamed into
//! place only when the digest matches. A mismatch deletes the file and ends the fetch: it is
//! never retried, from the same source or another. Network errors are retried: every source
//! in order, then a pause that doubles each round. A transfer cut short resumes with a range
//! request when the server allows it, and restarts from zero when it does not.
//! A cached file is hashed again on every use.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::digest::{HashingReader, Sha256Digest, Sha256Hasher, sha256_file};
use crate::progress::Reporter;

/// Where a source can be had, in the order to try.
#[derive(Clone, Debug)]
pub struct Sources {
    pub urls: Vec<String>,
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

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("sha256 mismatch for {url}\n  expected: {expected}\n  actual:   {actual}")]
    ChecksumMismatch { url: String, expected: Sha256Digest, actual: Sha256Digest },
    #[error(
        "the cached source {} does not match its sha256 and was deleted\n  expected: {expected}\n  actual:   {actual}",
        path.display()
    )]
    CachedMismatch { path: PathBuf, expected: Sha256Digest, actual: Sha256Digest },
    #[error("could not download the source from any of {} location(s):\n{}", failures.len(), list_failures(failures))]
    Unavailable { failures: Vec<(String, SourceFailure)> },
    #[error("the download was stopped by a signal (what arrived is kept, to be resumed)")]
    Interrupted,
    #[error("cannot write to the source cache {}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DownloadError {
    /// True when every source answered that it does not have the file (as opposed to network
    /// trouble): the address or mirror layout is wrong rather than the connection.
    pub fn all_not_found(&self) -> bool {
        matches!(self, DownloadError::Unavailable { failures }
            if failures.iter().all(|(_, f)| matches!(f, SourceFailure::NotFound)))
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
    #[error("stopped by a signal")]
    Interrupted,
}

impl SourceFailure {
    /// Worth another try later: the network, or a server error.
    fn is_transient(&self) -> bool {
        match self {
            SourceFailure::Network(_) => true,
            SourceFailure::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            SourceFailure::NotFound
            | SourceFailure::UnsupportedScheme
            | SourceFailure::Local(_)
            | SourceFailure::Interrupted => false,
        }
    }
}

fn list_failures(failures: &[(String, SourceFailure)]) -> String {
    let lines: Vec<String> = failures.iter().map(|(url, f)| format!("  {url}: {f}")).collect();
    lines.join("\n")
}

pub struct Downloader {
    agent: ureq::Agent,
    cache_dir: PathBuf,
    retry: RetryPolicy,
}

impl Downloader {
    pub fn new(cache_dir: PathBuf, retry: RetryPolicy) -> Downloader {
        let agent = crate::http::agent();
        Downloader { agent, cache_dir, retry }
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
        match crate::interrupt::lock_exclusive(&lock, waiting) {
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
                    if crate::interrupt::requested() {
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
                if let Ok(fetched) = &attempt {
                    if fetched.resumed && &fetched.digest != expected {
                        // The first part may have come from elsewhere: blame this source
                        // only for a whole file it sent alone.
                        reporter
                            .warn(format!("{url}: resumed download does not verify; downloading it whole"));
                        let _ = fs::remove_file(&partial);
                        attempt = self.fetch_one(url, &partial, reporter);
                    }
                }
                match attempt.map(|fetched| fetched.digest) {
                    Ok(actual) if &actual == expected => {
                        fs::rename(&partial, &target).map_err(cache_err(&target))?;
                        return Ok(target);
                    }
                    Ok(actual) => {
                        let _ = fs::remove_file(&partial);
                        return Err(DownloadError::ChecksumMismatch {
                            url: url.clone(),
                            expected: *expected,
                            actual,
                        });
                    }
                    Err(SourceFailure::Interrupted) => return Err(DownloadError::Interrupted),
                    Err(failure) => {
                        reporter.warn(format!("{url}: {failure}"));
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
        Err(DownloadError::Unavailable { failures })
    }

    /// One attempt at one source: stream into `partial` (resuming what is there when the
    /// server allows) and return the digest of the whole file, and whether it was resumed.
    fn fetch_one(&self, url: &str, partial: &Path, reporter: &Reporter) -> Result<Fetched, SourceFailure> {
        if let Some(path) = url.strip_prefix("file://") {
            return copy_local(Path::new(path), partial, url, reporter);
        }
        if !is_supported_url(url) {
            return Err(SourceFailure::UnsupportedScheme);
        }
        let have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let response = request.call().map_err(|e| SourceFailure::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let (mut file, mut hasher, offset) = match status {
            206 if have > 0 => {
                if range_start(response.headers()) != Some(have) {
                    let _ = fs::remove_file(partial);
                    return Err(SourceFailure::Network(
                        "the server resumed at the wrong offset; restarting".into(),
                    ));
                }
                reporter.info(format!("Resuming {url} at {}", crate::progress::human_bytes(have)));
                let mut file =
                    OpenOptions::new().read(true).append(true).open(partial).map_err(local_failure)?;
                let mut hasher = Sha256Hasher::default();
                hash_into(&mut file, &mut hasher).map_err(local_failure)?;
                (file, hasher, have)
            }
            200 => {
                reporter.info(format!("Downloading {url}"));
                (File::create(partial).map_err(local_failure)?, Sha256Hasher::default(), 0)
            }
            416 => {
                // What we have is not a prefix the server recognises: start over next round.
                let _ = fs::remove_file(partial);
                return Err(SourceFailure::Network("range not satisfiable; restarting".into()));
            }
            404 | 410 => return Err(SourceFailure::NotFound),
            code => return Err(SourceFailure::Status(code)),
        };
        let mut transfer = reporter.transfer("source", length.map(|l| l + offset), offset);
        let mut body = response.into_body().into_reader();
        let mut reader = transfer.reader(&mut body);
        let mut buffer = vec![0u8; 128 * 1024];
        let mut received: u64 = 0;
        loop {
            if crate::interrupt::requested() {
                // Keep what arrived: the next install resumes it with a range request.
                let _ = file.flush();
                return Err(SourceFailure::Interrupted);
            }
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = file.flush();
                    return Err(SourceFailure::Network(format!("transfer interrupted: {e}")));
                }
            };
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(local_failure)?;
            received += n as u64;
        }
        drop(reader);
        transfer.finish();
        file.sync_all().map_err(local_failure)?;
        if let Some(length) = length.filter(|l| received < *l) {
            // Cut short: keep what arrived for a range request next time.
            return Err(SourceFailure::Network(format!("transfer ended after {received} of {length} bytes")));
        }
        Ok(Fetched { digest: hasher.finish(), resumed: offset > 0 })
    }
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

fn copy_local(
    source: &Path,
    partial: &Path,
    url: &str,
    reporter: &Reporter,
) -> Result<Fetched, SourceFailure> {
    let input = match File::open(source) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SourceFailure::NotFound),
        Err(e) => return Err(SourceFailure::Local(e.to_string())),
    };
    reporter.info(format!("Copying {url}"));
    let mut output = File::create(partial).map_err(local_failure)?;
    let mut reader = HashingReader::new(input);
    io::copy(&mut reader, &mut output).map_err(local_failure)?;
    output.sync_all().map_err(local_failure)?;
    Ok(Fetched { digest: reader.finish(), resumed: false })
}

fn local_failure(e: io::Error) -> SourceFailure {
    SourceFailure::Local(e.to_string())
}
