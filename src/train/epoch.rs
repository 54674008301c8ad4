//! One training epoch: the epoch's order from `(seed, epoch)`, augmentation on the training
//! device, forward, loss, backward and optimizer step per batch.
//!
//! Nothing in a batch waits for the device: the images are gathered from the resident set on
//! the GPU (or uploaded), the loss and the correct count stay on the device
//! ([`super::device_metrics`]) and are read back on the schedule of `sync_every` and at the
//! epoch's end. The host/device traffic is counted in [`EpochStats::transfers`].

use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::device_metrics::{PendingMetrics, ReadSchedule};
use super::launches::LaunchCounter;
use super::optim::{EpochLr, clip_global_norm};
use super::parallel::{self, Replica, ReplicaModels};
use super::{TrainError, loss, progress};
use crate::augment::gpu::ResidentImages;
use crate::augment::{AugmentedBatch, Augmenter};
use crate::data::balance::{self, Balance};
use crate::data::{Dataset, sampler};
use crate::model::Model;
use augtrain_run::config::{LossKind, TrainConfig};
use augtrain_run::records::TransferCounts;

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
    /// `data`'s images resident on the GPU (gathered by index), or `None` to upload each
    /// batch's.
    pub resident: Option<&'a ResidentImages>,
    /// When the loss and accuracy are read back inside the epoch.
    pub reads: ReadSchedule,
    /// The other devices of a data-parallel run (empty: train on `device` alone).
    pub replicas: &'a [Replica],
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
    /// Host/device traffic of the epoch.
    pub transfers: TransferCounts,
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

fn sync(device: &Device, counts: &mut TransferCounts) -> Result<(), TrainError> {
    counts.host_syncs += 1;
    device
        .sync()
        .map_err(|e| TrainError::Tensor(format!("device sync failed: {e:?}")))
}

/// Read the pending metrics when their schedule says so, and show them.
fn read_if_due(
    pending: &mut PendingMetrics,
    stats: &mut EpochStats,
    bar: &mut Option<&mut progress::EpochProgress>,
) -> Result<(), TrainError> {
    if pending.due() {
        pending.read(stats)?;
        if let Some(bar) = bar.as_deref_mut() {
            bar.batch(
                pending.batches_read(),
                stats.loss_sum / stats.seen as f64,
                stats.seen,
            );
        }
    }
    Ok(())
}

/// Augment the batch of `idx` (positions in `ctx.data`): from the resident images when there
/// are, else gathered on the host and uploaded.
fn augment_batch(
    ctx: &EpochContext<'_>,
    idx: &[usize],
    ids: &[u64],
) -> Result<AugmentedBatch, TrainError> {
    Ok(match ctx.resident {
        Some(resident) => {
            let slots: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
            ctx.aug
                .batch_resident(resident, &slots, ids, ctx.epoch, ctx.device)?
        }
        None => {
            let images: Vec<&[u8]> = idx.iter().map(|&i| ctx.data.image(i)).collect();
            ctx.aug.batch(&images, ids, ctx.epoch, ctx.device)?
        }
    })
}

/// The per-phase clock of `--breakdown`: each lap syncs the device (counted) and adds the
/// time since the previous lap to a phase; without a breakdown it does nothing.
struct Laps<'a> {
    clock: Instant,
    device: &'a Device,
    breakdown: Option<&'a mut Breakdown>,
}

impl Laps<'_> {
    fn lap(
        &mut self,
        slot: fn(&mut Breakdown) -> &mut f64,
        counts: &mut TransferCounts,
    ) -> Result<(), TrainError> {
        if let Some(b) = self.breakdown.as_deref_mut() {
            sync(self.device, counts)?;
            *slot(b) += self.clock.elapsed().as_secs_f64();
            self.clock = Instant::now();
        }
        Ok(())
    }
}

/// Train `model` for one epoch: the epoch's order from `(seed, epoch)`, augmentation, forward,
/// loss (with the config's label smoothing), backward, global gradient-norm clipping when
/// configured, optimizer step per batch; loss and accuracy read back per `ctx.reads`. With
/// `breakdown`, every phase is synced and timed.
///
/// The model comes back whether the epoch succeeds or fails: after a failed batch it is the
/// model as the last completed step left it (the optimizer's state matches it).
pub fn train_epoch(
    ctx: &mut EpochContext<'_>,
    mut model: Model,
    optimizer: &mut ModuleOptimizer,
    mut bar: Option<&mut progress::EpochProgress>,
    breakdown: Option<&mut Breakdown>,
) -> (Model, Result<EpochStats, TrainError>) {
    let (cfg, data) = (ctx.cfg, ctx.data);
    let launches = ctx.aug.on_gpu().then(LaunchCounter::start);
    let mut stats = EpochStats::default();
    stats.transfers.resident = ctx.resident.is_some();
    let mut laps = Laps {
        clock: Instant::now(),
        device: ctx.device,
        breakdown,
    };
    let order = if cfg.balance == Balance::Sampler {
        balance::balanced_epoch(&data.labels, data.num_classes(), cfg.seed, ctx.epoch)
    } else {
        sampler::epoch_order(data.len(), cfg.seed, ctx.epoch)
    };
    let mut pending = PendingMetrics::new(ctx.reads, ctx.epoch);
    let batches: Vec<_> = sampler::batches(data.len(), cfg.batch_size).collect();
    let mut replicas =
        (!ctx.replicas.is_empty()).then(|| ReplicaModels::new(ctx, &model, &mut stats.transfers));
    for (b, range) in batches.iter().cloned().enumerate() {
        let idx = &order[range];
        let (next, stepped) = match replicas.as_mut() {
            None => {
                let batch = (b, idx);
                one_device_batch(
                    ctx,
                    model,
                    optimizer,
                    batch,
                    &mut stats,
                    &mut pending,
                    &mut laps,
                )
            }
            Some(replicas) => {
                let last = b + 1 == batches.len();
                let step = ParallelStep { b, idx, last };
                parallel_batch(
                    ctx,
                    model,
                    optimizer,
                    step,
                    replicas,
                    &mut stats,
                    &mut pending,
                )
            }
        };
        model = next;
        let read = stepped
            .and_then(|()| read_if_due(&mut pending, &mut stats, &mut bar))
            .and_then(|()| laps.lap(|b| &mut b.metrics, &mut stats.transfers));
        if let Err(e) = read {
            return (model, Err(e));
        }
    }
    if let Err(e) = pending.read(&mut stats) {
        return (model, Err(e));
    }
    stats.transfers.kernel_launches = launches.map(|l| l.launches());
    stats.transfers.parallel = replicas.map(|r| r.order.counts());
    (model, Ok(stats))
}

