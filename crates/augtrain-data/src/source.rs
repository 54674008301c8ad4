//! Where a dataset comes from, and loading it into train / validation / test [`Dataset`]s.
//!
//! Sources: the built-in synthetic shapes, IDX directories, CIFAR-10/100 binary batches, image
//! folders, CSV manifests and packs. Splits named by the source (IDX and CIFAR train/test,
//! folder layouts, manifest columns, pack index) are honoured; a missing validation split is
//! carved from training (stratified); a missing test split is the validation split when the
//! source has one, else carved from training too. A split file written by `augtrain split`
//! overrides all of that.

use std::path::{Path, PathBuf};

use super::files::{LoadReport, SplitName};
use super::{DataError, Dataset, LoadOptions, cifar, files, idx, pack, split, synth};
use crate::util::escape::{escape, escape_path};

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
    /// A directory of CIFAR-10 or CIFAR-100 binary batches.
    Cifar(PathBuf, cifar::Variant),
    /// An image folder: `root/<class>/*` or `root/{train,val,test}/<class>/*`.
    Folder(PathBuf),
    /// A CSV manifest `path,label[,split]`.
    Manifest(PathBuf),
    /// A pack written by `augtrain pack`.
    Pack(PathBuf),
}

impl DataSource {
    /// The directory its images' paths are relative to, when it names image files (a folder,
    /// a manifest's directory); None for container formats and generated data.
    pub fn files_root(&self) -> Option<PathBuf> {
        match self {
            DataSource::Folder(dir) => Some(dir.clone()),
            DataSource::Manifest(file) => file.parent().map(Path::to_path_buf),
            _ => None,
        }
    }

    /// Interpret a `--data` path.
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        if !path.exists() {
            return Err(DataError::Missing {
                path: path.to_path_buf(),
                problem: "no such file or directory; pass a dataset to --data, or omit --data to use the built-in synthetic dataset".into(),
            });
        }
        if path.is_file() {
            let is_csv = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if is_csv {
                return Ok(DataSource::Manifest(path.to_path_buf()));
            }
        } else if pack::looks_like_pack(path) {
            return Ok(DataSource::Pack(path.to_path_buf()));
        } else if idx::looks_like_idx_dir(path) {
            return Ok(DataSource::Idx(path.to_path_buf()));
        } else if let Some(v) = cifar::detect(path) {
            return Ok(DataSource::Cifar(path.to_path_buf(), v));
        } else if files::looks_like_folder(path) {
            return Ok(DataSource::Folder(path.to_path_buf()));
        }
        Err(DataError::Missing {
            path: path.to_path_buf(),
            problem: "not a dataset augtrain can read: expected an IDX directory, CIFAR batches, an image folder (root/<class>/...), a CSV manifest (path,label[,split]) or a pack".into(),
        })
    }

    /// A short name for run directories and reports.
    pub fn name(&self) -> String {
        let base = |p: &Path| {
            p.file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "data".into())
        };
        match self {
            DataSource::Synthetic { .. } => "synthetic".into(),
            DataSource::Idx(p)
            | DataSource::Cifar(p, _)
            | DataSource::Folder(p)
            | DataSource::Manifest(p)
            | DataSource::Pack(p) => base(p),
        }
    }

    /// The file or directory the data comes from (`None` for the built-in dataset).
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataSource::Synthetic { .. } => None,
            DataSource::Idx(p)
            | DataSource::Cifar(p, _)
            | DataSource::Folder(p)
            | DataSource::Manifest(p)
            | DataSource::Pack(p) => Some(p),
        }
    }

    /// Whether images are decoded from files (and so take the target size and channels).
    pub fn is_files(&self) -> bool {
        matches!(self, DataSource::Folder(_) | DataSource::Manifest(_))
    }
}

/// A dataset split three ways.
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
    /// How the splits were made, in words.
    pub provenance: String,
    /// What loading found (skipped files, sizes, formats).
    pub report: LoadReport,
}

/// A whole dataset with each sample's split as the source names it (None = unassigned).
#[derive(Clone, Debug)]
pub struct Whole {
    /// Every usable sample.
    pub data: Dataset,
    /// Split per sample.
    pub splits: Vec<Option<SplitName>>,
    /// What loading found.
    pub report: LoadReport,
    /// The split file the splits came from, when one was applied (else the source's own).
    pub split_origin: Option<PathBuf>,
}

