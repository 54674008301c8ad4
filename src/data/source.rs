//! Where a dataset comes from, and loading it into train / validation / test [`Dataset`]s.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset, idx, split, synth};

/// A dataset source, as named on the command line (`--data`) or in a config file.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// The built-in synthetic shapes (see [`synth`]).
    Synthetic {
        /// Training images to generate.
        train: usize,
        /// Test images to generate.
        test: usize,
        /// Side of the square images, in pixels.
        size: usize,
    },
    /// A directory of IDX files (`train-images*`, `train-labels*`, `t10k-images*`, `t10k-labels*`).
    Idx(PathBuf),
}

impl DataSource {
    /// Interpret a `--data` path: a directory of IDX files.
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        if !path.exists() {
            return Err(DataError::Missing {
                path: path.to_path_buf(),
                problem: "no such file or directory; pass a dataset directory to --data, or omit --data to use the built-in synthetic dataset".into(),
            });
        }
        if path.is_dir() && idx::looks_like_idx_dir(path) {
            return Ok(DataSource::Idx(path.to_path_buf()));
        }
        Err(DataError::Missing {
            path: path.to_path_buf(),
            problem: "not a dataset augtrain can read: expected a directory with IDX files (train-images*, train-labels*, t10k-images*, t10k-labels*)".into(),
        })
    }

    /// A short name for run directories and reports.
    pub fn name(&self) -> String {
        match self {
            DataSource::Synthetic { .. } => "synthetic".into(),
            DataSource::Idx(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "idx".into()),
        }
    }
}

/// A dataset split three ways. `val` is carved from the training data (stratified).
#[derive(Clone, Debug)]
pub struct Splits {
    /// Short name of the source.
    pub name: String,
    /// Training images.
    pub train: Dataset,
    /// Validation images (may be empty when the validation fraction is 0).
    pub val: Dataset,
    /// Test images.
    pub test: Dataset,
}

/// Load `source`, holding out `val_fraction` of the training images (stratified, from `seed`)
/// for validation.
pub fn load(source: &DataSource, val_fraction: f64, seed: u64) -> Result<Splits, DataError> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::Invalid(format!(
            "validation fraction {val_fraction} is outside [0, 1)"
        )));
    }
    let (train_all, test) = match source {
        DataSource::Synthetic { train, test, size } => {
            if *size < 8 {
                return Err(DataError::Invalid(format!(
                    "synthetic image size {size} is too small; use at least 8"
                )));
            }
            if *train < 20 || *test < 1 {
                return Err(DataError::Invalid(format!(
                    "synthetic dataset of {train} training / {test} test images is too small; use at least 20 / 1"
                )));
            }
            (
                synth::generate(*train, *size, seed, synth::SynthSplit::Train),
                synth::generate(*test, *size, seed, synth::SynthSplit::Test),
            )
        }
        DataSource::Idx(dir) => load_idx(dir)?,
    };
    let (kept, held) = split::stratified_holdout(&train_all.labels, val_fraction, seed);
    if kept.is_empty() {
        return Err(DataError::Invalid(
            "no training images left after the validation split".into(),
        ));
    }
    Ok(Splits {
        name: source.name(),
        train: train_all.subset(&kept),
        val: train_all.subset(&held),
        test,
    })
}

fn idx_dataset(
    images: &Path,
    labels: &Path,
    id_base: u64,
) -> Result<(Dataset, Vec<u8>), DataError> {
    let img = idx::read_images(images)?;
    let lab = idx::read_labels(labels)?;
    if img.count != lab.len() {
        return Err(DataError::Malformed {
            path: labels.to_path_buf(),
            problem: format!(
                "{} labels but {} has {} images; the two files must have the same count",
                lab.len(),
                images.display(),
                img.count
            ),
        });
    }
    if img.count == 0 {
        return Err(DataError::Malformed {
            path: images.to_path_buf(),
            problem: "the file holds no image".into(),
        });
    }
    let ds = Dataset::from_pixels(
        img.rows,
        img.cols,
        img.channels,
        Vec::new(),
        img.pixels,
        lab.iter().map(|&l| l as u32).collect(),
        (0..img.count as u64).map(|i| id_base + i).collect(),
        Vec::new(),
    );
    Ok((ds, lab))
}

fn load_idx(dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    let files = idx::find_files(dir)?;
    let (mut train, train_labels) = idx_dataset(&files.train_images, &files.train_labels, 0)?;
    let (mut test, test_labels) =
        idx_dataset(&files.test_images, &files.test_labels, 1_000_000_000)?;
    if (train.height, train.width, train.channels) != (test.height, test.width, test.channels) {
        return Err(DataError::Malformed {
            path: files.test_images.clone(),
            problem: format!(
                "test images are {}x{}x{} but training images ({}) are {}x{}x{}",
                test.height,
                test.width,
                test.channels,
                files.train_images.display(),
                train.height,
                train.width,
                train.channels
            ),
        });
    }
    // Classes are 0..K-1 with K = 1 + the largest label; every class must have training images,
    // so a stray large label (corruption) is reported instead of silently adding empty classes.
    let k = train_labels
        .iter()
        .chain(test_labels.iter())
        .map(|&l| l as usize + 1)
        .max()
        .unwrap_or(0);
    let mut counts = vec![0usize; k];
    for &l in &train_labels {
        counts[l as usize] += 1;
    }
    if k < 2 {
        return Err(DataError::Malformed {
            path: files.train_labels.clone(),
            problem: "all labels are 0: a classifier needs at least two classes".into(),
        });
    }
    if let Some(empty) = counts.iter().position(|&c| c == 0) {
        // Name the offending label: the largest one and where it occurs.
        let max = (k - 1) as u8;
        let (path, pos) = match train_labels.iter().position(|&l| l == max) {
            Some(p) => (&files.train_labels, p),
            None => (
                &files.test_labels,
                test_labels.iter().position(|&l| l == max).unwrap_or(0),
            ),
        };
        return Err(DataError::Malformed {
            path: path.clone(),
            problem: format!(
                "label {max} (record {pos}) is out of range: class {empty} has no training image, so labels must be 0..{}; check the label file",
                empty.max(1) - 1
            ),
        });
    }
    let names: Vec<String> = (0..k).map(|c| c.to_string()).collect();
    train.class_names = names.clone();
    test.class_names = names;
    Ok((train, test))
}
