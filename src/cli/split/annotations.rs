//! `augtrain split` on annotated data (COCO, YOLO, Pascal VOC, LabelMe, Label Studio, CVAT):
//! images stratified by the classes present in each (multi-label iterative stratification,
//! [`augtrain_data::split_multilabel`]), images without objects spread like a class, exact
//! duplicates (equal decoded pixels, or the same file named twice) kept in one split.
//!
//! The output is a directory, written whole or not at all: `split.csv` (the split file:
//! `id,split,fold,label,path` with the image's name as `path`, its source id or position as
//! `id`, no label) and, per split with images, `<split>/` holding that split's annotations in
//! the input's format, with every class of the input (so class ids agree across splits). Image
//! names stay as the input wrote them: relative to the input's image folder.

use std::path::{Path, PathBuf};

use augtrain_annotations::Losses;
use augtrain_annotations::formats;
use augtrain_annotations::input::AnnotatedInput;
use augtrain_annotations::split::{image_keys, label_sets, subset};
use augtrain_run::run_dir::OutputDir;

use crate::Error;
use crate::data::files::SplitName;
use crate::data::split::{SplitRow, split_file_text};
use crate::data::split_plan::{SplitPlan, SplitRequest, plan_multilabel_split};
use crate::util::escape::{escape, escape_path};

/// What `split` on annotated data was asked.
pub struct AnnotatedSplit<'a> {
    /// The annotations and their format.
    pub input: &'a AnnotatedInput,
    /// The fractions, folds and seed.
    pub request: SplitRequest,
    /// The output directory (default `<input name>.split` in the working directory).
    pub out: Option<&'a Path>,
    /// Replace an existing, non-empty output directory.
    pub force: bool,
    /// Print nothing but errors and warnings.
    pub quiet: bool,
}

/// Read, plan and write the split of annotated data.
pub fn run(args: &AnnotatedSplit) -> crate::Result<()> {
    let input = args.input;
    let read = input.read()?;
    for (what, n) in read.skipped.iter() {
        warn!(
            "warning: {}: not read: {n} {what}",
            escape_path(&input.annotations)
        );
    }
    let d = &read.dataset;
    if d.images.is_empty() {
        return Err(Error::Data(crate::data::DataError::Invalid(format!(
            "{}: no images to split",
            escape_path(&input.annotations)
        ))));
    }
    let root = input.image_root();
    let keyed = image_keys(d, &root, crate::data::LoadOptions::default().max_pixels);
    if keyed.unreadable > 0 {
        warn!(
            "warning: {} of {} images have no readable file under {}: duplicates among them are found by name only (give the image folder with --images)",
            keyed.unreadable,
            d.images.len(),
            escape_path(&root)
        );
    }
    let labels = label_sets(d);
    let mut names: Vec<String> = d.classes.iter().map(|c| c.name.clone()).collect();
    names.push("(no objects)".into());
    let plan = plan_multilabel_split(&labels, &keyed.keys, &names, &args.request)
        .map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(warning) = &plan.fold_warning {
        warn!("warning: {warning}");
    }
    let out = write_split(args, d, &plan)?;
    if !args.quiet {
        say!(
            "wrote {} ({} images, {} objects, {} exact duplicates kept with their originals)",
            escape_path(&out),
            d.images.len(),
            d.object_count(),
            plan.duplicates
        );
        print_counts(d, &labels, &names, &plan)?;
    }
    Ok(())
}

/// Write `split.csv` and each split's annotations into the output directory, published whole.
fn write_split(
    args: &AnnotatedSplit,
    d: &augtrain_annotations::Dataset,
    plan: &SplitPlan,
) -> crate::Result<PathBuf> {
    let format = args.input.format;
    let default = PathBuf::from(format!("{}.split", input_name(&args.input.annotations)));
    let out = OutputDir::claim(
        Some(args.out.unwrap_or(&default)),
        Path::new("."),
        "split",
        args.force,
    )?;
    let rows: Vec<SplitRow> = d
        .images
        .iter()
        .enumerate()
        .map(|(i, image)| SplitRow {
            id: image.id.unwrap_or(i as u64),
            split: plan.split[i],
            fold: plan.fold[i],
            label: None,
            path: image.file_name.clone(),
        })
        .collect();
    out.write("split.csv", split_file_text(&rows).as_bytes())?;
    let mut losses: Vec<(&'static str, usize)> = Vec::new();
    for s in [SplitName::Train, SplitName::Val, SplitName::Test] {
        let chosen: Vec<usize> = (0..d.images.len())
            .filter(|&i| plan.split[i] == s)
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let written = formats::write(format, &subset(d, &chosen))?;
        for file in &written.files {
            out.write(&format!("{s}/{}", file.path), &file.bytes)?;
        }
        add_losses(&mut losses, &written.losses);
    }
    let path = out.publish()?;
    for (what, n) in losses {
        warn!("lost in {format}: {n} {what}");
    }
    Ok(path)
}

/// Sum the losses of every split, kind by kind, in first-seen order.
fn add_losses(total: &mut Vec<(&'static str, usize)>, more: &Losses) {
    for (what, n) in more.iter() {
        match total.iter_mut().find(|(w, _)| *w == what) {
            Some((_, m)) => *m += n,
            None => total.push((what, n)),
        }
    }
}

/// The input's name for the default output: the annotation file's stem, or the folder's name.
fn input_name(annotations: &Path) -> String {
    let name = if annotations.is_dir() {
        annotations.file_name()
    } else {
        annotations.file_stem()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "..")
        .unwrap_or_else(|| "annotations".into())
}

/// Images per class (and without objects) in each split, objects per split, fold sizes.
fn print_counts(
    d: &augtrain_annotations::Dataset,
    labels: &[Vec<u32>],
    names: &[String],
    plan: &SplitPlan,
) -> crate::Result<()> {
    let splits = [SplitName::Train, SplitName::Val, SplitName::Test];
    let w = names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    say!(
        "{:<w$} {:>7} {:>7} {:>7}   (images with the class)",
        "class",
        "train",
        "val",
        "test"
    );
    for (c, name) in names.iter().enumerate() {
        let n = |s: SplitName| {
            (0..labels.len())
                .filter(|&i| plan.split[i] == s && labels[i].contains(&(c as u32)))
                .count()
        };
        let counts = splits.map(n);
        if c + 1 == names.len() && counts.iter().sum::<usize>() == 0 {
            continue; // no image without objects
        }
        say!(
            "{:<w$} {:>7} {:>7} {:>7}",
            escape(name),
            counts[0],
            counts[1],
            counts[2]
        );
    }
    let objects = splits.map(|s| {
        (0..labels.len())
            .filter(|&i| plan.split[i] == s)
            .map(|i| d.images[i].objects.len())
            .sum::<usize>()
    });
    say!(
        "{:<w$} {:>7} {:>7} {:>7}",
        "objects",
        objects[0],
        objects[1],
        objects[2]
    );
    if let Some(k) = plan.fold.iter().flatten().max().map(|&f| f + 1) {
        let sizes: Vec<usize> = (0..k)
            .map(|f| plan.fold.iter().filter(|x| **x == Some(f)).count())
            .collect();
        say!("folds of the training images: {sizes:?}");
    }
    Ok(())
}
