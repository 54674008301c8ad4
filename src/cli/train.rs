//! `augtrain train`: train a classifier and write a run directory.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::augment::AugmentError;
use crate::data::balance::{Balance, SamplingStrategy};
use crate::device::{self, DeviceChoice};
use crate::metrics::ZeroDivision;
use crate::model::ModelKind;
use crate::train::config::{
    AugmentConfig, Freeze, LossKind, OptimizerKind, ScheduleKind, TrainConfig,
};
use crate::train::progress::{Reporter, Verbosity};
use crate::train::{self, RunOptions, TrainError};
use crate::{Error, augment};

/// Flags of `augtrain train`. Every flag overrides the config file (`--config`) or, with
/// `--resume`, the run's saved config.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain train                                   # built-in synthetic data, GPU if present
  augtrain train --data ../shared/data/mnist-10k --model cnn --epochs 5
  augtrain train --data DIR --augment pipeline.toml --device gpu
  augtrain train --data photos/ --model efficientnet-lite0 --pretrained efficientnet-lite0.pth --freeze backbone
  augtrain train --resume runs/mnist-10k-cnn-20261123-140509")]
pub struct TrainArgs {
    /// Dataset: IDX or CIFAR directory, image folder, CSV manifest or pack; omit for the
    /// built-in synthetic dataset.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// A run config file (TOML); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint, on the images of the
    /// splits it recorded (any change to them is an error naming it). Settings of how it goes
    /// on (--epochs, --lr, --batch-size, --device, ...) may change; what it is (--model,
    /// --size, --pretrained, --classes, --seed, the split flags, ...) may not.
    #[arg(long, conflicts_with = "config")]
    pub(crate) resume: Option<PathBuf>,
    /// With --resume: images the data has gained since the run recorded its splits join the
    /// training split (without it they are an error; the validation and test splits never
    /// change).
    #[arg(long, requires = "resume")]
    allow_new_train_images: bool,
    /// Compute device: auto (real GPU if present, else CPU), gpu (software adapters too), cpu.
    #[arg(long)]
    device: Option<DeviceChoice>,
    /// Model: cnn (LeNet-style), mlp, resnet-small (32x32 images), resnet18, resnet34, resnet50
    /// or efficientnet-lite0.
    #[arg(long)]
    model: Option<ModelKind>,
    /// Hidden units (MLP hidden layer / CNN fully connected layer).
    #[arg(long)]
    hidden: Option<usize>,
    /// Dropout before the head of resnet-small and efficientnet-lite0 (default 0.2).
    #[arg(long)]
    dropout: Option<f64>,
    /// Start from these weights: a PyTorch state dict (.pth, .pt) or .safetensors file with the
    /// architecture's PyTorch names; a head of another class count is replaced. Without
    /// --size, images are then loaded at 256x256 for the 224x224 input of the ImageNet models.
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// `backbone`: train only the head (weights and batch-norm statistics of the rest stay as
    /// loaded); needs --pretrained.
    #[arg(long)]
    freeze: Option<Freeze>,
    /// Fine-tuning without --freeze: the backbone learns at lr times this, the new head at lr
    /// (default 0.1).
    #[arg(long)]
    backbone_lr_scale: Option<f64>,
    /// Loss: cross-entropy or mse.
    #[arg(long)]
    loss: Option<LossKind>,
    /// Optimizer: sgd (with momentum), adam or adamw.
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// Learning rate (default: with sgd 0.02 for mlp, 0.05 for cnn and resnet-small, 0.01 for
    /// the ImageNet models; with adam or adamw 0.001).
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum (0 = none).
    #[arg(long)]
    momentum: Option<f64>,
    /// Weight decay (sgd, adam: L2 penalty; adamw: decoupled).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Whether weight decay applies to biases and normalization weights too (default true).
    #[arg(long)]
    decay_biases_and_norms: Option<bool>,
    /// Clip the global L2 norm of the gradients to this (0 = off).
    #[arg(long)]
    clip_grad_norm: Option<f64>,
    /// Cross-entropy label smoothing (0 = off).
    #[arg(long)]
    label_smoothing: Option<f64>,
    /// Epochs of linear learning-rate warmup before the schedule.
    #[arg(long)]
    warmup_epochs: Option<usize>,
    /// Evaluate on the mean logits of each image and its horizontal mirror.
    #[arg(long)]
    tta_flip: bool,
    /// Learning-rate schedule: constant, step or cosine.
    #[arg(long)]
    schedule: Option<ScheduleKind>,
    /// Step schedule: epochs between decays.
    #[arg(long)]
    step_size: Option<usize>,
    /// Step schedule: decay factor.
    #[arg(long)]
    gamma: Option<f64>,
    /// Cosine schedule: final learning rate.
    #[arg(long)]
    min_lr: Option<f64>,
    /// Images per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of every random choice.
    #[arg(long)]
    seed: Option<u64>,
    /// Fraction of training images held out for validation.
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Augmentation: default (for the data), none, or a pipeline file (.toml / .json).
    #[arg(long)]
    augment: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
    /// Fraction held out for testing when the data has neither a test nor a val split.
    #[arg(long)]
    test_fraction: Option<f64>,
    /// Class balancing of the training split: none, weights, oversample, undersample, sampler.
    #[arg(long)]
    balance: Option<Balance>,
    /// imbalanced-learn sampling_strategy for oversample / undersample: auto, minority, majority,
    /// "not minority", "not majority", all, or CLASS=COUNT,CLASS=COUNT.
    #[arg(long)]
    sampling_strategy: Option<String>,
    /// Data-parallel training on several GPUs: all, or adapter numbers as `augtrain devices`
    /// lists them (0,1,...); the first is the main device.
    #[arg(long, value_parser = device::parse_device_list, conflicts_with = "device")]
    devices: Option<device::DeviceList>,
    /// GPU: the largest fraction of device memory the training images may take to stay on the
    /// device, uploaded once per run (default 0.25; 0 uploads every batch).
    #[arg(long)]
    resident_fraction: Option<f64>,
    /// Read loss and accuracy back from the device every N batches (progress bar, non-finite
    /// check); default 0 = about twice a second.
    #[arg(long)]
    sync_every: Option<usize>,
    /// Synthetic data: training images.
    #[arg(long)]
    synthetic_train: Option<usize>,
    /// Synthetic data: test images.
    #[arg(long)]
    synthetic_test: Option<usize>,
    /// Synthetic data: image side in pixels.
    #[arg(long)]
    synthetic_size: Option<usize>,
    /// Metric value for an undefined ratio: 0, 1 or nan (excluded from averages).
    #[arg(long, value_parser = parse_zero_division)]
    zero_division: Option<ZeroDivision>,
    /// Parent directory of run directories.
    #[arg(long, default_value = "runs")]
    pub(crate) runs_dir: PathBuf,
    /// Run name (directory under --runs-dir); default <data>-<model>-<time>.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Print nothing.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// If a batch does not fit in the GPU's memory, train on the CPU instead of failing
    /// (the run's config then records device = "cpu").
    #[arg(long)]
    cpu_fallback: bool,
}

