//! `augtrain convert SRC --to FORMAT --out DIR`: annotations from one format to another
//! (COCO, YOLO, Pascal VOC, LabelMe, Label Studio, CVAT), written whole or not at all, with
//! every kind of loss reported as one line with a count.

use std::path::{Path, PathBuf};

use augtrain_annotations::formats::{self, Format, ReadOptions};
use augtrain_run::run_dir::OutputDir;
use clap::Args;

use crate::util::escape::escape_path;

/// Flags of `augtrain convert`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain convert instances_val.json --to yolo --out val-yolo --images val2017
  augtrain convert dataset/ --to coco --out dataset-coco          (YOLO: labels/ + images/)
  augtrain convert project.json --format labelstudio --to cvat --out cvat

What a format cannot hold (e.g. polygons in VOC, scores in CVAT) is listed on stderr, one line
per kind with a count; nothing is dropped silently.")]
pub struct ConvertArgs {
    /// The annotations: a COCO / Label Studio JSON or CVAT XML file, or a folder (YOLO, VOC,
    /// LabelMe).
    src: PathBuf,
    /// The format to write: coco, yolo, voc, labelme, labelstudio, cvat.
    #[arg(long)]
    to: Format,
    /// The output directory (created whole; must not exist or be empty, unless --force).
    #[arg(long)]
    out: PathBuf,
    /// The source format, when it cannot be told from the data.
    #[arg(long)]
    format: Option<Format>,
    /// The image folder that image names are relative to; image sizes the annotations lack
    /// (YOLO always, Label Studio tasks without regions) are read from these files' headers.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Replace an existing, non-empty output directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors and losses.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ConvertArgs) -> crate::Result<()> {
    let opts = ReadOptions {
        images: args.images.clone(),
    };
    let (from, read) = formats::read_any(&args.src, args.format, &opts)?;
    let mut dataset = read.dataset;
    for (what, n) in read.skipped.iter() {
        warn!("warning: {}: not read: {n} {what}", escape_path(&args.src));
    }
    if let Some(images) = &args.images {
        let missing = formats::fill_sizes(&mut dataset, images);
        if missing > 0 {
            warn!(
                "warning: {missing} images without a size in the annotations have no readable file under {}",
                escape_path(images)
            );
        }
    }
    let mut sink = DirSink {
        args: &args,
        out: None,
        files: 0,
        error: None,
    };
    let losses = formats::write_to(args.to, &dataset, &mut sink)
        .map_err(|e| sink.error.take().unwrap_or_else(|| e.into()))?;
    let out = match sink.out.take() {
        Some(out) => out,
        None => sink.claim()?,
    };
    let path = out.publish()?;
    for (what, n) in losses.iter() {
        warn!("lost in {}: {n} {what}", args.to);
    }
    if !args.quiet {
        say!(
            "converted {} images, {} objects, {} classes from {from} to {} in {} ({} files)",
            dataset.images.len(),
            dataset.object_count(),
            dataset.classes.len(),
            args.to,
            escape_path(&path),
            sink.files
        );
    }
    Ok(())
}

/// The converted files, streamed into the output directory, which is claimed when the writer
/// makes its first file (so that what a writer refuses before writing leaves nothing behind)
/// and published by the caller only if the whole write succeeded.
struct DirSink<'a> {
    args: &'a ConvertArgs,
    out: Option<OutputDir>,
    /// Files written so far.
    files: usize,
    /// The first error of the output directory, which names the file (the writer's own error
    /// names it only relative to the output).
    error: Option<crate::Error>,
}

impl DirSink<'_> {
    fn claim(&self) -> crate::Result<OutputDir> {
        let (out, force) = (&self.args.out, self.args.force);
        Ok(OutputDir::claim(
            Some(out),
            Path::new("."),
            "converted",
            force,
        )?)
    }
}

impl formats::Sink for DirSink<'_> {
    fn file(
        &mut self,
        path: &str,
        fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let written = match &self.out {
            Some(out) => out.write_with(path, fill).map_err(crate::Error::from),
            None => self.claim().and_then(|out| {
                let written = out.write_with(path, fill).map_err(crate::Error::from);
                self.out = Some(out);
                written
            }),
        };
        written.map_err(|e| {
            let io = std::io::Error::other(e.to_string());
            self.error.get_or_insert(e);
            io
        })?;
        self.files += 1;
        Ok(())
    }
}
