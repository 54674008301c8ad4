//! Names read from files augtrain did not just write (a `params.jsonl`, a pack's manifest),
//! joined to a folder: accepted only when they are plain relative names that stay inside that
//! folder, so a hostile or damaged file cannot make a command read or write elsewhere.
//!
//! A name is normalised lexically (`.` dropped, `a/../b` is `b`) and the *normalised* name is
//! what gets joined, so `..` never meets a symbolic link on the way. Refused: an empty name, a
//! NUL byte, an absolute name (`/etc/x`), a drive or UNC prefix (`C:\x`, Windows), a `..` that
//! leaves the folder, and a name that normalises to the folder itself. For writing,
//! [`writable_inside`] also refuses a name whose path inside the folder goes through a symbolic
//! link (which could point anywhere).

use std::path::{Component, Path, PathBuf};

use super::escape::escape;

/// A name that is not a plain relative name inside its folder, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{}' {why}", escape(name))]
pub struct UnsafeName {
    /// The name as read (lossy UTF-8).
    pub name: String,
    /// Why it is refused, a phrase completing "'name' ...".
    pub why: String,
}

fn unsafe_name(name: &Path, why: impl Into<String>) -> UnsafeName {
    UnsafeName {
        name: name.to_string_lossy().into_owned(),
        why: why.into(),
    }
}

#[cfg(unix)]
fn has_nul(name: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    name.as_os_str().as_bytes().contains(&0)
}

#[cfg(not(unix))]
fn has_nul(name: &Path) -> bool {
    name.to_string_lossy().contains('\0')
}

/// The normalised form of `name` if it is a plain relative name that stays inside its folder
/// (see the module docs); never empty.
pub fn relative_inside(name: &Path) -> Result<PathBuf, UnsafeName> {
    if name.as_os_str().is_empty() {
        return Err(unsafe_name(name, "is empty"));
    }
    if has_nul(name) {
        return Err(unsafe_name(name, "contains a NUL byte"));
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in name.components() {
        match c {
            Component::Prefix(_) => {
                return Err(unsafe_name(name, "has a drive or network prefix"));
            }
            Component::RootDir => return Err(unsafe_name(name, "is an absolute path")),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(unsafe_name(name, "leaves its folder through '..'"));
                }
            }
            Component::Normal(part) => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(unsafe_name(
            name,
            "names the folder itself, not a file in it",
        ));
    }
    Ok(parts.iter().collect())
}

/// [`relative_inside`] for a name written on any system, such as the image names inside
/// annotation files (made on Windows as often as not): `\` separates folders as `/` does, a
/// drive (`C:`) or UNC (`\\server`) prefix is refused on every system, and so is every `..`
/// part, even one that would stay inside (such names are kept as written, so `..` must never
/// meet a symbolic link). Returns the normalised `/`-separated name.
pub fn portable_relative_inside(name: &str) -> Result<PathBuf, UnsafeName> {
    let shown = Path::new(name);
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(unsafe_name(shown, "has a drive prefix"));
    }
    if name.starts_with(['/', '\\']) {
        return Err(unsafe_name(shown, "is an absolute path"));
    }
    let portable = name.replace('\\', "/");
    if portable.split('/').any(|part| part == "..") {
        return Err(unsafe_name(shown, "has a '..' part"));
    }
    relative_inside(Path::new(&portable)).map_err(|e| unsafe_name(shown, e.why))
}

/// `root` joined with the normalised `name` ([`relative_inside`]), for reading.
pub fn join_inside(root: &Path, name: &Path) -> Result<PathBuf, UnsafeName> {
    Ok(root.join(relative_inside(name)?))
}

