//! Training and evaluation: the loop, losses, optimizers, schedules, checkpoints and resume.
//!
//! One epoch: the epoch order comes from `(seed, epoch)`; each batch is gathered as `u8` HWC
//! slices, augmented on the training device (fused kernel or CPU twin), pushed through the
//! model, the loss is back-propagated and the optimizer steps. After each epoch the model is
//! validated, `metrics.jsonl` is rewritten and the checkpoint replaced, all atomically. At the
//! end the test split is evaluated and the report, predictions and confusion matrix written.

pub use augtrain_run::{checkpoint, config};
pub mod cv;
pub mod loss;
pub mod optim;
pub mod progress;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn::tensor::activation::softmax;

use crate::augment::{Augmenter, Engine, PipelineSpec, gpu::GpuAugment};
use crate::data::balance::{self, Balance};
use crate::data::{Dataset, Splits, sampler};
use crate::device::ComputeDevice;
use crate::metrics::{ClassificationReport, ConfusionMatrix};
use crate::model::{InputShape, Model};
use crate::report::{RunDir, predictions_csv};
use checkpoint::{EpochRecord, Progress};
use config::{AugmentConfig, TrainConfig};
use progress::Reporter;

/// A failure during training or evaluation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {value} at epoch {epoch}, batch {batch}; training stopped and the last good checkpoint (epoch {last_good}) was kept; try a lower learning rate (--lr)"
    )]
    NonFinite {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch (1-based).
        batch: usize,
        /// The offending value.
        value: f64,
        /// Last epoch whose checkpoint is on disk (0 = none).
        last_good: usize,
    },
    /// A checkpoint could not be read or applied.
    #[error("checkpoint {0}")]
    Checkpoint(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(String),
    /// A file could not be written.
    #[error(transparent)]
    Io(#[from] crate::util::fs::IoError),
    /// A run file is missing or damaged.
    #[error(transparent)]
    Run(#[from] augtrain_run::RunError),
    /// Augmentation failed.
    #[error(transparent)]
    Augment(#[from] crate::augment::AugmentError),
}

/// The pipeline the config asks for, resolved for this data.
pub fn resolve_pipeline(cfg: &TrainConfig, data: &Dataset) -> PipelineSpec {
    match &cfg.augment {
        AugmentConfig::Default => {
            PipelineSpec::default_for(data.channels, data.width as u32, data.height as u32)
        }
        AugmentConfig::None => {
            // No random ops, but the data's usual deterministic part (normalization), so that
            // runs with and without augmentation differ only in the augmentation.
            PipelineSpec::default_for(data.channels, data.width as u32, data.height as u32)
                .eval_version()
        }
        AugmentConfig::Pipeline { spec } => spec.clone(),
    }
}

/// Training and evaluation augmenters for `spec` on `device`.
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
    let (w, h, c) = (data.width, data.height, data.channels);
    let train = Augmenter::new(spec, w, h, c, seed, engine.clone())?;
    let eval = Augmenter::new(&spec.eval_version(), w, h, c, seed, engine)?;
    if train.output_shape() != eval.output_shape() {
        return Err(TrainError::Config(format!(
            "the pipeline's training output {:?} and its deterministic (evaluation) output {:?} differ in shape; end random crops with a fixed output size",
            train.output_shape(),
            eval.output_shape()
        )));
    }
    Ok((train, eval))
}

/// A model shaped for the augmented images of `aug`, freshly initialized from `seed`.
pub fn build_model(
    cfg: &TrainConfig,
    aug: &Augmenter,
    classes: usize,
    device: &Device,
) -> Result<Model, TrainError> {
    let (channels, height, width) = aug.output_shape();
    device.seed(cfg.seed);
    Model::new(
        cfg.model.kind,
        InputShape {
            channels,
            height,
            width,
            classes,
        },
        cfg.model.hidden,
        device,
    )
    .map_err(TrainError::Config)
}

/// The result of evaluating a model on a dataset.
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f64,
    /// Confusion matrix over the dataset.
    pub confusion: ConfusionMatrix,
    /// Predicted class per sample (argmax; ties go to the lowest class).
    pub predictions: Vec<usize>,
    /// Softmax probabilities, `len × classes`, when asked for.
    pub probabilities: Option<Vec<f32>>,
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Tensor(format!("{e:?}")))
}

