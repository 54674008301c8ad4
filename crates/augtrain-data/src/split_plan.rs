//! Where every image of a dataset goes for `augtrain split`: a stratified test hold-out, then a
//! validation hold-out, then optional folds of the training images, with exact duplicates
//! (equal decoded pixels) always on one side.

use sha2::{Digest, Sha256};

use crate::Dataset;
use crate::files::SplitName;
use crate::split::{check_folds, stratified_group_folds, stratified_group_holdout};

/// The seed offset of the test hold-out, so that the test and validation shuffles of one seed
/// differ (the value is part of the split files' reproducibility: never change it).
const TEST_SEED_OFFSET: u64 = 0x7e57;

/// What to split off.
#[derive(Clone, Copy, Debug)]
pub struct SplitRequest {
    /// Fraction of all images for validation, in [0, 1).
    pub val: f64,
    /// Fraction of all images for testing, in [0, 1); `val + test < 1`.
    pub test: f64,
    /// Also assign the training images to this many stratified folds (≥ 2).
    pub folds: Option<usize>,
    /// Seed of the shuffles.
    pub seed: u64,
}

/// Where each image goes.
#[derive(Clone, Debug)]
pub struct SplitPlan {
    /// Split per image.
    pub split: Vec<SplitName>,
    /// Fold per training image (`None` elsewhere or without folds).
    pub fold: Vec<Option<usize>>,
    /// Images whose pixels equal an earlier image's.
    pub duplicates: usize,
    /// scikit-learn's `StratifiedKFold` warning for the folds, when it would give one.
    pub fold_warning: Option<String>,
}

/// Folds that the training images cannot take (scikit-learn's `StratifiedKFold` refusal).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FoldsError(pub String);

/// The exact-duplicate group key of every image: the first 8 bytes of the SHA-256 of its
/// decoded pixels. Images with equal keys are kept on one side of every split and fold.
pub fn pixel_group_keys(d: &Dataset) -> Vec<u64> {
    (0..d.len()).map(|i| pixel_key(d.image(i))).collect()
}

/// The first 8 bytes (little-endian) of the SHA-256 of `bytes`: the group key of
/// [`pixel_group_keys`], and of [`image_file_key`] over its pixel description.
pub fn pixel_key(bytes: &[u8]) -> u64 {
    let h = Sha256::digest(bytes);
    u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
}

/// The exact-duplicate key of an image file at its own size: the [`pixel_key`] of its width,
/// height and colour type followed by its decoded pixels (EXIF orientation applied), so files
/// with equal pixels share a key whatever their encoding. `max_pixels` bounds the decoding.
pub fn image_file_key(
    path: &std::path::Path,
    max_pixels: u64,
) -> Result<u64, crate::decode::BadReason> {
    use crate::decode::BadReason;
    let bytes = crate::util::fs::read_regular(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BadReason::Missing
        } else {
            BadReason::Unreadable(e.to_string())
        }
    })?;
    let (img, _, _) = crate::decode::decode_full(&bytes, max_pixels)?;
    let mut described =
        format!("{}x{} {:?}\n", img.width(), img.height(), img.color()).into_bytes();
    described.extend_from_slice(img.as_bytes());
    Ok(pixel_key(&described))
}

