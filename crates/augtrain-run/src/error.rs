//! The one error type for run files: a missing, damaged or unwritable file of a run directory
//! (config, model card, metrics log, report, checkpoint). Every command reports it the same way
//! (exit code 1).

use std::path::PathBuf;

use augtrain_data::util::escape::escape_path;
use augtrain_data::util::fs::IoError;

/// A run file that is missing, damaged or cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file the command needs is not in the run directory.
    #[error("{}: {what}", escape_path(path))]
    Missing {
        /// The missing file (or the directory, when it is not a run directory at all).
        path: PathBuf,
        /// What was expected and what to do.
        what: String,
    },
    /// A run file exists but cannot be used.
    #[error("{}: {problem}", escape_path(path))]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it and what to do.
        problem: String,
    },
    /// An output that must not be overwritten already exists.
    #[error("{}: {what}", escape_path(path))]
    Exists {
        /// The existing file or directory.
        path: PathBuf,
        /// What to do about it.
        what: String,
    },
    /// Reading or writing a run file failed.
    #[error(transparent)]
    Io(#[from] IoError),
}

impl RunError {
    /// A damaged-file error for `path`.
    pub fn damaged(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        RunError::Damaged {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
