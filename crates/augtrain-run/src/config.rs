//! The resolved configuration of a training run. It is saved as `config.toml` in the run
//! directory; passing it back (`--resume`, or `--config`) reproduces the run.

mod error;
pub mod keys;

use serde::{Deserialize, Serialize};

pub use error::ConfigError;
use error::ensure;

use augtrain_augment::PipelineSpec;
use augtrain_data::LoadOptions;
use augtrain_data::balance::{Balance, SamplingStrategy};
use augtrain_data::util::names;
use augtrain_quality::metrics::ZeroDivision;

/// Which architecture to train (`--model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ModelKind {
    /// Flatten → Linear(hidden) → ReLU → Linear(classes).
    #[serde(rename = "mlp")]
    Mlp,
    /// conv 5×5 32 → ReLU → max-pool 2 → conv 5×5 64 → ReLU → max-pool 2 → fc 128 → ReLU → fc.
    #[default]
    #[serde(rename = "cnn")]
    Cnn,
    /// A small residual network for small images (32×32): a 3×3 stem and three residual
    /// stages that halve the size and double the width (32, 64, 128), batch norm, global
    /// average pooling, dropout, linear.
    #[serde(rename = "resnet-small")]
    ResnetSmall,
    /// torchvision's ResNet-18 (basic blocks 2-2-2-2).
    #[serde(rename = "resnet18")]
    Resnet18,
    /// torchvision's ResNet-34 (basic blocks 3-4-6-3).
    #[serde(rename = "resnet34")]
    Resnet34,
    /// torchvision's ResNet-50 (bottleneck blocks 3-4-6-3).
    #[serde(rename = "resnet50")]
    Resnet50,
    /// EfficientNet-Lite0 in the EfficientNet-PyTorch layout (no squeeze-excitation, ReLU6,
    /// TensorFlow "SAME" padding).
    #[serde(rename = "efficientnet-lite0")]
    EfficientnetLite0,
}

/// How a model trained on ImageNet expects its input: images loaded at `load_size` (shorter
/// side, centre crop), the network fed `input_size` × `input_size` crops normalized as
/// `(v − mean) / std` per channel, values in [0, 1] units.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagenetInput {
    /// Side of the images as loaded, pixels (256 for a 224 input).
    pub load_size: u32,
    /// Side of the network's input, pixels.
    pub input_size: u32,
    /// Mean per channel (R, G, B), [0, 1] units.
    pub mean: [f32; 3],
    /// Standard deviation per channel (R, G, B), [0, 1] units.
    pub std: [f32; 3],
}

impl ModelKind {
    /// The learning rate a run of this model takes when none is given, for `optimizer`:
    /// for Adam and AdamW PyTorch's default, 0.001; for SGD with momentum 0.9 the rate
    /// measured to train it on the built-in data (BENCHMARKS.md, "Default learning rates"):
    /// the MLP diverges at 0.05 (its loss goes from 24 to 184) and wobbles at 0.03, and
    /// reaches 68-73 % at 0.02 (10 epochs, three seeds); the ImageNet architectures from
    /// scratch start at twice the uniform-guess loss at 0.05 and learn steadily at 0.01.
    pub fn default_lr(&self, optimizer: OptimizerKind) -> f64 {
        match (optimizer, self) {
            (OptimizerKind::Adam | OptimizerKind::Adamw, _) => 0.001,
            (OptimizerKind::Sgd, ModelKind::Cnn | ModelKind::ResnetSmall) => 0.05,
            (OptimizerKind::Sgd, ModelKind::Mlp) => 0.02,
            (OptimizerKind::Sgd, _) => 0.01,
        }
    }

    /// Every architecture, in the order help texts list them.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Mlp,
        ModelKind::Cnn,
        ModelKind::ResnetSmall,
        ModelKind::Resnet18,
        ModelKind::Resnet34,
        ModelKind::Resnet50,
        ModelKind::EfficientnetLite0,
    ];

    /// The input convention of the ImageNet architectures (the published weights' own:
    /// torchvision's ImageNet mean and std for the ResNets, `(x − 127) / 128` on the 0..255
    /// scale for EfficientNet-Lite0); `None` for the architectures made for small images.
    pub fn imagenet_input(&self) -> Option<ImagenetInput> {
        let (mean, std) = match self {
            ModelKind::Mlp | ModelKind::Cnn | ModelKind::ResnetSmall => return None,
            ModelKind::Resnet18 | ModelKind::Resnet34 | ModelKind::Resnet50 => {
                ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
            }
            ModelKind::EfficientnetLite0 => ([127.0 / 255.0; 3], [128.0 / 255.0; 3]),
        };
        Some(ImagenetInput {
            load_size: 256,
            input_size: 224,
            mean,
            std,
        })
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&names::name(self))
    }
}

/// What the user asked for (`--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A real GPU if present, else the CPU.
    #[default]
    Auto,
    /// Any wgpu adapter, software ones included; an error if there is none.
    Gpu,
    /// The CPU (burn Flex).
    Cpu,
}

