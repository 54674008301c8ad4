//! The learning-rate schedule: the rate of each epoch (and, during warmup, of each batch)
//! from the base rate and the run's `[schedule]` keys, as PyTorch's `StepLR` and
//! `CosineAnnealingLR` (stepped per epoch) compute it.

use augtrain_run::config::{ScheduleConfig, ScheduleKind};

/// The learning rate of `epoch` (0-based) out of `epochs`, from base rate `lr`, outside
/// warmup (see [`lr_at_batch`]).
pub fn lr_at(schedule: &ScheduleConfig, lr: f64, epoch: usize, epochs: usize) -> f64 {
    let epoch = epoch.saturating_sub(schedule.warmup_epochs);
    let epochs = epochs.saturating_sub(schedule.warmup_epochs);
    match schedule.kind {
        ScheduleKind::Constant => lr,
        ScheduleKind::Step => {
            lr * schedule
                .gamma
                .powi((epoch / schedule.step_size.max(1)) as i32)
        }
        ScheduleKind::Cosine => {
            let t = epoch as f64 / epochs.max(1) as f64;
            schedule.min_lr
                + (lr - schedule.min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
        }
    }
}

/// The learning rate of batch `batch` (0-based) of `batches` in `epoch` (0-based) out of
/// `epochs`: during the first `warmup_epochs` it rises linearly per batch, reaching `lr` at
/// the last warmup batch; afterwards it is [`lr_at`] (constant within an
/// epoch).
pub fn lr_at_batch(
    schedule: &ScheduleConfig,
    lr: f64,
    epoch: usize,
    batch: usize,
    batches: usize,
    epochs: usize,
) -> f64 {
    if epoch < schedule.warmup_epochs {
        let step = epoch * batches + batch + 1;
        return lr * step as f64 / (schedule.warmup_epochs * batches).max(1) as f64;
    }
    lr_at(schedule, lr, epoch, epochs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let s = ScheduleConfig {
            kind: ScheduleKind::Step,
            step_size: 2,
            gamma: 0.5,
            min_lr: 0.0,
            warmup_epochs: 0,
        };
        assert_eq!(lr_at(&s, 1.0, 0, 10), 1.0);
        assert_eq!(lr_at(&s, 1.0, 2, 10), 0.5);
        assert_eq!(lr_at(&s, 1.0, 5, 10), 0.25);
        let c = ScheduleConfig {
            kind: ScheduleKind::Cosine,
            min_lr: 0.1,
            ..s
        };
        assert!((lr_at(&c, 1.0, 0, 4) - 1.0).abs() < 1e-12);
        assert!((lr_at(&c, 1.0, 2, 4) - 0.55).abs() < 1e-12);
    }

    #[test]
    fn warmup_rises_per_batch_then_the_schedule_runs_over_the_rest() {
        let s = ScheduleConfig {
            kind: ScheduleKind::Cosine,
            warmup_epochs: 2,
            ..ScheduleConfig::default()
        };
        // 2 warmup epochs of 4 batches: lr/8, 2lr/8, ... up to lr at the last warmup batch.
        assert!((lr_at_batch(&s, 0.8, 0, 0, 4, 6) - 0.1).abs() < 1e-12);
        assert!((lr_at_batch(&s, 0.8, 1, 3, 4, 6) - 0.8).abs() < 1e-12);
        // Then cosine over the remaining 4 epochs, starting at lr.
        assert!((lr_at_batch(&s, 0.8, 2, 0, 4, 6) - 0.8).abs() < 1e-12);
        assert!((lr_at(&s, 0.8, 4, 6) - 0.4).abs() < 1e-12);
        // Without warmup nothing changes.
        let c = ScheduleConfig::default();
        assert_eq!(lr_at_batch(&c, 0.8, 1, 2, 4, 6), lr_at(&c, 0.8, 1, 6));
    }
}
