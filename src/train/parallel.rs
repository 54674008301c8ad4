//! Data-parallel training on several devices of one machine (`--devices`), with burn's own
//! multi-device machinery: each step the model is forked to every other device (a replica per
//! device), each device augments and trains on its contiguous shard of the global batch with
//! the fused kernel, and the gradients are moved to the main device (the first) and summed
//! there ([`GradientsAccumulator`]) before the one optimizer step.
//!
//! Each shard's loss is scaled by its share of the global batch (its rows, or with class
//! weights its share of the summed weights), so the summed gradient is the gradient of the
//! global batch's loss: one device with the same batch gives the same step up to the order of
//! float additions. What differs by design: batch-norm statistics are per shard (as in
//! PyTorch's DistributedDataParallel without SyncBatchNorm), mixup/cutmix partners are drawn
//! within a shard, and dropout masks come from each device's own generator.
//!
//! burn 0.22 has no device-to-device transport on wgpu (NCCL's all-reduce is CUDA only), so
//! both the replication and the gradient merge go through the host: a host sync per replica
//! per step.

use std::ops::Range;

use burn::module::{ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

use super::epoch::EpochContext;
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

/// One data-parallel step's results on the main device.
pub struct ShardedStep {
    /// The summed gradients of every shard.
    pub grads: GradientsParams,
    /// The global batch's loss (sum of the scaled shard losses), not differentiable.
    pub loss: Tensor<1>,
    /// Correct argmax predictions in the global batch.
    pub correct: Tensor<1>,
    /// The step's host/device traffic: image and other uploads, and for every replica the
    /// weights read from the main device and written to it, its gradients read back and
    /// written to the main device, and its loss and correct count (burn moves a tensor
    /// between wgpu devices through the host, one read, hence one sync, per tensor).
    pub transfers: TransferCounts,
}

/// Forward and backward of the batch `idx` (positions in `ctx.data`) split over the main device
/// and `ctx.replicas`; the gradients merged on the main device.
pub fn step(
    ctx: &EpochContext<'_>,
    model: &Model,
    idx: &[usize],
) -> Result<ShardedStep, TrainError> {
    let data = ctx.data;
    let classes = data.num_classes();
    let shards = shard_ranges(idx.len(), 1 + ctx.replicas.len());
    // Replicate first: a fork reads the main device's weights, which must not wait on work
    // queued for this step. (The weights are initialized: a fork of a lazily initialized
    // parameter would initialize it on the replica, from that device's generator; see
    // `materialize`, which `build_model` calls.)
    let models: Vec<Model> = (0..shards.len())
        .map(|d| match d {
            0 => model.clone(),
            _ => model.clone().fork(&ctx.replicas[d - 1].device),
        })
        .collect();
    let (batches, uploaded) = shard_batches(ctx, idx, &shards)?;
    let weight = |targets: &[f32]| loss::batch_weight(targets, classes, ctx.class_weights);
    let total: f64 = batches.iter().map(|s| weight(&s.targets)).sum();
    let mut accumulator = GradientsAccumulator::<Model>::new();
    let (mut loss_sum, mut correct_sum) = (None::<Tensor<1>>, None::<Tensor<1>>);
    for (d, shard) in batches.into_iter().enumerate() {
        let Shard {
            batch,
            labels,
            targets,
        } = shard;
        let device = if d == 0 {
            ctx.device
        } else {
            &ctx.replicas[d - 1].device
        };
        let logits = models[d].forward(batch.images);
        let scale = weight(&targets) / total.max(f64::MIN_POSITIVE);
        let shard_loss = loss::loss(
            ctx.cfg.loss,
            logits.clone(),
            &targets,
            ctx.class_weights,
            device,
        )
        .mul_scalar(scale);
        let grads = GradientsParams::from_grads(shard_loss.clone().backward(), &models[d]);
        let correct = super::device_metrics::correct_count(logits.inner(), &labels);
        let main = ctx.device.clone().inner();
        let (l, c) = (
            shard_loss.inner().to_device(&main),
            correct.to_device(&main),
        );
        loss_sum = Some(loss_sum.map_or(l.clone(), |s| s + l));
        correct_sum = Some(correct_sum.map_or(c.clone(), |s| s + c));
        accumulator.accumulate(model, grads.to_device(ctx.device, model));
    }
    let (tensors, scalars) = param_counts(model);
    let moved = (shards.len() - 1) as u64;
    let bytes = moved * (2 * scalars * 4 + 8);
    let transfers = TransferCounts {
        resident: ctx.resident.is_some(),
        image_bytes_uploaded: uploaded.image_bytes,
        other_bytes_uploaded: uploaded.other_bytes + bytes,
        bytes_read_back: bytes,
        host_syncs: moved * (2 * tensors + 2),
        kernel_launches: None,
    };
    Ok(ShardedStep {
        grads: accumulator.grads(),
        loss: loss_sum.expect("a batch has at least one shard"),
        correct: correct_sum.expect("a batch has at least one shard"),
        transfers,
    })
}

/// The number of float parameter tensors of `model` and of their values.
fn param_counts(model: &Model) -> (u64, u64) {
    struct Count(u64, u64);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 += 1;
            self.1 += param.shape().num_elements() as u64;
        }
    }
    let mut count = Count(0, 0);
    model.visit(&mut count);
    (count.0, count.1)
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
