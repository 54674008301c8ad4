//! `augtrain audit DATA`: corrupt files, duplicates, leaks, image health and class balance.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::audit::{AuditOptions, audit};
use crate::util::fs::write_atomic;

/// Flags of `augtrain audit`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain audit ../shared/data/hymenoptera
  augtrain audit ../shared/data/hymenoptera --json audit.json --near-radius 6")]
pub struct AuditArgs {
    /// The dataset to audit.
    data: PathBuf,
    /// Also write the full report (a row per image) as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Largest pHash Hamming distance between near duplicates (0–64).
    #[arg(long, default_value_t = 4)]
    near_radius: u32,
    /// Flagged images listed per issue in the text summary.
    #[arg(long, default_value_t = 10)]
    list: usize,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: AuditArgs) -> crate::Result<()> {
    if args.near_radius > 64 {
        return Err(crate::Error::Usage(format!(
            "--near-radius {}: use 0..=64",
            args.near_radius
        )));
    }
    let cfg = args.load.config(Some(args.data.clone()))?;
    let source = cfg.source()?;
    let opts = AuditOptions {
        near_radius: args.near_radius,
    };
    let start = std::time::Instant::now();
    let report = audit(&source, &cfg, 42, &opts)?;
    if let Some(path) = &args.json {
        write_atomic(
            path,
            serde_json::to_string_pretty(&report)
                .expect("json")
                .as_bytes(),
        )?;
    }
    if !args.quiet {
        say_raw!("{}", report.summary(args.list));
        say!("\n({:.2} s)", start.elapsed().as_secs_f64());
    }
    Ok(())
}