fn concat(a: &Dataset, b: &Dataset) -> Dataset {
    let mut pixels = a.pixels();
    pixels.extend_from_slice(&b.pixels());
    Dataset::from_pixels(
        crate::ImageShape::new(a.shape.width, a.shape.height, a.shape.channels),
        a.class_names.clone(),
        pixels,
        a.labels.iter().chain(&b.labels).copied().collect(),
        a.ids.iter().chain(&b.ids).copied().collect(),
        a.paths.iter().chain(&b.paths).cloned().collect(),
    )
}

/// Load every sample of `source` with the split the source assigns it.
pub fn load_whole(source: &DataSource, opts: &LoadOptions, seed: u64) -> Result<Whole, DataError> {
    let two = |train: Dataset, test: Dataset| {
        let splits = std::iter::repeat_n(Some(SplitName::Train), train.len())
            .chain(std::iter::repeat_n(Some(SplitName::Test), test.len()))
            .collect();
        Whole {
            data: concat(&train, &test),
            splits,
            report: LoadReport::default(),
            split_origin: None,
        }
    };
    let whole = match source {
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
            two(
                synth::generate(*train, *size, seed, synth::SynthSplit::Train),
                synth::generate(*test, *size, seed, synth::SynthSplit::Test),
            )
        }
        DataSource::Idx(dir) => {
            let (train, test) = load_idx(dir)?;
            two(train, test)
        }
        DataSource::Cifar(dir, v) => {
            let (train, test) = cifar::load(dir, *v)?;
            two(train, test)
        }
        DataSource::Folder(dir) => listed_files(dir, files::scan_folder(dir)?, opts, &|_| true)?,
        DataSource::Manifest(path) => {
            listed_files(path, files::read_manifest(path)?, opts, &|_| true)?
        }
        DataSource::Pack(dir) => {
            let (data, splits, _) = pack::open(dir)?;
            Whole {
                data,
                splits,
                report: LoadReport::default(),
                split_origin: None,
            }
        }
    };
    match &opts.split_file {
        Some(f) => apply_split_file(whole, f),
        None => Ok(whole),
    }
}

