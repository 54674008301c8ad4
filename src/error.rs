//! The crate-wide error type. Library functions return [`Result`]; only `main` turns an error
//! into a message (one line: what went wrong, which file, what to do) and an exit code.

use crate::{augment, data, device, train, util};

/// Every error augtrain can report. Each variant's message is a complete sentence for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or validating a dataset failed.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// An augmentation pipeline spec is invalid, or augmentation failed.
    #[error(transparent)]
    Augment(#[from] augment::AugmentError),
    /// The compute device could not be chosen or started.
    #[error(transparent)]
    Device(#[from] device::DeviceError),
    /// Training, evaluation or checkpointing failed.
    #[error(transparent)]
    Train(#[from] train::TrainError),
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] util::fs::IoError),
    /// A run directory's file is missing or damaged, or an output already exists.
    #[error(transparent)]
    Run(#[from] augtrain_run::RunError),
    /// Annotations could not be read, detected or written.
    #[error(transparent)]
    Annotations(#[from] augtrain_annotations::AnnotationError),
    /// The user asked for something inconsistent (bad flag combination, bad value).
    #[error("{0}")]
    Usage(String),
    /// A config file given with `--config` is malformed or holds invalid values.
    #[error(transparent)]
    ConfigFile(#[from] augtrain_run::config::ConfigError),
}

impl From<augtrain_quality::label_issues::examples::ExamplesError> for Error {
    /// A dataset that does not match its probabilities is a data error; the other sources'
    /// faults are in what was given on the command line.
    fn from(e: augtrain_quality::label_issues::examples::ExamplesError) -> Self {
        match e {
            augtrain_quality::label_issues::examples::ExamplesError::Data(e) => Error::Data(e),
            other => Error::Usage(other.to_string()),
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
