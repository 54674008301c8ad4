//! Why a run config cannot be used: a file that cannot be read, text that is not a config,
//! or a key whose value is out of range.

use std::path::PathBuf;

use augtrain_augment::SpecError;
use augtrain_data::util::fs::IoError;

/// A run config that cannot be used. Each message names the key (or line) to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key's value is out of range, or contradicts another key's.
    #[error("{problem}")]
    Invalid {
        /// The key, as written in `config.toml` (`optimizer.momentum`).
        key: &'static str,
        /// What is wrong with its value and what is accepted.
        problem: String,
    },
    /// The text is not a run config: a syntax error, an unknown key (with the nearest known
    /// one) or a value of the wrong type.
    #[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The augmentation pipeline (`augment.spec`) is invalid.
    #[error(transparent)]
    Pipeline(#[from] SpecError),
    /// One of the above, in this file.
    #[error("{origin}: {error}")]
    InFile {
        /// The file (or other origin) of the text.
        origin: String,
        /// The problem.
        error: Box<ConfigError>,
    },
    /// The config file could not be read.
    #[error(transparent)]
    Read(#[from] IoError),
    /// The config file is not UTF-8 text.
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

impl ConfigError {
    /// This error, as found in `origin` (a file name).
    pub fn in_file(self, origin: &str) -> Self {
        ConfigError::InFile {
            origin: origin.to_string(),
            error: Box::new(self),
        }
    }

    /// The key the error is about, when it is about one value.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Pipeline(_) => Some("augment.spec"),
            ConfigError::InFile { error, .. } => error.key(),
            _ => None,
        }
    }
}

/// `Ok` if `ok`, else an [`ConfigError::Invalid`] for `key` with the problem `why` describes.
pub(crate) fn ensure(
    ok: bool,
    key: &'static str,
    why: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            problem: why(),
        })
    }
}
