//! The [`Trainer`]: one owner for a model being trained, its optimizer, its augmenters, its
//! schedule and its (balanced) training set. `train`, `cv` and `label-issues` drive it.

use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::device_metrics::ReadSchedule;
use super::epoch::{EpochContext, EpochStats, train_epoch};
use super::evaluate::{Evaluation, evaluate};
use super::optim::EpochLr;
use super::parallel::Replica;
use super::progress::ImageProgress;
use super::progress::Reporter;
use super::{TrainError, optim, weights};
use crate::augment::gpu::{GpuAugment, ResidentImages};
use crate::augment::spec::OpSpec;
use crate::augment::{Augmenter, Engine, PipelineSpec};
use crate::data::{Dataset, ImageShape, balance};
use crate::device::ComputeDevice;
use crate::metrics::ClassificationReport;
use crate::model::Model;
use crate::model::pretrained::{HeadPolicy, LoadReport, WeightsFile};
use augtrain_run::checkpoint::Checkpoint;
use augtrain_run::config::{AugmentConfig, Freeze, ImagenetInput, LossKind, TrainConfig};
use augtrain_run::records::{EpochRecord, ModelCard, Normalization, Progress};
use augtrain_run::run_dir::RunDir;

/// The transfer-learning pipeline of an ImageNet architecture for images loaded at `shape`:
/// random resized crops (centre crop for evaluation) of `shape × input/load` (224 for 256),
/// horizontal flips, the architecture's normalization (averaged over RGB for gray images).
pub fn imagenet_pipeline(input: &ImagenetInput, shape: ImageShape) -> PipelineSpec {
    let side = |s: usize| {
        let (load, input) = (input.load_size as u64, input.input_size as u64);
        ((s as u64 * input + load / 2) / load).max(1) as u32
    };
    let (mean, std) = if shape.channels == 1 {
        (
            vec![input.mean.iter().sum::<f32>() / 3.0],
            vec![input.std.iter().sum::<f32>() / 3.0],
        )
    } else {
        (input.mean.to_vec(), input.std.to_vec())
    };
    PipelineSpec::imagenet(side(shape.width), side(shape.height), mean, std)
}

/// The pipeline the config asks for, resolved for this data: the default pipeline is the
/// data's (gray or colour), or for the ImageNet architectures their transfer-learning one.
pub fn resolve_pipeline(cfg: &TrainConfig, data: &Dataset) -> PipelineSpec {
    let shape = data.shape;
    let default = || match cfg.model.kind.imagenet_input() {
        Some(input) => imagenet_pipeline(&input, shape),
        None => PipelineSpec::default_for(shape.channels, shape.width as u32, shape.height as u32),
    };
    match &cfg.augment {
        AugmentConfig::Default => default(),
        // No random ops, but the data's usual deterministic part (normalization), so that runs
        // with and without augmentation differ only in the augmentation.
        AugmentConfig::None => default().eval_version(),
        AugmentConfig::Pipeline { spec } => spec.clone(),
    }
}

/// Training and evaluation augmenters for `spec` on `device`, for images shaped like `data`'s.
pub fn augmenters(
    spec: &PipelineSpec,
    data: &Dataset,
    seed: u64,
    device: &ComputeDevice,
) -> Result<(Augmenter, Augmenter), TrainError> {
    let engine = if device.is_gpu() {
        Engine::Gpu(Box::new(GpuAugment::new(&device.device)?))
    } else {
        Engine::Cpu
    };
    let train = Augmenter::new(spec, data.shape, seed, engine.clone())?;
    let eval = Augmenter::new(&spec.eval_version(), data.shape, seed, engine)?;
    if train.output_shape() != eval.output_shape() {
        return Err(TrainError::Config(format!(
            "the pipeline's training output {} and its deterministic (evaluation) output {} differ in shape; end random crops with a fixed output size",
            train.output_shape(),
            eval.output_shape()
        )));
    }
    Ok((train, eval))
}

/// A model shaped for the augmented images of `aug`, freshly initialized from the config's
/// seed on `device` (the weights drawn here, not lazily).
pub fn build_model(
    cfg: &TrainConfig,
    aug: &Augmenter,
    classes: usize,
    device: &Device,
) -> Result<Model, TrainError> {
    device.seed(cfg.seed);
    let model = Model::from_config(&cfg.model, aug.output_shape(), classes, device)
        .map_err(TrainError::Config)?;
    // Draw the initial weights now, from the seed, not at their first use (after other draws,
    // and on a replica's device when the first use is a fork).
    super::parallel::materialize(&model);
    Ok(model)
}

