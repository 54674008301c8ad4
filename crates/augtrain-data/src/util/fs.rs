//! File writes that never leave a half-written file: write to a temporary name in the same
//! directory, flush to disk, then rename over the target.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure on a named file.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", super::escape::escape_path(path))]
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

/// Move the finished directory `tmp` to `out` durably: every file under `tmp` and `tmp`
/// itself are flushed to stable storage first, and the parent directory after the rename, so
/// neither a killed process nor a power loss can leave `out` half-written.
pub fn publish_dir(tmp: &Path, out: &Path) -> std::io::Result<()> {
    sync_tree(tmp)?;
    std::fs::rename(tmp, out)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_directory(parent)?;
    }
    Ok(())
}

/// Flush every regular file under `dir` (recursively), then `dir` itself.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_tree(&entry.path())?;
        } else if kind.is_file() {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    sync_directory(dir)
}

/// Flush a directory's entries (Unix; elsewhere directories cannot be opened and this does
/// nothing).
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Whether process `pid` is alive (Linux: /proc; elsewhere assume it is).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Remove temporary files (`.<name>.tmp-<pid>`) and partial directories
/// (`.<name>.partial-<pid>`) in `dir` left by processes that no longer run (killed mid-write).
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            continue;
        }
        let pid = name
            .rsplit_once(".tmp-")
            .or_else(|| name.rsplit_once(".partial-"))
            .and_then(|(_, p)| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !alive(pid)
        {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// Largest file augtrain reads whole into memory (bytes): images, manifests, index and split
/// files, CIFAR batches, configs. Larger files are refused with a message instead of being read.
pub const MAX_READ_BYTES: u64 = 1 << 32;

/// Open `path` for reading if it is a regular file (symlinks followed). Devices, FIFOs and
/// directories are refused before opening: reading `/dev/zero` would never end, and opening a
/// FIFO blocks until someone writes to it.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {what}"),
        ));
    }
    std::fs::File::open(path)
}

/// Read a whole regular file of at most `max_bytes` bytes (see [`open_regular`]).
pub fn read_limited(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    let too_big = |len: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the file is {len} bytes, more than the {max_bytes}-byte limit"),
        )
    };
    if len > max_bytes {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow while we read it; never read past the limit.
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Read a whole regular file of at most [`MAX_READ_BYTES`] bytes.
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    read_limited(path, MAX_READ_BYTES)
}

/// Read a whole regular file as UTF-8 text (at most [`MAX_READ_BYTES`] bytes).
pub fn read_regular_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Read a whole regular file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, IoError> {
    read_regular(path).map_err(|e| IoError::new("read", path, e))
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

/// Check that `bytes` more bytes fit in `dir` by asking the file system for the space
/// available to this user (`statvfs` on Unix) at `dir` or, when it does not exist yet, its
/// nearest existing ancestor. Nothing is written or created: a full disk fails before long
/// work starts rather than at its first checkpoint, and a killed check leaves nothing behind.
pub fn check_space(dir: &Path, bytes: u64) -> Result<(), IoError> {
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .filter(|a| !a.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let free = fs4::available_space(existing)
        .map_err(|e| IoError::new("ask the free space of", dir, e))?;
    if free >= bytes {
        return Ok(());
    }
    Err(IoError::new(
        "find room for this run's files in",
        dir,
        std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!(
                "No space left on device: about {} needed, {} free",
                human_bytes(bytes),
                human_bytes(free)
            ),
        ),
    ))
}

/// A byte count for people: `512 B`, `3.4 MB`, `1.2 GB` (powers of 1000).
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_dir_moves_a_whole_tree_and_refuses_a_taken_name() {
        let root = std::env::temp_dir().join(format!("augtrain-publish-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let tmp = root.join(".out.partial");
        std::fs::create_dir_all(tmp.join("train/a")).unwrap();
        std::fs::write(tmp.join("manifest.csv"), b"path,label\n").unwrap();
        std::fs::write(tmp.join("train/a/x.png"), b"png").unwrap();
        let out = root.join("out");
        publish_dir(&tmp, &out).unwrap();
        assert!(!tmp.exists());
        assert_eq!(std::fs::read(out.join("train/a/x.png")).unwrap(), b"png");
        assert_eq!(
            std::fs::read(out.join("manifest.csv")).unwrap(),
            b"path,label\n"
        );
        // A non-empty directory already at `out` is not replaced.
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("other"), b"1").unwrap();
        assert!(publish_dir(&tmp, &out).is_err());
        assert!(out.join("manifest.csv").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let e = read_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_regular(Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let dir = std::env::temp_dir().join(format!("augtrain-limit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_limited(&f, 5).unwrap(), b"12345");
        let e = read_limited(&f, 4).unwrap_err();
        assert!(
            e.to_string()
                .contains("5 bytes, more than the 4-byte limit"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
    fn stale_temps_of_dead_processes_are_removed() {
        let dir = std::env::temp_dir().join(format!("augtrain-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // pid 4194305 exceeds Linux's pid_max: never alive.
        std::fs::write(dir.join(".checkpoint.bin.tmp-4194305"), b"half").unwrap();
        std::fs::create_dir_all(dir.join(".pack.partial-4194305")).unwrap();
        let mine = dir.join(format!(".x.tmp-{}", std::process::id()));
        std::fs::write(&mine, b"mine").unwrap();
        std::fs::write(dir.join("keep.txt"), b"keep").unwrap();
        remove_stale_temps(&dir);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.contains(&"keep.txt".to_string()) && mine.exists());
        assert_eq!(left.len(), 2, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn space_check_asks_the_file_system_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("augtrain-space-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        check_space(&dir, 1).unwrap();
        // More than any disk holds: refused at once, without writing a byte.
        let started = std::time::Instant::now();
        let e = check_space(&dir, u64::MAX / 2).unwrap_err();
        assert!(started.elapsed().as_secs() < 2);
        assert_eq!(e.source.kind(), std::io::ErrorKind::StorageFull);
        assert!(e.to_string().contains("No space left on device"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_260_000), "1.3 MB");
    }

    #[test]
    fn atomic_write_into_missing_dir_fails_cleanly() {
        let target = Path::new("/nonexistent-augtrain-dir/x.txt");
        let err = write_atomic(target, b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-augtrain-dir/x.txt"));
    }
}