fn parse_strategy(s: &str) -> crate::Result<SamplingStrategy> {
    if !s.contains('=') {
        return Ok(SamplingStrategy::Named(s.to_string()));
    }
    let mut map = std::collections::BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            Error::Usage(format!("--sampling-strategy '{part}': use CLASS=COUNT"))
        })?;
        let n: usize = v.trim().parse().map_err(|_| {
            Error::Usage(format!(
                "--sampling-strategy '{part}': COUNT must be a whole number"
            ))
        })?;
        map.insert(k.trim().to_string(), n);
    }
    Ok(SamplingStrategy::Counts(map))
}

/// The data of a resumed run, split as the run recorded (`splits.csv`, by path and content).
/// A run from before splits were recorded is carved again from the seed, and must come out
/// with the class counts its `dataset.json` recorded.
fn resumed_splits(
    cfg: &TrainConfig,
    dir: &std::path::Path,
    allow_new: bool,
) -> crate::Result<crate::data::Splits> {
    let run = augtrain_run::RunDir::open(dir)?;
    if !run.has_checkpoint() {
        // The run's own error: nothing to resume from.
        run.checkpoint()?;
    }
    let summary = run.dataset()?;
    let refuse = |m: String| {
        crate::data::DataError::Invalid(format!(
            "cannot resume {}: {m}",
            crate::util::escape::escape_path(dir)
        ))
    };
    let source = cfg.data.source()?;
    let Some(recorded) = run.splits()? else {
        let splits = cfg.data.load(cfg.seed)?;
        let now = [
            splits.train.class_counts(),
            splits.val.class_counts(),
            splits.test.class_counts(),
        ];
        if now != summary.counts || splits.train.class_names != summary.classes {
            return Err(refuse(format!(
                "the run predates per-image split records, and its data now splits into other class counts (train/val/test {:?}, recorded {:?}); resume with the data as it was, or start a new run",
                now, summary.counts
            ))
            .into());
        }
        return Ok(splits);
    };
    let whole = crate::data::source::load_whole(&source, &cfg.data, cfg.seed)?;
    crate::data::membership::reapply(
        source.name(),
        whole,
        &recorded,
        &summary.classes,
        &summary.provenance,
        allow_new,
    )
    .map_err(|e| match e {
        crate::data::DataError::Invalid(m) => refuse(m).into(),
        e => e.into(),
    })
}

fn parse_zero_division(s: &str) -> Result<ZeroDivision, String> {
    ZeroDivision::parse(s).ok_or_else(|| format!("'{s}': use 0, 1 or nan"))
}

