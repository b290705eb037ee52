//! Text that came from outside ftpy (requirement lines, package names, index pages, archive
//! entry names) made safe to print: control characters would otherwise move the cursor, recolour
//! or clear the terminal, or forge extra lines of output. They are shown escaped instead.

use std::borrow::Cow;

/// `text` with every control character written as an escape: `\n`, `\r`, `\t`, `\x1b`, `\x7f`,
/// `\u{9b}` (C1), `\u{202e}` (bidirectional overrides, which reorder what is shown). Text
/// without any is returned as it is, without a copy.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text`, escaped, with the length said when it was cut: for
/// strings an index controls, which may be of any length.
pub fn escape_shortened(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return escape_control(text).into_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{}... ({count} characters)", escape_control(&head))
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_not_copied() {
        assert!(matches!(escape_control("numpy>=2; python_version >= \"3.13\""), Cow::Borrowed(_)));
        assert!(matches!(escape_control("naïve ünïcode"), Cow::Borrowed(_)));
        assert_eq!(escape_control("a\x1b[2Jb\nc\rd\te\x7f"), "a\\x1b[2Jb\\nc\\rd\\te\\x7f");
        assert_eq!(escape_control("x\u{9b}31m\u{202e}y\0"), "x\\u{9b}31m\\u{202e}y\\x00");
        assert_eq!(escape_shortened("abc", 3), "abc");
        assert_eq!(escape_shortened("ab\ncdef", 3), "ab\\n... (7 characters)");
    }
}