fn argmax_rows(values: &[f32], k: usize) -> Vec<usize> {
    values
        .chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (j, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Evaluate `model` (validation mode, plain device) on `data` with the deterministic pipeline.
pub fn evaluate(
    model: &Model,
    data: &Dataset,
    aug: &Augmenter,
    batch_size: usize,
    cfg: &TrainConfig,
    device: &Device,
    keep_probabilities: bool,
) -> Result<Evaluation, TrainError> {
    let k = data.num_classes();
    let mut confusion = ConfusionMatrix::new(k);
    let mut predictions = Vec::with_capacity(data.len());
    let mut probabilities = keep_probabilities.then(|| Vec::with_capacity(data.len() * k));
    let mut loss_sum = 0.0;
    let order: Vec<usize> = (0..data.len()).collect();
    for range in sampler::batches(data.len(), batch_size) {
        let idx = &order[range];
        let images: Vec<&[u8]> = idx.iter().map(|&i| data.image(i)).collect();
        let ids: Vec<u64> = idx.iter().map(|&i| data.ids[i]).collect();
        let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
        let batch = aug.batch(&images, &ids, 0, device)?;
        let logits = model.forward(batch.images);
        let targets = loss::target_rows(&labels, None, k);
        let l: f32 = loss::loss(cfg.loss, logits.clone(), &targets, None, device).into_scalar();
        loss_sum += l as f64 * idx.len() as f64;
        let probs = to_vec(softmax(logits, 1))?;
        let pred = argmax_rows(&probs, k);
        for (&t, &p) in labels.iter().zip(&pred) {
            confusion.add(t as usize, p);
        }
        predictions.extend_from_slice(&pred);
        if let Some(all) = probabilities.as_mut() {
            all.extend_from_slice(&probs);
        }
    }
    Ok(Evaluation {
        loss: if data.is_empty() {
            f64::NAN
        } else {
            loss_sum / data.len() as f64
        },
        confusion,
        predictions,
        probabilities,
    })
}

/// Options of a training run that are not part of its config.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Parent of run directories (`runs/`).
    pub runs_dir: PathBuf,
    /// Run name; default `<data>-<model>-<time>`.
    pub name: Option<String>,
    /// Continue this run directory from its checkpoint.
    pub resume: Option<PathBuf>,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// Final test report.
    pub report: ClassificationReport,
    /// Per-epoch history.
    pub history: Vec<EpochRecord>,
    /// Device description.
    pub device: String,
    /// Whether augmentation ran on the GPU kernel.
    pub augment_on_gpu: bool,
}

/// Train from `cfg` on already loaded `data`, on `device`, writing the run directory.
pub fn run(
    cfg: &TrainConfig,
    data: &Splits,
    device: &ComputeDevice,
    opts: &RunOptions,
    reporter: &Reporter,
) -> Result<RunSummary, TrainError> {
    cfg.validate().map_err(TrainError::Config)?;
    let spec = resolve_pipeline(cfg, &data.train);
    let (train_aug, eval_aug) = augmenters(&spec, &data.train, cfg.seed, device)?;
    // A batch too large for the device fails here, before the run directory exists.
    train_aug.check_batch(cfg.batch_size.min(data.train.len()).max(1))?;
    let largest_eval = data.val.len().max(data.test.len());
    eval_aug.check_batch(cfg.batch_size.max(256).min(largest_eval).max(1))?;
    let classes = data.train.num_classes();
    let ad_device = device.device.clone().autodiff();
    let mut model = build_model(cfg, &train_aug, classes, &ad_device)?;
    let mut optimizer: ModuleOptimizer = optim::build(&cfg.optimizer);

    // The run directory: a resumed run continues in place.
    let (run_dir, mut progress) = match &opts.resume {
        Some(dir) => {
            let run_dir = RunDir::resume(dir)?;
            let ckpt = checkpoint::load(&run_dir.file(checkpoint::FILE_NAME))?;
            (model, optimizer) = restore(model, optimizer, ckpt.model, ckpt.optimizer)?;
            crate::util::fs::remove_stale_temps(dir);
            let mut progress = ckpt.progress;
            // metrics.jsonl holds the same epochs with their timings; it is written just
            // before the checkpoint, so after a crash it may hold one epoch more.
            if let Ok(text) = std::fs::read_to_string(run_dir.file("metrics.jsonl")) {
                let lines: Vec<EpochRecord> = text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                if lines.len() >= progress.epochs_done
                    && lines[..progress.epochs_done]
                        .iter()
                        .zip(&progress.history)
                        .all(|(a, b)| {
                            serde_json::to_string(&a.deterministic()).ok()
                                == serde_json::to_string(b).ok()
                        })
                {
                    progress.history = lines[..progress.epochs_done].to_vec();
                }
            }
            (run_dir, progress)
        }
        None => {
            let name = opts.name.clone().unwrap_or_else(|| {
                format!(
                    "{}-{}-{}",
                    data.name,
                    cfg.model.kind,
                    crate::util::time::compact_now()
                )
            });
            // Asked of the file system before anything is created: a full disk leaves nothing.
            crate::util::fs::check_space(&opts.runs_dir.join(&name), space_needed(&model))?;
            let run_dir = RunDir::create(&opts.runs_dir, &name, opts.name.is_none())?;
            if run_dir.file(checkpoint::FILE_NAME).exists() {
                return Err(TrainError::Config(format!(
                    "{} already holds a run; use --resume {} to continue it, or another --name",
                    run_dir.path().display(),
                    run_dir.path().display()
                )));
            }
            (
                run_dir,
                Progress {
                    epochs_done: 0,
                    history: Vec::new(),
                },
            )
        }
    };
    // The resolved config, with the pipeline written out, reproduces the run.
    let mut resolved = cfg.clone();
    resolved.augment = AugmentConfig::Pipeline { spec: spec.clone() };
    run_dir.write("config.toml", &resolved.to_toml())?;
    let card = ModelCard {
        width: data.train.width,
        height: data.train.height,
        channels: data.train.channels,
        class_names: data.train.class_names.clone(),
    };
    run_dir.write(
        "model.json",
        &serde_json::to_string_pretty(&card).expect("json"),
    )?;
    let summary = crate::report::html::DatasetSummary {
        name: data.name.clone(),
        provenance: data.provenance.clone(),
        shape: [data.train.width, data.train.height, data.train.channels],
        classes: data.train.class_names.clone(),
        counts: [
            data.train.class_counts(),
            data.val.class_counts(),
            data.test.class_counts(),
        ],
        skipped: data
            .report
            .skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.to_string()))
            .collect(),
    };
    run_dir.write(
        "dataset.json",
        &serde_json::to_string_pretty(&summary).expect("json"),
    )?;

    reporter.line(&format!(
        "augtrain: {} ({} train / {} val / {} test, {}x{}x{}, {} classes) | {} | {} | augmentation on {}",
        data.name,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        data.train.width,
        data.train.height,
        data.train.channels,
        classes,
        cfg.model.kind,
        device.describe(),
        if train_aug.on_gpu() { "the GPU (fused WGSL kernel)" } else { "the CPU (twin)" },
    ));
    reporter.line(&format!("run directory: {}", run_dir.path().display()));

    let (train_set, class_weights) = balanced_train(cfg, &data.train)?;
    reporter.line(&format!("splits: {}", data.provenance));
    for note in &data.report.notes {
        reporter.line(&format!("note: {note}"));
    }
    if cfg.balance != Balance::None {
        reporter.line(&format!(
            "balance: {:?} on the training split ({} images per epoch, class counts {:?})",
            cfg.balance,
            train_set.len(),
            train_set.class_counts()
        ));
    }
    if !data.report.skipped.is_empty() {
        let mut csv = String::from("path,reason\n");
        for s in &data.report.skipped {
            csv.push_str(&format!(
                "{},{}\n",
                crate::data::files::csv_field(&s.path),
                crate::data::files::csv_field(&s.reason.to_string())
            ));
        }
        run_dir.write("skipped.csv", &csv)?;
        reporter.line(&format!(
            "skipped {} unusable files (listed in skipped.csv), e.g. {}: {}",
            data.report.skipped.len(),
            data.report.skipped[0].path,
            data.report.skipped[0].reason
        ));
    }
    for epoch in progress.epochs_done..cfg.epochs {
        let started = Instant::now();
        let lr = cfg.schedule.lr_at(cfg.optimizer.lr, epoch, cfg.epochs);
        let batches = train_set.len().div_ceil(cfg.batch_size);
        let mut bar = reporter.epoch(epoch + 1, cfg.epochs, batches);
        let mut ctx = EpochContext {
            data: &train_set,
            aug: &train_aug,
            cfg,
            device: &ad_device,
            epoch,
            lr,
            class_weights: class_weights.as_deref(),
        };
        let outcome = train_epoch(&mut ctx, model, &mut optimizer, Some(&mut bar), None);
        let (trained, stats) = match outcome {
            Ok(v) => v,
            Err(TrainError::NonFinite {
                epoch,
                batch,
                value,
                ..
            }) => {
                bar.finish();
                return Err(TrainError::NonFinite {
                    epoch,
                    batch,
                    value,
                    last_good: progress.epochs_done,
                });
            }
            Err(e) => return Err(e),
        };
        model = trained;
        let (loss_sum, correct, seen) = (stats.loss_sum, stats.correct, stats.seen);
        let train_seconds = started.elapsed().as_secs_f64();
        bar.finish();

        let (val_loss, val_acc, val_f1) = if data.val.is_empty() {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            let ev = evaluate(
                &model.valid(),
                &data.val,
                &eval_aug,
                cfg.batch_size.max(256),
                cfg,
                &device.device,
                false,
            )?;
            let rep = ClassificationReport::new(
                &ev.confusion,
                None,
                &data.val.class_names,
                cfg.zero_division,
            );
            (ev.loss, ev.confusion.accuracy(), rep.macro_avg.f1)
        };
        let record = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_accuracy: val_acc,
            val_macro_f1: val_f1,
            images_per_second: seen as f64 / train_seconds.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
            device_memory_reserved: device
                .is_gpu()
                .then(|| {
                    device.device.memory_cleanup();
                    device.device.memory_pool_usage().map(|u| u.bytes_reserved)
                })
                .flatten(),
        };
        let val = if data.val.is_empty() {
            "no validation split".to_string()
        } else {
            format!(
                "val loss {:.4} acc {:.4}",
                record.val_loss, record.val_accuracy
            )
        };
        reporter.line(&format!(
            "epoch {}/{}  lr {:.4}  train loss {:.4} acc {:.4}  {}  {:.0} img/s  {:.1} s",
            record.epoch,
            cfg.epochs,
            record.lr,
            record.train_loss,
            record.train_accuracy,
            val,
            record.images_per_second,
            record.seconds
        ));
        progress.history.push(record);
        progress.epochs_done = epoch + 1;
        let jsonl: String = progress
            .history
            .iter()
            .map(|r| serde_json::to_string(r).expect("record serializes") + "\n")
            .collect();
        run_dir.write("metrics.jsonl", &jsonl)?;
        save_checkpoint(&run_dir, &progress, &model, &optimizer)?;
    }

    // Final test evaluation.
    let eval = evaluate(
        &model.valid(),
        &data.test,
        &eval_aug,
        cfg.batch_size.max(256),
        cfg,
        &device.device,
        true,
    )?;
    let report = write_test_outputs(&run_dir, cfg, &data.test, &eval)?;
    // Pictures and the HTML report; a failure here costs the report, not the run.
    match crate::report::images::augmentation_sheet(
        &train_aug.program,
        train_aug.seed,
        &data.train,
        8,
        6,
    ) {
        Ok(sheet) => sheet.save_png(&run_dir.file("augmentation.png"))?,
        Err(e) => reporter.line(&format!("warning: no augmentation contact sheet: {e}")),
    }
    match crate::report::html::render(run_dir.path()) {
        Ok(_) => reporter.line(&format!(
            "report: {}",
            run_dir.file("report.html").display()
        )),
        Err(e) => reporter.line(&format!("warning: the HTML report could not be drawn: {e}")),
    }
    reporter.line("");
    reporter.line(&report.to_text(4));
    reporter.line(&format!(
        "test accuracy {:.4}  ({} images)",
        report.accuracy, report.samples
    ));
    Ok(RunSummary {
        dir: run_dir.path().to_path_buf(),
        report,
        history: progress.history,
        device: device.describe(),
        augment_on_gpu: train_aug.on_gpu(),
    })
}

