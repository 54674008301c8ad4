//! `augtrain export DATA --out DIR`: a privacy-clean copy of a dataset.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::data::export::export;

/// Flags of `augtrain export`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain export ../shared/data/hymenoptera --out hymenoptera-clean
  cd hymenoptera-clean && sha256sum -c SHA256SUMS")]
pub struct ExportArgs {
    /// The dataset to export.
    data: PathBuf,
    /// The export directory to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Also write the original-name → exported-name mapping to this CSV (outside the export).
    #[arg(long)]
    keep_mapping: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: ExportArgs) -> crate::Result<()> {
    let cfg = args.load.config(Some(args.data.clone()))?;
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
