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
    (0..d.len())
        .map(|i| {
            let h = Sha256::digest(d.image(i));
            u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
        })
        .collect()
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