/// The training split after `cfg.balance` (over- or under-sampled indices; copies get their own
/// augmentation keys), and the cross-entropy class weights for `--balance weights`.
pub fn balanced_train(
    cfg: &TrainConfig,
    train: &Dataset,
) -> Result<(Dataset, Option<Vec<f32>>), TrainError> {
    let names = &train.class_names;
    let resampled = |idx: Vec<usize>| {
        let mut ds = train.subset(&idx);
        let mut seen = std::collections::HashMap::new();
        for id in ds.ids.iter_mut() {
            let copy = seen.entry(*id).or_insert(0u64);
            if *copy > 0 {
                *id = crate::util::rng::mix64(id.wrapping_add(*copy << 48));
            }
            *copy += 1;
        }
        ds
    };
    match cfg.balance {
        Balance::None | Balance::Sampler => Ok((train.clone(), None)),
        Balance::Weights => Ok((
            train.clone(),
            Some(balance::balanced_class_weights(&train.class_counts())),
        )),
        Balance::Oversample => {
            let idx = balance::oversample(&train.labels, names, &cfg.sampling_strategy, cfg.seed)
                .map_err(TrainError::Config)?;
            Ok((resampled(idx), None))
        }
        Balance::Undersample => {
            let idx = balance::undersample(&train.labels, names, &cfg.sampling_strategy, cfg.seed)
                .map_err(TrainError::Config)?;
            Ok((resampled(idx), None))
        }
    }
}

