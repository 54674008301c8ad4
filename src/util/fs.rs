//! File writes that never leave a half-written file: write to a temporary name in the same
//! directory, flush to disk, then rename over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure on a named file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct IoError {
    /// What we were doing ("read", "write", "create directory", ...).
    pub action: &'static str,
    /// The file or directory concerned.
    pub path: PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// Wrap an `io::Error` with the action and path it concerns.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The temporary name used while `path` is being written: `.<name>.tmp-<pid>` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` atomically: readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(IoError::new("write", path, source));
    }
    Ok(())
}

/// Read a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, IoError> {
    std::fs::read(path).map_err(|e| IoError::new("read", path, e))
}

/// Create a directory and its parents, naming it in the error.
pub fn create_dir_all(path: &Path) -> Result<(), IoError> {
    std::fs::create_dir_all(path).map_err(|e| IoError::new("create directory", path, e))
}

/// Check that `dir` can be created (if missing) and written to, by creating and removing a
/// probe file. Used before long work starts, so that an unwritable output fails at once.
pub fn check_writable_dir(dir: &Path) -> Result<(), IoError> {
    create_dir_all(dir)?;
    let probe = dir.join(format!(".augtrain-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| IoError::new("write into", dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| IoError::new("write into", dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("augtrain-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("a.txt");
        write_atomic(&target, b"first").unwrap();
        write_atomic(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_into_missing_dir_fails_cleanly() {
        let target = Path::new("/nonexistent-augtrain-dir/x.txt");
        let err = write_atomic(target, b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-augtrain-dir/x.txt"));
    }
}