/// One training step on the batch `idx` (number `b` of the epoch, 0-based) on one device; its
/// loss and correct count are left pending. The model comes back, stepped or (on an error
/// before the step) as it was.
fn one_device_batch(
    ctx: &EpochContext<'_>,
    model: Model,
    optimizer: &mut ModuleOptimizer,
    (b, idx): (usize, &[usize]),
    stats: &mut EpochStats,
    pending: &mut PendingMetrics,
    laps: &mut Laps<'_>,
) -> (Model, Result<(), TrainError>) {
    let step = match gradients(ctx, &model, idx, stats, laps) {
        Ok(step) => step,
        Err(e) => return (model, Err(e)),
    };
    let model = optimizer.step(ctx.lr.at(b), model, step.grads);
    if let Err(e) = laps.lap(|b| &mut b.optimizer, &mut stats.transfers) {
        return (model, Err(e));
    }
    stats.transfers.other_bytes_uploaded +=
        pending.push(step.loss.inner(), step.logits.inner(), &step.labels);
    (model, Ok(()))
}

/// A batch's gradients and what its metrics need, before the optimizer steps.
struct BatchGradients {
    grads: GradientsParams,
    loss: Tensor<1>,
    logits: Tensor<2>,
    labels: Vec<u32>,
}

/// Gather and augment the batch `idx`, forward it through `model`, take the loss and its
/// gradients (clipped when configured).
fn gradients(
    ctx: &EpochContext<'_>,
    model: &Model,
    idx: &[usize],
    stats: &mut EpochStats,
    laps: &mut Laps<'_>,
) -> Result<BatchGradients, TrainError> {
    let (cfg, data) = (ctx.cfg, ctx.data);
    let classes = data.num_classes();
    let ids: Vec<u64> = idx.iter().map(|&i| data.ids[i]).collect();
    let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
    laps.lap(|b| &mut b.loading, &mut stats.transfers)?;
    let batch = augment_batch(ctx, idx, &ids)?;
    stats.transfers.image_bytes_uploaded += batch.uploaded.image_bytes;
    stats.transfers.other_bytes_uploaded += batch.uploaded.other_bytes;
    laps.lap(|b| &mut b.augmentation, &mut stats.transfers)?;
    let logits = model.forward(batch.images);
    let mut targets = loss::target_rows(&labels, batch.mix.as_deref(), classes);
    if cfg.loss == LossKind::CrossEntropy {
        loss::smooth(&mut targets, classes, cfg.label_smoothing);
    }
    stats.transfers.other_bytes_uploaded += (targets.len() * 4) as u64;
    let loss = loss::loss(
        cfg.loss,
        logits.clone(),
        &targets,
        ctx.class_weights,
        ctx.device,
    );
    laps.lap(|b| &mut b.forward, &mut stats.transfers)?;
    let mut grads = GradientsParams::from_grads(loss.clone().backward(), model);
    if cfg.optimizer.clip_grad_norm > 0.0 {
        clip_global_norm(&mut grads, model, cfg.optimizer.clip_grad_norm);
    }
    laps.lap(|b| &mut b.backward, &mut stats.transfers)?;
    Ok(BatchGradients {
        grads,
        loss,
        logits,
        labels,
    })
}

/// Which batch of the epoch a data-parallel step trains on.
struct ParallelStep<'a> {
    /// Batch number in the epoch, 0-based.
    b: usize,
    /// Positions in the training set.
    idx: &'a [usize],
    /// Whether it is the epoch's last batch (the replicas need no weights after it).
    last: bool,
}

/// One data-parallel training step on the batch `step.idx` over the main device and the
/// replicas ([`parallel::step`]), then the updated weights sent out to the replicas (except
/// after the epoch's last batch); its loss and correct count are left pending. The model comes
/// back, stepped or (on an error before the step) as it was.
fn parallel_batch(
    ctx: &EpochContext<'_>,
    model: Model,
    optimizer: &mut ModuleOptimizer,
    step: ParallelStep<'_>,
    replicas: &mut ReplicaModels,
    stats: &mut EpochStats,
    pending: &mut PendingMetrics,
) -> (Model, Result<(), TrainError>) {
    let mut sharded = match parallel::step(ctx, &model, replicas, step.idx) {
        Ok(sharded) => sharded,
        Err(e) => return (model, Err(e)),
    };
    stats.transfers.add(&sharded.transfers);
    let clip = ctx.cfg.optimizer.clip_grad_norm;
    if clip > 0.0 {
        clip_global_norm(&mut sharded.grads, &model, clip);
    }
    let model = optimizer.step(ctx.lr.at(step.b), model, sharded.grads);
    if !step.last {
        replicas.send(ctx, &model, &mut stats.transfers);
    }
    replicas.order.end();
    pending.push_counts(sharded.loss, sharded.correct, step.idx.len());
    (model, Ok(()))
}