impl TrainArgs {
    /// The config: the file's (or the resumed run's, or the defaults), with flags applied.
    pub(crate) fn config(&self) -> crate::Result<TrainConfig> {
        let base = match (&self.resume, &self.config) {
            (Some(dir), _) => augtrain_run::RunDir::open(dir)?.config()?,
            (None, Some(path)) => TrainConfig::read_file(path).map_err(Error::ConfigFile)?,
            (None, None) => TrainConfig::default(),
        };
        let c = self.with_flags(base.clone())?;
        if let (Some(dir), Some((flag, was, asked))) = (&self.resume, base.resume_conflict(&c)) {
            return Err(Error::Usage(format!(
                "--resume {}: the run was made with {flag} {was}, and a resumed run cannot change it (asked: {asked}); start a new run to change it",
                crate::util::escape::escape_path(dir)
            )));
        }
        Ok(c)
    }

    /// `c` with the flags given applied, validated.
    fn with_flags(&self, mut c: TrainConfig) -> crate::Result<TrainConfig> {
        macro_rules! set {
            ($field:expr, $flag:expr) => {
                if let Some(v) = $flag.clone() {
                    $field = v;
                }
            };
        }
        if let Some(p) = &self.data {
            c.data.path = Some(p.clone());
        }
        set!(c.device, self.device);
        set!(c.model.kind, self.model);
        set!(c.model.hidden, self.hidden);
        set!(c.model.dropout, self.dropout);
        set!(c.model.freeze, self.freeze);
        set!(c.optimizer.backbone_lr_scale, self.backbone_lr_scale);
        set!(
            c.optimizer.decay_biases_and_norms,
            self.decay_biases_and_norms
        );
        set!(c.optimizer.clip_grad_norm, self.clip_grad_norm);
        set!(c.label_smoothing, self.label_smoothing);
        set!(c.schedule.warmup_epochs, self.warmup_epochs);
        if self.tta_flip {
            c.tta_flip = true;
        }
        if let Some(p) = &self.pretrained {
            c.model.pretrained = Some(p.clone());
            // The ImageNet evaluation crop: load at 256 for a 224 input, unless told (or
            // resuming, where the run's size stands).
            if let (None, None, Some(input)) =
                (self.load.size, &self.resume, c.model.kind.imagenet_input())
            {
                c.data.size = [input.load_size; 2];
            }
        }
        set!(c.loss, self.loss);
        set!(c.optimizer.kind, self.optimizer);
        if self.lr.is_some() {
            c.optimizer.lr = self.lr;
        }
        set!(c.optimizer.momentum, self.momentum);
        set!(c.optimizer.weight_decay, self.weight_decay);
        set!(c.schedule.kind, self.schedule);
        set!(c.schedule.step_size, self.step_size);
        set!(c.schedule.gamma, self.gamma);
        set!(c.schedule.min_lr, self.min_lr);
        set!(c.batch_size, self.batch_size);
        set!(c.resident_fraction, self.resident_fraction);
        set!(c.sync_every, self.sync_every);
        if let Some(list) = &self.devices {
            c.devices = list.0.clone();
            c.device = DeviceChoice::Gpu;
        }
        set!(c.epochs, self.epochs);
        set!(c.seed, self.seed);
        set!(c.data.val_fraction, self.val_fraction);
        set!(c.data.synthetic_train, self.synthetic_train);
        set!(c.data.synthetic_test, self.synthetic_test);
        set!(c.data.synthetic_size, self.synthetic_size);
        set!(c.zero_division, self.zero_division);
        set!(c.data.test_fraction, self.test_fraction);
        set!(c.balance, self.balance);
        if let Some(s) = &self.sampling_strategy {
            c.sampling_strategy = parse_strategy(s)?;
        }
        self.load.apply(&mut c.data);
        if let Some(a) = &self.augment {
            c.augment = match a.as_str() {
                "default" => AugmentConfig::Default,
                "none" => AugmentConfig::None,
                path => AugmentConfig::Pipeline {
                    spec: augment::load_spec(std::path::Path::new(path))?,
                },
            };
        }
        c.validate().map_err(Error::Usage)?;
        Ok(c)
    }
}

pub fn run(args: TrainArgs) -> crate::Result<()> {
    let cfg = args.config()?;
    crate::budget::check_train(&cfg)?;
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    reporter.show_loading();
    // Data first: malformed input fails before anything is created.
    let splits = match &args.resume {
        Some(dir) => resumed_splits(&cfg, dir, args.allow_new_train_images)?,
        None => cfg.data.load(cfg.seed)?,
    };
    let device = device::open_main(cfg.device, &cfg.devices)?;
    let opts = RunOptions {
        runs_dir: args.runs_dir.clone(),
        name: args.name.clone(),
        resume: args.resume.clone(),
    };
    match train::run(&cfg, &splits, &device, &opts, &reporter) {
        // The batch check runs before the run directory exists, so nothing needs undoing.
        Err(TrainError::Augment(AugmentError::BatchTooLarge(why))) if args.cpu_fallback => {
            warn!("warning: {why}; --cpu-fallback: training on the CPU instead");
            let cfg = TrainConfig {
                device: DeviceChoice::Cpu,
                ..cfg
            };
            let cpu = device::open(DeviceChoice::Cpu)?;
            train::run(&cfg, &splits, &cpu, &opts, &reporter)?;
        }
        result => {
            result?;
        }
    }
    Ok(())
}
