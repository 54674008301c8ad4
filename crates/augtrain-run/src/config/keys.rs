//! Every key of the run config, declared once: where it sits in `config.toml`, the comment
//! `augtrain config --default` prints above it, and the `augtrain train` flag (if any) that
//! overrides it. The CLI builds its flags from [`KEYS`] and applies them with
//! [`TrainConfig::with_overrides`](super::TrainConfig::with_overrides); a test checks that
//! every key the config serializes is here.
//!
//! Adding a training option: a field (with its default) in the config struct, and one line
//! here.

use std::str::FromStr;

use augtrain_data::balance::{Balance, SamplingStrategy};
use augtrain_quality::metrics::ZeroDivision;

use super::{DeviceChoice, Freeze, LossKind, ModelKind, OptimizerKind, ScheduleKind};

/// Turns a flag's text into the key's TOML value; the error says what is accepted.
pub type ParseFlag = fn(&str) -> Result<toml::Value, String>;

/// How `augtrain train` sets a key from its command line.
#[derive(Clone, Copy, Debug)]
pub enum Flag {
    /// `--long VALUE`.
    Value {
        /// The flag's name without the dashes (`batch-size`).
        long: &'static str,
        /// Parses VALUE.
        parse: ParseFlag,
    },
    /// `--long` without a value sets the key to `true`.
    Switch {
        /// The flag's name without the dashes.
        long: &'static str,
    },
}

impl Flag {
    /// The flag's name without the dashes.
    pub fn long(&self) -> &'static str {
        match self {
            Flag::Value { long, .. } | Flag::Switch { long } => long,
        }
    }
}

/// One key of the run config.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// Dotted path in `config.toml` (`optimizer.momentum`).
    pub path: &'static str,
    /// One-line description: the comment above the key in `augtrain config --default`, and
    /// the flag's help.
    pub doc: &'static str,
    /// The flag that overrides it; `None` for keys set in a config file only, or by a flag
    /// with a meaning of its own (`--data`, `--augment`, `--devices`, the data-loading flags
    /// every command shares).
    pub flag: Option<Flag>,
    /// For a key absent from the default config: the example value shown commented out.
    pub example: Option<&'static str>,
}

/// Parse a flag as `T` (its `FromStr`, for the run's enums the names in any case) and write
/// it as `T` serializes.
fn parsed<T>(text: &str) -> Result<toml::Value, String>
where
    T: FromStr + serde::Serialize,
    T::Err: std::fmt::Display,
{
    let value = text.parse::<T>().map_err(|e| e.to_string())?;
    toml::Value::try_from(value).map_err(|e| format!("'{text}': {e}"))
}

/// `--zero-division`: 0, 1 or nan.
fn zero_division(text: &str) -> Result<toml::Value, String> {
    let z = ZeroDivision::parse(text).ok_or_else(|| format!("'{text}': use 0, 1 or nan"))?;
    toml::Value::try_from(z).map_err(|e| e.to_string())
}

const fn plain(path: &'static str, doc: &'static str) -> Key {
    Key {
        path,
        doc,
        flag: None,
        example: None,
    }
}

const fn flag(path: &'static str, long: &'static str, parse: ParseFlag, doc: &'static str) -> Key {
    Key {
        path,
        doc,
        flag: Some(Flag::Value { long, parse }),
        example: None,
    }
}

const fn switch(path: &'static str, long: &'static str, doc: &'static str) -> Key {
    Key {
        path,
        doc,
        flag: Some(Flag::Switch { long }),
        example: None,
    }
}

const fn optional(key: Key, example: &'static str) -> Key {
    Key {
        example: Some(example),
        ..key
    }
}