/// `model` with its backbone frozen when the config says so.
pub(crate) fn freeze(cfg: &TrainConfig, model: Model) -> Model {
    match cfg.model.freeze {
        Freeze::Backbone => model.freeze_backbone(),
        Freeze::None => model,
    }
}

/// The resident budget on a GPU whose memory is unknown (wgpu states no capacity, and an
/// OpenGL adapter reports no heap): 1 GiB, unless `--resident-budget` says otherwise.
pub const UNKNOWN_MEMORY_BUDGET: u64 = 1 << 30;

/// The bytes the training images may take on the GPU, and where the figure comes from:
/// `--resident-budget` when given, else `--resident-fraction` of the device's memory where
/// the platform reports it (cubecl, or the adapter's largest device-local Vulkan heap), else
/// [`UNKNOWN_MEMORY_BUDGET`].
pub fn resident_budget(cfg: &TrainConfig, memory: Option<u64>) -> (u64, String) {
    if cfg.resident_budget > 0 {
        return (cfg.resident_budget, "--resident-budget".into());
    }
    match memory {
        Some(m) => (
            (m as f64 * cfg.resident_fraction) as u64,
            format!(
                "--resident-fraction {} of the device's {} MiB",
                cfg.resident_fraction,
                m >> 20
            ),
        ),
        None => (
            UNKNOWN_MEMORY_BUDGET,
            "the device does not report its memory, so the default of 1 GiB; set --resident-budget BYTES".into(),
        ),
    }
}

/// The training images uploaded to stay on the GPU (in buffers of under 2 GiB each) when the
/// augmenter runs there and they fit [`resident_budget`]; else `None` and, unless streaming
/// was asked for (`--resident-fraction 0`), the one line saying why the set is streamed.
pub fn resident_images(
    cfg: &TrainConfig,
    aug: &Augmenter,
    data: &Dataset,
    adapter_memory: Option<u64>,
) -> Result<(Option<ResidentImages>, Option<String>), TrainError> {
    if !aug.on_gpu() || cfg.resident_fraction <= 0.0 || data.is_empty() {
        return Ok((None, None));
    }
    let (budget, whence) = resident_budget(cfg, aug.device_memory_bytes().or(adapter_memory));
    let total: u64 = (0..data.len()).map(|i| data.image(i).len() as u64).sum();
    let streamed = |why: String| {
        Ok((
            None,
            Some(format!(
                "streaming: the {} training images ({} MiB) are uploaded per batch: {why}",
                data.len(),
                total >> 20
            )),
        ))
    };
    if total > budget {
        return streamed(format!(
            "they exceed the resident budget of {} MiB ({whence})",
            budget >> 20
        ));
    }
    let images: Vec<&[u8]> = (0..data.len()).map(|i| data.image(i)).collect();
    match aug.make_resident(&images) {
        Ok(resident) => Ok((resident, None)),
        Err(e) => streamed(format!("the device refused them ({e})")),
    }
}

/// The replicas of a data-parallel run: every device of `cfg.devices` after the first (the main
/// device, which the trainer is given), each with its own augmenter and resident images.
fn replicas(
    cfg: &TrainConfig,
    spec: &PipelineSpec,
    train: &Dataset,
) -> Result<Vec<Replica>, TrainError> {
    let others = cfg.devices.get(1..).unwrap_or_default();
    if others.is_empty() {
        return Ok(Vec::new());
    }
    crate::device::open_many(others)?
        .into_iter()
        .map(|device| {
            let (aug, _) = augmenters(spec, train, cfg.seed, &device)?;
            let memory = device.adapter.as_ref().and_then(|a| a.memory);
            let (resident, streaming) = resident_images(cfg, &aug, train, memory)?;
            Ok(Replica {
                streaming,
                device: device.device.clone().autodiff(),
                aug,
                resident,
            })
        })
        .collect()
}

