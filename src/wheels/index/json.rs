//! PEP 691 JSON project pages.

use serde::Deserialize;

use super::{IndexError, IndexFile, redact, resolve, shown};

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

pub(super) fn parse_json(url: &str, body: &str) -> Result<Vec<IndexFile>, IndexError> {
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
}
