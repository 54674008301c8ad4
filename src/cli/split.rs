//! `augtrain split DATA`: a stratified train / val / test split (and optional folds) that keeps
//! exact-duplicate images on one side, saved as a split file that `train --split` reuses.

use std::path::PathBuf;

use clap::Args;
use sha2::{Digest, Sha256};

use super::data_args::LoadArgs;
use crate::data::files::SplitName;
use crate::data::source::load_whole;
use crate::data::split::{
    SplitRow, check_stratifiable, split_file_text, stratified_group_folds, stratified_group_holdout,
};
use crate::util::fs::write_atomic;

/// Flags of `augtrain split`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain split ../shared/data/hymenoptera --val 0.15 --test 0.15 --seed 1 --out hym.split.csv
  augtrain train --data ../shared/data/hymenoptera --split hym.split.csv")]
pub struct SplitArgs {
    /// The dataset to split (its own splits are ignored: all images are re-split).
    data: PathBuf,
    /// Fraction of images for validation.
    #[arg(long, default_value_t = 0.1)]
    val: f64,
    /// Fraction of images for testing.
    #[arg(long, default_value_t = 0.1)]
    test: f64,
    /// Seed of the shuffles.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also assign the training images to K stratified folds (K ≥ 2).
    #[arg(long)]
    folds: Option<usize>,
    /// Where to write the split file (default: <data name>.split.csv).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: SplitArgs) -> crate::Result<()> {
    for (name, f) in [("--val", args.val), ("--test", args.test)] {
        if !(0.0..1.0).contains(&f) {
            return Err(crate::Error::Usage(format!(
                "{name} {f}: use a fraction in [0, 1)"
            )));
        }
    }
    if args.val + args.test >= 1.0 {
        return Err(crate::Error::Usage(
            "--val + --test must leave some images for training".into(),
        ));
    }
    if let Some(k) = args.folds
        && k < 2
    {
        return Err(crate::Error::Usage(format!("--folds {k}: use at least 2")));
    }
    let mut cfg = args.load.config(Some(args.data.clone()))?;
    cfg.split_file = None;
    let source = cfg.source()?;
    let whole = load_whole(&source, &cfg, args.seed)?;
    let d = &whole.data;
    // Exact duplicates: equal decoded pixels.
    let keys: Vec<u64> = (0..d.len())
        .map(|i| {
            let h = Sha256::digest(d.image(i));
            u64::from_le_bytes(h[..8].try_into().expect("8 bytes"))
        })
        .collect();
    let duplicates = d.len() - keys.iter().collect::<std::collections::HashSet<_>>().len();
    check_stratifiable(&d.labels, &d.class_names)?;
    let all: Vec<usize> = (0..d.len()).collect();
    let (rest, test) =
        stratified_group_holdout(&d.labels, Some(&keys), args.test, args.seed ^ 0x7e57);
    let sub_labels: Vec<u32> = rest.iter().map(|&i| d.labels[i]).collect();
    let sub_keys: Vec<u64> = rest.iter().map(|&i| keys[i]).collect();
    let val_fraction = if args.test < 1.0 {
        args.val / (1.0 - args.test)
    } else {
        0.0
    };
    let (train_k, val_k) =
        stratified_group_holdout(&sub_labels, Some(&sub_keys), val_fraction, args.seed);
    let train: Vec<usize> = train_k.iter().map(|&k| rest[k]).collect();
    let val: Vec<usize> = val_k.iter().map(|&k| rest[k]).collect();
    let mut split = vec![SplitName::Train; d.len()];
    for &i in &val {
        split[i] = SplitName::Val;
    }
    for &i in &test {
        split[i] = SplitName::Test;
    }
    let mut fold = vec![None; d.len()];
    if let Some(k) = args.folds {
        let labels: Vec<u32> = train.iter().map(|&i| d.labels[i]).collect();
        let tk: Vec<u64> = train.iter().map(|&i| keys[i]).collect();
        for (j, f) in stratified_group_folds(&labels, Some(&tk), k, args.seed)
            .into_iter()
            .enumerate()
        {
            fold[train[j]] = Some(f);
        }
    }
    let rows: Vec<SplitRow> = all
        .iter()
        .map(|&i| SplitRow {
            id: d.ids[i],
            split: split[i],
            fold: fold[i],
            label: Some(d.class_names[d.labels[i] as usize].clone()),
            path: d.paths[i].clone(),
        })
        .collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.split.csv", source.name())));
    write_atomic(&out, split_file_text(&rows).as_bytes())?;
    if !args.quiet {
        say!(
            "wrote {} ({} images, {} exact duplicates kept with their originals)",
            out.display(),
            d.len(),
            duplicates
        );
        let w = d
            .class_names
            .iter()
            .map(|n| n.len())
            .max()
            .unwrap_or(5)
            .max(5);
        say!("{:<w$} {:>7} {:>7} {:>7}", "class", "train", "val", "test");
        for (c, name) in d.class_names.iter().enumerate() {
            let n = |s: SplitName| {
                (0..d.len())
                    .filter(|&i| d.labels[i] as usize == c && split[i] == s)
                    .count()
            };
            say!(
                "{name:<w$} {:>7} {:>7} {:>7}",
                n(SplitName::Train),
                n(SplitName::Val),
                n(SplitName::Test)
            );
        }
        if let Some(k) = args.folds {
            let sizes: Vec<usize> = (0..k)
                .map(|f| fold.iter().filter(|x| **x == Some(f)).count())
                .collect();
            say!("folds of the training images: {sizes:?}");
        }
    }
    Ok(())
}
