//! Typed errors of the annotation readers and writers. Each displays as one line naming the
//! file, the item and what to do; the CLI turns them into exit codes.

use std::path::PathBuf;

use augtrain_data::util::escape::{escape, escape_path};
use augtrain_data::util::fs::IoError;

/// Everything that can go wrong reading, detecting or writing annotations.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// A file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A directory could not be listed.
    #[error(transparent)]
    Data(#[from] augtrain_data::DataError),
    /// The file is not well-formed in its format, or holds a value the model refuses (wrong
    /// type, a polygon of fewer than 3 points, an absurd size, a dangling reference).
    #[error("{}: {}", escape_path(.path), escape(.message))]
    Malformed {
        /// The annotation file.
        path: PathBuf,
        /// What is wrong and where in the file (object, line, element).
        message: String,
    },
    /// An image name that could escape the image root (absolute, `..`, a drive or NUL).
    #[error(
        "{}: image name {:?} is not a safe relative path (absolute, `..` or a drive); \
         annotation files must name images relative to the image folder",
        escape_path(.path),
        escape(.name)
    )]
    UnsafeName {
        /// The annotation file.
        path: PathBuf,
        /// The offending name.
        name: String,
    },
    /// The format could not be told from the data.
    #[error(
        "{}: cannot tell the annotation format ({reason}); name it with --format \
         (coco, yolo, voc, labelme, labelstudio, cvat)",
        escape_path(.path)
    )]
    UnknownFormat {
        /// The file or directory looked at.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The data cannot be written in the target format at all (not a partial loss, which is a
    /// [`crate::loss::Losses`] entry, but e.g. no image sizes where the format needs them).
    #[error("cannot write {format}: {message}")]
    Unwritable {
        /// The target format's name.
        format: &'static str,
        /// Why.
        message: String,
    },
}

impl AnnotationError {
    /// A [`AnnotationError::Malformed`] for `path`.
    pub fn malformed(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        AnnotationError::Malformed {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result with an [`AnnotationError`].
pub type Result<T, E = AnnotationError> = std::result::Result<T, E>;
