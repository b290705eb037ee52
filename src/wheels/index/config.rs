//! Which indexes pip would read: `--index-url`, else `PIP_INDEX_URL`, else pip's configuration
//! files (as `pip config list` reports them), else the default compiled into the interpreter's
//! own pip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::IndexError;

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
pub(super) fn validated(url: &str) -> Result<String, IndexError> {
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
    let Ok(output) = Command::new(python)
        .args(["-m", "pip", "config", "list", "--disable-pip-version-check"])
        .env_remove("PYTHONPATH")
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
    let output = Command::new(python)
        .args(["-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"])
        .env_remove("PYTHONPATH")
        .output()
        .ok()?;
    let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && url.starts_with("http")).then_some(url)
}
