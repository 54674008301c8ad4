//! `augtrain embed --data D (--pretrained FILE --model M | --run DIR)`: one L2-normalized
//! embedding per image (the backbone's pooled features) into an embeddings directory
//! (`embeddings.npy`, `index.csv`, `embed.json`), for `audit --embeddings`,
//! `label-issues --embeddings` or any other tool. [`EmbedModelArgs`] and [`embed_data`] are
//! shared with `audit`, which can embed on the fly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::data_args::LoadArgs;
use crate::Error;
use crate::data::source::load_whole;
use crate::device::{self, DeviceChoice};
use crate::embedding::{EmbedInfo, Embedded, IndexRow};
use crate::model::ModelKind;
use crate::train::Inference;
use crate::train::embed::embed;
use crate::train::progress::{Reporter, Verbosity};
use crate::util::escape::escape;
use augtrain_run::RunDir;
use augtrain_run::run_dir::OutputDir;

/// Which model embeds: a trained run's, or a weights file's backbone.
#[derive(Args, Debug, Clone)]
pub struct EmbedModelArgs {
    /// Embed with the backbone of a trained run (its preprocessing included).
    #[arg(long, conflicts_with = "pretrained")]
    pub run: Option<PathBuf>,
    /// Embed with the backbone of this weights file (.pth, .pt, .safetensors), e.g. the
    /// ImageNet-pretrained EfficientNet-Lite0.
    #[arg(long, requires = "model")]
    pub pretrained: Option<PathBuf>,
    /// The architecture of --pretrained (e.g. efficientnet-lite0, resnet18).
    #[arg(long, requires = "pretrained")]
    pub model: Option<ModelKind>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    pub embed_batch: usize,
    /// Compute device for the model (default auto).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

impl EmbedModelArgs {
    /// Whether a model was named.
    pub fn given(&self) -> bool {
        self.run.is_some() || self.pretrained.is_some()
    }
}

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
    let embedded = embed_data(&args.model, &args.data, &args.load, &reporter)?;
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

/// Embed every image of `data` with the model of `m`, loaded at the model's input size (the
/// other loading flags of `load` apply). Skipped files are reported on `reporter`.
pub fn embed_data(
    m: &EmbedModelArgs,
    data: &Path,
    load: &LoadArgs,
    reporter: &Reporter,
) -> crate::Result<Embedded> {
    if load.size.is_some() || load.channels.is_some() {
        return Err(Error::Usage(
            "--size and --channels come from the model when embedding; leave them out".into(),
        ));
    }
    let dev = device::open(m.device)?;
    let (inference, model_name) = match (&m.run, &m.pretrained, m.model) {
        (Some(run), _, _) => {
            let inf = Inference::load(&RunDir::open(run)?, &dev)?;
            let kind = inf.cfg.model.kind.to_string();
            (inf, kind)
        }
        (None, Some(file), Some(kind)) => {
            (Inference::backbone(kind, file, &dev)?, kind.to_string())
        }
        _ => {
            return Err(Error::Usage(
                "give --pretrained FILE --model ARCH, or --run DIR".into(),
            ));
        }
    };
    let mut opts = load.config(Some(data.to_path_buf()))?;
    let model_opts = inference.load_options();
    (opts.size, opts.channels) = (model_opts.size, model_opts.channels);
    if load.resize.is_none() {
        opts.resize = model_opts.resize;
    }
    let whole = load_whole(&opts.source()?, &opts, 0)?;
    for s in &whole.report.skipped {
        reporter.line(&format!("  skipped {}: {}", escape(&s.path), s.reason));
    }
    let d = &whole.data;
    let start = Instant::now();
    let progress = reporter.images("embedding", d.len());
    let set = embed(
        &inference.model,
        d,
        &inference.aug,
        m.embed_batch,
        &dev.device,
        &progress,
    )?;
    progress.finish();
    // The file hashes, row by row, when every row is a file of its own.
    let files_sha = (whole.report.sha256.len() == d.len()).then_some(&whole.report.sha256);
    let index = (0..d.len())
        .map(|i| IndexRow {
            path: if d.paths[i].is_empty() {
                format!("#{}", d.ids[i])
            } else {
                d.paths[i].clone()
            },
            label: d.class_names[d.labels[i] as usize].clone(),
            split: whole.splits[i],
            sha256: Some(files_sha.map(|h| h[i].clone()).unwrap_or_default()),
        })
        .collect();
    let absolute = |p: &PathBuf| {
        crate::util::path_text::encode(&std::path::absolute(p).unwrap_or_else(|_| p.clone()))
    };
    let info = EmbedInfo {
        model: model_name,
        weights: m.pretrained.as_ref().map(absolute),
        run: m.run.as_ref().map(absolute),
        data: absolute(&data.to_path_buf()),
        images: d.len(),
        dim: set.dim,
        input: inference.aug.output_shape().to_string(),
        device: dev.describe(),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(Embedded { set, index, info })
}