/// The image files of a folder or manifest source whose path relative to the dataset root
/// `keep` accepts, loaded as [`load_whole`] loads them but without decoding the others (and
/// without applying a split file); `None` for the other sources, whose samples are not files.
pub fn load_files_where(
    source: &DataSource,
    opts: &LoadOptions,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<Whole>, DataError> {
    let opts = LoadOptions {
        split_file: None,
        ..opts.clone()
    };
    match source {
        DataSource::Folder(dir) => listed_files(dir, files::scan_folder(dir)?, &opts, keep),
        DataSource::Manifest(path) => listed_files(path, files::read_manifest(path)?, &opts, keep),
        _ => return Ok(None),
    }
    .map(Some)
}

/// Load `source` and split it three ways (see the module docs for the rules).
pub fn load(source: &DataSource, opts: &LoadOptions, seed: u64) -> Result<Splits, DataError> {
    for (what, f) in [
        ("validation", opts.val_fraction),
        ("test", opts.test_fraction),
    ] {
        if !(0.0..1.0).contains(&f) {
            return Err(DataError::Invalid(format!(
                "{what} fraction {f} is outside [0, 1)"
            )));
        }
    }
    let whole = load_whole(source, opts, seed)?;
    assemble(source.name(), whole, opts, seed).map_err(|e| match (e, source.path()) {
        // Problems of the dataset as a whole (a class too small to split) name the dataset.
        (DataError::Invalid(m), Some(p)) => DataError::Invalid(format!("{}: {m}", escape_path(p))),
        (e, _) => e,
    })
}

/// Split a whole dataset three ways.
pub fn assemble(
    name: String,
    whole: Whole,
    opts: &LoadOptions,
    seed: u64,
) -> Result<Splits, DataError> {
    let Whole {
        data,
        splits,
        report,
        split_origin,
    } = whole;
    let origin = match &split_origin {
        Some(f) => format!("the split file {}", escape_path(f)),
        None => "the source".to_string(),
    };
    let idx_of = |s: Option<SplitName>| -> Vec<usize> {
        (0..data.len()).filter(|&i| splits[i] == s).collect()
    };
    let mut pool: Vec<usize> = (0..data.len())
        .filter(|&i| matches!(splits[i], None | Some(SplitName::Train)))
        .collect();
    let explicit_val = idx_of(Some(SplitName::Val));
    let explicit_test = idx_of(Some(SplitName::Test));
    let carve =
        |pool: &[usize], fraction: f64, salt: u64| -> Result<(Vec<usize>, Vec<usize>), DataError> {
            let labels: Vec<u32> = pool.iter().map(|&i| data.labels[i]).collect();
            if fraction > 0.0 {
                split::check_stratifiable(&labels, &data.class_names)?;
            }
            let (keep, held) = split::stratified_holdout(&labels, fraction, seed ^ salt);
            Ok((
                keep.iter().map(|&k| pool[k]).collect(),
                held.iter().map(|&k| pool[k]).collect(),
            ))
        };
    let mut notes = Vec::new();
    let test = if !explicit_test.is_empty() {
        notes.push(format!("test split from {origin}"));
        explicit_test
    } else if !explicit_val.is_empty() {
        notes.push(format!(
            "no test split in {origin}: the val split is also the test split"
        ));
        explicit_val.clone()
    } else {
        let (keep, held) = carve(&pool, opts.test_fraction, 0x7e57)?;
        pool = keep;
        notes.push(format!(
            "test = {:.0}% of the training images (stratified)",
            100.0 * opts.test_fraction
        ));
        held
    };
    let val = if !explicit_val.is_empty() {
        notes.push(format!("val split from {origin}"));
        explicit_val
    } else {
        let (keep, held) = carve(&pool, opts.val_fraction, 0)?;
        pool = keep;
        notes.push(format!(
            "val = {:.0}% of the training images (stratified)",
            100.0 * opts.val_fraction
        ));
        held
    };
    if pool.is_empty() {
        return Err(DataError::Invalid(
            "no training images left after the splits".into(),
        ));
    }
    if test.is_empty() {
        return Err(DataError::Invalid(
            "the test split is empty; raise --test-fraction".into(),
        ));
    }
    let train = data.subset(&pool);
    check_every_class_trains(&train)?;
    Ok(Splits {
        name,
        train,
        val: data.subset(&val),
        test: data.subset(&test),
        provenance: notes.join("; "),
        report,
    })
}

/// A training split a classifier can learn from: at least two classes, and images of every
/// class (a class without any would be a class the model can never predict, trained and
/// reported as if it were one).
pub fn check_every_class_trains(train: &Dataset) -> Result<(), DataError> {
    if train.num_classes() < 2 {
        return Err(DataError::Invalid(format!(
            "the data has {} class{} ({}); a classifier needs at least two",
            train.num_classes(),
            if train.num_classes() == 1 { "" } else { "es" },
            escape(&train.class_names.join(", "))
        )));
    }
    let counts = train.class_counts();
    let empty: Vec<&str> = (0..counts.len())
        .filter(|&k| counts[k] == 0)
        .map(|k| train.class_names[k].as_str())
        .collect();
    if !empty.is_empty() {
        return Err(DataError::Invalid(format!(
            "class{} {} ha{} no training images; add images of {}, or leave {} out (--classes)",
            if empty.len() == 1 { "" } else { "es" },
            preview(&empty),
            if empty.len() == 1 { "s" } else { "ve" },
            if empty.len() == 1 { "it" } else { "them" },
            if empty.len() == 1 { "it" } else { "them" },
        )));
    }
    Ok(())
}

/// Replace the splits of `whole` by those of a split file (`id,split,...` CSV from
/// `augtrain split`).
///
/// Rows are matched to samples by their `path` column (the file name relative to the dataset
/// root, which survives renames and deletions of other files), never by position; only data
/// without paths (the built-in synthetic set) is matched by id. Every sample must be listed,
/// with the same label. Rows naming files that no longer exist are reported in
/// `whole.report.notes` (and are an error when some sample then lacks a split, which is what a
/// rename looks like).
pub fn apply_split_file(mut whole: Whole, path: &Path) -> Result<Whole, DataError> {
    let rows = split::read_split_file(path)?;
    let bad = |problem: String| DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let by_path = whole.data.paths.iter().all(|p| !p.is_empty());
    let keys: Vec<String> = if by_path {
        whole.data.paths.clone()
    } else {
        whole.data.ids.iter().map(u64::to_string).collect()
    };
    let mut index: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        if index.insert(k.as_str(), i).is_some() {
            return Err(bad(format!(
                "the dataset lists '{}' twice, so a split file cannot place it; remove the duplicate row",
                escape(k)
            )));
        }
    }
    let mut assigned = vec![None; whole.data.len()];
    let mut stale = Vec::new();
    for r in &rows {
        let key = if by_path {
            r.path.clone()
        } else {
            r.id.to_string()
        };
        let Some(&i) = index.get(key.as_str()) else {
            stale.push(key);
            continue;
        };
        let actual = &whole.data.class_names[whole.data.labels[i] as usize];
        if let Some(label) = &r.label
            && actual != label
        {
            return Err(bad(format!(
                "'{}' has label '{}' here but '{}' in the dataset; was this split made for another dataset?",
                escape(&key),
                escape(label),
                escape(actual)
            )));
        }
        if assigned[i].replace(r.split).is_some() {
            return Err(bad(format!("'{}' is listed twice", escape(&key))));
        }
    }
    let unassigned: Vec<&str> = (0..assigned.len())
        .filter(|&i| assigned[i].is_none())
        .map(|i| keys[i].as_str())
        .collect();
    let what = if by_path { "file" } else { "sample id" };
    if !rows.is_empty() && stale.len() == rows.len() {
        return Err(bad(format!(
            "none of its {} rows names a {what} of this dataset ({}); was this split made for another dataset?",
            rows.len(),
            preview(&stale)
        )));
    }
    if !unassigned.is_empty() {
        let renamed = if stale.is_empty() {
            String::new()
        } else {
            format!(
                "; the file lists {} {what}(s) no longer in the dataset ({}), renamed or removed?",
                stale.len(),
                preview(&stale)
            )
        };
        return Err(bad(format!(
            "{} {what}(s) of the dataset have no split ({}){renamed}; re-run augtrain split for this dataset",
            unassigned.len(),
            preview(&unassigned)
        )));
    }
    if !stale.is_empty() {
        whole.report.notes.push(format!(
            "{}: {} row(s) name {what}s no longer in the dataset and were ignored ({})",
            escape_path(path),
            stale.len(),
            preview(&stale)
        ));
    }
    whole.splits = assigned;
    whole.split_origin = Some(path.to_path_buf());
    Ok(whole)
}

