//! `augtrain export DATA --out DIR`: a privacy-clean copy of a dataset.

use std::path::PathBuf;

use clap::Args;

use augtrain_annotations::formats::Format;

use super::data_args::LoadArgs;
mod annotations;

use crate::data::export::export;
use annotations::AnnotatedExport;
use augtrain_annotations::input::annotated_input_with_images;

/// Flags of `augtrain export`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain export ../shared/data/hymenoptera --out hymenoptera-clean
  cd hymenoptera-clean && sha256sum -c SHA256SUMS
  augtrain export instances.json --images photos/ --out clean   (annotations: COCO, YOLO, VOC, ...)

On annotated data the export holds images/<hash>.png and the annotations in the input's format
rewritten to those names, with ids renumbered and annotators replaced by pseudonyms; README.md
in the export lists what was removed.")]
pub struct ExportArgs {
    /// The dataset to export.
    data: PathBuf,
    /// The export directory to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Also write the original-name → exported-name mapping to this CSV (outside the export).
    #[arg(long)]
    keep_mapping: Option<PathBuf>,
    /// Read DATA as annotations in this format (coco, yolo, voc, labelme, labelstudio, cvat);
    /// detected for annotation files and YOLO / VOC / CVAT folders.
    #[arg(long)]
    format: Option<Format>,
    /// For annotations: the folder image names are relative to (default: the annotations'
    /// folder; YOLO: images/ beside labels/).
    #[arg(long)]
    images: Option<PathBuf>,
    /// For annotations: keep annotator names (default: replaced by annotator-1, annotator-2, ...).
    #[arg(long)]
    keep_annotators: bool,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ExportArgs) -> crate::Result<()> {
    let cfg = args.load.config(Some(args.data.clone()))?;
    if let Some(input) =
        annotated_input_with_images(&args.data, args.format, args.images.as_deref())?
    {
        return annotations::run(&AnnotatedExport {
            input: &input,
            out: &args.out,
            mapping: args.keep_mapping.as_deref(),
            keep_annotators: args.keep_annotators,
            on_error: cfg.on_error,
            max_pixels: cfg.max_pixels,
            quiet: args.quiet,
        });
    }
    if args.keep_annotators || args.images.is_some() {
        return Err(crate::Error::Usage(
            "--keep-annotators and --images apply to annotated data only".into(),
        ));
    }
    let source = cfg.source()?;
    let summary = export(
        &source,
        &cfg,
        42,
        &args.out,
        args.keep_mapping.as_deref(),
        &source.name(),
    )?;
    if !args.quiet {
        say!(
            "exported {} images to {} ({} carried metadata, {} rotated by EXIF orientation, {} skipped)",
            summary.files.len(),
            args.out.display(),
            summary.had_metadata,
            summary.rotated,
            summary.skipped.len()
        );
        for s in &summary.skipped {
            say!(
                "  skipped {}: {}",
                crate::util::escape::escape(&s.path),
                s.reason
            );
        }
    }
    Ok(())
}
