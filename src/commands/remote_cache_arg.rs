//! The `--remote-cache URL` of `ftpy ci github` and `ftpy dockerfile`: checked before it is
//! written into a workflow or a Dockerfile, where it is read by YAML, by GitHub's expression
//! syntax and by a shell. Only what `ftpy install --remote-cache` takes gets through: an OCI
//! registry (`oci://`, `oci+http://`) or a read-only store made by `ftpy cache export`
//! (`https://`, `http://`, `file:///`), with no credentials in it and nothing that any of those
//! readers would interpret (white space, quotes, `$`, `${{`, a query).

use crate::error::Error;
use crate::interpreters::remote_cache::oci::RegistryUrl;

/// A checked remote cache URL, and the kind of store it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteCacheArg {
    /// The URL as given (it passed every check, so it needs no escaping in YAML or in single
    /// quotes in a shell).
    pub url: String,
    pub store: Store,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    /// An OCI registry: it can be pushed to. `host` is `host[:port]`.
    Registry { host: String },
    /// A static store over HTTP(S): read-only.
    Http { host: String },
    /// A static store in a local directory (`file:///...`): read-only.
    File,
}

impl RemoteCacheArg {
    /// Whether builds can be pushed there (`ftpy install --push` needs a registry).
    pub fn can_push(&self) -> bool {
        matches!(self.store, Store::Registry { .. })
    }

    /// The registry or server host, without the port; none for `file://`.
    pub fn host_name(&self) -> Option<&str> {
        let host = match &self.store {
            Store::Registry { host } | Store::Http { host } => host,
            Store::File => return None,
        };
        Some(match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => host.split(':').next().unwrap_or(host),
        })
    }

    /// Whether the host is this machine (as seen from wherever the URL is used).
    pub fn is_loopback(&self) -> bool {
        self.host_name().is_some_and(|h| h == "localhost" || h == "::1" || h.starts_with("127."))
    }

    /// The GitHub Container Registry, where a workflow's own GITHUB_TOKEN authenticates.
    pub fn is_ghcr(&self) -> bool {
        matches!(&self.store, Store::Registry { host } if host == "ghcr.io")
    }
}

const SCHEMES: [&str; 5] = ["oci", "oci+http", "https", "http", "file"];

/// Check `text` as a `--remote-cache` value; a refusal is a usage error that names the URL with
/// any credentials in it masked.
pub fn parse(text: &str) -> Result<RemoteCacheArg, Error> {
    let refuse = |why: &str, credentials: bool| {
        let mut hints = vec![
            "oci://ghcr.io/OWNER/ftpy-builds (a registry over HTTPS), oci+http://127.0.0.1:5000/ftpy/builds \
             (plain HTTP, this machine), or the https://, http:// or file:/// base of a store written by \
             `ftpy cache export`"
                .to_string(),
        ];
        if credentials {
            hints.push(
                "credentials come from FTPY_REMOTE_CACHE_TOKEN (and FTPY_REMOTE_CACHE_USER), GITHUB_TOKEN in \
                 GitHub Actions for ghcr.io, or `docker login`"
                    .into(),
            );
        }
        // The URL as refused: a query cut off, the user part masked, nothing unprintable.
        let shown = match text.find(['?', '#']) {
            Some(end) => format!("{}?...", &text[..end]),
            None => text.to_string(),
        };
        let shown = crate::output::redact::redact(&shown.escape_debug().to_string());
        Error::Usage { message: format!("`{shown}` is not a remote cache URL: {why}"), hints }
    };
    if text.is_empty() {
        return Err(refuse("it is empty", false));
    }
    // Credentials first, whatever else is wrong: a userinfo part, or a query (a signed URL's
    // query is a credential).
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(refuse("credentials do not go in the URL", true));
    }
    if text.contains('?') || text.contains('#') {
        return Err(refuse("a base URL has no query or fragment", true));
    }
    if text.contains("${{") {
        return Err(refuse("`${{` is a GitHub expression: give the URL itself", false));
    }
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse(&format!("it holds white space or a control character ({c:?})"), false));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~:/%+=,[]".contains(*c))) {
        return Err(refuse(&format!("`{c}` has no place in it"), false));
    }
    if !SCHEMES.contains(&scheme) {
        return Err(refuse("it must start with oci://, oci+http://, https://, http:// or file:///", false));
    }
    let store = match scheme {
        "oci" | "oci+http" => {
            let registry: RegistryUrl = text.parse().map_err(|e| Error::Usage {
                message: format!("{e}"),
                hints: vec![
                    "a registry URL is oci://HOST/REPOSITORY, e.g. oci://ghcr.io/OWNER/ftpy-builds".into(),
                ],
            })?;
            Store::Registry { host: registry.host }
        }
        "file" => {
            if !rest.starts_with('/') || rest.len() < 2 {
                return Err(refuse("a file URL names an absolute directory: file:///srv/ftpy-builds", false));
            }
            Store::File
        }
        _ => {
            if authority.is_empty() {
                return Err(refuse("it names no host", false));
            }
            Store::Http { host: authority.to_string() }
        }
    };
    Ok(RemoteCacheArg { url: text.to_string(), store })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match parse(text) {
            Err(Error::Usage { message, .. }) => message,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn the_stores_install_takes_are_accepted() {
        let ghcr = parse("oci://ghcr.io/example/ftpy-builds").unwrap();
        assert!(ghcr.can_push() && ghcr.is_ghcr() && !ghcr.is_loopback());
        let local = parse("oci+http://127.0.0.1:5000/ftpy/builds").unwrap();
        assert_eq!(local.store, Store::Registry { host: "127.0.0.1:5000".into() });
        assert!(local.can_push() && !local.is_ghcr() && local.is_loopback());
        let web = parse("https://builds.example.com/ftpy").unwrap();
        assert_eq!(web.store, Store::Http { host: "builds.example.com".into() });
        assert!(!web.can_push());
        assert!(parse("http://localhost:8000/").unwrap().is_loopback());
        assert!(parse("http://[::1]:8000/b").unwrap().is_loopback());
        assert_eq!(parse("file:///srv/ftpy-builds").unwrap().store, Store::File);
    }

    #[test]
    fn what_a_workflow_or_a_shell_would_read_is_refused() {
        for text in [
            "",
            "ghcr.io/example/builds",
            "s3://bucket/builds",
            "OCI://ghcr.io/example/builds",
            "oci://ghcr.io/example/builds ",
            "oci://ghcr.io/example/builds\n  evil: 1",
            "oci://ghcr.io/example/${{ secrets.TOKEN }}",
            "https://example.com/$HOME",
            "https://example.com/'x'",
            "https://example.com/\"x\"",
            "https://example.com/a;b",
            "https://example.com/`id`",
            "file://relative/dir",
            "https:///no-host",
            "oci://ghcr.io",
            "oci://ghcr.io/Example/builds",
        ] {
            refused(text);
        }
    }

    #[test]
    fn credentials_are_refused_and_never_repeated() {
        for text in [
            "oci://user:hunter2@ghcr.io/example/builds",
            "oci+http://user:hunter2@127.0.0.1:5000/b",
            "https://hunter2@example.com/builds",
            "https://hunter2@example.com/builds ${{",
            "https://example.com/builds?sig=hunter2",
        ] {
            let message = refused(text);
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
