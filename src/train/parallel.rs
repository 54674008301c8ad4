//! Data-parallel training on several devices of one machine (`--devices`): each device keeps
//! a replica of the model for the epoch, augments and trains on its contiguous shard of the
//! global batch with the fused kernel, and the gradients are summed on the main device (the
//! first) before the one optimizer step, whose updated weights are then sent out to the
//! replicas.
//!
//! Each shard's loss is scaled by its share of the global batch (its rows, or with class
//! weights its share of the summed weights), so the summed gradient is the gradient of the
//! global batch's loss: one device with the same batch gives the same step up to the order of
//! float additions. What differs by design: batch-norm statistics are per shard (as in
//! PyTorch's DistributedDataParallel without SyncBatchNorm), mixup/cutmix partners are drawn
//! within a shard, and dropout masks come from each device's own generator.
//!
//! burn 0.22 has no device-to-device transport on wgpu (NCCL's all-reduce is CUDA only), so
//! every transfer goes through the host and is a blocking read of its source device. A step
//! therefore first queues every shard's forward and backward and hands each device its work,
//! and only then reads: one flattened buffer per replica (its gradients, loss and correct
//! count, [`flat`](super::flat)); after the optimizer step the main device's weights are read
//! once and uploaded to each replica as one buffer. [`StepOrder`] records that order.

use std::ops::Range;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::epoch::EpochContext;
use super::flat::{self, GradLayout};
use super::launches::StepOrder;
use super::{TrainError, loss};
use crate::augment::gpu::ResidentImages;
use crate::augment::{AugmentedBatch, Augmenter, Uploaded};
use crate::model::Model;
use augtrain_run::config::LossKind;
use augtrain_run::records::TransferCounts;

/// Another device of a data-parallel run: its autodiff device, its own augmenter (the fused
/// kernel bound to it) and its copy of the resident training images.
pub struct Replica {
    /// The autodiff device.
    pub device: Device,
    /// The training augmenter on this device.
    pub aug: Augmenter,
    /// The training images resident on this device, when they fit.
    pub resident: Option<ResidentImages>,
    /// Why this device streams the training set per batch, when it fell back to streaming.
    pub streaming: Option<String>,
}

/// The contiguous shards of a batch of `n` over `parts` devices: sizes differ by at most one,
/// the larger first; empty shards are left out.
pub fn shard_ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let (base, extra) = (n / parts, n % parts);
    let mut out = Vec::new();
    let mut start = 0;
    for d in 0..parts {
        let len = base + usize::from(d < extra);
        if len > 0 {
            out.push(start..start + len);
        }
        start += len;
    }
    out
}

/// The replicas' copies of the model during one epoch, kept in step with the main device's
/// model by [`ReplicaModels::send`], and the order of the epoch's transfers.
pub struct ReplicaModels {
    /// One model per replica, in `ctx.replicas`' order.
    models: Vec<Model>,
    /// The epoch's step order and transfer counts.
    pub order: StepOrder,
}

impl ReplicaModels {
    /// Copies of `model` on every replica of `ctx` (one weight transfer each).
    pub fn new(ctx: &EpochContext<'_>, model: &Model, transfers: &mut TransferCounts) -> Self {
        let mut replicas = Self {
            models: Vec::new(),
            order: StepOrder::default(),
        };
        // A model's clones share its running statistics (batch norm's `RunningState` is behind
        // an `Arc`): a replica built on a clone would write its statistics into the main
        // model's. `valid().train()` rebuilds them; the freezing is applied again.
        let own = || super::trainer::freeze(ctx.cfg, model.valid().train());
        replicas.models = replicas.upload(ctx, model, |_| own(), transfers);
        replicas
    }

    /// Send `model`'s weights (the main device's, after an optimizer step) to every replica:
    /// one read of the main device, one upload per replica.
    pub fn send(&mut self, ctx: &EpochContext<'_>, model: &Model, transfers: &mut TransferCounts) {
        let old = std::mem::take(&mut self.models);
        let mut old = old.into_iter();
        self.models = self.upload(
            ctx,
            model,
            |_| old.next().expect("one model per replica"),
            transfers,
        );
    }