/// Stratified hold-outs for test, then validation, then folds of the training images; exact
/// duplicates always land together.
pub fn plan_split(d: &Dataset, req: &SplitRequest) -> Result<SplitPlan, FoldsError> {
    let keys = pixel_group_keys(d);
    let duplicates = d.len() - keys.iter().collect::<std::collections::HashSet<_>>().len();
    let (rest, test) = stratified_group_holdout(
        &d.labels,
        Some(&keys),
        req.test,
        req.seed ^ TEST_SEED_OFFSET,
    );
    let sub_labels: Vec<u32> = rest.iter().map(|&i| d.labels[i]).collect();
    let sub_keys: Vec<u64> = rest.iter().map(|&i| keys[i]).collect();
    let val_fraction = req.val / (1.0 - req.test);
    let (train_k, val_k) =
        stratified_group_holdout(&sub_labels, Some(&sub_keys), val_fraction, req.seed);
    let train: Vec<usize> = train_k.iter().map(|&k| rest[k]).collect();
    let mut split = vec![SplitName::Train; d.len()];
    for &k in &val_k {
        split[rest[k]] = SplitName::Val;
    }
    for &i in &test {
        split[i] = SplitName::Test;
    }
    let mut fold = vec![None; d.len()];
    let mut fold_warning = None;
    if let Some(k) = req.folds {
        let labels: Vec<u32> = train.iter().map(|&i| d.labels[i]).collect();
        // scikit-learn's StratifiedKFold checks, on the training images the folds divide.
        fold_warning = check_folds(&labels, k).map_err(FoldsError)?;
        let train_keys: Vec<u64> = train.iter().map(|&i| keys[i]).collect();
        let folds = stratified_group_folds(&labels, Some(&train_keys), k, req.seed);
        for (j, f) in folds.into_iter().enumerate() {
            fold[train[j]] = Some(f);
        }
    }
    Ok(SplitPlan {
        split,
        fold,
        duplicates,
        fold_warning,
    })
}

/// The test, validation and training images of multi-label samples (the classes present in
/// each annotated image), by iterative stratification
/// ([`crate::split_multilabel::iterative_stratification`]) in one pass over the three shares,
/// then optional folds of the training images the same way. `labels[i]`: image `i`'s labels
/// (indices into `names`, which name them in warnings); `keys`: exact-duplicate group keys
/// (equal keys share a split and a fold). `SplitPlan::duplicates` counts images whose key an
/// earlier image has.
pub fn plan_multilabel_split(
    labels: &[Vec<u32>],
    keys: &[u64],
    names: &[String],
    req: &SplitRequest,
) -> Result<SplitPlan, FoldsError> {
    use crate::split_multilabel::iterative_stratification;
    let duplicates = keys.len() - keys.iter().collect::<std::collections::HashSet<_>>().len();
    let train_share = 1.0 - req.val - req.test;
    let subset =
        iterative_stratification(labels, keys, &[train_share, req.val, req.test], req.seed);
    let split: Vec<SplitName> = subset
        .iter()
        .map(|&j| [SplitName::Train, SplitName::Val, SplitName::Test][j])
        .collect();
    let mut fold = vec![None; labels.len()];
    let mut fold_warning = None;
    if let Some(k) = req.folds {
        let train: Vec<usize> = (0..labels.len())
            .filter(|&i| split[i] == SplitName::Train)
            .collect();
        let train_labels: Vec<Vec<u32>> = train.iter().map(|&i| labels[i].clone()).collect();
        let train_keys: Vec<u64> = train.iter().map(|&i| keys[i]).collect();
        fold_warning = check_multilabel_folds(&train_labels, &train_keys, names, k)?;
        let folds = iterative_stratification(
            &train_labels,
            &train_keys,
            &vec![1.0 / k as f64; k],
            req.seed ^ 0xf01d,
        );
        for (j, f) in folds.into_iter().enumerate() {
            fold[train[j]] = Some(f);
        }
    }
    Ok(SplitPlan {
        split,
        fold,
        duplicates,
        fold_warning,
    })
}