/// Which weights `--freeze` keeps fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Freeze {
    /// Every weight trains.
    #[default]
    None,
    /// Only the classification head trains; the backbone's weights and batch-norm statistics
    /// stay as loaded (`--pretrained`).
    Backbone,
}

/// The model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The architecture.
    pub kind: ModelKind,
    /// Hidden units of the MLP's hidden layer / the CNN's first fully connected layer.
    pub hidden: usize,
    /// Dropout probability before the final linear layer of resnet-small and
    /// efficientnet-lite0 (the ResNets have none, as torchvision's); active in training only.
    pub dropout: f64,
    /// Weights to start from: a PyTorch state dict (`.pth`, `.pt`) or `.safetensors` file with
    /// the architecture's PyTorch names. A head whose class count differs from the data's is
    /// replaced by a freshly initialized one.
    pub pretrained: Option<std::path::PathBuf>,
    /// `backbone`: train only the classification head (needs `pretrained`); `none`: train all.
    pub freeze: Freeze,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Cnn,
            hidden: 128,
            dropout: 0.2,
            pretrained: None,
            freeze: Freeze::None,
        }
    }
}

/// The fine-tuning recipe a run takes when it starts from pretrained weights given on the
/// command line (`train --pretrained F`) and its flags leave these keys unset
/// ([`TrainConfig::with_pretrained_recipe`]); the rest (SGD with momentum 0.9, cosine schedule,
/// the architecture's transfer augmentation) are the usual defaults. Chosen on hymenoptera with
/// the ImageNet EfficientNet-Lite0 against the PyTorch tutorial's recipe, three seeds each
/// (BENCHMARKS.md, "The default recipe for pretrained weights").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PretrainedRecipe {
    /// Training epochs.
    pub epochs: usize,
    /// Images per training batch.
    pub batch_size: usize,
    /// Base learning rate with SGD (the head's; the backbone's is this times
    /// `backbone_lr_scale`).
    pub sgd_lr: f64,
    /// The backbone's rate over the head's.
    pub backbone_lr_scale: f64,
}

impl PretrainedRecipe {
    /// The recipe `train --pretrained` uses.
    pub const DEFAULT: Self = Self {
        epochs: 6,
        batch_size: 16,
        sgd_lr: 0.001,
        backbone_lr_scale: 1.0,
    };
}

/// Optimizer family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with momentum, PyTorch semantics (dampening 0).
    #[default]
    Sgd,
    /// Adam.
    Adam,
    /// AdamW: Adam with decoupled weight decay (PyTorch `AdamW`).
    Adamw,
}

/// Optimizer settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// `sgd`, `adam` or `adamw`.
    pub kind: OptimizerKind,
    /// Base learning rate; absent = the default for the model and optimizer
    /// ([`TrainConfig::lr`]). A run's saved config always has the rate it used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// SGD momentum (0 = plain SGD).
    pub momentum: f64,
    /// Weight decay: for sgd and adam an L2 penalty added to the gradient (PyTorch's
    /// `weight_decay`); for adamw the decoupled decay `p ← p − lr·wd·p`.
    pub weight_decay: f64,
    /// Whether weight decay also applies to biases and normalization weights (false: only to
    /// convolution and linear weights, the usual fine-tuning recipe).
    pub decay_biases_and_norms: bool,
    /// Adam / AdamW β1.
    pub beta1: f64,
    /// Adam / AdamW β2.
    pub beta2: f64,
    /// Adam / AdamW ε.
    pub eps: f64,
    /// With pretrained weights and nothing frozen: the backbone trains at `lr ×` this, the
    /// new head at `lr`.
    pub backbone_lr_scale: f64,
    /// Largest global L2 norm of the gradients (all parameters together, PyTorch's
    /// `clip_grad_norm_`); 0 = no clipping.
    pub clip_grad_norm: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr: None,
            momentum: 0.9,
            weight_decay: 0.0,
            decay_biases_and_norms: true,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            backbone_lr_scale: 0.1,
            clip_grad_norm: 0.0,
        }
    }
}

/// Learning-rate schedule family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// The base rate throughout.
    #[default]
    #[serde(alias = "none")]
    Constant,
    /// Multiply by `gamma` every `step_size` epochs (PyTorch `StepLR`).
    Step,
    /// Cosine from the base rate down to `min_lr` over the run (PyTorch `CosineAnnealingLR`
    /// with `T_max` = epochs, stepped per epoch).
    Cosine,
}

/// Learning-rate schedule settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// `constant`, `step` or `cosine`.
    pub kind: ScheduleKind,
    /// Epochs between decays (step).
    pub step_size: usize,
    /// Decay factor (step).
    pub gamma: f64,
    /// Final learning rate (cosine).
    pub min_lr: f64,
    /// Epochs of linear warmup before the schedule: the rate rises per batch from
    /// `lr / warmup batches` to `lr`; the schedule then runs over the remaining epochs.
    pub warmup_epochs: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            step_size: 3,
            gamma: 0.1,
            min_lr: 0.0,
            warmup_epochs: 0,
        }
    }
}

/// Loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Cross-entropy on logits (accepts soft targets from mixup / cutmix).
    #[default]
    #[serde(alias = "ce")]
    CrossEntropy,
    /// Mean squared error between softmax outputs and one-hot (or soft) targets.
    Mse,
}

// Flags accept the names above (and their aliases) in any case, with `-` or `_`.
augtrain_data::from_str_via_serde!(
    ModelKind,
    DeviceChoice,
    Freeze,
    OptimizerKind,
    ScheduleKind,
    LossKind
);

/// Augmentation for training batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "mode", deny_unknown_fields)]
pub enum AugmentConfig {
    /// The default pipeline for the data (gray or colour).
    #[default]
    Default,
    /// No augmentation: only the deterministic part of the data's default pipeline
    /// (normalization). For raw [0, 1] input, pass a pipeline with no ops.
    None,
    /// This pipeline.
    Pipeline {
        /// The resolved pipeline spec.
        spec: PipelineSpec,
    },
}

/// Input values (width × height × channels) per evaluation batch on the CPU, at most: 2^21,
/// 8 MiB of f32 input (see [`TrainConfig::eval_batch_size`]).
pub const CPU_EVAL_BATCH_VALUES: usize = 1 << 21;

/// Everything a training run needs, with defaults for `augtrain train` on the built-in data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed of every random choice: data split, weights, epoch order, augmentation.
    pub seed: u64,
    /// `auto`, `gpu` or `cpu`.
    pub device: DeviceChoice,
    /// Training epochs.
    pub epochs: usize,
    /// Images per training batch.
    pub batch_size: usize,
    /// Loss function.
    pub loss: LossKind,
    /// Label smoothing ε of the cross-entropy (targets `(1 − ε)·onehot + ε/classes`).
    pub label_smoothing: f64,
    /// Evaluate on the mean of the logits of each image and its horizontal mirror.
    pub tta_flip: bool,
    /// Zero-division value of the metrics.
    pub zero_division: ZeroDivision,
    /// The data.
    pub data: LoadOptions,
    /// The model.
    pub model: ModelConfig,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Training-batch augmentation.
    pub augment: AugmentConfig,
    /// Class balancing of the training split.
    pub balance: Balance,
    /// imbalanced-learn `sampling_strategy` for `oversample` / `undersample`.
    pub sampling_strategy: SamplingStrategy,
    /// On a GPU, the largest fraction of the device's memory the training images (`u8`) may
    /// take to be uploaded once per run and gathered by index; 0 streams every batch.
    pub resident_fraction: f64,
    /// On a GPU, the bytes the training images may take on the device, overriding
    /// `resident_fraction` of its memory; 0 = automatic (`resident_fraction` of the memory the
    /// platform reports, else 1 GiB).
    pub resident_budget: u64,
    /// Read the training loss and accuracy back every this many batches (progress bar and
    /// non-finite check); 0 = about twice a second, by the host's clock. An epoch's end
    /// always reads.
    pub sync_every: usize,
    /// Data-parallel training on these GPU adapters (numbered as `augtrain devices` lists
    /// them; the first is the main device); empty = one device, as `device` says.
    pub devices: Vec<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            device: DeviceChoice::Auto,
            epochs: 10,
            batch_size: 64,
            loss: LossKind::CrossEntropy,
            label_smoothing: 0.0,
            tta_flip: false,
            zero_division: ZeroDivision::Zero,
            data: LoadOptions::default(),
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            augment: AugmentConfig::Default,
            balance: Balance::None,
            sampling_strategy: SamplingStrategy::default(),
            resident_fraction: 0.25,
            resident_budget: 0,
            sync_every: 0,
            devices: Vec::new(),
        }
    }
}

/// Most epochs a run may ask for.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch (images).
pub const MAX_BATCH: usize = 65_536;
/// Most hidden units (MLP hidden layer, CNN fully connected layer).
pub const MAX_HIDDEN: usize = 65_536;

