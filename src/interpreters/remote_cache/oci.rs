//! A client of the OCI distribution API, just large enough to keep builds as artifacts in a
//! registry: read and write a manifest by tag, and a blob by digest.
//!
//! - [`RegistryUrl`]: `oci://host[:port]/repository` (HTTPS) or `oci+http://...` (plain HTTP,
//!   for a registry on the local machine), as the user gives it.
//! - [`Credentials`]: what may authenticate us, found in `FTPY_REMOTE_CACHE_TOKEN`, GitHub
//!   Actions' `GITHUB_TOKEN` for ghcr.io, or `~/.docker/config.json`'s `auths` (credential
//!   helpers are not run).
//! - [`Registry`]: the requests. A 401 answered with `WWW-Authenticate: Bearer` is met with the
//!   token exchange (pull scope for reads, pull and push for writes); `Basic` with the
//!   credentials. Tokens and passwords only ever go into `Authorization` headers: no URL, error
//!   or log line carries them.
//!
//! Every answer is bounded: a manifest or token response by size, a blob by the size its
//! descriptor states, and its bytes by the sha256 its digest names.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::interpreters::digest::{HashingWriter, Sha256Digest};

/// The media type of an OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The empty config descriptor of an artifact that is not an image (the bytes `{}`).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// The largest manifest or token answer read.
const MAX_SMALL_ANSWER: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("`{text}` is not a remote cache URL: {why}")]
    BadUrl { text: String, why: String },
    #[error("cannot reach the registry at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the registry refused {what} at {url} (HTTP {status}){}", if *.credentials { ": the credentials were not accepted" } else { ": it wants credentials" })]
    Denied { what: String, url: String, status: u16, credentials: bool },
    #[error("the registry answered {what} at {url} with HTTP {status}")]
    Status { what: String, url: String, status: u16 },
    #[error("the registry's answer to {what} is not usable: {why}")]
    Protocol { what: String, why: String },
    #[error("blob {expected} from the registry has sha256 {actual}: refused")]
    DigestMismatch { expected: String, actual: Sha256Digest },
}

/// Whether the registry speaks HTTPS (the default) or plain HTTP (`oci+http://`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Https,
    Http,
}

/// Where builds are kept: a registry host and a repository in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryUrl {
    pub transport: Transport,
    /// `host` or `host:port`.
    pub host: String,
    /// `org/ftpy-builds`: lowercase path components, as the distribution spec allows.
    pub repository: String,
}

impl std::str::FromStr for RegistryUrl {
    type Err = OciError;

    fn from_str(text: &str) -> Result<Self, OciError> {
        let bad = |why: &str| OciError::BadUrl { text: crate::output::redact::redact(text), why: why.into() };
        let (transport, rest) = if let Some(rest) = text.strip_prefix("oci://") {
            (Transport::Https, rest)
        } else if let Some(rest) = text.strip_prefix("oci+http://") {
            (Transport::Http, rest)
        } else {
            return Err(bad("it must start with oci:// (HTTPS) or oci+http:// (plain HTTP)"));
        };
        let (host, repository) = rest
            .trim_end_matches('/')
            .split_once('/')
            .ok_or_else(|| bad("it names no repository (oci://host/org/name)"))?;
        if host.contains('@') {
            return Err(bad("credentials do not go in the URL: use FTPY_REMOTE_CACHE_TOKEN or docker login"));
        }
        let host_ok = !host.is_empty()
            && host.len() <= 255
            && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        if !host_ok {
            return Err(bad("the registry host is not a host name, address or host:port"));
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        };
        if repository.len() > 255 || !repository.split('/').all(component_ok) {
            return Err(bad("a repository is lowercase letters, digits and . _ - between slashes"));
        }
        Ok(RegistryUrl { transport, host: host.to_string(), repository: repository.to_string() })
    }
}

impl std::fmt::Display for RegistryUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Https => "oci",
            Transport::Http => "oci+http",
        };
        write!(f, "{scheme}://{}/{}", self.host, self.repository)
    }
}

