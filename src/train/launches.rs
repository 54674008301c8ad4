//! Counting the GPU work of training: the kernels a stretch of work launches, through cubecl's
//! launch observer (called on the launching thread before each kernel is submitted: burn's
//! kernels and augtrain's alike), and the order in which a data-parallel step queues its shards
//! and waits on reads ([`StepOrder`]).
//!
//! The observer is process-wide: two counted stretches running at once on different threads
//! would count each other's launches. The CLI trains one model at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use augtrain_run::records::ParallelCounts;
use burn::cubecl::logging::{LaunchObservation, LaunchObserver};

#[derive(Default)]
struct Count(AtomicU64);

impl LaunchObserver for Count {
    fn launched(&self, _kernel: &'static str) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts kernel launches while it lives.
pub struct LaunchCounter {
    count: Arc<Count>,
    _observation: LaunchObservation,
}

impl LaunchCounter {
    /// Start counting.
    pub fn start() -> Self {
        let count = Arc::new(Count::default());
        let observation = LaunchObservation::new(count.clone());
        Self {
            count,
            _observation: observation,
        }
    }

    /// Kernels launched since [`LaunchCounter::start`].
    pub fn launches(&self) -> u64 {
        self.count.0.load(Ordering::Relaxed)
    }
}

/// The order of a data-parallel epoch's events, as its steps report them: shards queued on
/// their devices, reads the host waits on, and the flattened buffers moved between devices.
/// A read counts as early when it comes before every shard of its step was queued.
#[derive(Debug, Default)]
pub struct StepOrder {
    counts: ParallelCounts,
    /// Shards of the current step, and how many of them are queued so far.
    shards: u64,
    queued: u64,
    read_early: bool,
}

impl StepOrder {
    /// A step of `shards` shards begins.
    pub fn begin(&mut self, shards: usize) {
        self.shards = shards as u64;
        self.queued = 0;
        self.read_early = false;
    }

    /// One shard's forward and backward were queued on its device.
    pub fn queued(&mut self) {
        self.queued += 1;
        self.counts.shards_queued += 1;
    }

    /// The host waited on a read of one of the step's devices.
    pub fn read(&mut self) {
        self.read_early |= self.queued < self.shards;
    }

    /// A replica's flattened gradients were read and moved to the main device (one read).
    pub fn gradients_received(&mut self) {
        self.read();
        self.counts.gradient_transfers += 1;
    }

    /// The main device's flattened weights were uploaded to `n` replicas.
    pub fn weights_sent(&mut self, n: usize) {
        self.counts.weight_transfers += n as u64;
    }

    /// The step ended (its optimizer step is queued).
    pub fn end(&mut self) {
        self.counts.steps += 1;
        self.counts.steps_read_before_all_queued += u64::from(self.read_early);
    }

    /// The counts so far.
    pub fn counts(&self) -> ParallelCounts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_before_the_last_shard_is_queued_marks_its_step() {
        let mut order = StepOrder::default();
        order.begin(2);
        order.queued();
        order.queued();
        order.gradients_received();
        order.weights_sent(1);
        order.end();
        order.begin(2);
        order.queued();
        order.read();
        order.queued();
        order.end();
        let counts = order.counts();
        assert_eq!(counts.steps, 2);
        assert_eq!(counts.shards_queued, 4);
        assert_eq!(counts.steps_read_before_all_queued, 1);
        assert_eq!((counts.gradient_transfers, counts.weight_transfers), (1, 1));
    }
}
