//! `augtrain predict --run DIR --data UNLABELLED`: predictions with confidence, pseudo-labels and
//! a review queue of the most uncertain images. With `--pretrained FILE --model ARCH` instead of
//! `--run`, the weights file's own head classifies (e.g. ImageNet's 1000 classes, by index or
//! by the names of `--class-names`), to check weights before training.

use std::path::{Path, PathBuf};

use clap::Args;

use super::output_args::OutputArgs;

use crate::data::LoadOptions;
use crate::data::files::OnError;
use crate::data::unlabelled;
use crate::device;
use crate::label::{QueueBy, predict_row};
use crate::train::progress::{Reporter, Verbosity};
use crate::train::{Inference, evaluate};
use crate::util::escape::escape;
use crate::{Error, util};
use augtrain_run::RunDir;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;
use augtrain_run::predictions::PredictOutputs;

/// Flags of `augtrain predict`.
#[derive(Args, Debug)]
#[command(mut_arg("out", |a| a.help(
    "Output directory (default: <run>/predict-<time>, or ./predict-<time> with --pretrained); must not exist or be empty."
)))]
#[command(after_help = "Examples:
  augtrain predict --run runs/hym --data new-photos/ --pseudo-label --threshold 0.95 --max-per-class 50
  augtrain predict --run runs/hym --data new-photos/ --queue margin --top 20
  augtrain predict --pretrained efficientnet-lite0.pth --model efficientnet-lite0 --data photos/ --class-names imagenet.txt")]
pub struct PredictArgs {
    /// The run directory of a trained model.
    #[arg(
        long,
        required_unless_present = "pretrained",
        conflicts_with = "pretrained"
    )]
    run: Option<PathBuf>,
    /// Predict with this weights file's own head instead of a run (.pth, .pt, .safetensors).
    #[arg(long, requires = "model")]
    pretrained: Option<PathBuf>,
    /// The architecture of --pretrained (e.g. efficientnet-lite0, resnet18).
    #[arg(long, requires = "pretrained")]
    model: Option<ModelKind>,
    /// With --pretrained: a text file of class names, one per line in the head's order
    /// (default: the class indices).
    #[arg(long, requires = "pretrained")]
    class_names: Option<PathBuf>,
    /// Images to predict: a folder (searched recursively), a CSV with a `path` column, or any
    /// dataset augtrain reads (its labels are ignored).
    #[arg(long)]
    data: PathBuf,
    /// Write confident predictions as a manifest of pseudo-labels.
    #[arg(long)]
    pseudo_label: bool,
    /// Smallest confidence accepted as a pseudo-label.
    #[arg(long, default_value_t = 0.95)]
    threshold: f64,
    /// At most this many pseudo-labels per class (the most confident).
    #[arg(long)]
    max_per_class: Option<usize>,
    /// Review queue order: least-confidence, margin or entropy.
    #[arg(long)]
    queue: Option<QueueBy>,
    /// Images in the review queue.
    #[arg(long, default_value_t = 50)]
    top: usize,
    #[command(flatten)]
    output: OutputArgs,
    /// An unusable image file: skip it (listed in skipped.csv) or stop at the first.
    #[arg(long, default_value = "skip")]
    on_error: OnError,
    /// Compute device (default auto).
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// The run's model, or the weights file's with its own head.
fn load_model(args: &PredictArgs, dev: &device::ComputeDevice) -> crate::Result<Inference> {
    match (&args.run, &args.pretrained, args.model) {
        (Some(run), _, _) => Ok(Inference::load(&RunDir::open(run)?, dev)?),
        (None, Some(file), Some(kind)) => {
            let names = match &args.class_names {
                Some(path) => Some(read_class_names(path)?),
                None => None,
            };
            Ok(Inference::pretrained(kind, file, names, dev)?)
        }
        _ => Err(Error::Usage(
            "give --run DIR, or --pretrained FILE with --model".into(),
        )),
    }
}

/// Class names, one per non-empty line; a name listed twice or a byte-order mark is an error
/// naming its line.
fn read_class_names(path: &Path) -> crate::Result<Vec<String>> {
    let text = String::from_utf8(util::fs::read(path)?)
        .map_err(|_| Error::Usage(format!("{}: not UTF-8 text", path.display())))?;
    let (lines, names): (Vec<usize>, Vec<String>) = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| (n, l.to_string()))
        .unzip();
    crate::data::class_list::check_names(&names).map_err(|p| {
        crate::data::DataError::Malformed {
            path: path.to_path_buf(),
            problem: format!("line {}: {p}", lines[p.index]),
        }
    })?;
    Ok(names)
}

pub fn run(args: PredictArgs) -> crate::Result<()> {
    if !(0.0..=1.0).contains(&args.threshold) {
        return Err(Error::Usage(format!(
            "--threshold {}: use a probability in [0, 1]",
            args.threshold
        )));
    }
    let dev = device::open(args.device)?;
    let inference = load_model(&args, &dev)?;
    let opts = LoadOptions {
        on_error: args.on_error,
        ..inference.load_options()
    };
    let batch_size = inference.eval_batch_size(&dev);
    let Inference {
        cfg,
        card,
        model,
        aug: eval_aug,
    } = inference;
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    reporter.show_loading();
    let images = unlabelled::load(&args.data, &opts, &card.class_names)?;
    let bar = reporter.images("predicting", images.data.len());
    let ev = evaluate(
        &model,
        &images.data,
        &eval_aug,
        batch_size,
        &cfg,
        &dev.device,
        true,
        Some(&bar),
    );
    bar.finish();
    let ev = ev?;
    let probs = ev.probabilities.expect("asked for probabilities");
    let k = card.class_names.len();
    let preds: Vec<_> = (0..images.data.len())
        .map(|i| predict_row(&probs[i * k..(i + 1) * k]))
        .collect();
    let base = args.run.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = args
        .output
        .claim(&base, &format!("predict-{}", util::time::compact_now()))?;
    let out = PredictOutputs {
        dir: &dir,
        images: &images,
        names: &card.class_names,
        preds: &preds,
        probs: &probs,
    };
    let mut lines = vec![out.predictions()?];
    if args.pretrained.is_some() {
        lines.extend(out.top_classes(5));
    }
    if args.pseudo_label {
        lines.push(out.pseudo_labels(args.threshold, args.max_per_class)?);
    }
    if let Some(by) = args.queue {
        lines.push(out.review_queue(by, args.top)?);
    }
    dir.publish()?;
    if !args.quiet {
        for l in lines {
            say!("{l}");
        }
        for s in &images.skipped {
            say!("  skipped {}: {}", escape(&s.path), s.reason);
        }
    }
    Ok(())
}