    /// `model`'s weights loaded into `base(d)` on each replica `d`.
    fn upload(
        &mut self,
        ctx: &EpochContext<'_>,
        model: &Model,
        mut base: impl FnMut(usize) -> Model,
        transfers: &mut TransferCounts,
    ) -> Vec<Model> {
        let weights = flat::weights(model).into_data();
        self.order.read();
        let bytes = weights.as_bytes().len() as u64;
        transfers.host_syncs += 1;
        transfers.bytes_read_back += bytes;
        transfers.other_bytes_uploaded += bytes * ctx.replicas.len() as u64;
        self.order.weights_sent(ctx.replicas.len());
        ctx.replicas
            .iter()
            .enumerate()
            .map(|(d, r)| {
                let device = r.device.clone().inner();
                flat::load_weights(base(d), Tensor::from_data(weights.clone(), &device))
            })
            .collect()
    }
}

/// One data-parallel step's results on the main device.
pub struct ShardedStep {
    /// The summed gradients of every shard.
    pub grads: GradientsParams,
    /// The global batch's loss (sum of the scaled shard losses), not differentiable.
    pub loss: Tensor<1>,
    /// Correct argmax predictions in the global batch.
    pub correct: Tensor<1>,
    /// The step's host/device traffic: image and other uploads, and for every replica its
    /// flattened gradients, loss and correct count read back and written to the main device.
    pub transfers: TransferCounts,
}

/// A shard's results on its device, queued but not read.
struct Queued {
    grads: GradientsParams,
    loss: Tensor<1>,
    correct: Tensor<1>,
}

/// Forward and backward of the batch `idx` (positions in `ctx.data`) split over the main device
/// (`model`) and `ctx.replicas` (`replicas`' models): every shard is queued on its device and
/// the devices flushed before any result is read; then each replica's gradients, loss and
/// correct count come to the main device as one buffer and are summed there.
pub fn step(
    ctx: &EpochContext<'_>,
    model: &Model,
    replicas: &mut ReplicaModels,
    idx: &[usize],
) -> Result<ShardedStep, TrainError> {
    let shards = shard_ranges(idx.len(), 1 + ctx.replicas.len());
    replicas.order.begin(shards.len());
    let (batches, uploaded) = shard_batches(ctx, idx, &shards)?;
    let classes = ctx.data.num_classes();
    let weight = |targets: &[f32]| loss::batch_weight(targets, classes, ctx.class_weights);
    let total: f64 = batches.iter().map(|s| weight(&s.targets)).sum();
    let mut queued = Vec::with_capacity(batches.len());
    for (d, shard) in batches.into_iter().enumerate() {
        let (device, m) = match d {
            0 => (ctx.device, model),
            _ => (&ctx.replicas[d - 1].device, &replicas.models[d - 1]),
        };
        let scale = weight(&shard.targets) / total.max(f64::MIN_POSITIVE);
        queued.push(queue_shard(ctx, m, device, shard, scale));
        replicas.order.queued();
    }
    for device in std::iter::once(ctx.device).chain(ctx.replicas.iter().map(|r| &r.device)) {
        device
            .flush()
            .map_err(|e| TrainError::Tensor(format!("device flush failed: {e:?}")))?;
    }
    let mut shards_out = queued.into_iter();
    let main = shards_out.next().expect("a batch has at least one shard");
    let layout = GradLayout::of(model, &main.grads);
    let main_device = ctx.device.clone().inner();
    let mut sum = layout.flatten(model, main.grads, &main_device);
    let (mut loss_sum, mut correct_sum) = (main.loss, main.correct);
    let mut moved = 0u64;
    for (d, shard) in shards_out.enumerate() {
        let replica_device = ctx.replicas[d].device.clone().inner();
        let grads = layout.flatten(&replicas.models[d], shard.grads, &replica_device);
        let buffer = Tensor::cat(vec![grads, shard.loss, shard.correct], 0);
        let buffer = buffer.to_device(&main_device);
        replicas.order.gradients_received();
        moved += 1;
        let n = layout.len;
        sum = sum + buffer.clone().narrow(0, 0, n);
        loss_sum = loss_sum + buffer.clone().narrow(0, n, 1);
        correct_sum = correct_sum + buffer.narrow(0, n + 1, 1);
    }
    let bytes = moved * (layout.len as u64 + 2) * 4;
    let transfers = TransferCounts {
        resident: ctx.resident.is_some(),
        image_bytes_uploaded: uploaded.image_bytes,
        other_bytes_uploaded: uploaded.other_bytes + bytes,
        bytes_read_back: bytes,
        host_syncs: moved,
        kernel_launches: None,
        parallel: None,
    };
    Ok(ShardedStep {
        grads: layout.split(model, sum),
        loss: loss_sum,
        correct: correct_sum,
        transfers,
    })
}

