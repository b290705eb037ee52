//! The package index the user's pip uses, read through the simple repository API: PEP 691 JSON
//! when the index offers it, the PEP 503 HTML form otherwise. Pages are cached for a few
//! minutes under `<home>/cache/index/`; core metadata files (PEP 658), which never change,
//! are kept.
//!
//! The index is never named by ftpy: it is `--index-url`, else `PIP_INDEX_URL`, else pip's
//! configuration files (as `pip config list` reports them), else the default compiled into the
//! interpreter's own pip.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wheels::tags::normalize_name;

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

/// Where the index URLs came from, for the report header.
#[derive(Clone, Debug, Serialize)]
pub struct IndexConfig {
    /// The primary index, then the extra ones; pip merges what they offer. Shown (and
    /// serialized) with any password masked, as pip shows them.
    #[serde(serialize_with = "serialize_redacted")]
    pub urls: Vec<String>,
    pub source: String,
}

impl IndexConfig {
    pub fn shown_urls(&self) -> Vec<String> {
        self.urls.iter().map(|u| redact(u)).collect()
    }
}

fn serialize_redacted<S: serde::Serializer>(urls: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(urls.iter().map(|u| redact(u)))
}

/// `https://user:****@host/simple`: a URL fit to print.
pub fn redact(url: &str) -> String {
    crate::output::redact::redact(url)
}

/// Check an index URL: http, https or file, parsable.
fn validated(url: &str) -> Result<String, IndexError> {
    let url = url.trim();
    let bad = |message: &str| IndexError::BadUrl {
        url: crate::output::terminal_text::escape_control(&redact(url)).into_owned(),
        message: message.to_string(),
    };
    // A URL parser drops tabs and line breaks and encodes the rest: the index read would not
    // be the one shown, and what is shown would reach the terminal raw.
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "it contains white space or a control character: percent-encode it (a space is %20)",
        ));
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" | "file" => Ok(url.to_string()),
        other => Err(bad(&format!("the scheme {other}: is not http, https or file"))),
    }
}

/// Work out the indexes pip would use. `python` is the interpreter whose pip is asked for its
/// configuration files and default; without one, `python3` on PATH.
pub fn index_config(
    flag: Option<&str>,
    flag_extra: &[String],
    python: Option<&Path>,
) -> Result<IndexConfig, IndexError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let truthy = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
    let python = python.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("python3"));
    let files = pip_config_files(&python);
    let no_index_in_files =
        files.iter().any(|(k, v)| (k == "global.no-index" || k == "install.no-index") && truthy(v));
    if flag.is_none() && (env("PIP_NO_INDEX").is_some_and(|v| truthy(&v)) || no_index_in_files) {
        return Err(IndexError::NoIndexConfigured);
    }
    let from_files = |key: &str| -> Option<String> {
        // [install] overrides [global]; later files (user, then site) override earlier ones.
        let mut value = None;
        for section in ["global", "install"] {
            for (k, v) in &files {
                if *k == format!("{section}.{key}") {
                    value = Some(v.clone());
                }
            }
        }
        value
    };
    let (primary, source) = if let Some(url) = flag {
        (url.to_string(), "--index-url".to_string())
    } else if let Some(url) = env("PIP_INDEX_URL") {
        (url, "PIP_INDEX_URL".to_string())
    } else if let Some(url) = from_files("index-url") {
        (url, "pip configuration".to_string())
    } else if let Some(url) = pip_default_index(&python) {
        (url, format!("the default of {}'s pip", python.display()))
    } else {
        return Err(IndexError::NoIndex);
    };
    let mut urls = vec![validated(&primary)?];
    // As pip: command-line extras add to the configured ones; PIP_EXTRA_INDEX_URL replaces the
    // value from the files.
    let configured = env("PIP_EXTRA_INDEX_URL").or_else(|| from_files("extra-index-url"));
    for extra in flag_extra.iter().cloned().chain(configured) {
        for url in extra.split_whitespace() {
            let url = validated(url)?;
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    Ok(IndexConfig { urls, source })
}

/// `pip config list`: `section.key='value'` lines from pip's configuration files.
fn pip_config_files(python: &Path) -> Vec<(String, String)> {
    let Ok(output) = crate::system::python::python(python)
        .args(["-m", "pip", "config", "list", "--disable-pip-version-check"])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            if key.starts_with(':') {
                return None; // environment variables, read above with their own precedence
            }
            let value = value.trim().trim_matches('\'').trim_matches('"').replace("\\n", " ");
            Some((key.trim().to_string(), value))
        })
        .collect()
}

fn pip_default_index(python: &Path) -> Option<String> {
    let output = crate::system::python::python(python)
        .args(["-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"])
        .output()
        .ok()?;
    let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && url.starts_with("http")).then_some(url)
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

