//! Credentials in URLs, masked for anything a person or a file will see: progress lines,
//! warnings, errors, `--dry-run`, reports and receipts.
//!
//! The masking is textual, so it also covers a URL that does not parse (the very one an error
//! message quotes) and URLs quoted inside a longer message. It follows pip's way of showing
//! index URLs: `https://user:****@host/...` for a user and a password, `https://****@host/...`
//! for a user part alone (a token is the secret).

/// `text` with the user part of every `scheme://userinfo@` in it masked.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((authority_start, special)) = next_authority(rest) {
        let (head, tail) = rest.split_at(authority_start);
        out.push_str(head);
        // A URL ends at white space, a control character or a quote; but a URL parser drops
        // tabs and line breaks from its input, so a password may be spelled across them.
        let run_end = tail
            .find(|c: char| {
                !matches!(c, '\t' | '\n' | '\r')
                    && (c.is_whitespace() || c.is_control() || "\"'<>`".contains(c))
            })
            .unwrap_or(tail.len());
        match userinfo_end(&tail[..run_end], special) {
            Some(end) => {
                out.push_str(&mask(&tail[..end]));
                rest = &tail[end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Where the next authority in `text` starts, and whether its scheme is one of the special
/// schemes a URL parser reads leniently. That is after any `scheme://`, and after `http:`,
/// `https:`, `ws:`, `wss:` or `ftp:` followed by any number of `/` or `\` (none included):
/// the parser takes `http:user:pw@host`, `http:\\user:pw@host` and `http:///user:pw@host` as
/// `http://user:pw@host`.
fn next_authority(text: &str) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = text[from..].find(':') {
        let colon = from + offset;
        from = colon + 1;
        // The scheme: the letters, digits, `+`, `-` and `.` before the colon (looked at no
        // further back than a special scheme's length and one more, so long text stays linear).
        let scheme_len = bytes[..colon]
            .iter()
            .rev()
            .take(6)
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            .count();
        let scheme = &text[colon - scheme_len..colon];
        let special = ["http", "https", "ws", "wss", "ftp"].iter().any(|s| scheme.eq_ignore_ascii_case(s));
        if special {
            let slashes = bytes[colon + 1..].iter().take_while(|&&b| b == b'/' || b == b'\\').count();
            return Some((colon + 1 + slashes, true));
        }
        if text[colon..].starts_with("://") {
            return Some((colon + 3, false));
        }
    }
    None
}

/// Where the user part at the start of `run` (what follows `://`) ends: the index of its `@`.
/// In a special scheme's URL a `\` ends the authority as `/` does.
fn userinfo_end(run: &str, special: bool) -> Option<usize> {
    let authority_end =
        run.find(|c: char| matches!(c, '/' | '?' | '#') || (special && c == '\\')).unwrap_or(run.len());
    let authority = &run[..authority_end];
    if let Some(at) = authority.rfind('@') {
        return Some(at);
    }
    // A password with a raw `/`, `?` or `#` in it ends the authority early, at something that
    // cannot be `host:port`: then the user part runs to the last `@`.
    let not_host_port = !authority.starts_with('[')
        && authority.split_once(':').is_some_and(|(_, port)| !port.bytes().all(|b| b.is_ascii_digit()));
    if not_host_port { run.rfind('@') } else { None }
}

fn mask(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:****"),
        None if userinfo.is_empty() => String::new(),
        None => "****".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn masks_passwords_and_tokens_as_pip_does() {
        assert_eq!(redact("https://user:s3cret@host/simple"), "https://user:****@host/simple");
        assert_eq!(redact("https://tok3n@host/simple"), "https://****@host/simple");
        assert_eq!(redact("https://user:@host/"), "https://user:****@host/");
        assert_eq!(redact("https://host/simple"), "https://host/simple");
        assert_eq!(redact("https://@host/"), "https://@host/");
        assert_eq!(redact("file:///srv/mirror"), "file:///srv/mirror");
        assert_eq!(redact("no url here: a@b"), "no url here: a@b");
    }

    #[test]
    fn does_not_need_the_url_to_parse() {
        // An invalid port: the URL parser refuses it, the mask must not care.
        assert_eq!(
            redact(
                "`https://alice:secret@host:99999/simple` is not a package index URL: invalid port number"
            ),
            "`https://alice:****@host:99999/simple` is not a package index URL: invalid port number"
        );
        assert_eq!(redact("http://u:p@"), "http://u:****@");
        assert_eq!(redact("http://u:p@ss@host/x"), "http://u:****@host/x");
        // Raw reserved characters in the password.
        assert_eq!(redact("http://u:pa/ss@host/x"), "http://u:****@host/x");
        assert_eq!(redact("http://u:pa?ss#w@host/x"), "http://u:****@host/x");
        assert_eq!(redact("ftp://u:p%40ss@[::1]:21/"), "ftp://u:****@[::1]:21/");
    }

    #[test]
    fn masks_what_a_url_parser_would_read_as_a_password() {
        // The parser drops tabs and line breaks, so these are the password `secret`.
        assert_eq!(redact("http://u:se\tcret@h/x"), "http://u:****@h/x");
        assert_eq!(redact("source: http://u:se\ncret@h/x"), "source: http://u:****@h/x");
        // Special schemes need no `//`, take any number of `/` or `\\`, and `\\` ends the host.
        assert_eq!(redact("mirror `http:u:secret@h:1` is bad"), "mirror `http:u:****@h:1` is bad");
        assert_eq!(redact("http:\\\\u:secret@h\\x"), "http:\\\\u:****@h\\x");
        assert_eq!(redact("http:///u:secret@h/x"), "http:///u:****@h/x");
        assert_eq!(redact("HTTPS:/tok3n@h/x"), "HTTPS:/****@h/x");
        assert_eq!(redact("at wss:u:pw@h"), "at wss:u:****@h");
        // Not a special scheme, and no `//`: not an authority.
        assert_eq!(redact("xhttps:u:pw@h mailto:a@b"), "xhttps:u:pw@h mailto:a@b");
    }

    #[test]
    fn leaves_addresses_without_a_user_part_alone() {
        for url in [
            "https://host:8080/pkg@1.0/file",
            "http://[::1]:80/a@b",
            "https://host/path?next=a@b",
            "mirror `http://` is not valid",
        ] {
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn masks_every_url_in_a_message() {
        assert_eq!(
            redact("could not download:\n  http://a:1@h/x: not found (404)\n  https://t@g/y: HTTP 500"),
            "could not download:\n  http://a:****@h/x: not found (404)\n  https://****@g/y: HTTP 500"
        );
        assert_eq!(
            redact("see 'http://a:b@h/' and \"https://c:d@i/\""),
            "see 'http://a:****@h/' and \"https://c:****@i/\""
        );
    }
}