/// What one training epoch needs besides the model and the optimizer.
pub struct EpochContext<'a> {
    /// Training images.
    pub data: &'a Dataset,
    /// The training augmenter.
    pub aug: &'a Augmenter,
    /// The run's config (seed, batch size, loss).
    pub cfg: &'a TrainConfig,
    /// The autodiff training device.
    pub device: &'a Device,
    /// Epoch number, 0-based (keys the order and the augmentation).
    pub epoch: usize,
    /// Learning rate of this epoch.
    pub lr: f64,
    /// Cross-entropy class weights (`--balance weights`).
    pub class_weights: Option<&'a [f32]>,
}

/// Totals of one training epoch.
#[derive(Clone, Debug, Default)]
pub struct EpochStats {
    /// Sum of per-batch mean losses × batch sizes.
    pub loss_sum: f64,
    /// Correct argmax predictions on the augmented batches.
    pub correct: usize,
    /// Images seen.
    pub seen: usize,
}

/// Seconds spent in each phase of training steps (the `--breakdown` profile). Each phase ends
/// with a device sync, so the split is exact but the total is slightly slower than unprofiled.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Breakdown {
    /// Epoch order and gathering the batch's images, ids and labels.
    pub loading: f64,
    /// Parameter draws and the augmentation kernel (or twin), tensor upload included.
    pub augmentation: f64,
    /// Model forward pass and loss.
    pub forward: f64,
    /// Back-propagation.
    pub backward: f64,
    /// Optimizer step.
    pub optimizer: f64,
    /// Reading the loss and the predictions back, accuracy counting.
    pub metrics: f64,
}

