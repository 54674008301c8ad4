//! User-controlled text (file names, class names, manifest fields) made safe to print.
//!
//! A file name can hold terminal escape sequences (`\x1b]0;title\x07` sets the window title,
//! `\x1b[2J` clears the screen), newlines that fake extra output lines, or bidirectional
//! controls that show text in another order. [`escape`] writes every such character the way
//! Rust's `escape_debug` does (`\n`, `\t`, `\r`, `\0`, else `\u{1b}`) and leaves all other text,
//! ordinary Unicode included, as it is. Backslashes are not doubled: the aim is a safe,
//! readable message, not a reversible one (files keep exact names through
//! [`super::path_text`]).
//!
//! Every message that interpolates such text escapes it with [`escape`] (or [`escape_path`]);
//! the command line's printers also pass whole lines through [`escape_lines`], which keeps the
//! message's own line breaks and tabs, as a second line of defence.

use std::borrow::Cow;
use std::path::Path;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls, DEL, and the invisible
/// format characters that reorder or hide text (bidirectional overrides and isolates, zero-width
/// characters, the byte-order mark).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        )
}

/// `s` with every unsafe character escaped (see the module docs).
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe)
}

/// A path for a message: its lossy display form, escaped.
pub fn escape_path(path: &Path) -> String {
    escape(&path.to_string_lossy()).into_owned()
}

/// `s` as HTML text or attribute value: `&`, `<`, `>` and `"` as entities, and the
/// characters unsafe for a terminal escaped as [`escape`] does (they would hide or reorder
/// text on the page too).
pub fn html(s: &str) -> String {
    escape(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A whole message for the terminal: like [`escape`], but line breaks and tabs are kept.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && c != '\t' && is_unsafe(c))
}

fn escape_where(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            other => out.push_str(&format!("\\u{{{:x}}}", other as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        let name = "a\u{1b}]0;pwned\u{7}b\u{1b}[2J.png";
        assert_eq!(escape(name), "a\\u{1b}]0;pwned\\u{7}b\\u{1b}[2J.png");
        assert_eq!(escape("x\ny\r\t\0"), "x\\ny\\r\\t\\0");
        assert_eq!(escape("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for s in ["été/ü 漢字 🐝.png", "C:\\data\\x", "a, \"b\" 'c'"] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(escape_lines("one\n\ttwo\u{1b}[2J"), "one\n\ttwo\\u{1b}[2J");
    }
}
