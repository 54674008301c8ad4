//! File writes that never leave a half-written file: write to a temporary name in the same
//! directory, flush to disk, then rename over the target.

use std::io::{Read, Write};
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

/// Write `bytes` to `path`, which must not exist yet, atomically: the file appears whole or not
/// at all, and a file that appeared at `path` meanwhile (another process) is never replaced
/// (the final step is [`rename_no_replace`]); that case is an `AlreadyExists` error saying to
/// pass `--force`.
pub fn write_new_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        rename_no_replace(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(IoError::new("write", path, exists_needs_force(source)));
    }
    Ok(())
}

/// Write an output file the user named: replaced atomically when `force`, else created only if
/// nothing is there ([`write_new_atomic`]).
pub fn write_output(path: &Path, bytes: &[u8], force: bool) -> Result<(), IoError> {
    if force {
        write_atomic(path, bytes)
    } else {
        write_new_atomic(path, bytes)
    }
}

/// Refuse an output file that already exists (before long work starts), unless `force`.
pub fn check_new_output(path: &Path, force: bool) -> Result<(), IoError> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        let e = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
        return Err(IoError::new("write", path, exists_needs_force(e)));
    }
    Ok(())
}

/// An `AlreadyExists` error worded for the user; other errors unchanged.
fn exists_needs_force(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it already exists; choose another name, or pass --force to replace it",
        )
    } else {
        e
    }
}

/// Rename `from` to `to` only if nothing exists at `to`, atomically where the system allows:
/// Linux `renameat2(RENAME_NOREPLACE)`. Where that is unsupported (other systems, some network
/// file systems) a file is hard-linked then unlinked (the link fails if `to` exists), and a
/// directory is renamed after checking that `to` does not exist (a short race remains there).
/// A taken `to` is an `AlreadyExists` error.
pub fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        };
        let (f, t) = (c(from)?, c(to)?);
        // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(e);
        }
    }
    rename_no_replace_portable(from, to)
}

/// [`rename_no_replace`] without `renameat2`.
fn rename_no_replace_portable(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(from)?.is_dir() {
        if std::fs::symlink_metadata(to).is_ok() {
            return Err(std::io::ErrorKind::AlreadyExists.into());
        }
        return std::fs::rename(from, to);
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

/// Move the finished directory `tmp` to `out` durably: every file under `tmp` and `tmp`
/// itself are flushed to stable storage first, and the parent directory after the rename, so
/// neither a killed process nor a power loss can leave `out` half-written. Anything already at
/// `out` (even an empty directory, even one created a moment ago by another process) is never
/// replaced: an `AlreadyExists` error ([`rename_no_replace`]).
pub fn publish_dir(tmp: &Path, out: &Path) -> std::io::Result<()> {
    sync_tree(tmp)?;
    rename_no_replace(tmp, out)?;
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

/// The suffix of the lock file beside a [`PartialDir`]: `.<name>.partial-<pid>.lock`.
pub const PARTIAL_LOCK_SUFFIX: &str = ".lock";

/// What the lock file says to a person who finds it (also how a cleaner recognises ours).
const LOCK_TEXT: &[u8] = b"augtrain is writing the folder of this name without '.lock'; augtrain deletes both once no process holds the lock on this file\n";

/// How often [`PartialDir::create`] retries when a cleaner removed its new lock file before
/// it could lock it.
const LOCK_ATTEMPTS: usize = 3;

/// A directory being written, to be moved into place whole ([`PartialDir::publish`]): the
/// hidden sibling `.<name>.partial-<pid>` of the target `<name>`, owned through the lock file
/// `.<name>.partial-<pid>.lock` beside it, which bears our text and on which the owner keeps
/// an exclusive lock (`flock`, released by the operating system however the process ends).
/// The lock file exists before the directory and is removed after the directory is published
/// or removed, so every moment a SIGKILL can hit leaves either nothing or a free lock file
/// (with or without its directory; cut short, before our whole text is written, without). Dropped unpublished (an error, a panic), the directory is
/// removed. After a SIGKILL it stays until the next [`PartialDir::create`] in the same folder,
/// which removes it only through a lock file of ours that nobody holds
/// ([`remove_abandoned_partials`]). Nothing without our lock file, or whose lock is held (a
/// live process, on this machine or on another one where the file system passes locks on), is
/// ever removed.
#[derive(Debug)]
pub struct PartialDir {
    path: PathBuf,
    lock_path: PathBuf,
    lock: Option<std::fs::File>,
}

impl PartialDir {
    /// Create the partial directory for the target `out` (its parent must exist), first
    /// removing abandoned partial directories in that parent ([`remove_abandoned_partials`]).
    pub fn create(out: &Path) -> Result<Self, IoError> {
        let (parent, name) = parent_and_name(out);
        remove_abandoned_partials(parent);
        let path = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let lock_path = lock_path_of(&path);
        let lock = take_new_lock(&lock_path).map_err(|e| IoError::new("write", &lock_path, e))?;
        let mut dir = Self {
            path: PathBuf::new(),
            lock_path,
            lock: Some(lock),
        };
        std::fs::create_dir(&path).map_err(|e| IoError::new("create directory", &path, e))?;
        dir.path = path;
        Ok(dir)
    }

    /// The directory to write into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Move the finished directory to `out` durably (as [`publish_dir`]: never replacing
    /// anything there), then remove its lock file. On error the partial directory is removed.
    pub fn publish(mut self, out: &Path) -> std::io::Result<()> {
        sync_tree(&self.path)?;
        rename_no_replace(&self.path, out)?;
        // Published: nothing left to remove but the lock file (by `drop`).
        self.path = PathBuf::new();
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_directory(parent)?;
        }
        Ok(())
    }
}

impl Drop for PartialDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        // Removed while still locked; the lock goes with the handle.
        let _ = std::fs::remove_file(&self.lock_path);
        self.lock = None;
    }
}