fn sync(device: &Device) -> Result<(), TrainError> {
    device
        .sync()
        .map_err(|e| TrainError::Tensor(format!("device sync failed: {e:?}")))
}

/// Train `model` for one epoch: the epoch's order from `(seed, epoch)`, augmentation, forward,
/// loss, backward, optimizer step per batch. With `breakdown`, every phase is synced and timed.
pub fn train_epoch(
    ctx: &mut EpochContext<'_>,
    mut model: Model,
    optimizer: &mut ModuleOptimizer,
    mut bar: Option<&mut progress::EpochProgress>,
    mut breakdown: Option<&mut Breakdown>,
) -> Result<(Model, EpochStats), TrainError> {
    let cfg = ctx.cfg;
    let data = ctx.data;
    let classes = data.num_classes();
    let mut clock = Instant::now();
    let mut lap = |slot: fn(&mut Breakdown) -> &mut f64,
                   bd: &mut Option<&mut Breakdown>|
     -> Result<(), TrainError> {
        if let Some(b) = bd.as_deref_mut() {
            sync(ctx.device)?;
            *slot(b) += clock.elapsed().as_secs_f64();
            clock = Instant::now();
        }
        Ok(())
    };
    let order = if cfg.balance == Balance::Sampler {
        balance::balanced_epoch(&data.labels, data.num_classes(), cfg.seed, ctx.epoch)
    } else {
        sampler::epoch_order(data.len(), cfg.seed, ctx.epoch)
    };
    let mut stats = EpochStats::default();
    for (b, range) in sampler::batches(data.len(), cfg.batch_size).enumerate() {
        let idx = &order[range];
        let images: Vec<&[u8]> = idx.iter().map(|&i| data.image(i)).collect();
        let ids: Vec<u64> = idx.iter().map(|&i| data.ids[i]).collect();
        let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
        lap(|b| &mut b.loading, &mut breakdown)?;
        let batch = ctx.aug.batch(&images, &ids, ctx.epoch, ctx.device)?;
        lap(|b| &mut b.augmentation, &mut breakdown)?;
        let logits = model.forward(batch.images);
        let targets = loss::target_rows(&labels, batch.mix.as_deref(), classes);
        let loss = loss::loss(
            cfg.loss,
            logits.clone(),
            &targets,
            ctx.class_weights,
            ctx.device,
        );
        lap(|b| &mut b.forward, &mut breakdown)?;
        let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        lap(|b| &mut b.backward, &mut breakdown)?;
        model = optimizer.step(ctx.lr, model, grads);
        lap(|b| &mut b.optimizer, &mut breakdown)?;
        let value: f32 = loss.into_scalar();
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                epoch: ctx.epoch + 1,
                batch: b + 1,
                value: value as f64,
                last_good: 0,
            });
        }
        let logits_host = to_vec(logits.inner())?;
        stats.correct += argmax_rows(&logits_host, classes)
            .iter()
            .zip(&labels)
            .filter(|(p, t)| **p == **t as usize)
            .count();
        stats.loss_sum += value as f64 * idx.len() as f64;
        stats.seen += idx.len();
        lap(|b| &mut b.metrics, &mut breakdown)?;
        if let Some(bar) = bar.as_deref_mut() {
            bar.batch(b + 1, stats.loss_sum / stats.seen as f64, stats.seen);
        }
    }
    Ok((model, stats))
}