/// Queue shard `shard`'s forward, loss (times `scale`) and backward through `model` on
/// `device`, and its correct count; nothing is read.
fn queue_shard(
    ctx: &EpochContext<'_>,
    model: &Model,
    device: &Device,
    shard: Shard,
    scale: f64,
) -> Queued {
    let Shard {
        batch,
        labels,
        targets,
    } = shard;
    let logits = model.forward(batch.images);
    let shard_loss = loss::loss(
        ctx.cfg.loss,
        logits.clone(),
        &targets,
        ctx.class_weights,
        device,
    )
    .mul_scalar(scale);
    let grads = GradientsParams::from_grads(shard_loss.clone().backward(), model);
    let correct = super::device_metrics::correct_count(logits.inner(), &labels);
    Queued {
        grads,
        loss: shard_loss.inner().reshape([1]),
        correct: correct.reshape([1]),
    }
}

/// Initialize every lazily initialized parameter of `model` on its own device, now (a no-op
/// once they are): burn draws a parameter's initial values at its first use, from the
/// device's generator as it is then.
pub fn materialize(model: &Model) {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

/// One device's part of a batch, augmented on that device.
struct Shard {
    batch: AugmentedBatch,
    labels: Vec<u32>,
    /// Target rows, label smoothing applied.
    targets: Vec<f32>,
}

/// Each shard's augmented batch, labels and targets, and the bytes they took to the devices.
fn shard_batches(
    ctx: &EpochContext<'_>,
    idx: &[usize],
    shards: &[Range<usize>],
) -> Result<(Vec<Shard>, Uploaded), TrainError> {
    let classes = ctx.data.num_classes();
    let mut uploaded = Uploaded {
        image_bytes: 0,
        other_bytes: 0,
    };
    let mut batches = Vec::with_capacity(shards.len());
    for (d, range) in shards.iter().enumerate() {
        let part = &idx[range.clone()];
        let batch = augment_shard(ctx, d, part)?;
        uploaded.image_bytes += batch.uploaded.image_bytes;
        uploaded.other_bytes += batch.uploaded.other_bytes;
        let labels: Vec<u32> = part.iter().map(|&i| ctx.data.labels[i]).collect();
        let mut targets = loss::target_rows(&labels, batch.mix.as_deref(), classes);
        if ctx.cfg.loss == LossKind::CrossEntropy {
            loss::smooth(&mut targets, classes, ctx.cfg.label_smoothing);
        }
        uploaded.other_bytes += (targets.len() + labels.len()) as u64 * 4;
        batches.push(Shard {
            batch,
            labels,
            targets,
        });
    }
    Ok((batches, uploaded))
}

/// Augment shard `d`'s images on device `d`: gathered from its resident copy when there is
/// one, else uploaded.
fn augment_shard(
    ctx: &EpochContext<'_>,
    d: usize,
    part: &[usize],
) -> Result<AugmentedBatch, TrainError> {
    let (aug, resident, device) = match d {
        0 => (ctx.aug, ctx.resident, ctx.device),
        _ => {
            let r = &ctx.replicas[d - 1];
            (&r.aug, r.resident.as_ref(), &r.device)
        }
    };
    let ids: Vec<u64> = part.iter().map(|&i| ctx.data.ids[i]).collect();
    Ok(match resident {
        Some(resident) => {
            let slots: Vec<u32> = part.iter().map(|&i| i as u32).collect();
            aug.batch_resident(resident, &slots, &ids, ctx.epoch, device)?
        }
        None => {
            let images: Vec<&[u8]> = part.iter().map(|&i| ctx.data.image(i)).collect();
            aug.batch(&images, &ids, ctx.epoch, device)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_near_equal_and_never_empty() {
        assert_eq!(shard_ranges(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(shard_ranges(2, 4), vec![0..1, 1..2]);
        assert_eq!(shard_ranges(8, 1), vec![0..8]);
        assert!(shard_ranges(0, 2).is_empty());
    }
}