impl TrainConfig {
    /// Check values that serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.epochs >= 1, "epochs", || {
            "epochs must be at least 1".into()
        })?;
        ensure(self.epochs <= MAX_EPOCHS, "epochs", || {
            format!(
                "epochs {} is more than the limit of {MAX_EPOCHS}",
                self.epochs
            )
        })?;
        ensure(self.batch_size >= 1, "batch_size", || {
            "batch size must be at least 1".into()
        })?;
        ensure(self.batch_size <= MAX_BATCH, "batch_size", || {
            format!(
                "batch size {} is more than the limit of {MAX_BATCH}",
                self.batch_size
            )
        })?;
        let mut devices = self.devices.clone();
        devices.sort_unstable();
        ensure(!devices.windows(2).any(|w| w[0] == w[1]), "devices", || {
            format!(
                "devices {:?} names an adapter twice; give each at most once",
                self.devices
            )
        })?;
        ensure(
            (0.0..=1.0).contains(&self.resident_fraction),
            "resident_fraction",
            || {
                format!(
                    "resident fraction {} must be in [0, 1]",
                    self.resident_fraction
                )
            },
        )?;
        self.validate_data()?;
        ensure(
            (1..=MAX_HIDDEN).contains(&self.model.hidden),
            "model.hidden",
            || {
                format!(
                    "hidden units {} must be within 1..={MAX_HIDDEN}",
                    self.model.hidden
                )
            },
        )?;
        self.validate_optimizer()?;
        self.validate_recipe()?;
        if let AugmentConfig::Pipeline { spec } = &self.augment {
            spec.validate()?;
        }
        Ok(())
    }

    /// Check the data keys: fractions, channels, size, class list.
    fn validate_data(&self) -> Result<(), ConfigError> {
        let data = &self.data;
        ensure(
            (0.0..1.0).contains(&data.test_fraction),
            "data.test_fraction",
            || format!("test fraction {} must be in [0, 1)", data.test_fraction),
        )?;
        ensure(
            (0.0..1.0).contains(&data.val_fraction),
            "data.val_fraction",
            || {
                format!(
                    "validation fraction {} must be in [0, 1)",
                    data.val_fraction
                )
            },
        )?;
        ensure(
            data.channels == 1 || data.channels == 3,
            "data.channels",
            || format!("channels {} must be 1 or 3", data.channels),
        )?;
        let [w, h] = data.size;
        ensure(
            (1..=4096).contains(&w) && (1..=4096).contains(&h),
            "data.size",
            || format!("size {w}x{h} must be within 1..=4096 per side"),
        )?;
        if let Some(classes) = &data.classes {
            augtrain_data::class_list::check_for_training(classes).map_err(|p| {
                ConfigError::Invalid {
                    key: "data.classes",
                    problem: format!("class list {}: {p}", classes.join(",")),
                }
            })?;
        }
        Ok(())
    }

    /// Check the optimizer and schedule keys: learning rate, momentum, weight decay,
    /// learning-rate scale, clipping, step size.
    fn validate_optimizer(&self) -> Result<(), ConfigError> {
        let o = &self.optimizer;
        if let Some(lr) = o.lr {
            ensure(lr > 0.0 && lr.is_finite(), "optimizer.lr", || {
                format!("learning rate {lr} must be > 0")
            })?;
        }
        ensure(
            (0.0..1.0).contains(&o.momentum),
            "optimizer.momentum",
            || format!("momentum {} must be in [0, 1)", o.momentum),
        )?;
        let scale = o.backbone_lr_scale;
        ensure(
            scale > 0.0 && scale <= 1000.0,
            "optimizer.backbone_lr_scale",
            || format!("backbone learning-rate scale {scale} must be in (0, 1000]"),
        )?;
        let clip = o.clip_grad_norm;
        ensure(
            clip >= 0.0 && clip.is_finite(),
            "optimizer.clip_grad_norm",
            || format!("gradient clipping norm {clip} must be >= 0 (0 = off)"),
        )?;
        ensure(
            o.weight_decay >= 0.0 && o.weight_decay.is_finite(),
            "optimizer.weight_decay",
            || format!("weight decay {} must be >= 0", o.weight_decay),
        )?;
        ensure(
            self.schedule.kind != ScheduleKind::Step || self.schedule.step_size > 0,
            "schedule.step_size",
            || "schedule step_size must be at least 1".into(),
        )
    }

    /// Check the model and recipe keys: dropout, label smoothing, warmup, and that freezing
    /// has pretrained weights to keep.
    fn validate_recipe(&self) -> Result<(), ConfigError> {
        ensure(
            (0.0..1.0).contains(&self.model.dropout),
            "model.dropout",
            || format!("dropout {} must be in [0, 1)", self.model.dropout),
        )?;
        ensure(
            (0.0..1.0).contains(&self.label_smoothing),
            "label_smoothing",
            || format!("label smoothing {} must be in [0, 1)", self.label_smoothing),
        )?;
        ensure(
            self.schedule.warmup_epochs <= self.epochs,
            "schedule.warmup_epochs",
            || {
                format!(
                    "warmup of {} epochs is longer than the run's {} epochs",
                    self.schedule.warmup_epochs, self.epochs
                )
            },
        )?;
        ensure(
            !(self.model.freeze == Freeze::Backbone && self.model.pretrained.is_none()),
            "model.freeze",
            || {
                "freezing the backbone needs pretrained weights: add --pretrained FILE (model.pretrained), or drop --freeze".into()
            },
        )
    }

    /// The default config as TOML with a comment above every key ([`keys::KEYS`]): what
    /// `augtrain config --default` prints and `train --config` reads back. Keys absent from
    /// the default (their value is `None`) are shown commented out with an example.
    pub fn commented_default() -> String {
        let mut out = String::from(
            "# augtrain run config. Every key is optional; flags of `augtrain train` override it.\n\
             # Use: augtrain train --config run.toml\n\n",
        );
        let mut section = String::new();
        for line in TrainConfig::default().to_toml().lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                section = name.to_string();
                out.push('\n');
                out.push_str(line);
                out.push('\n');
                for key in keys::KEYS {
                    if let (Some(k), Some(example)) =
                        (key.path.strip_prefix(&format!("{section}.")), key.example)
                    {
                        out.push_str(&format!("# {}\n# {k} = {example}\n", key.doc));
                    }
                }
                continue;
            }
            if let Some((key, _)) = trimmed.split_once(" = ") {
                let full = if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                };
                if let Some(key) = keys::key(&full) {
                    out.push_str(&format!("# {}\n", key.doc));
                }
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a TrainConfig always serializes")
    }

    /// This config with the keys in `values` (dotted paths, as in [`keys::KEYS`]) set to
    /// the values given, as if written in its TOML; not validated (see
    /// [`TrainConfig::validate`]). The values come from [`keys::Flag`]'s parsers.
    pub fn with_overrides<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, toml::Value)>,
    ) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            line: None,
            message,
        };
        let mut root = toml::Table::try_from(self).map_err(|e| syntax(e.to_string()))?;
        for (path, value) in values {
            let (sections, name) = path.rsplit_once('.').unwrap_or(("", path));
            let mut table = &mut root;
            for section in sections.split('.').filter(|s| !s.is_empty()) {
                table = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| syntax(format!("{path}: {section} is not a table")))?;
            }
            table.insert(name.to_string(), value);
        }
        root.try_into().map_err(|e: toml::de::Error| {
            syntax(augtrain_data::util::suggest::with_suggestion(e.message()))
        })
    }

    /// Read a config file. Relative paths in it (`data.path`, `data.split_file`,
    /// `model.pretrained`) are relative to the file's directory, not to the current one.
    pub fn read_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let bytes = augtrain_data::util::fs::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        let mut cfg = Self::from_toml(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(std::path::Path::new(""));
        cfg.data = cfg.data.resolved_against(base);
        if let Some(p) = &cfg.model.pretrained
            && p.is_relative()
        {
            cfg.model.pretrained = Some(base.join(p));
        }
        Ok(cfg)
    }

    /// Parse a config from TOML text (`origin` names the file in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::parse(text).map_err(|e| e.in_file(origin))
    }

    /// Parse and validate a config from TOML text; the error names the line and, for an
    /// unknown key, the closest known one.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            line: augtrain_data::util::suggest::toml_error_line(
                text,
                e.message(),
                e.span().map(|s| s.start),
            ),
            message: augtrain_data::util::suggest::with_suggestion(e.message()),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The first setting that defines what a run is (its model, its data and splits, its
    /// seed) on which `asked` differs from this, the run's saved config: `(flag, run's value,
    /// asked value)`. A resumed run continues the model in its checkpoint on the images of its
    /// recorded splits, so these cannot change; settings of how it goes on (epochs, learning
    /// rate, schedule, batch size, device, augmentation, ...) can, and the run's config then
    /// records them. Paths are compared as the files they name.
    pub fn resume_conflict(&self, asked: &TrainConfig) -> Option<(&'static str, String, String)> {
        fn file(p: &Option<std::path::PathBuf>) -> String {
            p.as_ref()
                .map(|p| {
                    std::fs::canonicalize(p)
                        .unwrap_or_else(|_| p.clone())
                        .display()
                        .to_string()
                })
                .unwrap_or_else(|| "none".into())
        }
        let (a, b) = (self, asked);
        let size = |s: [u32; 2]| format!("{}x{}", s[0], s[1]);
        let classes = |c: &Option<Vec<String>>| {
            c.as_ref()
                .map(|c| c.join(","))
                .unwrap_or_else(|| "all".into())
        };
        let pairs: [(&'static str, String, String); 16] = [
            (
                "--model",
                a.model.kind.to_string(),
                b.model.kind.to_string(),
            ),
            (
                "--hidden",
                a.model.hidden.to_string(),
                b.model.hidden.to_string(),
            ),
            (
                "--dropout",
                a.model.dropout.to_string(),
                b.model.dropout.to_string(),
            ),
            (
                "--pretrained",
                file(&a.model.pretrained),
                file(&b.model.pretrained),
            ),
            (
                "--freeze",
                names::name(&a.model.freeze),
                names::name(&b.model.freeze),
            ),
            ("--size", size(a.data.size), size(b.data.size)),
            (
                "--channels",
                a.data.channels.to_string(),
                b.data.channels.to_string(),
            ),
            (
                "--resize",
                names::name(&a.data.resize),
                names::name(&b.data.resize),
            ),
            (
                "--classes",
                classes(&a.data.classes),
                classes(&b.data.classes),
            ),
            (
                "--split",
                file(&a.data.split_file),
                file(&b.data.split_file),
            ),
            (
                "--val-fraction",
                a.data.val_fraction.to_string(),
                b.data.val_fraction.to_string(),
            ),
            (
                "--test-fraction",
                a.data.test_fraction.to_string(),
                b.data.test_fraction.to_string(),
            ),
            (
                "--synthetic-train",
                a.data.synthetic_train.to_string(),
                b.data.synthetic_train.to_string(),
            ),
            (
                "--synthetic-test",
                a.data.synthetic_test.to_string(),
                b.data.synthetic_test.to_string(),
            ),
            (
                "--synthetic-size",
                a.data.synthetic_size.to_string(),
                b.data.synthetic_size.to_string(),
            ),
            ("--seed", a.seed.to_string(), b.seed.to_string()),
        ];
        pairs.into_iter().find(|(_, run, now)| run != now)
    }

    /// This config with the fine-tuning recipe of pretrained weights ([`PretrainedRecipe`]) in
    /// each of its keys for which `given(key)` is false (keys as `augtrain config` names them).
    /// The recipe's rate applies to SGD only; Adam and AdamW keep their default rate.
    pub fn with_pretrained_recipe(mut self, given: impl Fn(&str) -> bool) -> Self {
        let r = PretrainedRecipe::DEFAULT;
        if !given("epochs") {
            self.epochs = r.epochs;
        }
        if !given("batch_size") {
            self.batch_size = r.batch_size;
        }
        if !given("optimizer.lr") && self.optimizer.kind == OptimizerKind::Sgd {
            self.optimizer.lr = Some(r.sgd_lr);
        }
        if !given("optimizer.backbone_lr_scale") {
            self.optimizer.backbone_lr_scale = r.backbone_lr_scale;
        }
        self
    }

    /// The base learning rate: the configured one, or the model's default for the optimizer
    /// ([`ModelKind::default_lr`]).
    pub fn lr(&self) -> f64 {
        self.optimizer
            .lr
            .unwrap_or_else(|| self.model.kind.default_lr(self.optimizer.kind))
    }

    /// Images per evaluation batch for a model input of `input_values` values (width × height
    /// × channels): the training batch size, at least 256 (evaluation keeps no gradients); on
    /// the CPU (`cpu`) at most as many as hold [`CPU_EVAL_BATCH_VALUES`] input values (13 at
    /// 224×224×3; small images keep 256), because there a batch whose activations outgrow the
    /// caches is slower per image, not faster: `embed` of 153 photos with EfficientNet-Lite0
    /// took 2.3–2.5 s at batch 4–8, 2.7 s at 32 and 3.5–3.6 s at 160 (BENCHMARKS.md).
    pub fn eval_batch_size(&self, input_values: usize, cpu: bool) -> usize {
        let batch = self.batch_size.max(256);
        if cpu {
            batch
                .min(CPU_EVAL_BATCH_VALUES / input_values.max(1))
                .max(1)
        } else {
            batch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_may_change_how_a_run_goes_on_but_not_what_it_is() {
        let run = TrainConfig::default();
        let mut asked = run.clone();
        asked.epochs = 20;
        asked.optimizer.lr = Some(0.01);
        asked.batch_size = 16;
        assert_eq!(run.resume_conflict(&asked), None);
        asked.data.size = [256, 256];
        assert_eq!(
            run.resume_conflict(&asked),
            Some(("--size", "64x64".into(), "256x256".into()))
        );
        let mut asked = run.clone();
        asked.model.pretrained = Some("weights.pth".into());
        assert_eq!(run.resume_conflict(&asked).unwrap().0, "--pretrained");
    }

    /// Every value each flag accepted before the names moved to serde, in several cases and
    /// with either separator, still parses to the same variant.
    #[test]
    fn every_spelling_of_every_run_enum_parses() {
        for (s, want) in [
            ("mlp", ModelKind::Mlp),
            ("MLP", ModelKind::Mlp),
            ("cnn", ModelKind::Cnn),
            ("Cnn", ModelKind::Cnn),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        for (s, want) in [
            ("auto", DeviceChoice::Auto),
            ("GPU", DeviceChoice::Gpu),
            ("gpu", DeviceChoice::Gpu),
            ("Cpu", DeviceChoice::Cpu),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        for (s, want) in [
            ("sgd", OptimizerKind::Sgd),
            ("SGD", OptimizerKind::Sgd),
            ("adam", OptimizerKind::Adam),
            ("Adam", OptimizerKind::Adam),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        for (s, want) in [
            ("constant", ScheduleKind::Constant),
            ("none", ScheduleKind::Constant),
            ("None", ScheduleKind::Constant),
            ("step", ScheduleKind::Step),
            ("COSINE", ScheduleKind::Cosine),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        for (s, want) in [
            ("cross_entropy", LossKind::CrossEntropy),
            ("cross-entropy", LossKind::CrossEntropy),
            ("Cross-Entropy", LossKind::CrossEntropy),
            ("ce", LossKind::CrossEntropy),
            ("CE", LossKind::CrossEntropy),
            ("mse", LossKind::Mse),
            ("MSE", LossKind::Mse),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        // Config files keep their canonical names.
        assert_eq!(names::name(&LossKind::CrossEntropy), "cross_entropy");
        assert_eq!(names::name(&ScheduleKind::Constant), "constant");
        assert_eq!(ModelKind::Cnn.to_string(), "cnn");
    }

    #[test]
    fn a_bad_run_enum_value_lists_the_valid_ones() {
        let e = "rnn".parse::<ModelKind>().unwrap_err();
        assert!(e.contains("`mlp`") && e.contains("`cnn`"), "{e}");
        let e = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(
            ["`auto`", "`gpu`", "`cpu`"].iter().all(|v| e.contains(v)),
            "{e}"
        );
        let e = "adamx".parse::<OptimizerKind>().unwrap_err();
        assert!(
            e.contains("`sgd`")
                && e.contains("`adam`")
                && e.contains("`adamw`")
                && e.contains("did you mean"),
            "{e}"
        );
        let e = "linear".parse::<ScheduleKind>().unwrap_err();
        assert!(
            ["`constant`", "`none`", "`step`", "`cosine`"]
                .iter()
                .all(|v| e.contains(v)),
            "{e}"
        );
        let e = "hinge".parse::<LossKind>().unwrap_err();
        assert!(
            ["`cross_entropy`", "`ce`", "`mse`"]
                .iter()
                .all(|v| e.contains(v)),
            "{e}"
        );
    }

    #[test]
    fn the_cpu_evaluates_large_inputs_in_small_batches_and_small_ones_in_large_batches() {
        let cfg = |batch_size| TrainConfig {
            batch_size,
            ..TrainConfig::default()
        };
        // 28×28 gray and 32×32 colour: the training batch, at least 256, on either device.
        assert_eq!(cfg(64).eval_batch_size(28 * 28, true), 256);
        assert_eq!(cfg(512).eval_batch_size(32 * 32 * 3, true), 512);
        // 224×224×3 on the CPU: 13 images, whatever the training batch; on a GPU, 256.
        assert_eq!(cfg(16).eval_batch_size(224 * 224 * 3, true), 13);
        assert_eq!(cfg(64).eval_batch_size(224 * 224 * 3, true), 13);
        assert_eq!(cfg(16).eval_batch_size(224 * 224 * 3, false), 256);
        // Never below one image.
        assert_eq!(cfg(16).eval_batch_size(4096 * 4096 * 3, true), 1);
    }

    #[test]
    fn round_trips_through_toml() {
        let c = TrainConfig {
            augment: AugmentConfig::Pipeline {
                spec: PipelineSpec::default_colour(32, 32),
            },
            data: LoadOptions {
                path: Some("some/dir".into()),
                ..LoadOptions::default()
            },
            ..TrainConfig::default()
        };
        let text = c.to_toml();
        assert_eq!(TrainConfig::from_toml(&text, "x").unwrap(), c);
        let d = TrainConfig::default();
        assert_eq!(TrainConfig::from_toml(&d.to_toml(), "x").unwrap(), d);
    }

    #[test]
    fn recipe_values_are_checked() {
        let bad = |f: fn(&mut TrainConfig)| {
            let mut c = TrainConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.label_smoothing = 1.0).contains("label smoothing"));
        assert!(bad(|c| c.model.dropout = 1.0).contains("dropout"));
        assert!(bad(|c| c.optimizer.clip_grad_norm = -1.0).contains("clipping"));
        assert!(bad(|c| c.optimizer.backbone_lr_scale = 0.0).contains("scale"));
        assert!(bad(|c| c.schedule.warmup_epochs = 11).contains("warmup"));
        let e = bad(|c| c.model.freeze = Freeze::Backbone);
        assert!(e.contains("--pretrained"), "{e}");
        let mut ok = TrainConfig::default();
        ok.model.freeze = Freeze::Backbone;
        ok.model.pretrained = Some("w.pth".into());
        ok.validate().unwrap();
    }

    #[test]
    fn model_names_parse_and_print_alike() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.to_string().parse::<ModelKind>().unwrap(), kind);
            let toml = format!("[model]\nkind = \"{kind}\"\n");
            assert_eq!(TrainConfig::from_toml(&toml, "t").unwrap().model.kind, kind);
        }
        assert_eq!(
            "EfficientNet_Lite0".parse::<ModelKind>().unwrap(),
            ModelKind::EfficientnetLite0
        );
        let e = "resnet19".parse::<ModelKind>().unwrap_err();
        assert!(
            e.contains("resnet18") && e.contains("efficientnet-lite0"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_nearest_key() {
        let e = TrainConfig::from_toml("epochz = 3\n", "run.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("epochz") && e.contains("did you mean `epochs`?"),
            "{e}"
        );
        let e = TrainConfig::from_toml("[optimizer]\nmomentun = 0.5\n", "run.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("did you mean `momentum`?") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn commented_default_documents_every_key_and_parses_back() {
        let text = TrainConfig::commented_default();
        assert_eq!(
            TrainConfig::from_toml(&text, "default").unwrap(),
            TrainConfig::default()
        );
        let mut section = String::new();
        for line in TrainConfig::default().to_toml().lines() {
            let t = line.trim();
            if let Some(name) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                section = name.to_string();
            } else if let Some((key, _)) = t.split_once(" = ") {
                let full = if section.is_empty() {
                    key.to_string()
                } else {
                    format!("{section}.{key}")
                };
                assert!(keys::key(&full).is_some(), "no comment for {full}");
            }
        }
        // The commented-out optional keys parse when uncommented.
        let uncommented: String = text
            .lines()
            .map(|l| {
                if l.starts_with("# path =")
                    || l.starts_with("# split_file =")
                    || l.starts_with("# classes =")
                {
                    &l[2..]
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = TrainConfig::from_toml(&uncommented, "uncommented").unwrap();
        assert!(cfg.data.path.is_some() && cfg.data.classes.is_some());
    }

    #[test]
    fn every_declared_key_is_a_key_of_the_config_and_flags_are_unique() {
        let mut all = TrainConfig::default();
        all.optimizer.lr = Some(0.1);
        all.model.pretrained = Some("w.pth".into());
        all.data.path = Some("d".into());
        all.data.split_file = Some("s.csv".into());
        all.data.classes = Some(vec!["a".into(), "b".into()]);
        let table = toml::Table::try_from(&all).unwrap();
        let mut longs = std::collections::BTreeSet::new();
        for key in keys::KEYS {
            let mut at = &toml::Value::Table(table.clone());
            for part in key.path.split('.') {
                at = at
                    .get(part)
                    .unwrap_or_else(|| panic!("{} is not in the config", key.path));
            }
            assert_eq!(
                key.example.is_some(),
                keys::key(key.path).is_some_and(|k| k.example.is_some())
            );
            if let Some(flag) = key.flag {
                assert!(longs.insert(flag.long()), "--{} twice", flag.long());
                assert_eq!(keys::key_of_flag(flag.long()).unwrap().path, key.path);
            }
        }
    }

    #[test]
    fn overrides_set_the_keys_they_name_and_bad_values_name_the_key() {
        let parse = |long: &str, text: &str| match keys::key_of_flag(long).unwrap().flag {
            Some(keys::Flag::Value { parse, .. }) => parse(text),
            _ => panic!("--{long} takes no value"),
        };
        let c = TrainConfig::default()
            .with_overrides([
                ("model.kind", parse("model", "MLP").unwrap()),
                ("optimizer.lr", parse("lr", "0.002").unwrap()),
                ("optimizer.momentum", parse("momentum", "0.5").unwrap()),
                ("tta_flip", toml::Value::Boolean(true)),
                ("zero_division", parse("zero-division", "nan").unwrap()),
                (
                    "sampling_strategy",
                    parse("sampling-strategy", "a=3,b=4").unwrap(),
                ),
            ])
            .unwrap();
        assert_eq!(c.model.kind, ModelKind::Mlp);
        assert_eq!(c.optimizer.lr, Some(0.002));
        assert_eq!(c.optimizer.momentum, 0.5);
        assert!(c.tta_flip);
        assert_eq!(c.zero_division, ZeroDivision::Nan);
        assert_eq!(
            c.sampling_strategy,
            SamplingStrategy::Counts([("a".into(), 3), ("b".into(), 4)].into())
        );
        let unchanged = TrainConfig {
            model: c.model.clone(),
            optimizer: c.optimizer.clone(),
            tta_flip: true,
            zero_division: ZeroDivision::Nan,
            sampling_strategy: c.sampling_strategy.clone(),
            ..TrainConfig::default()
        };
        assert_eq!(c, unchanged);
        assert!(parse("model", "rnn").unwrap_err().contains("`mlp`"));
        assert!(parse("epochs", "-1").is_err());
        assert!(parse("zero-division", "2").unwrap_err().contains("nan"));
        let e = TrainConfig::default()
            .with_overrides([("optimizer.momentum", parse("momentum", "1.5").unwrap())])
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.key(), Some("optimizer.momentum"));
        assert!(e.to_string().contains("momentum 1.5"), "{e}");
        let e = TrainConfig::from_toml("[model]\ndropout = 2.0\n", "run.toml").unwrap_err();
        assert_eq!(e.key(), Some("model.dropout"));
        assert!(e.to_string().starts_with("run.toml: dropout 2"), "{e}");
    }
}