/// Bytes a run's files need at most at once: two checkpoints (the old one and its
/// replacement, each weights plus up to two optimizer slots per weight) and 8 MiB for reports,
/// charts and predictions.
fn space_needed(model: &Model) -> u64 {
    let params = model.num_params() as u64;
    2 * params * 4 * 3 + (8 << 20)
}

/// Load checkpointed weights and optimizer state into `model` and `optimizer`. burn's record
/// decoders panic on some malformed records; a panic here becomes an error (the checkpoint's
/// checksum makes this a crafted-file case: corruption is caught before).
pub fn restore(
    model: Model,
    optimizer: ModuleOptimizer,
    model_bytes: Vec<u8>,
    optimizer_bytes: Vec<u8>,
) -> Result<(Model, ModuleOptimizer), TrainError> {
    let model = restore_model(model, model_bytes)?;
    without_panics(move || {
        optimizer
            .from_bytes(Bytes::from_bytes_vec(optimizer_bytes))
            .map_err(|e| TrainError::Checkpoint(format!("optimizer state: {e}")))
    })
    .map(|optimizer| (model, optimizer))
}

/// Load checkpointed weights into `model`, turning a decoder panic into an error.
pub fn restore_model(model: Model, model_bytes: Vec<u8>) -> Result<Model, TrainError> {
    without_panics(move || {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model_bytes))
            .map_err(|e| TrainError::Checkpoint(format!("model weights: {e}")))?;
        model
            .try_load_record(record)
            .map_err(|e| TrainError::Checkpoint(format!("model weights do not fit the model: {e}")))
    })
}

