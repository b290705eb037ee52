//! The HTTP client settings every download shares: the platform's certificate store (so a
//! company proxy's CA that the system trusts is trusted here too), or the PEM bundle named by
//! `SSL_CERT_FILE`, `PIP_CERT` or `REQUESTS_CA_BUNDLE`; ftpy's user agent; HTTP errors returned
//! as responses, for the caller to judge.

use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

/// An agent that gives up on a connection after 30 s and on a silent server after 60 s.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("ftpy/", env!("CARGO_PKG_VERSION")))
        .tls_config(TlsConfig::builder().root_certs(root_certs()).build())
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
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