#[derive(Serialize, Deserialize)]
struct CachedPage {
    url: String,
    fetched_at: u64,
    content_type: String,
    body: String,
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

/// Write a cache file readable by its owner only (it may hold a private index's pages or
/// metadata), through a temporary file so that a reader never sees half of it. The cache
/// directory is made (or narrowed to) 0700. A cache that cannot be written is no error.
fn write_atomically(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
    let Some(dir) = path.parent() else { return };
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
            }
        }
        Ok(_) => return,
        Err(_) => {
            if fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
                return;
            }
        }
    }
    let temporary = path.with_extension(format!(
        "partial-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_file(&temporary);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes));
    if written.is_err() || fs::rename(&temporary, path).is_err() {
        let _ = fs::remove_file(&temporary);
    }
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

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(rename = "core-metadata", default)]
    core_metadata: serde_json::Value,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: serde_json::Value,
}

fn parse_json(url: &str, body: &str) -> Result<Vec<IndexFile>, IndexError> {
    let page: JsonPage = serde_json::from_str(body)
        .map_err(|e| IndexError::Parse { url: redact(url), message: shown(&e.to_string()) })?;
    let truthy =
        |v: &serde_json::Value| !matches!(v, serde_json::Value::Null | serde_json::Value::Bool(false));
    Ok(page
        .files
        .into_iter()
        .filter_map(|f| {
            Some(IndexFile {
                url: resolve(url, &f.url)?,
                filename: f.filename,
                requires_python: f.requires_python.filter(|r| !r.trim().is_empty()),
                yanked: match &f.yanked {
                    serde_json::Value::String(reason) => Some(reason.clone()),
                    serde_json::Value::Bool(true) => Some(String::new()),
                    _ => None,
                },
                core_metadata: truthy(&f.core_metadata) || truthy(&f.dist_info_metadata),
            })
        })
        .collect())
}

/// The anchors of a PEP 503 page, with their `data-*` attributes.
fn parse_html(url: &str, body: &str) -> Vec<IndexFile> {
    // Searched in a lower-cased copy (same byte offsets: ASCII lower-casing keeps lengths).
    let lower = body.to_ascii_lowercase();
    let mut files = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<a") {
        let start = at + found + 2;
        at = start;
        if !lower[start..].starts_with(|c: char| c.is_ascii_whitespace()) {
            continue; // <abbr>, <aside>, ...
        }
        let Some(tag_end) = tag_end(&lower, start) else { break };
        let attributes = &body[start..tag_end];
        let text_end = lower[tag_end..].find("</a>").map(|e| tag_end + e).unwrap_or(body.len());
        let filename = unescape(body[tag_end + 1..text_end].trim());
        at = text_end;
        let Some(href) = attribute(attributes, "href") else { continue };
        let Some(link) = resolve(url, &href) else { continue };
        files.push(IndexFile {
            url: link,
            filename,
            requires_python: attribute(attributes, "data-requires-python").filter(|r| !r.trim().is_empty()),
            yanked: attribute(attributes, "data-yanked"),
            core_metadata: attribute(attributes, "data-core-metadata")
                .or_else(|| attribute(attributes, "data-dist-info-metadata"))
                .is_some_and(|v| v != "false"),
        });
    }
    files
}

/// The `>` that closes a tag opened before `from`, skipping any inside quoted values
/// (`data-requires-python=">=3.8"`).
fn tag_end(text: &str, from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, b) in text.bytes().enumerate().skip(from) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The value of `name="..."` (or `'...'`, or a bare `name`, which gives an empty value).
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let lower = attributes.to_ascii_lowercase();
    let mut search = 0;
    while let Some(found) = lower[search..].find(name) {
        let at = search + found;
        search = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = &attributes[at + name.len()..];
        if !before_ok || after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let after = after.trim_start();
        let Some(value) = after.strip_prefix('=') else { return Some(String::new()) };
        let value = value.trim_start();
        let quote = value.chars().next()?;
        let text = if quote == '"' || quote == '\'' {
            let inner = &value[1..];
            &inner[..inner.find(quote).unwrap_or(inner.len())]
        } else {
            &value[..value.find(char::is_whitespace).unwrap_or(value.len())]
        };
        return Some(unescape(text));
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `*.dist-info/METADATA` of a wheel, or the top-level `PKG-INFO` of an sdist.
fn read_archive_metadata(filename: &str, bytes: &[u8]) -> Result<String, String> {
    read_archive_metadata_within(filename, bytes, SDIST_UNPACKED_LIMIT)
}

/// An sdist is read (decompressed) no further than this looking for its `PKG-INFO`, which comes
/// near the start of real ones: a small gzip file can expand a thousandfold.
const SDIST_UNPACKED_LIMIT: u64 = 1024 * 1024 * 1024;

fn read_archive_metadata_within(filename: &str, bytes: &[u8], unpacked_limit: u64) -> Result<String, String> {
    if filename.ends_with(".whl") {
        return zip_member(bytes, |n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
            .ok_or_else(|| "the wheel has no .dist-info/METADATA".to_string())?;
    }
    if filename.ends_with(".tar.gz") || filename.ends_with(".tgz") {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes).take(unpacked_limit));
        let found = (|| {
            for entry in archive.entries().map_err(|e| e.to_string())? {
                let mut entry = entry.map_err(|e| e.to_string())?;
                let path = entry.path().map_err(|e| e.to_string())?.into_owned();
                if path.components().count() == 2 && path.ends_with("PKG-INFO") {
                    return read_bounded_text(&mut entry);
                }
            }
            Err("the sdist has no PKG-INFO".to_string())
        })();
        if found.is_err() && archive.into_inner().limit() == 0 {
            return Err(format!(
                "the sdist unpacks to more than {} MiB before its PKG-INFO",
                unpacked_limit / (1024 * 1024)
            ));
        }
        return found;
    }
    if filename.ends_with(".zip") {
        return zip_member(bytes, |n| n.ends_with("/PKG-INFO") && n.matches('/').count() == 1)
            .ok_or_else(|| "the sdist has no PKG-INFO".to_string())?;
    }
    Err(format!("cannot read metadata from {}", crate::output::terminal_text::escape_control(filename)))
}