/// How many times the loss of a uniform guess (`ln(classes)`) a whole epoch's mean training
/// cross-entropy may reach before training is stopped as diverged.
/// The MLP at 0.05 on the built-in data: 5.0, 74.7, 251 in its first epochs (2.2, 32, 109
/// times ln 10); ResNet-50 from scratch at its default 0.01 starts noisily at 5.3 and 5.9 (2.6
/// times) and must not be stopped.
pub const DIVERGENCE_FACTOR: f64 = 5.0;

/// A model being trained: weights, optimizer state, augmenters, schedule and training set.
pub struct Trainer {
    cfg: TrainConfig,
    /// The weights being trained. An epoch takes the trainer by value (the optimizer consumes
    /// and returns the model) and hands it back with the model whether the epoch failed or not.
    model: Model,
    optimizer: ModuleOptimizer,
    train_aug: Augmenter,
    eval_aug: Augmenter,
    train_set: Dataset,
    class_weights: Option<Vec<f32>>,
    device: ComputeDevice,
    autodiff: Device,
    pretrained: Option<LoadReport>,
    /// The training set's images on the GPU, when they fit the config's share of its memory.
    resident: Option<ResidentImages>,
    /// Why the training set is streamed per batch on a GPU (the main device's), when it fell
    /// back to streaming.
    streaming: Option<String>,
    /// The other devices of a data-parallel run (`cfg.devices` after the first).
    replicas: Vec<Replica>,
    /// The mean training loss of the first epoch this trainer ran: where the run started, the
    /// reference of the divergence check ([`DIVERGENCE_FACTOR`]).
    first_epoch_loss: Option<f64>,
}

impl Trainer {
    /// A fresh trainer for `cfg` on the training split `train`: the config is validated, the
    /// pipeline resolved for the data, the model initialized from the seed and, with
    /// `model.pretrained`, loaded from the weights file (a file that does not fit is an error
    /// here, before anything is written), the backbone frozen as `model.freeze` says, the
    /// training split balanced as the config asks.
    pub fn new(
        cfg: &TrainConfig,
        train: &Dataset,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        Self::build(cfg, train, device, true)
    }

    /// A trainer about to continue from a checkpoint ([`Trainer::restore`]): as
    /// [`Trainer::new`] but the pretrained weights are not read (the checkpoint has them).
    pub fn for_resume(
        cfg: &TrainConfig,
        train: &Dataset,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        Self::build(cfg, train, device, false)
    }

    fn build(
        cfg: &TrainConfig,
        train: &Dataset,
        device: &ComputeDevice,
        load_pretrained: bool,
    ) -> Result<Self, TrainError> {
        cfg.validate()
            .map_err(|e| TrainError::Config(e.to_string()))?;
        let spec = resolve_pipeline(cfg, train);
        let (train_aug, eval_aug) = augmenters(&spec, train, cfg.seed, device)?;
        let autodiff = device.device.clone().autodiff();
        let mut model = build_model(cfg, &train_aug, train.num_classes(), &autodiff)?;
        let mut pretrained = None;
        if let (true, Some(path)) = (load_pretrained, &cfg.model.pretrained) {
            let (loaded, report) =
                WeightsFile::open(path)?.load_into(model, HeadPolicy::Replace)?;
            model = loaded;
            pretrained = Some(report);
        }
        let model = freeze(cfg, model);
        let (train_set, class_weights) =
            balance::training_set(train, cfg.balance, &cfg.sampling_strategy, cfg.seed)
                .map_err(TrainError::Config)?;
        let memory = device.adapter.as_ref().and_then(|a| a.memory);
        let (resident, streaming) = resident_images(cfg, &train_aug, &train_set, memory)?;
        let replicas = replicas(cfg, &spec, &train_set)?;
        Ok(Self {
            resident,
            streaming,
            replicas,
            first_epoch_loss: None,
            cfg: cfg.clone(),
            optimizer: optim::build(&cfg.optimizer, &model),
            model,
            train_aug,
            eval_aug,
            train_set,
            class_weights,
            device: device.clone(),
            autodiff,
            pretrained,
        })
    }

    /// Devices training in parallel (1 without `--devices`).
    pub fn device_count(&self) -> usize {
        1 + self.replicas.len()
    }

    /// The lines saying why a device streams the training set per batch instead of holding
    /// it (main device first, then the replicas that fell back).
    pub fn streaming_lines(&self) -> Vec<&str> {
        let replicas = self.replicas.iter().filter_map(|r| r.streaming.as_deref());
        self.streaming
            .as_deref()
            .into_iter()
            .chain(replicas)
            .collect()
    }