/// Every key, in the order `augtrain config --default` prints them within their section.
pub const KEYS: &[Key] = &[
    flag(
        "seed",
        "seed",
        parsed::<u64>,
        "Seed of every random choice: data split, weight init, epoch order, augmentation.",
    ),
    flag(
        "device",
        "device",
        parsed::<DeviceChoice>,
        "auto (a real GPU if present, else the CPU), gpu (software adapters too) or cpu.",
    ),
    flag(
        "epochs",
        "epochs",
        parsed::<usize>,
        "Training epochs (with --pretrained given and no --epochs: the fine-tuning recipe's 6).",
    ),
    flag(
        "batch_size",
        "batch-size",
        parsed::<usize>,
        "Images per training batch (with --pretrained given and no --batch-size: the fine-tuning recipe's 16).",
    ),
    flag(
        "loss",
        "loss",
        parsed::<LossKind>,
        "cross_entropy (accepts mixup/cutmix soft targets) or mse (softmax vs one-hot).",
    ),
    flag(
        "zero_division",
        "zero-division",
        zero_division,
        "Metric value of an undefined ratio: zero, one or nan (nan is left out of averages).",
    ),
    flag(
        "balance",
        "balance",
        parsed::<Balance>,
        "Class balancing of the training split: none, weights, oversample, undersample or sampler.",
    ),
    flag(
        "sampling_strategy",
        "sampling-strategy",
        parsed::<SamplingStrategy>,
        "imbalanced-learn sampling_strategy: auto, minority, majority, not minority, not majority, all, or a table { class = count }.",
    ),
    plain(
        "devices",
        "Data-parallel training on these GPU adapters (numbers of `augtrain devices`, the first is the main device); [] = one device as `device` says.",
    ),
    flag(
        "resident_fraction",
        "resident-fraction",
        parsed::<f64>,
        "GPU: the largest fraction of device memory the training images may take to stay on the device (uploaded once); 0 uploads every batch.",
    ),
    flag(
        "resident_budget",
        "resident-budget",
        parsed::<u64>,
        "GPU: bytes the training images may take on the device (held in buffers of under 2 GiB each), overriding resident_fraction; 0 = automatic: resident_fraction of the memory the platform reports, else 1 GiB.",
    ),
    flag(
        "sync_every",
        "sync-every",
        parsed::<usize>,
        "Read loss and accuracy back from the device every N batches (progress, non-finite check); 0 = about twice a second.",
    ),
    optional(
        plain(
            "data.path",
            "A dataset: IDX or CIFAR directory, image folder, CSV manifest or pack.",
        ),
        "\"../shared/data/mnist-10k\"",
    ),
    optional(
        plain(
            "data.split_file",
            "A split file from `augtrain split`, overriding the data's own splits.",
        ),
        "\"data.split.csv\"",
    ),
    optional(
        plain(
            "data.classes",
            "The class list; image files labelled otherwise are skipped as unknown.",
        ),
        "[\"ants\", \"bees\"]",
    ),
    flag(
        "data.synthetic_train",
        "synthetic-train",
        parsed::<usize>,
        "Built-in synthetic data (used when data.path is absent): training images.",
    ),
    flag(
        "data.synthetic_test",
        "synthetic-test",
        parsed::<usize>,
        "Built-in synthetic data: test images.",
    ),
    flag(
        "data.synthetic_size",
        "synthetic-size",
        parsed::<usize>,
        "Built-in synthetic data: image side in pixels.",
    ),
    flag(
        "data.val_fraction",
        "val-fraction",
        parsed::<f64>,
        "Fraction of the training images held out for validation when the data has no val split.",
    ),
    flag(
        "data.test_fraction",
        "test-fraction",
        parsed::<f64>,
        "Fraction held out for testing when the data has neither a test nor a val split.",
    ),
    plain(
        "data.size",
        "[width, height] image files are brought to at load time.",
    ),
    plain(
        "data.channels",
        "Channels image files are converted to: 1 (gray) or 3 (RGB).",
    ),
    plain(
        "data.resize",
        "How image files reach data.size: center-crop, stretch or letterbox.",
    ),
    plain(
        "data.max_pixels",
        "Largest image accepted (width x height); larger files are skipped as too large.",
    ),
    plain(
        "data.on_error",
        "Unusable files: skip (listed in skipped.csv) or fail.",
    ),
    flag(
        "label_smoothing",
        "label-smoothing",
        parsed::<f64>,
        "cross_entropy: targets become (1 - e) * one-hot + e / classes (PyTorch's label_smoothing); 0 = off.",
    ),
    switch(
        "tta_flip",
        "tta-flip",
        "Evaluation (validation, test, eval, predict) averages the logits of each image and its horizontal mirror.",
    ),
    flag(
        "model.kind",
        "model",
        parsed::<ModelKind>,
        "cnn (LeNet-style), mlp, resnet-small (32x32 images), resnet18, resnet34, resnet50 or efficientnet-lite0.",
    ),
    flag(
        "model.hidden",
        "hidden",
        parsed::<usize>,
        "Hidden units of the MLP's hidden layer / the CNN's first fully connected layer.",
    ),
    flag(
        "model.dropout",
        "dropout",
        parsed::<f64>,
        "Dropout before the final linear layer of resnet-small and efficientnet-lite0 (training only).",
    ),
    optional(
        flag(
            "model.pretrained",
            "pretrained",
            parsed::<std::path::PathBuf>,
            "Weights to start from: a PyTorch state dict (.pth, .pt) or .safetensors file with the architecture's PyTorch names.",
        ),
        "\"../shared/data/models/efficientnet-lite0-57934424.pth\"",
    ),
    flag(
        "model.freeze",
        "freeze",
        parsed::<Freeze>,
        "none, or backbone: train only the classification head (needs model.pretrained); backbone batch-norm statistics stay fixed too.",
    ),
    flag(
        "optimizer.kind",
        "optimizer",
        parsed::<OptimizerKind>,
        "sgd (momentum, PyTorch semantics), adam or adamw (decoupled weight decay).",
    ),
    optional(
        flag(
            "optimizer.lr",
            "lr",
            parsed::<f64>,
            "Base learning rate. Default: for sgd per model (mlp 0.02, cnn and resnet-small 0.05, resnet18/34/50 and efficientnet-lite0 0.01; with --pretrained the fine-tuning recipe's 0.001), for adam and adamw 0.001.",
        ),
        "0.05",
    ),
    flag(
        "optimizer.momentum",
        "momentum",
        parsed::<f64>,
        "SGD momentum (0 = plain SGD).",
    ),
    flag(
        "optimizer.weight_decay",
        "weight-decay",
        parsed::<f64>,
        "sgd, adam: L2 penalty added to the gradient; adamw: decoupled decay p -= lr * wd * p.",
    ),
    flag(
        "optimizer.decay_biases_and_norms",
        "decay-biases-and-norms",
        parsed::<bool>,
        "false: weight decay only on convolution and linear weights, not on biases and normalization weights.",
    ),
    plain("optimizer.beta1", "Adam / AdamW beta1."),
    plain("optimizer.beta2", "Adam / AdamW beta2."),
    plain("optimizer.eps", "Adam / AdamW epsilon."),
    flag(
        "optimizer.backbone_lr_scale",
        "backbone-lr-scale",
        parsed::<f64>,
        "With model.pretrained and nothing frozen: the backbone learns at lr times this, the new head at lr (with --pretrained given and no --backbone-lr-scale: the fine-tuning recipe's 1).",
    ),
    flag(
        "optimizer.clip_grad_norm",
        "clip-grad-norm",
        parsed::<f64>,
        "Largest global L2 norm of all gradients together (PyTorch clip_grad_norm_); 0 = no clipping.",
    ),
    flag(
        "schedule.kind",
        "schedule",
        parsed::<ScheduleKind>,
        "Learning-rate schedule: constant, step or cosine (per epoch).",
    ),
    flag(
        "schedule.step_size",
        "step-size",
        parsed::<usize>,
        "step: epochs between decays.",
    ),
    flag(
        "schedule.gamma",
        "gamma",
        parsed::<f64>,
        "step: decay factor.",
    ),
    flag(
        "schedule.min_lr",
        "min-lr",
        parsed::<f64>,
        "cosine: final learning rate.",
    ),
    flag(
        "schedule.warmup_epochs",
        "warmup-epochs",
        parsed::<usize>,
        "Epochs of linear warmup (per batch, up to lr) before the schedule, which then runs over the remaining epochs.",
    ),
    plain(
        "augment.mode",
        "default (the data's default pipeline), none, or pipeline with a [augment.spec] (see augtrain augment).",
    ),
];

/// The key at `path`, if there is one.
pub fn key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// The key whose flag is `--long`, if there is one.
pub fn key_of_flag(long: &str) -> Option<&'static Key> {
    KEYS.iter()
        .find(|k| k.flag.is_some_and(|f| f.long() == long))
}
