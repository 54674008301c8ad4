//! The resolved configuration of a training run. It is saved as `config.toml` in the run
//! directory; passing it back (`--resume`, or `--config`) reproduces the run.

use serde::{Deserialize, Serialize};

use augtrain_augment::PipelineSpec;
use augtrain_data::LoadOptions;
use augtrain_data::balance::{Balance, SamplingStrategy};
use augtrain_data::util::names;
use augtrain_quality::metrics::ZeroDivision;

/// Which architecture to train (`--model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Flatten → Linear(hidden) → ReLU → Linear(classes).
    Mlp,
    /// conv 5×5 32 → ReLU → max-pool 2 → conv 5×5 64 → ReLU → max-pool 2 → fc 128 → ReLU → fc.
    #[default]
    Cnn,
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

/// The model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `mlp` or `cnn`.
    pub kind: ModelKind,
    /// Hidden units of the MLP's hidden layer / the CNN's first fully connected layer.
    pub hidden: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Cnn,
            hidden: 128,
        }
    }
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
}

/// Optimizer settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// `sgd` or `adam`.
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// SGD momentum (0 = plain SGD).
    pub momentum: f64,
    /// L2 penalty added to the gradient (PyTorch's `weight_decay`).
    pub weight_decay: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
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
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            step_size: 3,
            gamma: 0.1,
            min_lr: 0.0,
        }
    }
}

