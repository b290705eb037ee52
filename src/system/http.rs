//! The HTTP client settings every download shares: the platform's certificate store (so a
//! company proxy's CA that the system trusts is trusted here too), or the PEM bundle named by
//! `SSL_CERT_FILE`, `PIP_CERT` or `REQUESTS_CA_BUNDLE`; ftpy's user agent; HTTP errors returned
//! as responses, for the caller to judge. And the one way a user part in a URL
//! (`https://user:password@host/`) becomes HTTP Basic authentication: ureq does not send URL
//! userinfo by itself, and drops the header on a redirect.

use std::time::Duration;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use ureq::tls::{PemItem, RootCerts, TlsConfig};

/// An agent that gives up on a connection after 30 s, and on a server that is silent for 60 s
/// or takes longer than that to send its response headers.
pub fn agent() -> ureq::Agent {
    agent_config(None, false)
}

/// [`agent`], with every whole request (its body read to the end included) bounded by `total`.
pub fn bounded_agent(total: Duration) -> ureq::Agent {
    agent_config(Some(total), false)
}

/// [`bounded_agent`] that refuses plain HTTP, a redirect to it included: for a server given as
/// `https://`, whose answers are trusted because TLS carried them.
pub fn bounded_https_agent(total: Duration) -> ureq::Agent {
    agent_config(Some(total), true)
}

fn agent_config(total: Option<Duration>, https_only: bool) -> ureq::Agent {
    ureq::Agent::config_builder()
        .https_only(https_only)
        .http_status_as_error(false)
        .user_agent(concat!("ftpy/", env!("CARGO_PKG_VERSION")))
        .tls_config(TlsConfig::builder().root_certs(root_certs()).build())
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_global(total)
        .build()
        .new_agent()
}

fn root_certs() -> RootCerts {
    for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
        let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else { continue };
        let Ok(pem) = std::fs::read(&path) else { continue };
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if !certs.is_empty() {
            return RootCerts::new_with_certs(&certs);
        }
    }
    RootCerts::PlatformVerifier
}

/// A GET of `url` with its user part, if any, moved out of the address into an
/// `Authorization: Basic` header.
pub fn get(agent: &ureq::Agent, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
    let (address, credentials) = split_credentials(url);
    let request = agent.get(address.as_str());
    match credentials {
        Some((user, password)) => request.header("Authorization", basic_auth(&user, &password)),
        None => request,
    }
}

/// `url` without its user part, and that part as (user, password), still percent-encoded. A
/// URL that does not parse is returned as it is (its error messages are masked by
/// [`crate::output::redact::redact`]).
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Ok(mut parsed) = url::Url::parse(url) else { return (url.to_string(), None) };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return (url.to_string(), None);
    }
    let credentials = (parsed.username().to_string(), parsed.password().unwrap_or("").to_string());
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    (parsed.to_string(), Some(credentials))
}

/// The `Authorization` value for a URL's user and password (percent-decoded, as pip does).
pub fn basic_auth(user: &str, password: &str) -> String {
    let token = BASE64_STANDARD.encode(format!("{}:{}", percent_decode(user), percent_decode(password)));
    format!("Basic {token}")
}

/// `%XX` sequences decoded (a `+` stays a `+`, as in pip's `unquote`; a `%` without two hex
/// digits stays as it is).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_parts_become_basic_auth() {
        assert_eq!(percent_decode("a%2Bb+c%40"), "a+b+c@");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(basic_auth("ab", ""), "Basic YWI6");
        assert_eq!(basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
        assert_eq!(basic_auth("us%40r", "p%3Ass"), "Basic dXNAcjpwOnNz");
        let (address, credentials) = split_credentials("http://alice:s3cr3t@127.0.0.1:8/x/y.tar.xz");
        assert_eq!(address, "http://127.0.0.1:8/x/y.tar.xz");
        assert_eq!(credentials, Some(("alice".to_string(), "s3cr3t".to_string())));
        assert_eq!(split_credentials("https://tok@h/").1, Some(("tok".to_string(), String::new())));
        assert_eq!(split_credentials("https://h/x"), ("https://h/x".to_string(), None));
    }
}
