//! Image names inside annotation files: they must stay below the image root.

use std::path::{Component, Path};

/// Whether `name` is a safe relative image name: non-empty, no NUL, not absolute, no drive or
/// root (`C:`, `\\server`), no `..` component, with `/` or `\` as separators. Annotation files
/// come from other people; a name like `../../etc/passwd` must never be opened or written.
pub fn is_safe_relative(name: &str) -> bool {
    if name.is_empty() || name.contains('\0') || name.starts_with(['/', '\\']) {
        return false;
    }
    let has_drive = name.len() >= 2 && name.as_bytes()[1] == b':';
    if has_drive {
        return false;
    }
    name.split(['/', '\\']).all(|part| part != "..")
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_absolute_and_drives_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x.png",
            "a/../../x.png",
            "a\\..\\x.png",
            "C:\\x.png",
            "c:x.png",
            "\\\\server\\x.png",
            "a\0b",
        ] {
            assert!(!is_safe_relative(bad), "{bad:?}");
        }
        for good in ["x.png", "a/b/c.jpg", "./a.png", "a..b.png", "dir.v2/x..png"] {
            assert!(is_safe_relative(good), "{good:?}");
        }
    }
}