/// The lock file of the partial directory `dir`.
fn lock_path_of(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(PARTIAL_LOCK_SUFFIX);
    PathBuf::from(name)
}

/// Create the lock file `path` (it must not exist), write our text and lock it. A cleaner may
/// take and remove it in the moment before it is locked; then it is created again.
fn take_new_lock(path: &Path) -> std::io::Result<std::fs::File> {
    for _ in 0..LOCK_ATTEMPTS {
        let mut file = std::fs::File::create_new(path)?;
        if let Err(e) = file.write_all(LOCK_TEXT).and_then(|()| file.lock()) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        if is_same_file(&file, path) {
            return Ok(file);
        }
    }
    Err(std::io::Error::other(
        "another process keeps removing this lock file; is another augtrain cleaning this folder?",
    ))
}

/// Whether the open `file` is still the file at `path` (not removed or replaced since it was
/// opened). Without inode numbers (not Unix) it is assumed to be.
fn is_same_file(file: &std::fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// The directory holding `out` (`.` for a bare name) and `out`'s file name.
fn parent_and_name(out: &Path) -> (&Path, String) {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    (parent, name)
}

/// Remove the abandoned partial directories in `parent`: for each lock file
/// `.<name>.partial-<digits>.lock` (a regular file, not a link) that bears our text and whose
/// lock can be taken, so that no process is writing, the directory `.<name>.partial-<digits>`
/// beside it (if it is a directory, not a link) and then the lock file. Anything else is left
/// alone, whatever its name.
pub fn remove_abandoned_partials(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let file_name = e.file_name().to_string_lossy().into_owned();
        let Some(dir_name) = file_name.strip_suffix(PARTIAL_LOCK_SUFFIX) else {
            continue;
        };
        let numbered = dir_name.starts_with('.')
            && dir_name
                .rsplit_once(".partial-")
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered && e.file_type().is_ok_and(|t| t.is_file()) {
            remove_if_abandoned(&e.path(), &parent.join(dir_name));
        }
    }
}

/// Remove the partial directory `dir` and its lock file `lock_path` if the lock file is ours
/// and free; keep the lock taken until both are gone.
fn remove_if_abandoned(lock_path: &Path, dir: &Path) {
    let Ok(mut lock) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock_path)
    else {
        return;
    };
    let mut text = Vec::with_capacity(LOCK_TEXT.len() + 1);
    let read = (&mut lock)
        .take(LOCK_TEXT.len() as u64 + 1)
        .read_to_end(&mut text)
        .is_ok();
    let ours = read && text == LOCK_TEXT;
    // Our lock file cut short: its creator was killed while writing our text, so before it
    // locked the file or made a directory; only the file itself goes, never a directory.
    let cut_short = read && text.len() < LOCK_TEXT.len() && LOCK_TEXT.starts_with(&text);
    if !(ours || cut_short) || lock.try_lock().is_err() || !is_same_file(&lock, lock_path) {
        return;
    }
    if ours && std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(lock_path);
}

