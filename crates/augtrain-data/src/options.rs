//! How a dataset is loaded: the one owner of loading options (the `[data]` section of a run
//! config, the data flags of every command, and what decoders and splitters read).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::decode::{DEFAULT_MAX_PIXELS, ResizePolicy};
use crate::files::OnError;
use crate::source::{DataSource, Splits, Whole};
use crate::{DataError, ImageShape};

/// Where the data comes from and how it is loaded: the source, the shape image files are
/// brought to, what to do with unusable files, and how splits are made when the source has
/// none. Serialized as the `[data]` section of a run's `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadOptions {
    /// A dataset (IDX or CIFAR directory, image folder, CSV manifest, pack); absent = the
    /// built-in synthetic dataset.
    pub path: Option<PathBuf>,
    /// Synthetic training images.
    pub synthetic_train: usize,
    /// Synthetic test images.
    pub synthetic_test: usize,
    /// Side of the synthetic images, pixels.
    pub synthetic_size: usize,
    /// Fraction of the training images held out for validation (stratified) when the source
    /// has no validation split.
    pub val_fraction: f64,
    /// Fraction held out for testing when the source has neither a test nor a val split.
    pub test_fraction: f64,
    /// Width and height image files are brought to at load time, pixels.
    pub size: [u32; 2],
    /// Channels image files are converted to (1 or 3).
    pub channels: usize,
    /// How image files reach `size`: center-crop, stretch or letterbox.
    pub resize: ResizePolicy,
    /// Largest image accepted, in pixels (width × height); larger files are skipped as too large.
    pub max_pixels: u64,
    /// Skip unusable files (reported) or stop at the first.
    pub on_error: OnError,
    /// A split file from `augtrain split`, overriding the source's splits.
    pub split_file: Option<PathBuf>,
    /// The class list for image files; other labels are reported as unknown and skipped.
    pub classes: Option<Vec<String>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            path: None,
            synthetic_train: 6000,
            synthetic_test: 1000,
            synthetic_size: 32,
            val_fraction: 0.1,
            test_fraction: 0.1,
            size: [64, 64],
            channels: 3,
            resize: ResizePolicy::CenterCrop,
            max_pixels: DEFAULT_MAX_PIXELS,
            on_error: OnError::Skip,
            split_file: None,
            classes: None,
        }
    }
}

impl LoadOptions {
    /// Options for the dataset at `path` (or the built-in one), everything else default.
    pub fn for_path(path: Option<PathBuf>) -> Self {
        Self {
            path,
            ..Self::default()
        }
    }

    /// These options with relative paths (`path`, `split_file`) joined onto `base`.
    pub fn resolved_against(&self, base: &std::path::Path) -> Self {
        let join = |p: &Option<PathBuf>| {
            p.as_ref().map(|p| {
                if p.is_relative() {
                    base.join(p)
                } else {
                    p.clone()
                }
            })
        };
        Self {
            path: join(&self.path),
            split_file: join(&self.split_file),
            ..self.clone()
        }
    }

    /// These options with absolute paths (canonical when the file exists), as a run's
    /// `config.toml` stores them, so the run can be evaluated or resumed from any directory.
    pub fn with_absolute_paths(&self) -> Self {
        let absolute = |p: &Option<PathBuf>| {
            p.as_ref().map(|p| {
                std::fs::canonicalize(p)
                    .or_else(|_| std::path::absolute(p))
                    .unwrap_or_else(|_| p.clone())
            })
        };
        Self {
            path: absolute(&self.path),
            split_file: absolute(&self.split_file),
            ..self.clone()
        }
    }

    /// The data source these options name.
    pub fn source(&self) -> Result<DataSource, DataError> {
        match &self.path {
            Some(p) => DataSource::from_path(p),
            None => Ok(DataSource::Synthetic {
                train: self.synthetic_train,
                test: self.synthetic_test,
                size: self.synthetic_size,
            }),
        }
    }

    /// The shape image files are decoded to (`size` × `channels`).
    pub fn file_shape(&self) -> ImageShape {
        ImageShape::new(self.size[0] as usize, self.size[1] as usize, self.channels)
    }

    /// Load the data, split three ways; `seed` keys the synthetic data and the split shuffles.
    pub fn load(&self, seed: u64) -> Result<Splits, DataError> {
        crate::source::load(&self.source()?, self, seed)
    }

    /// Load every sample with the split its source (or split file) gives it.
    pub fn load_whole(&self, seed: u64) -> Result<Whole, DataError> {
        crate::source::load_whole(&self.source()?, self, seed)
    }
}