    /// Bytes of training images resident on the GPU (`None`: uploaded per batch).
    pub fn resident_bytes(&self) -> Option<usize> {
        self.resident.as_ref().map(|r| r.bytes())
    }

    /// What loading the pretrained weights did (`None` without them, or when resuming).
    pub fn pretrained(&self) -> Option<&LoadReport> {
        self.pretrained.as_ref()
    }

    /// The run's model card: the loaded shape and classes, the architecture, the network's
    /// input shape (the evaluation pipeline's output), the normalization, the weights file.
    pub fn model_card(&self) -> ModelCard {
        let spec = &self.eval_aug.program.spec;
        let normalization = spec.ops.iter().find_map(|op| match op {
            OpSpec::Normalize { mean, std } => Some(Normalization {
                mean: mean.clone(),
                std: std.clone(),
            }),
            _ => None,
        });
        ModelCard {
            architecture: Some(self.cfg.model.kind.to_string()),
            model_input: Some(self.eval_aug.output_shape()),
            normalization,
            pretrained: self.cfg.model.pretrained.as_ref().map(|p| {
                crate::util::path_text::encode(&std::path::absolute(p).unwrap_or(p.clone()))
            }),
            ..ModelCard::new(self.train_set.shape, self.train_set.class_names.clone())
        }
    }

    /// The learning rates of epoch `epoch` (0-based): the schedule's (warmup per batch), and
    /// with pretrained weights and nothing frozen the backbone at `backbone_lr_scale ×`.
    fn epoch_lr(&self, epoch: usize) -> EpochLr {
        let cfg = &self.cfg;
        let batches = self.train_set.len().div_ceil(cfg.batch_size).max(1);
        let base = cfg.lr();
        let lr = if epoch < cfg.schedule.warmup_epochs {
            EpochLr::per_batch(
                (0..batches)
                    .map(|b| {
                        super::schedule::lr_at_batch(
                            &cfg.schedule,
                            base,
                            epoch,
                            b,
                            batches,
                            cfg.epochs,
                        )
                    })
                    .collect(),
            )
        } else {
            EpochLr::constant(super::schedule::lr_at(
                &cfg.schedule,
                base,
                epoch,
                cfg.epochs,
            ))
        };
        if cfg.model.pretrained.is_some() && cfg.model.freeze == Freeze::None {
            lr.with_backbone_scale(self.model().head_group(), cfg.optimizer.backbone_lr_scale)
        } else {
            lr
        }
    }

    /// The config with the pipeline written out, the data paths absolute and the image size
    /// the one actually loaded (a pack, IDX or CIFAR source keeps its own): what reproduces
    /// this run, from any directory.
    pub fn resolved_config(&self) -> TrainConfig {
        let shape = self.train_set.shape;
        let mut data = self.cfg.data.with_absolute_paths();
        data.size = [shape.width as u32, shape.height as u32];
        data.channels = shape.channels;
        let mut optimizer = self.cfg.optimizer.clone();
        optimizer.lr = Some(self.cfg.lr());
        let mut model = self.cfg.model.clone();
        model.pretrained = model
            .pretrained
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        TrainConfig {
            augment: AugmentConfig::Pipeline {
                spec: self.train_aug.program.spec.clone(),
            },
            data,
            model,
            optimizer,
            ..self.cfg.clone()
        }
    }

    /// The training set as trained on (after balancing).
    pub fn train_set(&self) -> &Dataset {
        &self.train_set
    }

    /// The training augmenter.
    pub fn train_augmenter(&self) -> &Augmenter {
        &self.train_aug
    }