/// Remove abandoned temporary files `.<name>.tmp-<digits>` (left by [`write_atomic`] when a
/// process is killed mid-write) in `dir` for the given file `names` only: regular files, not
/// links. The caller must hold a lock proving that no other process writes these files (a run
/// directory's lock): the names alone prove nothing.
pub fn remove_abandoned_temps(dir: &Path, names: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let file_name = e.file_name().to_string_lossy().into_owned();
        let ours = names.iter().any(|n| {
            file_name
                .strip_prefix(&format!(".{n}.tmp-"))
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if ours && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
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

    #[cfg(unix)]
    #[test]
    fn only_our_own_abandoned_partials_are_removed() {
        let dir = std::env::temp_dir().join(format!("augtrain-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lock = |d: &str| dir.join(format!("{d}{PARTIAL_LOCK_SUFFIX}"));
        // Names alone prove nothing: a user's files and folders that look like ours stay.
        std::fs::write(dir.join(".checkpoint.bin.tmp-4194305"), b"user").unwrap();
        std::fs::create_dir_all(dir.join(".out.partial-4194305")).unwrap();
        std::fs::write(dir.join(".out.partial-4194305/keep"), b"user").unwrap();
        // A lock file of that name that is not ours (other text) does not make it ours.
        std::fs::write(lock(".out.partial-4194305"), b"user").unwrap();
        // Ours, abandoned (lock file with our text, free): removed by the next claim.
        let abandoned = dir.join(".out.partial-4194306");
        std::fs::create_dir_all(&abandoned).unwrap();
        std::fs::write(lock(".out.partial-4194306"), LOCK_TEXT).unwrap();
        // Ours, of another target, killed after its publish rename: only the lock file left.
        std::fs::write(lock(".other.partial-4194306"), LOCK_TEXT).unwrap();
        // Ours cut short (its creator killed while writing it, so before any directory): the
        // lock file goes, a directory of that name stays.
        std::fs::write(lock(".cut.partial-4194306"), b"").unwrap();
        std::fs::write(lock(".half.partial-4194306"), &LOCK_TEXT[..20]).unwrap();
        std::fs::create_dir_all(dir.join(".half.partial-4194306")).unwrap();
        // A lock file that is a link is not ours, nor is a directory that is a link.
        let linked = dir.join(".linked.partial-4194306");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(
            lock(".out.partial-4194306"),
            lock(".linked.partial-4194306"),
        )
        .unwrap();
        std::os::unix::fs::symlink(&linked, dir.join(".via.partial-4194306")).unwrap();
        std::fs::write(lock(".via.partial-4194306"), LOCK_TEXT).unwrap();
        let live = PartialDir::create(&dir.join("out")).unwrap();
        assert!(!abandoned.exists() && !lock(".out.partial-4194306").exists());
        assert!(!lock(".other.partial-4194306").exists());
        assert!(!lock(".cut.partial-4194306").exists());
        assert!(!lock(".half.partial-4194306").exists());
        assert!(dir.join(".half.partial-4194306").is_dir());
        assert!(linked.exists() && dir.join(".via.partial-4194306").exists());
        assert!(!lock(".via.partial-4194306").exists());
        assert!(dir.join(".checkpoint.bin.tmp-4194305").exists());
        assert!(dir.join(".out.partial-4194305/keep").exists());
        assert!(lock(".out.partial-4194305").exists());
        // A live one (its lock held) is never removed, even by a claim in this process.
        remove_abandoned_partials(&dir);
        let partial = live.path().to_path_buf();
        let live_lock = lock_path_of(&partial);
        assert!(partial.is_dir() && live_lock.is_file());
        std::fs::write(partial.join("a.csv"), b"1").unwrap();
        live.publish(&dir.join("out")).unwrap();
        assert!(!partial.exists() && !live_lock.exists());
        assert_eq!(std::fs::read(dir.join("out/a.csv")).unwrap(), b"1");
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 1);
        // Dropped unpublished: removed with its lock file.
        let dropped = PartialDir::create(&dir.join("out2")).unwrap();
        let p = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!p.exists() && !lock_path_of(&p).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lock_file_counts_only_while_it_is_the_file_at_its_path() {
        let dir = std::env::temp_dir().join(format!("augtrain-relock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".x.partial-1.lock");
        // The owner's handle no longer names the file at the path: it must not count as owned.
        let stale = std::fs::File::create_new(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(!is_same_file(&stale, &path));
        let owned = take_new_lock(&path).unwrap();
        assert!(is_same_file(&owned, &path));
        assert_eq!(std::fs::read(&path).unwrap(), LOCK_TEXT);
        // Taken: a cleaner leaves it.
        remove_abandoned_partials(&dir);
        assert!(path.exists());
        drop(owned);
        remove_abandoned_partials(&dir);
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abandoned_temps_are_removed_only_for_the_names_given() {
        let dir = std::env::temp_dir().join(format!("augtrain-temps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".checkpoint.bin.tmp-4194305"), b"half").unwrap();
        std::fs::write(dir.join(".notes.txt.tmp-4194305"), b"user").unwrap();
        std::fs::create_dir_all(dir.join(".model.json.tmp-1")).unwrap();
        remove_abandoned_temps(&dir, &["checkpoint.bin", "model.json"]);
        assert!(!dir.join(".checkpoint.bin.tmp-4194305").exists());
        assert!(dir.join(".notes.txt.tmp-4194305").exists());
        assert!(dir.join(".model.json.tmp-1").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn new_outputs_never_replace_what_appeared_meanwhile() {
        let dir = std::env::temp_dir().join(format!("augtrain-noreplace-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("report.json");
        write_new_atomic(&f, b"first").unwrap();
        let e = write_new_atomic(&f, b"second").unwrap_err();
        assert_eq!(e.source.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("pass --force"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), b"first");
        assert!(check_new_output(&f, false).is_err() && check_new_output(&f, true).is_ok());
        write_output(&f, b"third", true).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"third");
        // Directories: an empty one is not replaced either; the portable path agrees.
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let e = rename_no_replace(&a, &b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        let e = rename_no_replace_portable(&a, &b).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        std::fs::write(dir.join("x"), b"x").unwrap();
        let e = rename_no_replace_portable(&dir.join("x"), &f).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        rename_no_replace_portable(&dir.join("x"), &dir.join("y")).unwrap();
        assert!(!dir.join("x").exists() && dir.join("y").exists());
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp-")
            })
            .count();
        assert_eq!(leftovers, 0);
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
