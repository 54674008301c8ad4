//! Whole augtrain commands run by a benchmark as a user runs them: a child process of this
//! binary, timed from outside, in a scratch directory of the benchmark's own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::fs::IoError;

/// A directory of this process's own for runs and reference outputs, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new directory `augtrain-bench-<what>-<pid>` under the system's temporary directory.
    pub fn new(what: &str) -> crate::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("augtrain-bench-{what}-{}", std::process::id()));
        // create_dir, not create_dir_all: a directory already there is not ours to remove.
        std::fs::create_dir(&dir).map_err(|e| IoError::new("create directory", &dir, e))?;
        Ok(Self(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `augtrain <args>` (this binary) to completion: its wall seconds, or an error saying
/// what `doing` failed and the command's own first error line.
pub fn augtrain(
    args: &[&std::ffi::OsStr],
    doing: &'static str,
    target: &Path,
) -> crate::Result<f64> {
    let exe = std::env::current_exe().map_err(|e| IoError::new("find", "augtrain's binary", e))?;
    let start = Instant::now();
    let out = Command::new(&exe)
        .args(args)
        .output()
        .map_err(|e| IoError::new("run", &exe, e))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        let why = first_error(&String::from_utf8_lossy(&out.stderr));
        return Err(IoError::new(doing, target, std::io::Error::other(why)).into());
    }
    Ok(wall)
}

/// The line of a failed command's standard error that says why: its first `error` line (a
/// Python traceback's last line), else its last line.
pub fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .find(|l| l.starts_with("error"))
        .or(lines.last())
        .map_or_else(|| "no message".to_string(), |l| l.trim().to_string())
}