    /// The evaluation (deterministic) augmenter.
    pub fn eval_augmenter(&self) -> &Augmenter {
        &self.eval_aug
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Check that a training batch and an evaluation batch of up to `largest_eval` images fit
    /// the augmentation engine (the GPU's largest buffer), before any work starts.
    pub fn check_batches(&self, largest_eval: usize) -> Result<(), TrainError> {
        let train = self.cfg.batch_size.min(self.train_set.len()).max(1);
        self.train_aug.check_batch(train)?;
        let eval = self.eval_batch_size().min(largest_eval).max(1);
        self.eval_aug.check_batch(eval)?;
        Ok(())
    }

    /// Continue from a checkpoint's weights (batch-norm statistics included) and optimizer
    /// state; a frozen backbone stays frozen. On an error the trainer is as it was before, but
    /// with a fresh optimizer state.
    pub fn restore(&mut self, ckpt: Checkpoint) -> Result<(), TrainError> {
        // A clone shares the tensors (no copy); the trainer keeps its model if loading fails.
        let model = self.model.clone();
        let fresh = optim::build(&self.cfg.optimizer, &model);
        let optimizer = std::mem::replace(&mut self.optimizer, fresh);
        let (model, optimizer) = weights::restore(model, optimizer, ckpt.model, ckpt.optimizer)?;
        self.model = freeze(&self.cfg, model);
        self.optimizer = optimizer;
        Ok(())
    }

    /// Batches per epoch on which the batch norms run in training mode (and update their
    /// statistics): every batch, or none when the backbone is frozen.
    pub fn batch_norm_batches_per_epoch(&self) -> u64 {
        if self.cfg.model.freeze == Freeze::Backbone {
            0
        } else {
            self.train_set.len().div_ceil(self.cfg.batch_size) as u64
        }
    }

    /// Train epoch `epoch` (0-based) and validate on `val` (when given and not empty); the
    /// progress bar and nothing else goes to `reporter`. The trainer comes back either way:
    /// after a failed epoch it holds the model as the last completed batch left it, and can be
    /// evaluated, saved or trained on.
    pub fn epoch(
        self,
        epoch: usize,
        val: Option<&Dataset>,
        reporter: &Reporter,
    ) -> (Self, Result<EpochRecord, TrainError>) {
        let started = Instant::now();
        let lr = self.epoch_lr(epoch);
        let last_lr = lr.last();
        let batches = self.train_set.len().div_ceil(self.cfg.batch_size);
        let mut bar = reporter.epoch(epoch + 1, self.cfg.epochs, batches);
        let (mut trainer, stats) = self.train_batches(epoch, lr, &mut bar);
        bar.finish();
        let record =
            stats.and_then(|stats| trainer.finish_epoch(epoch, last_lr, started, stats, val));
        (trainer, record)
    }

    /// The record of epoch `epoch` from its training `stats`: the divergence check, then
    /// validation on `val`.
    fn finish_epoch(
        &mut self,
        epoch: usize,
        last_lr: f64,
        started: Instant,
        stats: EpochStats,
        val: Option<&Dataset>,
    ) -> Result<EpochRecord, TrainError> {
        self.check_divergence(epoch, stats.loss_sum / stats.seen.max(1) as f64)?;
        let train_seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_accuracy, val_macro_f1) = match val.filter(|v| !v.is_empty()) {
            Some(val) => self.validate(val)?,
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let seen = stats.seen.max(1) as f64;
        Ok(EpochRecord {
            epoch: epoch + 1,
            lr: last_lr,
            train_loss: stats.loss_sum / seen,
            train_accuracy: stats.correct as f64 / seen,
            val_loss,
            val_accuracy,
            val_macro_f1,
            images_per_second: stats.seen as f64 / train_seconds.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
            device_memory_reserved: self.trim_device_memory(),
            transfers: self.device.is_gpu().then_some(stats.transfers),
        })
    }

    /// A [`TrainError::Diverged`] when `loss`, the mean training loss of `epoch` (0-based), is
    /// more than [`DIVERGENCE_FACTOR`] times where the run started: `ln(classes)`, the
    /// cross-entropy of a uniform guess (whatever the targets: one-hot, smoothed, mixed or
    /// class-weighted), or the first epoch's mean loss when that was higher. A model initialized
    /// from scratch begins near `ln(classes)` and goes down, so a first epoch far above it is
    /// already a learning rate too high; loaded weights (`--pretrained`) may begin anywhere, so
    /// their first epoch is the reference and only later epochs are judged. The MSE of softmax
    /// outputs is bounded and never gets there, so only cross-entropy is checked.
    fn check_divergence(&mut self, epoch: usize, loss: f64) -> Result<(), TrainError> {
        let classes = self.train_set.num_classes().max(2) as f64;
        let chance = classes.ln();
        let reference = match self.first_epoch_loss {
            Some(first) => chance.max(first),
            None if self.pretrained.is_some() => f64::INFINITY,
            None => chance,
        };
        if self.first_epoch_loss.is_none() {
            self.first_epoch_loss = Some(loss);
        }
        if self.cfg.loss == LossKind::CrossEntropy && loss > DIVERGENCE_FACTOR * reference {
            return Err(TrainError::Diverged {
                epoch: epoch + 1,
                loss,
                chance: reference,
                lr: self.cfg.lr(),
                last_good: 0,
            });
        }
        Ok(())
    }

    /// The batches of one epoch, through the shared training loop.
    fn train_batches(
        mut self,
        epoch: usize,
        lr: EpochLr,
        bar: &mut super::progress::EpochProgress,
    ) -> (Self, Result<EpochStats, TrainError>) {
        let mut ctx = EpochContext {
            data: &self.train_set,
            aug: &self.train_aug,
            cfg: &self.cfg,
            device: &self.autodiff,
            epoch,
            lr,
            class_weights: self.class_weights.as_deref(),
            resident: self.resident.as_ref(),
            reads: ReadSchedule::from_sync_every(self.cfg.sync_every),
            replicas: &self.replicas,
        };
        // Dropout draws from the device's generator: keyed by (seed, epoch), a resumed run
        // draws the masks an uninterrupted one draws.
        let key = crate::util::rng::Stream::new(
            crate::util::rng::Domain::Model,
            &[self.cfg.seed, epoch as u64],
        )
        .next_u64();
        self.autodiff.seed(key);
        for (d, replica) in self.replicas.iter().enumerate() {
            replica.device.seed(key ^ (d as u64 + 1));
        }
        let (model, stats) =
            train_epoch(&mut ctx, self.model, &mut self.optimizer, Some(bar), None);
        self.model = model;
        (self, stats)
    }

    /// Validation loss, accuracy and macro F1 on `val`.
    fn validate(&self, val: &Dataset) -> Result<(f64, f64, f64), TrainError> {
        let ev = self.evaluate(val, false, None)?;
        let report = ClassificationReport::new(
            &ev.confusion,
            None,
            &val.class_names,
            self.cfg.zero_division,
        );
        Ok((ev.loss, ev.confusion.accuracy(), report.macro_avg.f1))
    }

    /// On a GPU, return cached memory to the pool and report what stays reserved (bytes).
    fn trim_device_memory(&self) -> Option<u64> {
        if !self.device.is_gpu() {
            return None;
        }
        self.device.device.memory_cleanup();
        self.device
            .device
            .memory_pool_usage()
            .map(|u| u.bytes_reserved)
    }

    /// Images per evaluation batch on this trainer's device and model input.
    fn eval_batch_size(&self) -> usize {
        let input = self.eval_aug.output_shape().values();
        self.cfg.eval_batch_size(input, !self.device.is_gpu())
    }

    /// Evaluate the current model (validation mode, deterministic pipeline) on `data`;
    /// `progress` moves with every batch.
    pub fn evaluate(
        &self,
        data: &Dataset,
        keep_probabilities: bool,
        progress: Option<&ImageProgress>,
    ) -> Result<Evaluation, TrainError> {
        evaluate(
            &self.model().valid(),
            data,
            &self.eval_aug,
            self.eval_batch_size(),
            &self.cfg,
            &self.device.device,
            keep_probabilities,
            progress,
        )
    }

    /// Replace the run's checkpoint with the current weights, optimizer state and `progress`.
    pub fn save_checkpoint(&self, run: &RunDir, progress: &Progress) -> Result<(), TrainError> {
        let model = weights::model_bytes(self.model())?;
        let optimizer = weights::optimizer_bytes(&self.optimizer)?;
        Ok(run.save_checkpoint(progress, &model, &optimizer)?)
    }

    /// Bytes a run's files need at most at once: two checkpoints (the old one and its
    /// replacement, each weights plus up to two optimizer slots per weight) and 8 MiB for
    /// reports, charts and predictions.
    pub fn space_needed(&self) -> u64 {
        let params = self.model().num_params() as u64;
        2 * params * 4 * 3 + (8 << 20)
    }

    /// The trained model in validation mode and the evaluation augmenter.
    pub fn into_inference(self) -> (Model, Augmenter) {
        (self.model().valid(), self.eval_aug)
    }
}