impl RegistryUrl {
    fn base(&self) -> String {
        let scheme = match self.transport {
            Transport::Https => "https",
            Transport::Http => "http",
        };
        format!("{scheme}://{}/v2/{}", self.host, self.repository)
    }
}

/// A tag is at most 128 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub fn is_valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !tag.starts_with(['.', '-'])
}

/// A user and a secret for the registry. The secret never leaves an `Authorization` header.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    secret: String,
    /// Where they came from, for messages: never the secret itself.
    pub origin: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?}, origin: {:?}, secret: *** }}", self.user, self.origin)
    }
}

impl Credentials {
    pub fn new(user: impl Into<String>, secret: impl Into<String>, origin: impl Into<String>) -> Credentials {
        Credentials { user: user.into(), secret: secret.into(), origin: origin.into() }
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.user, self.secret);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    /// The credentials for `host`, from the environment and the Docker configuration, in
    /// that order: `FTPY_REMOTE_CACHE_TOKEN` (with `FTPY_REMOTE_CACHE_USER`, default `ftpy`);
    /// in GitHub Actions, `GITHUB_TOKEN` for ghcr.io; then `auths.<host>.auth` of
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub fn find(host: &str, env: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(token) = set("FTPY_REMOTE_CACHE_TOKEN") {
            let user = set("FTPY_REMOTE_CACHE_USER").unwrap_or_else(|| "ftpy".into());
            return Some(Credentials::new(user, token.trim(), "FTPY_REMOTE_CACHE_TOKEN"));
        }
        if host == "ghcr.io" && set("GITHUB_ACTIONS").is_some() {
            if let Some(token) = set("GITHUB_TOKEN") {
                let user = set("GITHUB_ACTOR").unwrap_or_else(|| "github-actions".into());
                return Some(Credentials::new(user, token.trim(), "GITHUB_TOKEN"));
            }
        }
        let config = match set("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir).join("config.json"),
            None => dirs::home_dir()?.join(".docker/config.json"),
        };
        let bytes = crate::interpreters::installation::read_small_file(&config, 1 << 20).ok()?;
        docker_config_auth(&bytes, host).map(|(user, secret)| {
            Credentials::new(user, secret, format!("{} (auths.{host})", config.display()))
        })
    }
}

/// The user and password `auths.<host>.auth` holds (base64 of `user:password`) in a Docker
/// configuration file; `https://<host>` and `https://<host>/v1/` spellings count too.
fn docker_config_auth(bytes: &[u8], host: &str) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        auths: std::collections::BTreeMap<String, Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        auth: Option<String>,
    }
    let config: Config = serde_json::from_slice(bytes).ok()?;
    let entry = config.auths.iter().find_map(|(name, entry)| {
        let name = name.trim_start_matches("https://").trim_start_matches("http://");
        (name.split('/').next() == Some(host)).then_some(entry)
    })?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry.auth.as_deref()?.trim()).ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// What an operation needs from the registry's token service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    // key="value" pairs, separated by commas; values may hold commas inside the quotes.
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer { realm: realm?, service })
}

/// A descriptor: what a manifest says about a blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Descriptor {
    pub fn sha256(&self) -> Result<Sha256Digest, OciError> {
        self.digest.strip_prefix("sha256:").and_then(|hex| hex.parse().ok()).ok_or_else(|| {
            OciError::Protocol {
                what: "a manifest".into(),
                why: format!("`{}` is not a sha256 digest", self.digest),
            }
        })
    }

    pub fn of(media_type: &str, digest: Sha256Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: format!("sha256:{digest}"),
            size,
            annotations: Default::default(),
        }
    }
}

/// An OCI image manifest used for an artifact: an empty config and the layers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A registry repository, with the credentials and the token it has been given.
pub struct Registry {
    url: RegistryUrl,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    /// The `Authorization` value that worked, and the access it was obtained for.
    authorization: Option<(String, Access)>,
    /// The largest blob fetched: a manifest may claim any size.
    max_blob_bytes: u64,
    /// How long a small answer (a manifest, a token, a HEAD) may take whole.
    small_timeout: Duration,
}

