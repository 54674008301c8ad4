//! # augtrain-data
//!
//! Datasets in memory, their sources and their splits: the first layer of augtrain's data flow
//! (files → [`Dataset`]), with no dependency on burn.
//!
//! A [`Dataset`] is plain data: `u8` images stored height × width × channels (HWC), all of the
//! same size, one contiguous buffer, with labels and stable sample ids. Sources turn files into
//! datasets ([`idx`], [`synth`]); [`split`] carves validation sets; [`sampler`] orders epochs.

pub mod balance;
pub mod cifar;
pub mod class_list;
pub mod csv;
pub mod decode;
pub mod export;
pub mod files;
pub mod idx;
pub mod membership;
pub mod options;
pub mod pack;
pub mod profile;
pub mod sampler;
pub mod shape;
pub mod source;
pub mod split;
pub mod split_multilabel;
pub mod split_plan;
pub mod synth;
pub mod unlabelled;
pub mod util;

use std::path::PathBuf;
use std::sync::Arc;

use util::escape::escape_path;

pub use options::LoadOptions;
pub use shape::ImageShape;
pub use source::{DataSource, Splits, load};

/// A failure to read or validate a dataset. Messages name the file and the problem; file names
/// and other user-controlled text in them are escaped ([`util::escape`]).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", escape_path(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is malformed.
    #[error("{}: {problem}", escape_path(path))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and what to do when that is not obvious.
        problem: String,
    },
    /// A dataset directory lacks an expected file.
    #[error("{}: {problem}", escape_path(path))]
    Missing {
        /// The directory searched.
        path: PathBuf,
        /// What was expected there.
        problem: String,
    },
    /// The dataset as a whole is unusable (inconsistent sizes, too few samples, ...).
    #[error("{0}")]
    Invalid(String),
    /// A class the caller named (`--classes`) that no file of the data is labelled with: a
    /// mistake in the class list rather than in the data.
    #[error(
        "--classes names '{}', but no file of {} is labelled so; check the spelling, or leave it out",
        util::escape::escape(class),
        escape_path(data)
    )]
    ClassNotInData {
        /// The class named.
        class: String,
        /// The dataset (folder or manifest).
        data: PathBuf,
    },
}

/// Where the pixels of a dataset live: one owned buffer, or memory-mapped shards of a pack.
/// Records are `height × width × channels` bytes each, back to back.
#[derive(Debug)]
pub enum ImageStore {
    /// All records in one buffer.
    Owned(Vec<u8>),
    /// Records in memory-mapped shard files, `per_shard` records per shard (the last may hold
    /// fewer).
    Mapped {
        /// The mapped shard files.
        shards: Vec<memmap2::Mmap>,
        /// Records per shard.
        per_shard: usize,
    },
}

impl ImageStore {
    /// Record `r` of `bytes` bytes.
    #[inline]
    pub fn record(&self, r: usize, bytes: usize) -> &[u8] {
        match self {
            ImageStore::Owned(v) => &v[r * bytes..(r + 1) * bytes],
            ImageStore::Mapped { shards, per_shard } => {
                let (s, k) = (r / per_shard, r % per_shard);
                &shards[s][k * bytes..(k + 1) * bytes]
            }
        }
    }
}

/// Labelled images of one size. Cheap to subset: subsets share the pixel store.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The shape of every image.
    pub shape: ImageShape,
    /// Display names of the classes; label `k` is `class_names[k]`.
    pub class_names: Vec<String>,
    /// Class index per image, in `0..class_names.len()`.
    pub labels: Vec<u32>,
    /// Stable id per image: the key of its per-sample randomness.
    pub ids: Vec<u64>,
    /// Source file per image (relative to the dataset root) as path text
    /// ([`util::path_text`]: exact, non-UTF-8 names escaped), empty for generated data.
    pub paths: Vec<String>,
    store: Arc<ImageStore>,
    rows: Vec<u32>,
}

impl Default for Dataset {
    fn default() -> Self {
        Self::from_pixels(
            ImageShape::default(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
    }
}

impl Dataset {
    /// A dataset over one buffer of `labels.len()` HWC records.
    #[allow(clippy::too_many_arguments)]
    pub fn from_pixels(
        shape: ImageShape,
        class_names: Vec<String>,
        pixels: Vec<u8>,
        labels: Vec<u32>,
        ids: Vec<u64>,
        paths: Vec<String>,
    ) -> Self {
        Self::from_store(
            shape,
            class_names,
            Arc::new(ImageStore::Owned(pixels)),
            labels,
            ids,
            paths,
        )
    }

    /// A dataset over a shared store whose record `i` is sample `i`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_store(
        shape: ImageShape,
        class_names: Vec<String>,
        store: Arc<ImageStore>,
        labels: Vec<u32>,
        ids: Vec<u64>,
        paths: Vec<String>,
    ) -> Self {
        let n = labels.len();
        let paths = if paths.is_empty() {
            vec![String::new(); n]
        } else {
            paths
        };
        Self {
            shape,
            class_names,
            labels,
            ids,
            paths,
            store,
            rows: (0..n as u32).collect(),
        }
    }

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
        self.shape.values()
    }

    /// The pixels of image `i` (HWC).
    #[inline]
    pub fn image(&self, i: usize) -> &[u8] {
        self.store.record(self.rows[i] as usize, self.image_bytes())
    }

    /// All pixels, concatenated (a copy).
    pub fn pixels(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.image_bytes());
        for i in 0..self.len() {
            out.extend_from_slice(self.image(i));
        }
        out
    }

    /// A dataset of the images at `indices`, in that order, sharing this one's pixel store.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            shape: self.shape,
            class_names: self.class_names.clone(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ids: indices.iter().map(|&i| self.ids[i]).collect(),
            paths: indices.iter().map(|&i| self.paths[i].clone()).collect(),
            store: Arc::clone(&self.store),
            rows: indices.iter().map(|&i| self.rows[i]).collect(),
        }
    }

    /// The same images labelled against `classes` by class name (for applying a trained
    /// model to new data: its classes may be a subset, in any order). `Err` lists this
    /// dataset's class names that are not in `classes` and that label at least one image.
    pub fn relabel_by_name(&self, classes: &[String]) -> Result<Dataset, Vec<String>> {
        let map: Vec<Option<u32>> = self
            .class_names
            .iter()
            .map(|n| classes.iter().position(|c| c == n).map(|k| k as u32))
            .collect();
        let counts = self.class_counts();
        let unknown: Vec<String> = (0..self.num_classes())
            .filter(|&k| map[k].is_none() && counts[k] > 0)
            .map(|k| self.class_names[k].clone())
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        let mut out = self.clone();
        out.labels = self
            .labels
            .iter()
            .map(|&l| map[l as usize].expect("checked"))
            .collect();
        out.class_names = classes.to_vec();
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabelling_matches_names_not_positions() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ds = Dataset::from_pixels(
            ImageShape::new(1, 1, 1),
            names(&["Bees", "ants"]),
            vec![0, 1, 2],
            vec![1, 0, 1],
            vec![0, 1, 2],
            Vec::new(),
        );
        assert_eq!(
            ds.relabel_by_name(&names(&["ants", "bees"])).unwrap_err(),
            vec!["Bees"]
        );
        let ok = ds
            .relabel_by_name(&names(&["ants", "Bees", "wasps"]))
            .unwrap();
        assert_eq!(ok.labels, vec![0, 1, 0]);
        assert_eq!(ok.class_names, names(&["ants", "Bees", "wasps"]));
    }
}