/// `root` joined with the normalised `name`, for writing: also refused when a folder on the way
/// inside `root`, or the file itself, is a symbolic link (which could point outside `root`).
/// `root` itself is the user's choice and may be a link. Parts that do not exist yet are fine.
pub fn writable_inside(root: &Path, name: &Path) -> Result<PathBuf, UnsafeName> {
    let rel = relative_inside(name)?;
    let mut path = root.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let at = path.strip_prefix(root).unwrap_or(&path);
                return Err(unsafe_name(
                    name,
                    format!(
                        "goes through the symbolic link '{}', which may point outside the folder",
                        escape(&at.to_string_lossy())
                    ),
                ));
            }
            Ok(_) => {}
            // Nothing exists below a missing part: no link to check there.
            Err(_) => break,
        }
    }
    Ok(root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_name_under_missing_folders_is_the_whole_path() {
        let root = std::env::temp_dir().join(format!("augtrain-inside-{}", std::process::id()));
        let got = writable_inside(&root, Path::new("a/b/c.txt")).unwrap();
        assert_eq!(got, root.join("a/b/c.txt"));
    }

    fn ok(name: &str) -> String {
        relative_inside(Path::new(name))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn why(name: &str) -> String {
        relative_inside(Path::new(name)).unwrap_err().why
    }

    #[test]
    fn plain_relative_names_are_normalised() {
        assert_eq!(ok("00001-v0.png"), "00001-v0.png");
        assert_eq!(ok("./a/b.png"), "a/b.png");
        assert_eq!(ok("a/../b.png"), "b.png");
        assert_eq!(ok("a//b/./c.png"), "a/b/c.png");
        assert_eq!(ok("..a/b..png"), "..a/b..png");
        assert_eq!(ok("C:x.png"), "C:x.png"); // a plain name on Unix
    }

    #[test]
    fn portable_names_refuse_windows_forms_and_every_dot_dot() {
        for bad in [
            "",
            "/etc/passwd",
            "../x.png",
            "a/../../x.png",
            "a/../x.png",
            "a\\..\\x.png",
            "C:\\x.png",
            "c:x.png",
            "\\\\server\\x.png",
            "a\0b",
            ".",
        ] {
            assert!(portable_relative_inside(bad).is_err(), "{bad:?}");
        }
        for good in ["x.png", "a/b/c.jpg", "./a.png", "a..b.png", "dir.v2/x..png"] {
            assert!(portable_relative_inside(good).is_ok(), "{good:?}");
        }
        assert_eq!(
            portable_relative_inside("a\\b.png").unwrap(),
            Path::new("a/b.png")
        );
    }

    #[test]
    fn names_leaving_the_folder_are_refused() {
        assert_eq!(why(""), "is empty");
        assert_eq!(why("/home/u/.bashrc"), "is an absolute path");
        assert_eq!(why("../../x.png"), "leaves its folder through '..'");
        assert_eq!(why("a/../../x.png"), "leaves its folder through '..'");
        assert_eq!(why("a/.."), "names the folder itself, not a file in it");
        assert_eq!(why("."), "names the folder itself, not a file in it");
        assert_eq!(why("a\0b.png"), "contains a NUL byte");
        let e = relative_inside(Path::new("../\x1b[31mx")).unwrap_err();
        assert!(!e.to_string().contains('\x1b'), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn writes_never_go_through_a_symbolic_link() {
        let root = std::env::temp_dir().join(format!("augtrain-inside-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let outside = root.join("outside");
        let out = root.join("out");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(out.join("real")).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("f"), out.join("f.png")).unwrap();
        let p = writable_inside(&out, Path::new("real/x.png")).unwrap();
        assert_eq!(p, out.join("real/x.png"));
        assert!(writable_inside(&out, Path::new("new/x.png")).is_ok());
        let e = writable_inside(&out, Path::new("link/x.png")).unwrap_err();
        assert!(e.why.contains("symbolic link 'link'"), "{e}");
        let e = writable_inside(&out, Path::new("f.png")).unwrap_err();
        assert!(e.why.contains("symbolic link 'f.png'"), "{e}");
        // For reading, links inside the folder are the user's business.
        assert_eq!(
            join_inside(&out, Path::new("link/x.png")).unwrap(),
            out.join("link/x.png")
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
