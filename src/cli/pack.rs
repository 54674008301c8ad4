//! `augtrain pack SRC --out DIR`: write a dataset as a memory-mappable pack.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::data::{pack, source::load_whole};

/// Flags of `augtrain pack`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain pack ../shared/data/hymenoptera --out hymenoptera.pack --size 64x64
  augtrain train --data hymenoptera.pack")]
pub struct PackArgs {
    /// The dataset to pack: image folder, CSV manifest, IDX or CIFAR directory.
    src: PathBuf,
    /// The pack directory to create (must not exist).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    load: LoadArgs,
    /// Largest shard file, MiB.
    #[arg(long, default_value_t = 256)]
    shard_mb: usize,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: PackArgs) -> crate::Result<()> {
    let cfg = args.load.config(Some(args.src.clone()))?;
    let source = cfg.source()?;
    let whole = load_whole(&source, &cfg, 42)?;
    let resize = if source.is_files() {
        crate::util::names::name(&cfg.resize)
    } else {
        "none (native size)".into()
    };
    let m = pack::write(
        &args.out,
        &whole.data,
        &whole.splits,
        &whole.report.sha256,
        &args.src.display().to_string(),
        &resize,
        args.shard_mb.max(1) << 20,
    )?;
    if !args.quiet {
        say!(
            "packed {} images ({}x{}x{}, {} classes) into {} shard(s) in {}; {} files skipped",
            m.count,
            m.width,
            m.height,
            m.channels,
            m.classes.len(),
            m.shards.len(),
            args.out.display(),
            whole.report.skipped.len()
        );
        for s in &whole.report.skipped {
            say!(
                "  skipped {}: {}",
                crate::util::escape::escape(&s.path),
                s.reason
            );
        }
        for note in &whole.report.notes {
            say!("note: {note}");
        }
    }
    Ok(())
}