impl ScheduleConfig {
    /// The learning rate of `epoch` (0-based) out of `epochs`, from base rate `lr`.
    pub fn lr_at(&self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match self.kind {
            ScheduleKind::Constant => lr,
            ScheduleKind::Step => lr * self.gamma.powi((epoch / self.step_size.max(1)) as i32),
            ScheduleKind::Cosine => {
                let t = epoch as f64 / epochs.max(1) as f64;
                self.min_lr + (lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
            }
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

/// One comment per key of the serialized default config (checked by a test).
const KEY_DOCS: &[(&str, &str)] = &[
    (
        "seed",
        "Seed of every random choice: data split, weight init, epoch order, augmentation.",
    ),
    (
        "device",
        "auto (a real GPU if present, else the CPU), gpu (software adapters too) or cpu.",
    ),
    ("epochs", "Training epochs."),
    ("batch_size", "Images per training batch."),
    (
        "loss",
        "cross_entropy (accepts mixup/cutmix soft targets) or mse (softmax vs one-hot).",
    ),
    (
        "zero_division",
        "Metric value of an undefined ratio: zero, one or nan (nan is left out of averages).",
    ),
    (
        "balance",
        "Class balancing of the training split: none, weights, oversample, undersample or sampler.",
    ),
    (
        "sampling_strategy",
        "imbalanced-learn sampling_strategy: auto, minority, majority, not minority, not majority, all, or a table { class = count }.",
    ),
    (
        "data.synthetic_train",
        "Built-in synthetic data (used when data.path is absent): training images.",
    ),
    (
        "data.synthetic_test",
        "Built-in synthetic data: test images.",
    ),
    (
        "data.synthetic_size",
        "Built-in synthetic data: image side in pixels.",
    ),
    (
        "data.val_fraction",
        "Fraction of the training images held out for validation when the data has no val split.",
    ),
    (
        "data.test_fraction",
        "Fraction held out for testing when the data has neither a test nor a val split.",
    ),
    (
        "data.size",
        "[width, height] image files are brought to at load time.",
    ),
    (
        "data.channels",
        "Channels image files are converted to: 1 (gray) or 3 (RGB).",
    ),
    (
        "data.resize",
        "How image files reach data.size: center-crop, stretch or letterbox.",
    ),
    (
        "data.max_pixels",
        "Largest image accepted (width x height); larger files are skipped as too large.",
    ),
    (
        "data.on_error",
        "Unusable files: skip (listed in skipped.csv) or fail.",
    ),
    ("model.kind", "cnn (LeNet-style) or mlp."),
    (
        "model.hidden",
        "Hidden units of the MLP's hidden layer / the CNN's first fully connected layer.",
    ),
    (
        "optimizer.kind",
        "sgd (momentum, PyTorch semantics) or adam.",
    ),
    ("optimizer.lr", "Base learning rate."),
    ("optimizer.momentum", "SGD momentum (0 = plain SGD)."),
    (
        "optimizer.weight_decay",
        "L2 penalty added to the gradient.",
    ),
    ("optimizer.beta1", "Adam beta1."),
    ("optimizer.beta2", "Adam beta2."),
    ("optimizer.eps", "Adam epsilon."),
    (
        "schedule.kind",
        "Learning-rate schedule: constant, step or cosine (per epoch).",
    ),
    ("schedule.step_size", "step: epochs between decays."),
    ("schedule.gamma", "step: decay factor."),
    ("schedule.min_lr", "cosine: final learning rate."),
    (
        "augment.mode",
        "default (the data's default pipeline), none, or pipeline with a [augment.spec] (see augtrain augment).",
    ),
];

/// Keys absent from the default config, shown commented out: (key, comment, example value).
const OPTIONAL_KEYS: &[(&str, &str, &str)] = &[
    (
        "data.path",
        "A dataset: IDX or CIFAR directory, image folder, CSV manifest or pack.",
        "\"../shared/data/mnist-10k\"",
    ),
    (
        "data.split_file",
        "A split file from `augtrain split`, overriding the data's own splits.",
        "\"data.split.csv\"",
    ),
    (
        "data.classes",
        "The class list; image files labelled otherwise are skipped as unknown.",
        "[\"ants\", \"bees\"]",
    ),
];

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
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            device: DeviceChoice::Auto,
            epochs: 10,
            batch_size: 64,
            loss: LossKind::CrossEntropy,
            zero_division: ZeroDivision::Zero,
            data: LoadOptions::default(),
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            augment: AugmentConfig::Default,
            balance: Balance::None,
            sampling_strategy: SamplingStrategy::default(),
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
    /// Check values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return Err(format!("learning rate {} must be > 0", self.optimizer.lr));
        }
        if !(0.0..1.0).contains(&self.optimizer.momentum) {
            return Err(format!(
                "momentum {} must be in [0, 1)",
                self.optimizer.momentum
            ));
        }
        if !(0.0..1.0).contains(&self.data.test_fraction) {
            return Err(format!(
                "test fraction {} must be in [0, 1)",
                self.data.test_fraction
            ));
        }
        if !(self.data.channels == 1 || self.data.channels == 3) {
            return Err(format!("channels {} must be 1 or 3", self.data.channels));
        }
        if self.data.size[0] == 0
            || self.data.size[1] == 0
            || self.data.size[0] > 4096
            || self.data.size[1] > 4096
        {
            return Err(format!(
                "size {}x{} must be within 1..=4096 per side",
                self.data.size[0], self.data.size[1]
            ));
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) {
            return Err(format!(
                "validation fraction {} must be in [0, 1)",
                self.data.val_fraction
            ));
        }
        if self.epochs > MAX_EPOCHS {
            return Err(format!(
                "epochs {} is more than the limit of {MAX_EPOCHS}",
                self.epochs
            ));
        }
        if self.batch_size > MAX_BATCH {
            return Err(format!(
                "batch size {} is more than the limit of {MAX_BATCH}",
                self.batch_size
            ));
        }
        if !(1..=MAX_HIDDEN).contains(&self.model.hidden) {
            return Err(format!(
                "hidden units {} must be within 1..={MAX_HIDDEN}",
                self.model.hidden
            ));
        }
        if self.schedule.kind == ScheduleKind::Step && self.schedule.step_size == 0 {
            return Err("schedule step_size must be at least 1".into());
        }
        if let AugmentConfig::Pipeline { spec } = &self.augment {
            spec.validate()?;
        }
        Ok(())
    }

    /// The default config as TOML with a comment above every key: what `augtrain config
    /// --default` prints and `train --config` reads back.
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
                for (key, comment, example) in OPTIONAL_KEYS {
                    if let Some(k) = key.strip_prefix(&format!("{section}.")) {
                        out.push_str(&format!("# {comment}\n# {k} = {example}\n"));
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
                if let Some((_, comment)) = KEY_DOCS.iter().find(|(k, _)| *k == full) {
                    out.push_str(&format!("# {comment}\n"));
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

    /// Read a config file. Relative paths in it (`data.path`, `data.split_file`) are relative
    /// to the file's directory, not to the current one.
    pub fn read_file(path: &std::path::Path) -> Result<Self, String> {
        let bytes = augtrain_data::util::fs::read(path).map_err(|e| e.to_string())?;
        let text =
            String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
        let mut cfg = Self::from_toml(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(std::path::Path::new(""));
        cfg.data = cfg.data.resolved_against(base);
        Ok(cfg)
    }

    /// Parse a config from TOML text (`origin` names the file in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|problem| format!("{origin}: {problem}"))
    }

    /// Parse and validate a config from TOML text; the error names the line and, for an
    /// unknown key, the closest known one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| {
            let message = augtrain_data::util::suggest::with_suggestion(e.message());
            match augtrain_data::util::suggest::toml_error_line(
                text,
                e.message(),
                e.span().map(|s| s.start),
            ) {
                Some(l) => format!("line {l}: {message}"),
                None => message,
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Images per evaluation batch: the training batch size, at least 256 (evaluation keeps no
    /// gradients, so larger batches are cheap).
    pub fn eval_batch_size(&self) -> usize {
        self.batch_size.max(256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = "adamw".parse::<OptimizerKind>().unwrap_err();
        assert!(
            e.contains("`sgd`") && e.contains("`adam`") && e.ends_with("did you mean `adam`?"),
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
    fn schedules() {
        let s = ScheduleConfig {
            kind: ScheduleKind::Step,
            step_size: 2,
            gamma: 0.5,
            min_lr: 0.0,
        };
        assert_eq!(s.lr_at(1.0, 0, 10), 1.0);
        assert_eq!(s.lr_at(1.0, 2, 10), 0.5);
        assert_eq!(s.lr_at(1.0, 5, 10), 0.25);
        let c = ScheduleConfig {
            kind: ScheduleKind::Cosine,
            min_lr: 0.1,
            ..s
        };
        assert!((c.lr_at(1.0, 0, 4) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(1.0, 2, 4) - 0.55).abs() < 1e-12);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_nearest_key() {
        let e = TrainConfig::from_toml("epochz = 3\n", "run.toml").unwrap_err();
        assert!(
            e.contains("epochz") && e.contains("did you mean `epochs`?"),
            "{e}"
        );
        let e = TrainConfig::from_toml("[optimizer]\nmomentun = 0.5\n", "run.toml").unwrap_err();
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
                assert!(
                    KEY_DOCS.iter().any(|(k, _)| *k == full),
                    "no comment for {full}"
                );
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
}
