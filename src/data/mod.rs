//! Datasets in memory, their sources and their splits.
//!
//! A [`Dataset`] is plain data: `u8` images stored height × width × channels (HWC), all of the
//! same size, one contiguous buffer, with labels and stable sample ids. Sources turn files into
//! datasets ([`idx`], [`synth`]); [`split`] carves validation sets; [`sampler`] orders epochs.

pub mod idx;
pub mod sampler;
pub mod source;
pub mod split;
pub mod synth;

use std::path::PathBuf;

pub use source::{DataSource, Splits, load};

/// A failure to read or validate a dataset. Messages name the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is malformed.
    #[error("{}: {problem}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and what to do when that is not obvious.
        problem: String,
    },
    /// A dataset directory lacks an expected file.
    #[error("{}: {problem}", path.display())]
    Missing {
        /// The directory searched.
        path: PathBuf,
        /// What was expected there.
        problem: String,
    },
    /// The dataset as a whole is unusable (inconsistent sizes, too few samples, ...).
    #[error("{0}")]
    Invalid(String),
}

/// Labelled images of one size, in memory.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Channels per pixel: 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// Display names of the classes; label `k` is `class_names[k]`.
    pub class_names: Vec<String>,
    /// All images, `len() × height × width × channels` bytes, HWC, row-major.
    pub images: Vec<u8>,
    /// Class index per image, in `0..class_names.len()`.
    pub labels: Vec<u32>,
    /// Stable id per image: the key of its per-sample randomness.
    pub ids: Vec<u64>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Bytes per image (`height × width × channels`).
    pub fn image_bytes(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// The pixels of image `i` (HWC).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.images[i * n..(i + 1) * n]
    }

    /// A new dataset holding the images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.image_bytes();
        let mut images = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            height: self.height,
            width: self.width,
            channels: self.channels,
            class_names: self.class_names.clone(),
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ids: indices.iter().map(|&i| self.ids[i]).collect(),
        }
    }

    /// Number of images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}