/// Run a checkpoint decoder; a panic inside burn becomes [`TrainError::Checkpoint`].
fn without_panics<T>(load: impl FnOnce() -> Result<T, TrainError>) -> Result<T, TrainError> {
    crate::util::panic::contain(load).unwrap_or_else(|why| {
        Err(TrainError::Checkpoint(format!(
            "the checkpoint's weights or optimizer state cannot be decoded ({why}); start the run again"
        )))
    })
}

/// Re-encode a burnpack record with its tensors in name order. burn writes optimizer state
/// in hash-map order, which differs between processes; sorted, two runs with the same seed
/// write identical bytes.
fn canonical_pack(bytes: Bytes) -> Result<Bytes, TrainError> {
    let bad = |e: burn_pack::Error| {
        TrainError::Checkpoint(format!("cannot re-encode the optimizer state: {e}"))
    };
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(bad)?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let mut tensors = reader.into_tensors().map_err(bad)?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    for (k, v) in scalars {
        writer = writer.with_scalar(&k, v);
    }
    writer.into_bytes().map_err(bad)
}

fn save_checkpoint(
    run_dir: &RunDir,
    progress: &Progress,
    model: &Model,
    optimizer: &ModuleOptimizer,
) -> Result<(), TrainError> {
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize the model: {e}")))?;
    let optim_bytes =
        canonical_pack(optimizer.into_bytes().map_err(|e| {
            TrainError::Checkpoint(format!("cannot serialize the optimizer: {e}"))
        })?)?;
    Ok(checkpoint::save(
        &run_dir.file(checkpoint::FILE_NAME),
        progress,
        &model_bytes,
        &optim_bytes,
    )?)
}

/// Write `report.txt`, `report.json`, `predictions.csv` and `confusion.csv` for a test
/// evaluation; returns the report.
pub fn write_test_outputs(
    run_dir: &RunDir,
    cfg: &TrainConfig,
    test: &Dataset,
    eval: &Evaluation,
) -> Result<ClassificationReport, TrainError> {
    let report =
        ClassificationReport::new(&eval.confusion, None, &test.class_names, cfg.zero_division);
    run_dir.write("report.txt", &report.to_text(4))?;
    let json = serde_json::json!({
        "accuracy": report.accuracy,
        "samples": report.samples,
        "loss": eval.loss,
        "zero_division": cfg.zero_division,
        "classification_report": report.to_sklearn_json(),
        "report": report,
    });
    run_dir.write(
        "report.json",
        &serde_json::to_string_pretty(&json).expect("json"),
    )?;
    if let Some(p) = &eval.probabilities {
        run_dir.write(
            "predictions.csv",
            &predictions_csv(&test.labels, &eval.predictions, p, &test.class_names),
        )?;
    }
    run_dir.write("confusion.csv", &eval.confusion.to_csv(&test.class_names))?;
    Ok(report)
}

/// What a trained model expects: the raw input shape (before augmentation) and the classes.
/// Written as `model.json` in the run directory.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCard {
    /// Input width in pixels.
    pub width: usize,
    /// Input height in pixels.
    pub height: usize,
    /// Input channels.
    pub channels: usize,
    /// Class names in label order.
    pub class_names: Vec<String>,
}

