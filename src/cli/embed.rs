//! `augtrain embed --data D (--pretrained FILE --model M | --run DIR)`: one L2-normalized
//! embedding per image (the backbone's pooled features) into an embeddings directory
//! (`embeddings.npy`, `index.csv`, `embed.json`), for `audit --embeddings`,
//! `label-issues --embeddings` or any other tool. The embedding itself is
//! [`crate::train::embed::embed_dataset`], which `audit` calls too to embed on the fly.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use super::embed_args::EmbedModelArgs;
use crate::Error;
use crate::train::progress::{Reporter, Verbosity};
use augtrain_run::run_dir::OutputDir;

/// Flags of `augtrain embed`. `--size` and `--channels` come from the model: not offered.
#[derive(Args, Debug)]
#[command(mut_arg("size", |a| a.hide(true)), mut_arg("channels", |a| a.hide(true)))]
#[command(after_help = "Examples:
  augtrain embed --data ../shared/data/hymenoptera --pretrained ../shared/data/models/efficientnet-lite0.pth --model efficientnet-lite0 --out hym-emb
  augtrain audit ../shared/data/hymenoptera --embeddings hym-emb
  augtrain label-issues --embeddings hym-emb")]
pub struct EmbedArgs {
    /// The images: any dataset augtrain reads (labels and splits go into index.csv).
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    model: EmbedModelArgs,
    /// Output directory (default: <runs-dir>/<data>-embed-<time>); must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the default output directory goes.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Replace an existing --out directory (as a whole, once the new one is complete).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    load: LoadArgs,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: EmbedArgs) -> crate::Result<()> {
    if !args.model.given() {
        return Err(Error::Usage(
            "give --pretrained FILE --model ARCH, or --run DIR".into(),
        ));
    }
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    let name = super::stem_name(Some(&args.data));
    let dir = OutputDir::claim(
        args.out.as_deref(),
        &args.runs_dir,
        &format!("{name}-embed-{}", crate::util::time::compact_now()),
        args.force,
    )?;
    let embedded = args.model.embed(&args.data, &args.load, &reporter)?;
    for (file, bytes) in embedded.files() {
        dir.write(file, &bytes)?;
    }
    let published = dir.publish()?;
    reporter.line(&format!(
        "{} embeddings of {} floats in {} ({:.1} s on {})",
        embedded.set.len(),
        embedded.set.dim,
        published.display(),
        embedded.info.seconds,
        embedded.info.device
    ));
    Ok(())
}