/// The first three items of a list, quoted, with a count of the rest.
fn preview<S: AsRef<str>>(items: &[S]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(3)
        .map(|s| format!("'{}'", escape(s.as_ref())))
        .collect();
    if items.len() > 3 {
        shown.push(format!("and {} more", items.len() - 3));
    }
    shown.join(", ")
}

/// Decode the files an image folder or a manifest (`source`) lists. A class of `opts.classes`
/// that labels none of the files is [`DataError::ClassNotInData`].
/// The listed files whose relative path `keep` accepts, loaded (a class of `opts.classes`
/// that no listed file has is an error, whatever `keep` leaves).
fn listed_files(
    source: &Path,
    (items, classes): (Vec<files::FileItem>, Vec<String>),
    opts: &LoadOptions,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Whole, DataError> {
    for class in opts.classes.iter().flatten() {
        if !items.iter().any(|item| item.label == *class) {
            return Err(DataError::ClassNotInData {
                class: class.clone(),
                data: source.to_path_buf(),
            });
        }
    }
    let mut items = items;
    items.retain(|item| keep(&item.rel));
    let (data, splits, report) =
        files::load_items(&items, &classes, opts.classes.as_deref(), opts)?;
    Ok(Whole {
        data,
        splits,
        report,
        split_origin: None,
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
                escape_path(images),
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
    let name = images
        .file_name()
        .map(|n| crate::util::path_text::encode(Path::new(n)))
        .unwrap_or_default();
    let ds = Dataset::from_pixels(
        crate::ImageShape::new(img.cols, img.rows, img.channels),
        Vec::new(),
        img.pixels,
        lab.iter().map(|&l| l as u32).collect(),
        (0..img.count as u64).map(|i| id_base + i).collect(),
        (0..img.count).map(|i| format!("{name}#{i}")).collect(),
    );
    Ok((ds, lab))
}

fn load_idx(dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    let files = idx::find_files(dir)?;
    let (mut train, train_labels) = idx_dataset(&files.train_images, &files.train_labels, 0)?;
    let (mut test, test_labels) =
        idx_dataset(&files.test_images, &files.test_labels, 1_000_000_000)?;
    if (train.shape.height, train.shape.width, train.shape.channels)
        != (test.shape.height, test.shape.width, test.shape.channels)
    {
        return Err(DataError::Malformed {
            path: files.test_images.clone(),
            problem: format!(
                "test images are {}x{}x{} but training images ({}) are {}x{}x{}",
                test.shape.height,
                test.shape.width,
                test.shape.channels,
                escape_path(&files.train_images),
                train.shape.height,
                train.shape.width,
                train.shape.channels
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::{SplitRow, split_file_text};

    /// One-pixel images named `<class>/<k>.png`, ids = positions, as an image folder gives them.
    fn folder_whole(names: &[&str]) -> Whole {
        let n = names.len();
        let data = Dataset::from_pixels(
            crate::ImageShape::new(1, 1, 1),
            vec!["a".into(), "b".into()],
            (0..n as u8).collect(),
            names
                .iter()
                .map(|s| u32::from(s.starts_with('b')))
                .collect(),
            (0..n as u64).collect(),
            names.iter().map(|s| s.to_string()).collect(),
        );
        Whole {
            splits: vec![None; n],
            data,
            report: LoadReport::default(),
            split_origin: None,
        }
    }

    fn write_split(dir: &Path, whole: &Whole, splits: &[SplitName]) -> PathBuf {
        let rows: Vec<SplitRow> = (0..whole.data.len())
            .map(|i| SplitRow {
                id: whole.data.ids[i],
                split: splits[i],
                fold: None,
                label: Some(whole.data.class_names[whole.data.labels[i] as usize].clone()),
                path: whole.data.paths[i].clone(),
            })
            .collect();
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("split.csv");
        std::fs::write(&file, split_file_text(&rows)).unwrap();
        file
    }

    const NAMES: [&str; 6] = [
        "a/0.png", "b/1.png", "a/2.png", "b/3.png", "a/4.png", "b/5.png",
    ];
    const SPLITS: [SplitName; 6] = [
        SplitName::Train,
        SplitName::Train,
        SplitName::Val,
        SplitName::Val,
        SplitName::Test,
        SplitName::Test,
    ];

    #[test]
    fn split_file_rows_follow_paths_when_files_are_removed() {
        let dir = std::env::temp_dir().join(format!("augtrain-split-path-{}", std::process::id()));
        let file = write_split(&dir, &folder_whole(&NAMES), &SPLITS);
        // a/0.png is deleted: every later file moves up one position (and so one id), but
        // keeps its split; the stale row is reported, not applied to a neighbour.
        let whole = folder_whole(&NAMES[1..]);
        let applied = apply_split_file(whole, &file).unwrap();
        assert_eq!(
            applied.splits,
            SPLITS[1..].iter().map(|s| Some(*s)).collect::<Vec<_>>()
        );
        assert_eq!(applied.report.notes.len(), 1);
        assert!(
            applied.report.notes[0].contains("'a/0.png'"),
            "{:?}",
            applied.report.notes
        );
        assert_eq!(applied.split_origin.as_deref(), Some(file.as_path()));
    }

    #[test]
    fn a_renamed_file_is_an_error_naming_both_names() {
        let dir = std::env::temp_dir().join(format!("augtrain-split-ren-{}", std::process::id()));
        let file = write_split(&dir, &folder_whole(&NAMES), &SPLITS);
        let mut renamed = NAMES;
        renamed[2] = "a/2-renamed.png";
        let e = apply_split_file(folder_whole(&renamed), &file)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'a/2-renamed.png'") && e.contains("'a/2.png'"),
            "{e}"
        );
        assert!(e.contains("split.csv"), "{e}");
    }

    #[test]
    fn generated_data_without_paths_is_matched_by_id() {
        let dir = std::env::temp_dir().join(format!("augtrain-split-id-{}", std::process::id()));
        let mut whole = folder_whole(&NAMES);
        whole.data.paths = vec![String::new(); 6];
        let file = write_split(&dir, &whole, &SPLITS);
        let applied = apply_split_file(whole, &file).unwrap();
        assert_eq!(
            applied.splits,
            SPLITS.iter().map(|s| Some(*s)).collect::<Vec<_>>()
        );
        let names = assemble("x".into(), applied, &LoadOptions::default(), 42).unwrap();
        assert!(
            names.provenance.contains("split file"),
            "{}",
            names.provenance
        );
    }
}
