//! The package index the user's pip uses, read through the simple repository API: PEP 691 JSON
//! when the index offers it, the PEP 503 HTML form otherwise. Pages are cached for a few
//! minutes under `<home>/cache/index/`; core metadata files (PEP 658), which never change,
//! are kept.
//!
//! The index is never named by ftpy: it is `--index-url`, else `PIP_INDEX_URL`, else pip's
//! configuration files (as `pip config list` reports them), else the default compiled into the
//! interpreter's own pip.
//!
//! In the order data flows:
//! - [`config`]: [`index_config`] works out the [`IndexConfig`] (the URLs pip would use, and where
//!   they came from);
//! - [`IndexClient::project`] fetches a project's page from each index, through the page cache
//!   ([`cache`]: private files, written whole), bounded by `PAGE_LIMIT`;
//! - [`json`] (PEP 691) or [`html`] (PEP 503) turns the page into [`IndexFile`]s; [`resolve`]
//!   keeps only links within the trust of their page (no `file:` from an http index, no
//!   `javascript:`), without credentials or fragments;
//! - [`IndexClient::metadata`] fetches a file's core metadata (the `.metadata` file, or the
//!   wheel's or sdist's own, bounded against bombs), and [`metadata`] reads its fields into a
//!   [`CoreMetadata`];
//! - failures are [`IndexError`]s, which carry their exit code and hints (`Diagnose`).

mod cache;
mod config;
mod html;
mod json;
mod metadata;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wheels::tags::normalize_name;

use cache::{CachedPage, write_atomically};
pub use config::{IndexConfig, index_config, redact};
use html::parse_html;
use json::parse_json;
use metadata::read_archive_metadata;
pub use metadata::{CoreMetadata, MAX_REQUIRES_DIST};

const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
/// A project page: PyPI's largest are tens of MB.
const PAGE_LIMIT: u64 = 256 * 1024 * 1024;
/// A `.metadata` file: a few KB, a few hundred at most with a long description.
const METADATA_LIMIT: u64 = 16 * 1024 * 1024;
/// A wheel or sdist read for its metadata, when the index serves no `.metadata` file.
const ARCHIVE_LIMIT: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("no package index is configured for pip, and no pip could be asked for its default")]
    NoIndex,
    #[error("pip is configured not to use any index (PIP_NO_INDEX or no-index in pip.conf)")]
    NoIndexConfigured,
    #[error("cannot read {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("`{url}` is not a package index URL: {message}")]
    BadUrl { url: String, message: String },
    #[error("no index could be read for {project}: {}", errors.join("; "))]
    AllFailed { project: String, errors: Vec<String> },
    #[error("{url} returned a page ftpy cannot read: {message}")]
    Parse { url: String, message: String },
}

impl crate::error::Diagnose for IndexError {
    fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            IndexError::Fetch { .. } | IndexError::AllFailed { .. } => ExitCode::Network,
            IndexError::NoIndex
            | IndexError::NoIndexConfigured
            | IndexError::BadUrl { .. }
            | IndexError::Parse { .. } => ExitCode::Usage,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            IndexError::NoIndex => vec!["name one with --index-url, PIP_INDEX_URL or pip.conf".into()],
            IndexError::NoIndexConfigured => vec!["name an index to check against with --index-url".into()],
            IndexError::BadUrl { .. } => {
                vec!["an index URL looks like https://host/simple (or file:///path/to/simple)".into()]
            }
            IndexError::Fetch { .. } | IndexError::AllFailed { .. } | IndexError::Parse { .. } => vec![
                "check the index URL (--index-url, PIP_INDEX_URL, pip.conf) and the network or proxy".into(),
                "behind a proxy that re-signs TLS, point SSL_CERT_FILE (or PIP_CERT) at its CA bundle".into(),
            ],
        }
    }
}

/// One file a project page lists.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexFile {
    pub filename: String,
    pub url: String,
    pub requires_python: Option<String>,
    /// `Some(reason)` (possibly empty) when yanked.
    pub yanked: Option<String>,
    /// The index serves `<url>.metadata` (PEP 658 / 714).
    pub core_metadata: bool,
}