/// Load a run directory for inference: its config, model card, trained model (validation
/// mode, on `device`) and the deterministic (evaluation) augmenter.
pub fn load_for_inference(
    dir: &Path,
    device: &ComputeDevice,
) -> Result<(TrainConfig, ModelCard, Model, Augmenter), TrainError> {
    let read = |name: &str| -> Result<String, TrainError> {
        let path = dir.join(name);
        let bytes = crate::util::fs::read(&path)?;
        String::from_utf8(bytes)
            .map_err(|_| TrainError::Config(format!("{}: not UTF-8 text", path.display())))
    };
    let cfg = TrainConfig::from_toml(
        &read("config.toml")?,
        &dir.join("config.toml").display().to_string(),
    )
    .map_err(TrainError::Config)?;
    let card: ModelCard = serde_json::from_str(&read("model.json")?)
        .map_err(|e| TrainError::Config(format!("{}: {e}", dir.join("model.json").display())))?;
    let probe = Dataset::from_pixels(
        card.height,
        card.width,
        card.channels,
        card.class_names.clone(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let spec = resolve_pipeline(&cfg, &probe);
    let (train_aug, eval_aug) = augmenters(&spec, &probe, cfg.seed, device)?;
    let model = build_model(&cfg, &train_aug, card.class_names.len(), &device.device)?;
    let ckpt = checkpoint::load(&dir.join(checkpoint::FILE_NAME))?;
    let model = restore_model(model, ckpt.model)?;
    Ok((cfg, card, model, eval_aug))
}

/// Train a fresh model on `train` for `cfg.epochs` epochs, without validation or files (used by
/// cross-validation). Returns the model in validation mode and the evaluation augmenter.
pub fn fit(
    cfg: &TrainConfig,
    train: &Dataset,
    device: &ComputeDevice,
    reporter: &Reporter,
    what: &str,
) -> Result<(Model, Augmenter), TrainError> {
    cfg.validate().map_err(TrainError::Config)?;
    let spec = resolve_pipeline(cfg, train);
    let (train_aug, eval_aug) = augmenters(&spec, train, cfg.seed, device)?;
    let ad = device.device.clone().autodiff();
    let mut model = build_model(cfg, &train_aug, train.num_classes(), &ad)?;
    let mut optimizer = optim::build(&cfg.optimizer);
    let (train_set, class_weights) = balanced_train(cfg, train)?;
    for epoch in 0..cfg.epochs {
        let lr = cfg.schedule.lr_at(cfg.optimizer.lr, epoch, cfg.epochs);
        let mut bar = reporter.epoch(
            epoch + 1,
            cfg.epochs,
            train_set.len().div_ceil(cfg.batch_size),
        );
        let mut ctx = EpochContext {
            data: &train_set,
            aug: &train_aug,
            cfg,
            device: &ad,
            epoch,
            lr,
            class_weights: class_weights.as_deref(),
        };
        let (trained, stats) = train_epoch(&mut ctx, model, &mut optimizer, Some(&mut bar), None)?;
        bar.finish();
        model = trained;
        reporter.line(&format!(
            "{what}: epoch {}/{}  train loss {:.4} acc {:.4}",
            epoch + 1,
            cfg.epochs,
            stats.loss_sum / stats.seen.max(1) as f64,
            stats.correct as f64 / stats.seen.max(1) as f64
        ));
    }
    Ok((model.valid(), eval_aug))
}

/// Load a run directory's config and trained model for evaluation on `device`.
pub fn load_run(
    dir: &Path,
    device: &ComputeDevice,
    data: &Splits,
    cfg: &TrainConfig,
) -> Result<(Model, Augmenter), TrainError> {
    let spec = resolve_pipeline(cfg, &data.train);
    let (train_aug, eval_aug) = augmenters(&spec, &data.train, cfg.seed, device)?;
    let model = build_model(cfg, &train_aug, data.train.num_classes(), &device.device)?;
    let ckpt = checkpoint::load(&dir.join(checkpoint::FILE_NAME))?;
    let model = restore_model(model, ckpt.model)?;
    Ok((model, eval_aug))
}