/// A metadata member of an archive, as text; one that unpacks to more than [`METADATA_LIMIT`]
/// is refused (it would be a bomb, not metadata).
fn read_bounded_text(member: &mut impl Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    member.take(METADATA_LIMIT + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > METADATA_LIMIT {
        return Err(format!("its metadata is larger than {} MiB", METADATA_LIMIT / (1024 * 1024)));
    }
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The text of the first member of a zip archive whose name `wanted` accepts.
fn zip_member(bytes: &[u8], wanted: impl Fn(&str) -> bool) -> Option<Result<String, String>> {
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => return Some(Err(e.to_string())),
    };
    for index in 0..archive.len() {
        let mut member = match archive.by_index(index) {
            Ok(member) => member,
            Err(e) => return Some(Err(e.to_string())),
        };
        let name = member.name().map(|n| n.into_owned()).unwrap_or_default();
        if wanted(&name) {
            return Some(read_bounded_text(&mut member));
        }
    }
    None
}

/// More dependencies than any real release declares (the largest have a few hundred).
pub const MAX_REQUIRES_DIST: usize = 2000;

/// The fields of core metadata ftpy uses.
#[derive(Clone, Debug, Default)]
pub struct CoreMetadata {
    pub requires_dist: Vec<String>,
    pub classifiers: Vec<String>,
    /// `Provides-Extra`: pip ignores (with a warning) any other extra asked for.
    pub provides_extra: Vec<String>,
    /// Metadata 2.2+: `Requires-Dist` declared dynamic, i.e. known only after a build.
    pub dynamic_requires: bool,
    /// `Requires-Dist` fields past [`MAX_REQUIRES_DIST`], not kept: metadata that declares more
    /// is lying, and following them all would be unbounded work.
    pub requires_dist_dropped: usize,
    /// `Metadata-Version`, e.g. (2, 1).
    pub version: Option<(u32, u32)>,
}

impl CoreMetadata {
    pub fn parse(text: &str) -> CoreMetadata {
        let mut meta = CoreMetadata::default();
        let mut last: Option<(String, String)> = None;
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.is_empty() {
                break; // the body (description) starts here
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = &mut last {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some(done) = last.take() {
                fields.push(done);
            }
            if let Some((key, value)) = line.split_once(':') {
                last = Some((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        fields.extend(last);
        for (key, value) in fields {
            match key.as_str() {
                "requires-dist" if meta.requires_dist.len() >= MAX_REQUIRES_DIST => {
                    meta.requires_dist_dropped += 1
                }
                "requires-dist" => meta.requires_dist.push(value),
                "classifier" => meta.classifiers.push(value),
                "provides-extra" => meta.provides_extra.push(crate::wheels::tags::normalize_name(&value)),
                "dynamic" if value.eq_ignore_ascii_case("requires-dist") => meta.dynamic_requires = true,
                "metadata-version" => {
                    let mut parts = value.split('.').map(|p| p.trim().parse::<u32>().unwrap_or(0));
                    meta.version = Some((parts.next().unwrap_or(0), parts.next().unwrap_or(0)));
                }
                _ => {}
            }
        }
        meta
    }

    /// Metadata of an sdist (PKG-INFO): before Metadata 2.2 (PEP 643) every field may change
    /// when the package is built, so its dependencies are not known until then.
    pub fn parse_sdist(text: &str) -> CoreMetadata {
        let mut meta = CoreMetadata::parse(text);
        if meta.version.is_none_or(|v| v < (2, 2)) {
            meta.dynamic_requires = true;
        }
        meta
    }

    /// The Free Threading trove classifier's last part, e.g. `3 - Stable`.
    pub fn free_threading_classifier(&self) -> Option<String> {
        self.classifiers
            .iter()
            .find_map(|c| c.strip_prefix("Programming Language :: Python :: Free Threading :: "))
            .map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_pages() {
        let body = r#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
            {"filename":"demo-1.0.tar.gz","url":"../../files/demo-1.0.tar.gz#sha256=00","hashes":{},"yanked":false},
            {"filename":"demo-2.0-py3-none-any.whl","url":"https://x/demo-2.0-py3-none-any.whl","hashes":{},
             "requires-python":">=3.9","yanked":"broken","core-metadata":{"sha256":"ab"}}]}"#;
        let files = parse_json("http://host/simple/demo/", body).unwrap();
        assert_eq!(files[0].url, "http://host/files/demo-1.0.tar.gz");
        assert_eq!(files[0].yanked, None);
        assert!(!files[0].core_metadata);
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(files[1].yanked.as_deref(), Some("broken"));
        assert!(files[1].core_metadata);
    }

    #[test]
    fn reads_html_pages() {
        let body = r#"<html><body>
            <a href="/files/demo-1.0.tar.gz#sha256=00" data-requires-python=">=3.8">demo-1.0.tar.gz</a><br/>
            <abbr>x</abbr><A
              HREF='demo-2.0-py3-none-any.whl' data-yanked data-core-metadata="sha256=ab">demo-2.0-py3-none-any.whl</A>
            </body></html>"#;
        let files = parse_html("http://host/simple/demo/", body);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].url, "http://host/files/demo-1.0.tar.gz");
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[1].url, "http://host/simple/demo/demo-2.0-py3-none-any.whl");
        assert_eq!(files[1].yanked.as_deref(), Some(""));
        assert!(files[1].core_metadata);
    }

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
    fn an_sdist_is_unpacked_only_so_far_looking_for_its_metadata() {
        let sdist = |filler: usize| {
            let mut tar =
                tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
            for (name, data) in
                [("demo-1.0/filler", vec![0u8; filler]), ("demo-1.0/PKG-INFO", b"Name: demo\n".to_vec())]
            {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, name, data.as_slice()).unwrap();
            }
            tar.into_inner().unwrap().finish().unwrap()
        };
        let limit = 1024 * 1024;
        let small = sdist(1000);
        assert_eq!(read_archive_metadata_within("demo-1.0.tar.gz", &small, limit).unwrap(), "Name: demo\n");
        // 4 MiB of zeros compress to a few KB: a bomb in miniature.
        let bomb = sdist(4 * 1024 * 1024);
        assert!(bomb.len() < 64 * 1024);
        let error = read_archive_metadata_within("demo-1.0.tar.gz", &bomb, limit).unwrap_err();
        assert_eq!(error, "the sdist unpacks to more than 1 MiB before its PKG-INFO");
    }

    #[test]
    fn cache_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::TempDir::new().unwrap();
        let dir = home.path().join("cache/index");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write_atomically(&dir.join("page-x.json"), b"{}");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("page-x.json")), 0o600);
        // A cache directory left open by an older ftpy is narrowed; no temporary file stays.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        write_atomically(&dir.join("meta-y"), b"Name: y");
        assert_eq!((mode(&dir), mode(&dir.join("meta-y"))), (0o700, 0o600));
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
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

    #[test]
    fn reads_core_metadata() {
        let meta = CoreMetadata::parse(
            "Metadata-Version: 2.4\nName: demo\nRequires-Dist: attrs>=23\nRequires-Dist: numpy; extra == \"fast\"\n\
             Classifier: Programming Language :: Python :: Free Threading :: 3 - Stable\nDynamic: Requires-Dist\n\
             Provides-Extra: Fast_Math\n\n\
             Requires-Dist: not-a-field\n",
        );
        assert_eq!(meta.requires_dist, vec!["attrs>=23", "numpy; extra == \"fast\""]);
        assert_eq!(meta.free_threading_classifier().as_deref(), Some("3 - Stable"));
        assert!(meta.dynamic_requires);
        assert_eq!(meta.provides_extra, vec!["fast-math"]);
        assert_eq!(meta.version, Some((2, 4)));
        assert!(CoreMetadata::parse_sdist("Metadata-Version: 2.1\nName: x\n").dynamic_requires);
        assert!(!CoreMetadata::parse_sdist("Metadata-Version: 2.2\nName: x\n").dynamic_requires);
    }
}
