//! One training epoch: the epoch's order from `(seed, epoch)`, augmentation on the training
//! device, forward, loss, backward and optimizer step per batch.

use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::config::{LossKind, TrainConfig};
use super::evaluate::{argmax_rows, to_vec};
use super::optim::{EpochLr, clip_global_norm};
use super::{TrainError, loss, progress};
use crate::augment::Augmenter;
use crate::data::balance::{self, Balance};
use crate::data::{Dataset, sampler};
use crate::model::Model;

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
    /// Learning rates of this epoch's batches.
    pub lr: EpochLr,
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
/// loss (with the config's label smoothing), backward, global gradient-norm clipping when
/// configured, optimizer step per batch. With `breakdown`, every phase is synced and timed.
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
        let mut targets = loss::target_rows(&labels, batch.mix.as_deref(), classes);
        if cfg.loss == LossKind::CrossEntropy {
            loss::smooth(&mut targets, classes, cfg.label_smoothing);
        }
        let loss = loss::loss(
            cfg.loss,
            logits.clone(),
            &targets,
            ctx.class_weights,
            ctx.device,
        );
        lap(|b| &mut b.forward, &mut breakdown)?;
        let mut grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        if cfg.optimizer.clip_grad_norm > 0.0 {
            clip_global_norm(&mut grads, &model, cfg.optimizer.clip_grad_norm)?;
        }
        lap(|b| &mut b.backward, &mut breakdown)?;
        model = optimizer.step(ctx.lr.at(b), model, grads);
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
