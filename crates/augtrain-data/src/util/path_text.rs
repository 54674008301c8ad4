//! File paths as text, exactly and reversibly, for every file augtrain writes (CSV, JSON) and
//! every in-memory `paths` list.
//!
//! A path is written **as itself** when it is valid UTF-8, has no leading or trailing
//! whitespace and does not start with `raw:`. Any other path is written as `raw:` followed by
//! its bytes (the raw `OsStr` bytes on Unix), each byte outside printable ASCII, and every
//! space and `%`, as `%XX` (uppercase hex): `ants/caf\xE9.jpg` (Latin-1 bytes) becomes
//! `raw:ants/caf%E9.jpg`, ` lead.png` becomes `raw:%20lead.png`.
//!
//! Why this encoding: ordinary names stay readable and hand-written manifests keep working
//! unchanged; the escaped form is plain ASCII (no CSV quoting, JSON or terminal surprises);
//! readers may trim fields (hand-written `a.png, ants`) without losing a tool-written leading
//! space; and `%XX` escapes need no extra dependency to read back (Python:
//! `os.fsdecode(urllib.parse.unquote_to_bytes(s[4:]))`). Unlike base64 the folder part stays
//! legible. Reading is lenient like `unquote_to_bytes`: a `%` not followed by two hex digits is
//! kept as a literal `%`.
//!
//! Off Unix (Windows), a path that is not valid Unicode is written lossily (U+FFFD), the only
//! case where the round trip is not exact.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, percent_encode};

/// The prefix of an escaped path.
pub const RAW_PREFIX: &str = "raw:";

/// Bytes escaped after [`RAW_PREFIX`]: controls, space, `%` (non-ASCII bytes always are).
const ESCAPED: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// The text form of `path` (see the module docs).
pub fn encode(path: &Path) -> String {
    match path.to_str() {
        Some(s) if !needs_raw(s) => s.to_string(),
        Some(s) => raw(s.as_bytes()),
        None => raw(&os_bytes(path)),
    }
}

/// The text form of a path given as UTF-8 text (a manifest field, a record name): itself, or
/// `raw:`-escaped when it would otherwise not read back as itself.
pub fn encode_str(s: &str) -> Cow<'_, str> {
    if needs_raw(s) {
        Cow::Owned(raw(s.as_bytes()))
    } else {
        Cow::Borrowed(s)
    }
}

/// The path a text form names: the inverse of [`encode`].
pub fn decode(text: &str) -> PathBuf {
    match text.strip_prefix(RAW_PREFIX) {
        Some(escaped) => from_bytes(percent_decode_str(escaped).collect()),
        None => PathBuf::from(text),
    }
}

fn needs_raw(s: &str) -> bool {
    s.starts_with(RAW_PREFIX) || s.trim() != s
}

fn raw(bytes: &[u8]) -> String {
    format!("{RAW_PREFIX}{}", percent_encode(bytes, ESCAPED))
}

#[cfg(unix)]
fn os_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_are_themselves() {
        for s in [
            "ants/a.png",
            "a, \"b\"\nc.png",
            "été/ü.jpg",
            "100%.png",
            "C:raw:x",
        ] {
            assert_eq!(encode(Path::new(s)), s);
            assert_eq!(decode(s), Path::new(s));
        }
    }

    #[test]
    fn names_that_would_not_read_back_are_escaped_and_round_trip() {
        let cases = [
            (" lead.png", "raw:%20lead.png"),
            ("trail.png\t", "raw:trail.png%09"),
            ("raw:x.png", "raw:raw:x.png"),
            ("raw:%41", "raw:raw:%2541"),
        ];
        for (name, text) in cases {
            assert_eq!(encode(Path::new(name)), text);
            assert_eq!(encode_str(name), text);
            assert_eq!(decode(text), Path::new(name));
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_bytes_round_trip_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let bytes = b"ants/caf\xe9 \xff%.jpg";
        let path = Path::new(std::ffi::OsStr::from_bytes(bytes));
        let text = encode(path);
        assert_eq!(text, "raw:ants/caf%E9%20%FF%25.jpg");
        assert_eq!(decode(&text).as_os_str().as_bytes(), bytes);
    }
}
