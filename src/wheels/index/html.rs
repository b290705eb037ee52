//! PEP 503 HTML project pages: the anchors, their `data-*` attributes, nothing else.
//!
//! Read by a small scanner rather than a DOM parser such as `tl` (which uv uses): the scanner
//! keeps no more than a lower-cased copy of the page, where `tl` keeps a 168-byte node for every
//! tag (a 256 MiB page of `<b>` would take some 14 GiB), and matches tag and attribute names
//! without regard to case, as HTML does and pip reads them (`<A HREF=...>`).

use super::{IndexFile, resolve};

/// The anchors of a PEP 503 page, with their `data-*` attributes.
pub(super) fn parse_html(url: &str, body: &str) -> Vec<IndexFile> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