impl Registry {
    /// A client for `url`. `timeout` bounds each whole request (a blob too: give it room), and
    /// `small_timeout` each request but a blob's transfer; no blob larger than `max_blob_bytes`
    /// is fetched. An HTTPS registry is never followed to plain HTTP (a redirect included): its
    /// manifests are trusted because TLS carried them.
    pub fn new(
        url: RegistryUrl,
        credentials: Option<Credentials>,
        timeout: Duration,
        max_blob_bytes: u64,
        small_timeout: Duration,
    ) -> Registry {
        let agent = match url.transport {
            Transport::Https => crate::system::http::bounded_https_agent(timeout),
            Transport::Http => crate::system::http::bounded_agent(timeout),
        };
        Registry { url, agent, credentials, authorization: None, max_blob_bytes, small_timeout }
    }

    pub fn url(&self) -> &RegistryUrl {
        &self.url
    }

    /// The manifest tagged `tag`, or None when the registry has no such tag.
    pub fn manifest(&mut self, tag: &str) -> Result<Option<Manifest>, OciError> {
        let url = format!("{}/manifests/{tag}", self.url.base());
        let what = format!("the manifest {tag}");
        let small = self.small_timeout;
        let mut response = self.send(&what, Access::Pull, |agent, auth| {
            with_auth(bounded(agent.get(&url), small).header("Accept", MANIFEST_MEDIA_TYPE), auth).call()
        })?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => return Err(OciError::Status { what, url, status }),
        }
        let bytes = read_small(&mut response, &what)?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| OciError::Protocol { what, why: e.to_string() })?;
        Ok(Some(manifest))
    }

    /// Put `manifest` under `tag`.
    pub fn put_manifest(&mut self, tag: &str, manifest: &Manifest) -> Result<(), OciError> {
        let url = format!("{}/manifests/{tag}", self.url.base());
        let body = serde_json::to_vec(manifest).expect("a manifest serializes");
        let what = format!("the manifest {tag}");
        let small = self.small_timeout;
        let response = self.send(&what, Access::Push, |agent, auth| {
            with_auth(bounded(agent.put(&url), small).header("Content-Type", MANIFEST_MEDIA_TYPE), auth)
                .send(&body[..])
        })?;
        match response.status().as_u16() {
            200 | 201 => Ok(()),
            status => Err(OciError::Status { what, url, status }),
        }
    }

    /// Whether the repository holds the blob.
    pub fn has_blob(&mut self, digest: &Sha256Digest) -> Result<bool, OciError> {
        let url = format!("{}/blobs/sha256:{digest}", self.url.base());
        let what = format!("blob sha256:{digest}");
        let small = self.small_timeout;
        let response = self.send(&what, Access::Pull, |agent, auth| {
            with_auth(bounded(agent.head(&url), small), auth).call()
        })?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(OciError::Status { what, url, status }),
        }
    }

    /// Copy the blob `descriptor` names into `out`, checking its size and sha256 on the way.
    /// On an error, what was written to `out` must be thrown away.
    pub fn fetch_blob(&mut self, descriptor: &Descriptor, out: &mut impl Write) -> Result<(), OciError> {
        let digest = descriptor.sha256()?;
        let url = format!("{}/blobs/sha256:{digest}", self.url.base());
        let what = format!("blob sha256:{digest}");
        // Fix: the size came from the registry, and was trusted up to any number of bytes
        // written to disk before the digest was checked.
        if descriptor.size > self.max_blob_bytes {
            return Err(OciError::Protocol {
                what,
                why: format!(
                    "the manifest says {} bytes, more than the {} MiB allowed (FTPY_MAX_DOWNLOAD_MIB)",
                    descriptor.size,
                    self.max_blob_bytes >> 20
                ),
            });
        }
        let mut response =
            self.send(&what, Access::Pull, |agent, auth| with_auth(agent.get(&url), auth).call())?;
        match response.status().as_u16() {
            200 => {}
            status => return Err(OciError::Status { what, url, status }),
        }
        let mut writer = HashingWriter::new(out);
        let reader = response.body_mut().with_config().limit(descriptor.size.saturating_add(1)).reader();
        let copied = io::copy(&mut reader.take(descriptor.size.saturating_add(1)), &mut writer);
        let copied = copied.map_err(|e| OciError::Unreachable { url: url.clone(), reason: e.to_string() })?;
        let (_, actual, _) = writer.finish();
        if copied != descriptor.size {
            return Err(OciError::Protocol {
                what,
                why: format!("the manifest says {} bytes, the registry sent {copied}", descriptor.size),
            });
        }
        if actual != digest {
            return Err(OciError::DigestMismatch { expected: descriptor.digest.clone(), actual });
        }
        Ok(())
    }

    /// Upload `size` bytes from `body` as the blob `digest` (one monolithic upload), unless the
    /// repository has it already.
    pub fn push_blob(&mut self, digest: &Sha256Digest, size: u64, body: impl Read) -> Result<(), OciError> {
        if self.has_blob(digest)? {
            return Ok(());
        }
        let start = format!("{}/blobs/uploads/", self.url.base());
        let small = self.small_timeout;
        let what = format!("an upload of blob sha256:{digest}");
        let response = self.send(&what, Access::Push, |agent, auth| {
            with_auth(bounded(agent.post(&start), small), auth).send_empty()
        })?;
        if response.status().as_u16() != 202 {
            return Err(OciError::Status { what, url: start, status: response.status().as_u16() });
        }
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).ok_or_else(|| {
            OciError::Protocol { what: what.clone(), why: "no Location for the upload".into() }
        })?;
        let (mut put, same_origin) = resolve_location(&start, location).ok_or_else(|| {
            OciError::Protocol { what: what.clone(), why: "the upload Location is not a URL".into() }
        })?;
        put.query_pairs_mut().append_pair("digest", &format!("sha256:{digest}"));
        let put = put.to_string();
        // Credentials go only where they were asked for: an upload sent elsewhere (storage
        // behind the registry) carries its own authorization in its URL, if any.
        let auth = self.authorization.as_ref().filter(|_| same_origin).map(|(value, _)| value.clone());
        let request = with_auth(self.agent.put(&put), auth.as_deref())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string());
        let mut limited = body.take(size);
        let response = request
            .send(ureq::SendBody::from_reader(&mut limited))
            .map_err(|e| OciError::Unreachable { url: mask_query(&put), reason: e.to_string() })?;
        match response.status().as_u16() {
            201 => Ok(()),
            status => Err(OciError::Status { what, url: mask_query(&put), status }),
        }
    }

    /// Send a request; on a 401, answer the challenge once and send it again.
    fn send(
        &mut self,
        what: &str,
        access: Access,
        request: impl Fn(&ureq::Agent, Option<&str>) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, OciError> {
        let unreachable =
            |e: ureq::Error| OciError::Unreachable { url: self.url.to_string(), reason: e.to_string() };
        // A token for pulling does not allow a push: ask again with the wider scope.
        let usable =
            self.authorization.as_ref().filter(|(_, got)| access == Access::Pull || *got == Access::Push);
        let response = request(&self.agent, usable.map(|(value, _)| value.as_str())).map_err(unreachable)?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let authorization = match challenge {
            Some(Challenge::Basic) => match &self.credentials {
                Some(credentials) => credentials.basic(),
                None => return Err(self.denied(what, 401)),
            },
            Some(Challenge::Bearer { realm, service }) => self.token(&realm, service.as_deref(), access)?,
            None => return Err(self.denied(what, 401)),
        };
        self.authorization = Some((authorization.clone(), access));
        let response = request(&self.agent, Some(&authorization)).map_err(unreachable)?;
        match response.status().as_u16() {
            401 | 403 => Err(self.denied(what, response.status().as_u16())),
            _ => Ok(response),
        }
    }

    fn denied(&self, what: &str, status: u16) -> OciError {
        OciError::Denied {
            what: what.into(),
            url: self.url.to_string(),
            status,
            credentials: self.credentials.is_some(),
        }
    }

    /// The token exchange: `realm?service=...&scope=repository:<name>:pull[,push]`, with the
    /// credentials as Basic auth when there are any (anonymous otherwise).
    fn token(&self, realm: &str, service: Option<&str>, access: Access) -> Result<String, OciError> {
        let what = "the token request";
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(OciError::Protocol {
                what: what.into(),
                why: "the token realm is not an http(s) URL".into(),
            });
        }
        // A token service over plain HTTP only for a plain-HTTP registry (a local one): an
        // HTTPS registry's tokens (and the credentials they are asked with) stay on TLS.
        if realm.starts_with("http://") && self.url.transport == Transport::Https {
            return Err(OciError::Protocol {
                what: what.into(),
                why: "an HTTPS registry sent ftpy to a plain-HTTP token service".into(),
            });
        }
        let actions = match access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        let mut url = url::Url::parse(realm)
            .map_err(|e| OciError::Protocol { what: what.into(), why: e.to_string() })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &format!("repository:{}:{actions}", self.url.repository));
        }
        let mut request = bounded(self.agent.get(url.as_str()), self.small_timeout);
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", credentials.basic());
        }
        let masked = mask_query(url.as_str());
        let mut response = request
            .call()
            .map_err(|e| OciError::Unreachable { url: masked.clone(), reason: e.to_string() })?;
        match response.status().as_u16() {
            200 => {}
            status @ (401 | 403) => return Err(self.denied("a token", status)),
            status => return Err(OciError::Status { what: what.into(), url: masked, status }),
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let bytes = read_small(&mut response, what)?;
        let token: Token = serde_json::from_slice(&bytes)
            .map_err(|e| OciError::Protocol { what: what.into(), why: e.to_string() })?;
        let token = token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic()))
            .ok_or_else(|| OciError::Protocol {
                what: what.into(),
                why: "no usable token in the answer".into(),
            })?;
        Ok(format!("Bearer {token}"))
    }
}

