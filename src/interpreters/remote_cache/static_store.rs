//! A read-only remote cache: a directory of entries as `ftpy cache export DIR` writes it,
//! served by any web server or bucket (`https://`, `http://`) or read from disk (`file://`).
//!
//! The layout, for each entry id (`ftpy-3.14.6t-0123456789abcdef`):
//! - `<base>/<id>.json`: the entry's metadata;
//! - `<base>/<id>.tar.zst`: its archive.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StaticStoreError {
    #[error("cannot read {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} has {actual} bytes, its metadata records {expected}")]
    WrongSize { url: String, expected: u64, actual: u64 },
}

enum Base {
    Http { base: String, agent: ureq::Agent },
    File(PathBuf),
}

pub struct StaticStore {
    base: Base,
    max_bytes: u64,
    /// How long the metadata of an entry may take whole.
    small_timeout: Duration,
}

impl StaticStore {
    /// A store at `url` (`https://`, `http://` or `file:///absolute/path`), reading files no
    /// larger than `max_bytes`; or why `url` cannot be one.
    pub fn new(
        url: &str,
        timeout: Duration,
        max_bytes: u64,
        small_timeout: Duration,
    ) -> Result<StaticStore, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("credentials do not go in the URL".into());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("a base URL has no query or fragment".into());
        }
        let base = match parsed.scheme() {
            // Metadata and archive are trusted because TLS carried them: an `https://` store is
            // never followed to plain HTTP (a redirect included).
            "https" | "http" => {
                let agent = match parsed.scheme() {
                    "https" => crate::system::http::bounded_https_agent(timeout),
                    _ => crate::system::http::bounded_agent(timeout),
                };
                Base::Http { base: url.trim_end_matches('/').to_string(), agent }
            }
            "file" => {
                let path =
                    parsed.to_file_path().map_err(|()| "a file:// URL needs an absolute path".to_string())?;
                Base::File(path)
            }
            other => {
                return Err(format!(
                    "`{other}` is not a scheme ftpy reads builds from: oci://, oci+http://, https://, http://, file://"
                ));
            }
        };
        Ok(StaticStore { base, max_bytes, small_timeout })
    }

    pub fn url(&self) -> String {
        match &self.base {
            Base::Http { base, .. } => base.clone(),
            Base::File(path) => format!("file://{}", path.display()),
        }
    }

    fn location(&self, name: &str) -> String {
        format!("{}/{name}", self.url())
    }

    /// The file `name`, or None when the store does not have it; at most `limit` bytes.
    pub fn read_small(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, StaticStoreError> {
        let mut bytes = Vec::new();
        match self.open(name, true)? {
            None => Ok(None),
            Some(reader) => {
                let url = self.location(name);
                reader
                    .take(limit + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| StaticStoreError::Unreachable { url: url.clone(), reason: e.to_string() })?;
                if bytes.len() as u64 > limit {
                    return Err(StaticStoreError::TooLarge { url, limit });
                }
                Ok(Some(bytes))
            }
        }
    }

    /// Copy the file `name`, which must have exactly `expected` bytes, into `out`.
    pub fn copy_to(&self, name: &str, expected: u64, out: &mut impl Write) -> Result<u64, StaticStoreError> {
        let url = self.location(name);
        if expected > self.max_bytes {
            return Err(StaticStoreError::TooLarge { url, limit: self.max_bytes });
        }
        let reader = self
            .open(name, false)?
            .ok_or_else(|| StaticStoreError::Status { url: url.clone(), status: 404 })?;
        let copied = io::copy(&mut reader.take(expected + 1), out)
            .map_err(|e| StaticStoreError::Unreachable { url: url.clone(), reason: e.to_string() })?;
        if copied != expected {
            return Err(StaticStoreError::WrongSize { url, expected, actual: copied });
        }
        Ok(copied)
    }

    /// The file `name`; over HTTP, bounded in time by the small timeout when `small`.
    fn open(&self, name: &str, small: bool) -> Result<Option<Box<dyn Read + Send>>, StaticStoreError> {
        let url = self.location(name);
        match &self.base {
            Base::Http { base, agent } => {
                let address = format!("{base}/{name}");
                let mut request = agent.get(&address);
                if small {
                    request = request.config().timeout_global(Some(self.small_timeout)).build();
                }
                let response = request
                    .call()
                    .map_err(|e| StaticStoreError::Unreachable { url: url.clone(), reason: e.to_string() })?;
                match response.status().as_u16() {
                    200 => {}
                    404 | 410 => return Ok(None),
                    status => return Err(StaticStoreError::Status { url, status }),
                }
                let reader =
                    response.into_body().into_with_config().limit(self.max_bytes.saturating_add(1)).reader();
                Ok(Some(Box::new(reader)))
            }
            Base::File(dir) => match crate::system::files::open_regular(&dir.join(name)) {
                Ok(file) => Ok(Some(Box::new(file))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StaticStoreError::Unreachable { url, reason: e.to_string() }),
            },
        }
    }
}