#[derive(Clone, Debug)]
pub struct ProjectPage {
    /// False when no index knows the project.
    pub found: bool,
    pub files: Vec<IndexFile>,
}

pub struct IndexClient {
    agent: ureq::Agent,
    pub config: IndexConfig,
    cache_dir: Option<PathBuf>,
    ttl: Duration,
}

impl IndexClient {
    pub fn new(config: IndexConfig, cache_dir: Option<PathBuf>, ttl: Duration) -> IndexClient {
        let agent = crate::system::http::agent();
        IndexClient { agent, config, cache_dir, ttl }
    }

    /// Every file every index lists for `project`.
    pub fn project(&self, project: &str) -> Result<ProjectPage, IndexError> {
        let name = normalize_name(project);
        let mut page = ProjectPage { found: false, files: Vec::new() };
        let mut errors = Vec::new();
        let mut answered = false;
        for base in &self.config.urls {
            let url = format!("{}/{name}/", base.trim_end_matches('/'));
            // As pip: an index that cannot be read is skipped; only when none answers is it an error.
            let fetched = match self.get_page(&url) {
                Ok(fetched) => fetched,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            answered = true;
            let Some((content_type, body)) = fetched else { continue };
            page.found = true;
            let files = if content_type.starts_with(JSON_TYPE) || content_type.contains("json") {
                parse_json(&url, &body)?
            } else {
                parse_html(&url, &body)
            };
            page.files.extend(files);
        }
        if !answered && !errors.is_empty() {
            if errors.len() == 1 {
                return Err(errors.remove(0));
            }
            return Err(IndexError::AllFailed {
                project: name,
                errors: errors.iter().map(|e| e.to_string()).collect(),
            });
        }
        Ok(page)
    }

    /// The core metadata of a file: the `.metadata` file when the index serves one, else read
    /// from the wheel's `*.dist-info/METADATA` or the sdist's `PKG-INFO`.
    pub fn metadata(&self, file: &IndexFile) -> Result<String, IndexError> {
        let key = format!("meta-{}", hex::encode(Sha256::digest(file.url.as_bytes())));
        if let Some(text) = self.cache_dir.as_ref().and_then(|d| fs::read_to_string(d.join(&key)).ok()) {
            return Ok(text);
        }
        let text = if file.core_metadata {
            let url = format!("{}.metadata", file.url);
            self.get_bytes(&url, METADATA_LIMIT).map(|b| String::from_utf8_lossy(&b).into_owned())?
        } else {
            let bytes = self.get_bytes(&file.url, ARCHIVE_LIMIT)?;
            read_archive_metadata(&file.filename, &bytes)
                .map_err(|message| IndexError::Parse { url: file.url.clone(), message })?
        };
        if let Some(dir) = &self.cache_dir {
            write_atomically(&dir.join(&key), text.as_bytes());
        }
        Ok(text)
    }

    fn get_page(&self, url: &str) -> Result<Option<(String, String)>, IndexError> {
        let key = format!("page-{}.json", hex::encode(Sha256::digest(url.as_bytes())));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if let Some(dir) = &self.cache_dir
            && let Ok(text) = fs::read_to_string(dir.join(&key))
            && let Ok(cached) = serde_json::from_str::<CachedPage>(&text)
            && cached.url == redact(url)
            && now.saturating_sub(cached.fetched_at) < self.ttl.as_secs()
        {
            return Ok(Some((cached.content_type, cached.body)));
        }
        let fail = |message: String| IndexError::Fetch { url: redact(url), message: shown(&message) };
        if url.starts_with("file:") {
            // pip reads a local index directory's index.html.
            let dir = local_path(url).ok_or_else(|| fail("not a local path".into()))?;
            let mut bytes = Vec::new();
            return match read_regular_file(&dir.join("index.html"), PAGE_LIMIT, &mut bytes) {
                Ok(()) if bytes.len() as u64 > PAGE_LIMIT => {
                    Err(fail(format!("larger than {} MiB", PAGE_LIMIT / (1024 * 1024))))
                }
                Ok(()) => Ok(Some(("text/html".to_string(), String::from_utf8_lossy(&bytes).into_owned()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(fail(e.to_string())),
            };
        }
        let mut response =
            self.request(url).header("Accept", ACCEPT).call().map_err(|e| fail(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            return Err(fail(format!("HTTP {status}")));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .to_string();
        let body = response
            .body_mut()
            .with_config()
            .limit(PAGE_LIMIT)
            .read_to_string()
            .map_err(|e| fail(e.to_string()))?;
        if let Some(dir) = &self.cache_dir {
            let cached =
                CachedPage { url: redact(url), fetched_at: now, content_type: content_type.clone(), body };
            if let Ok(text) = serde_json::to_string(&cached) {
                write_atomically(&dir.join(&key), text.as_bytes());
            }
            return Ok(Some((cached.content_type, cached.body)));
        }
        Ok(Some((content_type, body)))
    }

    /// At most `limit` bytes of a file an index links: more is an error, not a truncation.
    fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, IndexError> {
        let fail = |message: String| IndexError::Fetch { url: redact(url), message: shown(&message) };
        let too_large = || fail(format!("larger than {} MiB", limit / (1024 * 1024)));
        if url.starts_with("file:") {
            // Links are vetted where pages are read; this is the second lock on the same door:
            // a local file is read only for a local index.
            if !self.config.urls.iter().any(|u| u.starts_with("file:")) {
                return Err(fail("a local file, and the index is not a local one".into()));
            }
            let path = local_path(url).ok_or_else(|| fail("not a local path".into()))?;
            let mut bytes = Vec::new();
            read_regular_file(&path, limit, &mut bytes).map_err(|e| fail(e.to_string()))?;
            if bytes.len() as u64 > limit {
                return Err(too_large());
            }
            return Ok(bytes);
        }
        let mut response = self.request(url).call().map_err(|e| fail(e.to_string()))?;
        if response.status().as_u16() != 200 {
            return Err(fail(format!("HTTP {}", response.status().as_u16())));
        }
        let mut bytes = Vec::new();
        response
            .body_mut()
            .with_config()
            .limit(limit + 1)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(bytes)
    }
}

impl IndexClient {
    /// A GET of `url` without credentials in it: those of the URL itself, or of the configured
    /// index on the same host, go in an Authorization header (ureq does not send URL userinfo).
    fn request(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let Ok(mut parsed) = url::Url::parse(url) else { return self.agent.get(url) };
        let credentials = if !parsed.username().is_empty() {
            Some((parsed.username().to_string(), parsed.password().unwrap_or("").to_string()))
        } else {
            self.config.urls.iter().filter_map(|u| url::Url::parse(u).ok()).find_map(|index| {
                let same = index.host_str() == parsed.host_str()
                    && index.port_or_known_default() == parsed.port_or_known_default();
                (same && !index.username().is_empty())
                    .then(|| (index.username().to_string(), index.password().unwrap_or("").to_string()))
            })
        };
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let request = self.agent.get(parsed.as_str());
        match credentials {
            Some((user, password)) => {
                request.header("Authorization", crate::system::http::basic_auth(&user, &password))
            }
            None => request,
        }
    }
}

/// An error message that may quote what an index sent (serde quotes the strings it did not
/// expect): escaped and shortened to print.
fn shown(message: &str) -> String {
    crate::output::terminal_text::escape_shortened(message, 300)
}

/// Read up to `limit + 1` bytes of `path` into `out`, refusing anything but a regular file
/// (a FIFO would block, a device stream forever). Opened without blocking, then checked on the
/// open handle, so a file swapped in between is caught too.
fn read_regular_file(path: &Path, limit: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    file.take(limit + 1).read_to_end(out)?;
    Ok(())
}

fn local_path(url: &str) -> Option<PathBuf> {
    url::Url::parse(url).ok()?.to_file_path().ok()
}

/// Whether a page may send ftpy to `link`: links stay within the trust of the page they are
/// on. A page served over http(s) may link http(s) only (never a local file); a local
/// (`file://`) index may also link local files. Every other scheme (`javascript:`, `data:`,
/// `ftp:`, ...) is dropped.
fn link_allowed(page: &url::Url, link: &url::Url) -> bool {
    matches!((page.scheme(), link.scheme()), ("http" | "https" | "file", "http" | "https") | ("file", "file"))
}

/// The absolute URL of a link on a page, without a fragment and without credentials (which
/// `request` adds back for the index's host, so they never reach messages or reports); `None`
/// for a link that cannot be parsed or that the page may not send ftpy to ([`link_allowed`]).
fn resolve(page_url: &str, href: &str) -> Option<String> {
    let base = url::Url::parse(page_url).ok()?;
    let mut joined = base.join(href).ok()?;
    if !link_allowed(&base, &joined) {
        return None;
    }
    let _ = joined.set_username("");
    let _ = joined.set_password(None);
    joined.set_fragment(None);
    Some(joined.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::validated;

    #[test]
    fn links_stay_within_the_trust_of_their_page() {
        let http = "http://host/simple/demo/";
        assert_eq!(resolve(http, "https://cdn/x.whl").as_deref(), Some("https://cdn/x.whl"));
        for href in
            ["file:///etc/passwd?", "FILE:///etc/shadow", "javascript:alert(1)", "data:,x", "ftp://h/x"]
        {
            assert_eq!(resolve(http, href), None, "{href}");
            assert_eq!(resolve("https://host/simple/demo/", href), None, "{href}");
        }
        let local = "file:///srv/simple/demo/";
        assert_eq!(resolve(local, "../../f/x.whl").as_deref(), Some("file:///srv/f/x.whl"));
        assert_eq!(resolve(local, "https://cdn/x.whl").as_deref(), Some("https://cdn/x.whl"));
        assert_eq!(resolve(local, "javascript:alert(1)"), None);

        // Both page forms drop such links; the metadata URL is derived from the file's, so it
        // cannot escape either.
        let json = r#"{"files":[
            {"filename":"a-1.0-py3-none-any.whl","url":"file:///tmp/secret?","core-metadata":true},
            {"filename":"a-1.1-py3-none-any.whl","url":"javascript:fetch('x')","dist-info-metadata":true},
            {"filename":"a-1.2-py3-none-any.whl","url":"/files/a-1.2-py3-none-any.whl"}]}"#;
        let files = parse_json(http, json).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].url, "http://host/files/a-1.2-py3-none-any.whl");
        let html = r#"<a href="file:///tmp/secret?" data-dist-info-metadata="true">a-1.0-py3-none-any.whl</a>
            <a href="data:text/plain,Requires-Dist: x">a-1.1.tar.gz</a><a href="a-1.2.tar.gz">a-1.2.tar.gz</a>"#;
        let files = parse_html(http, html);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].url, "http://host/simple/demo/a-1.2.tar.gz");
        assert_eq!(parse_html(local, html).len(), 2, "a local index may link local files");
    }

    #[test]
    fn credentials_are_masked_and_encoded() {
        assert_eq!(redact("https://user:s3cret@host/simple"), "https://user:****@host/simple");
        assert_eq!(redact("https://host/simple"), "https://host/simple");
        assert_eq!(redact("https://tok3n@host/simple"), "https://****@host/simple");
        assert_eq!(
            resolve("https://u:p@host/simple/x/", "../../f/x.whl#sha256=1").as_deref(),
            Some("https://host/f/x.whl")
        );
        assert!(matches!(validated("ftp://x/simple"), Err(IndexError::BadUrl { .. })));
        assert!(matches!(validated("notaurl"), Err(IndexError::BadUrl { .. })));
        // A URL that does not parse is still shown masked.
        let bad = validated("https://alice:secret@host:99999/simple").unwrap_err().to_string();
        assert!(bad.contains("https://alice:****@host:99999/simple") && !bad.contains("secret"), "{bad}");
        assert!(validated("file:///srv/simple").is_ok());
    }
}