/// A `Location` (often a path) resolved against the request it answered, and whether it stays on
/// that request's origin (scheme, host and port). An HTTPS registry may not send an upload to
/// plain HTTP.
fn resolve_location(request: &str, location: &str) -> Option<(url::Url, bool)> {
    let base = url::Url::parse(request).ok()?;
    let resolved = base.join(location).ok()?;
    let http_ok = resolved.scheme() == "https" || base.scheme() == "http";
    if !matches!(resolved.scheme(), "http" | "https") || !http_ok {
        return None;
    }
    let same = resolved.origin() == base.origin();
    Some((resolved, same))
}

/// `request` bounded, whole, by `timeout` (Fix: a manifest or token answer sent a byte now and
/// then took up to the download's 30-minute bound).
fn bounded<B>(request: ureq::RequestBuilder<B>, timeout: Duration) -> ureq::RequestBuilder<B> {
    request.config().timeout_global(Some(timeout)).build()
}

fn with_auth<B>(request: ureq::RequestBuilder<B>, authorization: Option<&str>) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

fn read_small(response: &mut ureq::http::Response<ureq::Body>, what: &str) -> Result<Vec<u8>, OciError> {
    response
        .body_mut()
        .with_config()
        .limit(MAX_SMALL_ANSWER)
        .read_to_vec()
        .map_err(|e| OciError::Protocol { what: what.into(), why: e.to_string() })
}

