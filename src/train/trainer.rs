//! The [`Trainer`]: one owner for a model being trained, its optimizer, its augmenters, its
//! schedule and its (balanced) training set. `train`, `cv` and `label-issues` drive it.

use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::config::{AugmentConfig, TrainConfig};
use super::epoch::{EpochContext, EpochStats, train_epoch};
use super::evaluate::{Evaluation, evaluate};
use super::progress::Reporter;
use super::{TrainError, optim, weights};
use crate::augment::{Augmenter, Engine, PipelineSpec, gpu::GpuAugment};
use crate::data::{Dataset, balance};
use crate::device::ComputeDevice;
use crate::metrics::ClassificationReport;
use crate::model::Model;
use augtrain_run::checkpoint::Checkpoint;
use augtrain_run::records::{EpochRecord, Progress};
use augtrain_run::run_dir::RunDir;

/// The pipeline the config asks for, resolved for this data.
pub fn resolve_pipeline(cfg: &TrainConfig, data: &Dataset) -> PipelineSpec {
    let shape = data.shape;
    let default =
        || PipelineSpec::default_for(shape.channels, shape.width as u32, shape.height as u32);
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
/// seed on `device`.
pub fn build_model(
    cfg: &TrainConfig,
    aug: &Augmenter,
    classes: usize,
    device: &Device,
) -> Result<Model, TrainError> {
    device.seed(cfg.seed);
    Model::new(
        cfg.model.kind,
        aug.output_shape(),
        classes,
        cfg.model.hidden,
        device,
    )
    .map_err(TrainError::Config)
}

/// A model being trained: weights, optimizer state, augmenters, schedule and training set.
pub struct Trainer {
    cfg: TrainConfig,
    /// `None` only while an epoch runs (the optimizer consumes and returns the model).
    model: Option<Model>,
    optimizer: ModuleOptimizer,
    train_aug: Augmenter,
    eval_aug: Augmenter,
    train_set: Dataset,
    class_weights: Option<Vec<f32>>,
    device: ComputeDevice,
    autodiff: Device,
}

impl Trainer {
    /// A fresh trainer for `cfg` on the training split `train`: the config is validated, the
    /// pipeline resolved for the data, the model initialized from the seed, the training split
    /// balanced as the config asks.
    pub fn new(
        cfg: &TrainConfig,
        train: &Dataset,
        device: &ComputeDevice,
    ) -> Result<Self, TrainError> {
        cfg.validate().map_err(TrainError::Config)?;
        let spec = resolve_pipeline(cfg, train);
        let (train_aug, eval_aug) = augmenters(&spec, train, cfg.seed, device)?;
        let autodiff = device.device.clone().autodiff();
        let model = build_model(cfg, &train_aug, train.num_classes(), &autodiff)?;
        let (train_set, class_weights) =
            balance::training_set(train, cfg.balance, &cfg.sampling_strategy, cfg.seed)
                .map_err(TrainError::Config)?;
        Ok(Self {
            cfg: cfg.clone(),
            model: Some(model),
            optimizer: optim::build(&cfg.optimizer),
            train_aug,
            eval_aug,
            train_set,
            class_weights,
            device: device.clone(),
            autodiff,
        })
    }

    /// The config with the pipeline written out, the data paths absolute and the image size
    /// the one actually loaded (a pack, IDX or CIFAR source keeps its own): what reproduces
    /// this run, from any directory.
    pub fn resolved_config(&self) -> TrainConfig {
        let shape = self.train_set.shape;
        let mut data = self.cfg.data.with_absolute_paths();
        data.size = [shape.width as u32, shape.height as u32];
        data.channels = shape.channels;
        TrainConfig {
            augment: AugmentConfig::Pipeline {
                spec: self.train_aug.program.spec.clone(),
            },
            data,
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
        self.model
            .as_ref()
            .expect("the model is present between epochs")
    }

    /// Check that a training batch and an evaluation batch of up to `largest_eval` images fit
    /// the augmentation engine (the GPU's largest buffer), before any work starts.
    pub fn check_batches(&self, largest_eval: usize) -> Result<(), TrainError> {
        let train = self.cfg.batch_size.min(self.train_set.len()).max(1);
        self.train_aug.check_batch(train)?;
        let eval = self.cfg.eval_batch_size().min(largest_eval).max(1);
        self.eval_aug.check_batch(eval)?;
        Ok(())
    }

    /// Continue from a checkpoint's weights and optimizer state.
    pub fn restore(&mut self, ckpt: Checkpoint) -> Result<(), TrainError> {
        let model = self.model.take().expect("model present");
        let optimizer = std::mem::replace(&mut self.optimizer, optim::build(&self.cfg.optimizer));
        let (model, optimizer) = weights::restore(model, optimizer, ckpt.model, ckpt.optimizer)?;
        self.model = Some(model);
        self.optimizer = optimizer;
        Ok(())
    }

    /// Train epoch `epoch` (0-based) and validate on `val` (when given and not empty); the
    /// progress bar and nothing else goes to `reporter`.
    pub fn epoch(
        &mut self,
        epoch: usize,
        val: Option<&Dataset>,
        reporter: &Reporter,
    ) -> Result<EpochRecord, TrainError> {
        let started = Instant::now();
        let lr = self
            .cfg
            .schedule
            .lr_at(self.cfg.optimizer.lr, epoch, self.cfg.epochs);
        let batches = self.train_set.len().div_ceil(self.cfg.batch_size);
        let mut bar = reporter.epoch(epoch + 1, self.cfg.epochs, batches);
        let stats = self.train_batches(epoch, lr, &mut bar);
        bar.finish();
        let stats = stats?;
        let train_seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_accuracy, val_macro_f1) = match val.filter(|v| !v.is_empty()) {
            Some(val) => self.validate(val)?,
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
        let seen = stats.seen.max(1) as f64;
        Ok(EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: stats.loss_sum / seen,
            train_accuracy: stats.correct as f64 / seen,
            val_loss,
            val_accuracy,
            val_macro_f1,
            images_per_second: stats.seen as f64 / train_seconds.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
            device_memory_reserved: self.trim_device_memory(),
        })
    }

    /// The batches of one epoch, through the shared training loop.
    fn train_batches(
        &mut self,
        epoch: usize,
        lr: f64,
        bar: &mut super::progress::EpochProgress,
    ) -> Result<EpochStats, TrainError> {
        let mut ctx = EpochContext {
            data: &self.train_set,
            aug: &self.train_aug,
            cfg: &self.cfg,
            device: &self.autodiff,
            epoch,
            lr,
            class_weights: self.class_weights.as_deref(),
        };
        let model = self.model.take().expect("model present");
        let (model, stats) = train_epoch(&mut ctx, model, &mut self.optimizer, Some(bar), None)?;
        self.model = Some(model);
        Ok(stats)
    }

    /// Validation loss, accuracy and macro F1 on `val`.
    fn validate(&self, val: &Dataset) -> Result<(f64, f64, f64), TrainError> {
        let ev = self.evaluate(val, false)?;
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

    /// Evaluate the current model (validation mode, deterministic pipeline) on `data`.
    pub fn evaluate(
        &self,
        data: &Dataset,
        keep_probabilities: bool,
    ) -> Result<Evaluation, TrainError> {
        evaluate(
            &self.model().valid(),
            data,
            &self.eval_aug,
            self.cfg.eval_batch_size(),
            &self.cfg,
            &self.device.device,
            keep_probabilities,
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
