//! Counting the kernels a stretch of GPU work launches, through cubecl's launch observer
//! (called on the launching thread before each kernel is submitted: burn's kernels and
//! augtrain's alike).
//!
//! The observer is process-wide: two counted stretches running at once on different threads
//! would count each other's launches. The CLI trains one model at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