/// Folds of multi-label training images: refused when there are fewer groups of training
/// images than folds (some fold would be empty); a warning naming the rarest label when it is
/// on fewer training images than folds (some folds will not have it).
fn check_multilabel_folds(
    labels: &[Vec<u32>],
    keys: &[u64],
    names: &[String],
    k: usize,
) -> Result<Option<String>, FoldsError> {
    let groups = keys.iter().collect::<std::collections::HashSet<_>>().len();
    if k > groups {
        return Err(FoldsError(format!(
            "--folds {k}: only {groups} training images (duplicates counted once) to divide; use fewer folds"
        )));
    }
    let mut counts: std::collections::BTreeMap<u32, usize> = Default::default();
    for set in labels {
        for &l in set {
            *counts.entry(l).or_default() += 1;
        }
    }
    let rarest = counts.iter().min_by_key(|(l, n)| (**n, **l));
    Ok(rarest.filter(|(_, n)| **n < k).map(|(l, n)| {
        let name = names.get(*l as usize).cloned().unwrap_or_else(|| l.to_string());
        format!(
            "'{}' is on only {n} training images, fewer than the {k} folds: some folds have none of it",
            crate::util::escape::escape(&name)
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageShape;

    /// 60 one-pixel images in 3 classes; images 0 and 1 (class 0) have equal pixels.
    fn dataset() -> Dataset {
        let n = 60usize;
        let mut pixels: Vec<u8> = (0..n as u8).collect();
        pixels[1] = pixels[0];
        Dataset::from_pixels(
            ImageShape::new(1, 1, 1),
            vec!["a".into(), "b".into(), "c".into()],
            pixels,
            (0..n as u32).map(|i| i % 3).collect(),
            (0..n as u64).collect(),
            Vec::new(),
        )
    }

    #[test]
    fn holdouts_are_stratified_and_duplicates_stay_together() {
        let d = dataset();
        let req = SplitRequest {
            val: 0.2,
            test: 0.2,
            folds: Some(3),
            seed: 5,
        };
        let plan = plan_split(&d, &req).unwrap();
        assert_eq!(plan.duplicates, 1);
        assert_eq!(plan.split[0], plan.split[1], "duplicates split apart");
        for s in [SplitName::Val, SplitName::Test] {
            for c in 0..3 {
                let n = (0..d.len())
                    .filter(|&i| plan.split[i] == s && d.labels[i] == c)
                    .count();
                assert!((3..=5).contains(&n), "{s:?} class {c}: {n} images");
            }
        }
        let train = (0..d.len()).filter(|&i| plan.split[i] == SplitName::Train);
        assert!(train.clone().all(|i| plan.fold[i].is_some_and(|f| f < 3)));
        assert!((0..d.len()).all(|i| plan.split[i] == SplitName::Train || plan.fold[i].is_none()));
        // Same seed, same plan; another seed, another.
        assert_eq!(plan_split(&d, &req).unwrap().split, plan.split);
        let other = SplitRequest { seed: 6, ..req };
        assert_ne!(plan_split(&d, &other).unwrap().split, plan.split);
    }

    #[test]
    fn multilabel_folds_warn_on_a_rare_label_and_refuse_too_many() {
        let names: Vec<String> = ["a", "rare"].iter().map(|s| s.to_string()).collect();
        let mut labels: Vec<Vec<u32>> = (0..30).map(|_| vec![0]).collect();
        labels[3].push(1);
        labels[17].push(1);
        let keys: Vec<u64> = (0..30).collect();
        let req = SplitRequest {
            val: 0.0,
            test: 0.0,
            folds: Some(3),
            seed: 2,
        };
        let plan = plan_multilabel_split(&labels, &keys, &names, &req).unwrap();
        assert!(plan.split.iter().all(|s| *s == SplitName::Train));
        let warning = plan.fold_warning.unwrap();
        assert!(
            warning.contains("'rare'") && warning.contains("2 training images"),
            "{warning}"
        );
        let mut rare: Vec<usize> = [3, 17].iter().map(|&i| plan.fold[i].unwrap()).collect();
        rare.sort_unstable();
        rare.dedup();
        assert_eq!(rare.len(), 2, "the rare label in two folds");
        let sizes: Vec<usize> = (0..3)
            .map(|f| plan.fold.iter().filter(|x| **x == Some(f)).count())
            .collect();
        assert_eq!(sizes, vec![10, 10, 10]);
        let too_many = SplitRequest {
            folds: Some(31),
            ..req
        };
        let e = plan_multilabel_split(&labels, &keys, &names, &too_many).unwrap_err();
        assert!(e.to_string().contains("only 30 training images"), "{e}");
    }

    #[test]
    fn folds_the_training_images_cannot_take_are_refused() {
        let req = SplitRequest {
            val: 0.1,
            test: 0.1,
            folds: Some(40),
            seed: 1,
        };
        let e = plan_split(&dataset(), &req).unwrap_err().to_string();
        assert!(e.contains("40"), "{e}");
    }
}
