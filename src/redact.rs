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
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // A URL ends at white space, a control character or a quote.
        let run_end = tail
            .find(|c: char| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c))
            .unwrap_or(tail.len());
        match userinfo_end(&tail[..run_end]) {
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

/// Where the user part at the start of `run` (what follows `://`) ends: the index of its `@`.
fn userinfo_end(run: &str) -> Option<usize> {
    let authority_end = run.find(['/', '?', '#']).unwrap_or(run.len());
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
