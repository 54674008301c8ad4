//! The training loop's metrics kept on the device: each batch's loss and count of correct
//! predictions stay tensors until a read, which fetches every pending value in one transfer
//! (one host sync), so that the device never waits on the host inside an epoch between reads.
//!
//! The values read are the ones the per-batch reads gave before (each batch's mean loss as
//! `f32`, summed in `f64` in batch order), so the epoch's loss and accuracy do not depend on how
//! often they are read.

use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::tensor::TensorData;

use super::TrainError;
use super::epoch::EpochStats;

/// How often the pending metrics are read inside an epoch (the end of an epoch always reads).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadSchedule {
    /// After every `n`-th batch.
    Batches(usize),
    /// When at least this much wall time passed since the last read (checked on the host's
    /// clock, without touching the device).
    Interval(Duration),
}

impl ReadSchedule {
    /// The schedule of a config's `sync_every`: 0 = about twice a second.
    pub fn from_sync_every(sync_every: usize) -> Self {
        match sync_every {
            0 => ReadSchedule::Interval(Duration::from_millis(500)),
            n => ReadSchedule::Batches(n),
        }
    }
}

/// The number of rows of `logits` whose argmax is the row's label, as a one-element float
/// tensor on `logits`' device (the labels are uploaded).
pub fn correct_count(logits: Tensor<2>, labels: &[u32]) -> Tensor<1> {
    let device = logits.device();
    let n = labels.len();
    let labels_i32: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
    let targets = Tensor::<2, Int>::from_data(TensorData::new(labels_i32, [n, 1]), &device);
    logits.argmax(1).equal(targets).int().sum().float()
}

/// Per-batch metrics waiting on the device.
pub struct PendingMetrics {
    schedule: ReadSchedule,
    last_read: Instant,
    /// Epoch, 1-based (for the non-finite error).
    epoch: usize,
    /// Batches read so far.
    batches_read: usize,
    losses: Vec<Tensor<1>>,
    correct: Vec<Tensor<1>>,
    sizes: Vec<usize>,
}

impl PendingMetrics {
    /// Nothing pending, for epoch `epoch` (0-based).
    pub fn new(schedule: ReadSchedule, epoch: usize) -> Self {
        Self {
            schedule,
            last_read: Instant::now(),
            epoch: epoch + 1,
            batches_read: 0,
            losses: Vec::new(),
            correct: Vec::new(),
            sizes: Vec::new(),
        }
    }

    /// Keep a batch's mean loss (one element) and the number of rows of `logits` whose argmax
    /// is the row's label, both computed on the device. Returns the bytes uploaded (labels).
    pub fn push(&mut self, loss: Tensor<1>, logits: Tensor<2>, labels: &[u32]) -> u64 {
        let correct = correct_count(logits, labels);
        self.push_counts(loss, correct, labels.len());
        (labels.len() * 4) as u64
    }

    /// Keep a batch's mean loss and correct count (one element each, on the device) for a
    /// batch of `n` images.
    pub fn push_counts(&mut self, loss: Tensor<1>, correct: Tensor<1>, n: usize) {
        self.losses.push(loss.reshape([1]));
        self.correct.push(correct.reshape([1]));
        self.sizes.push(n);
    }

    /// Whether the schedule asks for a read now.
    pub fn due(&self) -> bool {
        let pending = self.sizes.len();
        pending > 0
            && match self.schedule {
                ReadSchedule::Batches(n) => (self.batches_read + pending).is_multiple_of(n),
                ReadSchedule::Interval(d) => self.last_read.elapsed() >= d,
            }
    }

    /// Batches whose metrics were read so far.
    pub fn batches_read(&self) -> usize {
        self.batches_read
    }

    /// Read every pending value in one transfer into `stats` (one host sync, counted in its
    /// transfers). A non-finite loss fails naming its batch.
    pub fn read(&mut self, stats: &mut EpochStats) -> Result<(), TrainError> {
        let k = self.sizes.len();
        if k == 0 {
            return Ok(());
        }
        let mut all = std::mem::take(&mut self.losses);
        all.append(&mut self.correct);
        let values = Tensor::cat(all, 0)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Tensor(format!("{e:?}")))?;
        stats.transfers.host_syncs += 1;
        stats.transfers.bytes_read_back += (values.len() * 4) as u64;
        self.last_read = Instant::now();
        let sizes = std::mem::take(&mut self.sizes);
        for (i, &n) in sizes.iter().enumerate() {
            let (loss, correct) = (values[i], values[k + i]);
            if !loss.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch: self.epoch,
                    batch: self.batches_read + i + 1,
                    value: loss as f64,
                    last_good: 0,
                });
            }
            stats.loss_sum += loss as f64 * n as f64;
            stats.correct += correct as usize;
            stats.seen += n;
        }
        self.batches_read += k;
        Ok(())
    }
}
