//! `augtrain split DATA`: a stratified train / val / test split (and optional folds) that keeps
//! exact-duplicate images on one side, saved as a split file that `train --split` reuses.
//! On annotated data (boxes, polygons, masks, keypoints), the split is stratified by the classes
//! present per image and each split's annotations are written ([`annotations`]).

use std::path::PathBuf;

use augtrain_annotations::formats::Format;
use clap::Args;

use super::data_args::LoadArgs;
mod annotations;

use crate::Error;
use crate::data::Dataset;
use crate::data::files::SplitName;
use crate::data::source::load_whole;
use crate::data::split::{SplitRow, check_stratifiable, split_file_text};
use crate::data::split_plan::{SplitPlan, SplitRequest, plan_split};
use crate::util::escape::escape;
use annotations::AnnotatedSplit;
use augtrain_annotations::input::annotated_input_with_images;

/// Flags of `augtrain split`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain split ../shared/data/hymenoptera --val 0.15 --test 0.15 --seed 1 --out hym.split.csv
  augtrain train --data ../shared/data/hymenoptera --split hym.split.csv
  augtrain split instances.json --images images/ --val 0.1 --test 0.1 --out instances.split

On annotated data (COCO, YOLO, Pascal VOC, LabelMe, Label Studio, CVAT) the images are
stratified by the classes present in each (iterative stratification), images without objects
spread like a class, and --out is a directory: split.csv plus train/, val/ and test/ with each
split's annotations in the input's format.")]
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
    /// Where to write the split file (default: <data name>.split.csv); must not exist. For
    /// annotations: the output directory (default: <annotations name>.split).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing --out file (or non-empty directory).
    #[arg(long)]
    force: bool,
    /// Read DATA as annotations in this format (coco, yolo, voc, labelme, labelstudio, cvat);
    /// detected for annotation files and YOLO / VOC / CVAT folders.
    #[arg(long)]
    format: Option<Format>,
    /// For annotations: the folder image names are relative to (default: the annotations'
    /// folder; YOLO: images/ beside labels/), read to keep exact duplicates together.
    #[arg(long)]
    images: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: SplitArgs) -> crate::Result<()> {
    check_fractions(&args)?;
    let request = SplitRequest {
        val: args.val,
        test: args.test,
        folds: args.folds,
        seed: args.seed,
    };
    if let Some(input) =
        annotated_input_with_images(&args.data, args.format, args.images.as_deref())?
    {
        return annotations::run(&AnnotatedSplit {
            input: &input,
            request,
            out: args.out.as_deref(),
            force: args.force,
            quiet: args.quiet,
        });
    }
    let mut cfg = args.load.config(Some(args.data.clone()))?;
    cfg.split_file = None;
    let source = cfg.source()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.split.csv", source.name())));
    // Refuse an existing file before any work (an earlier split, or an unrelated file).
    if out.exists() && !args.force {
        return Err(Error::Run(augtrain_run::RunError::Exists {
            path: out,
            what: "already exists; choose another --out, or add --force to replace it".into(),
        }));
    }
    let whole = load_whole(&source, &cfg, args.seed)?;
    let d = &whole.data;
    check_stratifiable(&d.labels, &d.class_names)?;
    let plan = plan_split(d, &request).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(warning) = &plan.fold_warning {
        warn!("warning: {warning}");
    }
    let rows: Vec<SplitRow> = (0..d.len())
        .map(|i| SplitRow {
            id: d.ids[i],
            split: plan.split[i],
            fold: plan.fold[i],
            label: Some(d.class_names[d.labels[i] as usize].clone()),
            path: d.paths[i].clone(),
        })
        .collect();
    // Not over a file that appeared meanwhile, unless --force.
    crate::util::fs::write_output(&out, split_file_text(&rows).as_bytes(), args.force)?;
    if !args.quiet {
        say!(
            "wrote {} ({} images, {} exact duplicates kept with their originals)",
            out.display(),
            d.len(),
            plan.duplicates
        );
        print_counts(d, &plan)?;
    }
    Ok(())
}

/// `--val`, `--test` and `--folds` on their own (usage errors).
fn check_fractions(args: &SplitArgs) -> crate::Result<()> {
    for (name, f) in [("--val", args.val), ("--test", args.test)] {
        if !(0.0..1.0).contains(&f) {
            return Err(Error::Usage(format!(
                "{name} {f}: use a fraction in [0, 1)"
            )));
        }
    }
    if args.val + args.test >= 1.0 {
        return Err(Error::Usage(
            "--val + --test must leave some images for training".into(),
        ));
    }
    if let Some(k) = args.folds
        && k < 2
    {
        return Err(Error::Usage(format!("--folds {k}: use at least 2")));
    }
    Ok(())
}

/// Images per class and split, and the fold sizes.
fn print_counts(d: &Dataset, plan: &SplitPlan) -> crate::Result<()> {
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
                .filter(|&i| d.labels[i] as usize == c && plan.split[i] == s)
                .count()
        };
        say!(
            "{:<w$} {:>7} {:>7} {:>7}",
            escape(name),
            n(SplitName::Train),
            n(SplitName::Val),
            n(SplitName::Test)
        );
    }
    let folds = plan.fold.iter().flatten().max().map(|&f| f + 1);
    if let Some(k) = folds {
        let sizes: Vec<usize> = (0..k)
            .map(|f| plan.fold.iter().filter(|x| **x == Some(f)).count())
            .collect();
        say!("folds of the training images: {sizes:?}");
    }
    Ok(())
}