/// An upload URL without its query (registries put upload state there, sometimes signed).
fn mask_query(url: &str) -> String {
    match url.split_once('?') {
        Some((path, _)) => format!("{path}?..."),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_urls() {
        let url: RegistryUrl = "oci://ghcr.io/acme/ftpy-builds".parse().unwrap();
        assert_eq!(
            (url.transport, url.host.as_str(), url.repository.as_str()),
            (Transport::Https, "ghcr.io", "acme/ftpy-builds")
        );
        assert_eq!(url.to_string(), "oci://ghcr.io/acme/ftpy-builds");
        let local: RegistryUrl = "oci+http://127.0.0.1:5000/ftpy/builds/".parse().unwrap();
        assert_eq!(local.base(), "http://127.0.0.1:5000/v2/ftpy/builds");
        for bad in [
            "https://ghcr.io/a/b",
            "oci://ghcr.io",
            "oci://ghcr.io/",
            "oci://user:secret@ghcr.io/a/b",
            "oci://ghcr.io/Acme/b",
            "oci://ghcr.io/a//b",
            "oci://gh cr.io/a",
            "oci://ghcr.io/a/-b",
        ] {
            let error = bad.parse::<RegistryUrl>().unwrap_err();
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn upload_locations_resolve_against_the_request_and_keep_credentials_home() {
        let start = "https://ghcr.io/v2/a/b/blobs/uploads/";
        let at = |l| resolve_location(start, l).map(|(u, same)| (u.to_string(), same));
        assert_eq!(
            at("/v2/a/b/blobs/uploads/x?_state=1"),
            Some(("https://ghcr.io/v2/a/b/blobs/uploads/x?_state=1".into(), true))
        );
        assert_eq!(at("x"), Some(("https://ghcr.io/v2/a/b/blobs/uploads/x".into(), true)));
        assert_eq!(at(".evil.example/p").map(|(_, same)| same), Some(true), "a path, not a host");
        assert_eq!(at("https://storage.example/u").map(|(_, same)| same), Some(false));
        assert_eq!(at("https://ghcr.io:8443/u").map(|(_, same)| same), Some(false));
        assert_eq!(at("http://ghcr.io/u"), None, "never down to plain HTTP");
        assert_eq!(at("file:///etc/passwd"), None);
        let local = resolve_location("http://127.0.0.1:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u");
        assert_eq!(local.map(|(_, same)| same), Some(true));
    }

    #[test]
    fn an_https_registry_is_never_followed_to_plain_http() {
        let at = |text: &str| {
            Registry::new(
                text.parse().unwrap(),
                None,
                Duration::from_secs(5),
                1 << 20,
                Duration::from_secs(5),
            )
        };
        assert!(at("oci://ghcr.io/a/b").agent.config().https_only(), "a redirect to http:// is refused");
        assert!(!at("oci+http://127.0.0.1:5000/a/b").agent.config().https_only());
    }

    #[test]
    fn a_blob_larger_than_allowed_is_not_fetched() {
        // Nothing listens on port 9: the size is refused before any request.
        let mut registry = Registry::new(
            "oci+http://127.0.0.1:9/a/b".parse().unwrap(),
            None,
            Duration::from_secs(5),
            1 << 20,
            Duration::from_secs(5),
        );
        let descriptor = Descriptor::of(MANIFEST_MEDIA_TYPE, "0".repeat(64).parse().unwrap(), (1 << 20) + 1);
        let error = registry.fetch_blob(&descriptor, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("1048577 bytes, more than the 1 MiB allowed"), "{error}");
    }

    #[test]
    fn tags_follow_the_spec() {
        assert!(is_valid_tag("3.14.6t-fast-0123abcd"));
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn reads_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into())
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Bearer service=x"), None, "no realm");
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn credentials_come_from_the_environment_then_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths": {{"https://registry.example:5000": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let docker = dir.path().to_string_lossy().into_owned();
        let env = |vars: Vec<(&'static str, String)>| {
            move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
        };
        let found =
            Credentials::find("registry.example:5000", env(vec![("DOCKER_CONFIG", docker.clone())])).unwrap();
        assert_eq!((found.user.as_str(), found.secret.as_str()), ("alice", "s3cret"));
        assert!(!format!("{found:?}").contains("s3cret"));
        assert!(Credentials::find("other.example", env(vec![("DOCKER_CONFIG", docker.clone())])).is_none());
        let token = Credentials::find(
            "registry.example:5000",
            env(vec![("DOCKER_CONFIG", docker.clone()), ("FTPY_REMOTE_CACHE_TOKEN", "t0k".into())]),
        )
        .unwrap();
        assert_eq!((token.user.as_str(), token.secret.as_str()), ("ftpy", "t0k"));
        let actions = |host| {
            Credentials::find(
                host,
                env(vec![
                    ("GITHUB_ACTIONS", "true".into()),
                    ("GITHUB_TOKEN", "ght".into()),
                    ("DOCKER_CONFIG", docker.clone()),
                ]),
            )
        };
        assert_eq!(actions("ghcr.io").unwrap().origin, "GITHUB_TOKEN");
        assert!(actions("quay.io").is_none(), "GITHUB_TOKEN goes to ghcr.io only");
    }
}
