//! Training and evaluation: the [`Trainer`] (model, optimizer, augmenters, schedule), one
//! epoch's batch loop, evaluation, losses, optimizers, checkpoints and resume, and a whole run
//! top to bottom ([`run()`]).
//!
//! One epoch: the epoch order comes from `(seed, epoch)`; each batch is gathered as `u8` HWC
//! slices, augmented on the training device (fused kernel or CPU twin), pushed through the
//! model, the loss is back-propagated and the optimizer steps. After each epoch the model is
//! validated, `metrics.jsonl` is rewritten and the checkpoint replaced, all atomically. At the
//! end the test split is evaluated and the report, predictions and confusion matrix written.

pub mod cv;
pub mod device_metrics;
pub mod embed;
pub mod epoch;
pub mod evaluate;
pub mod flat;
pub mod inference;
pub mod launches;
pub mod loss;
pub mod optim;
pub mod parallel;
pub mod progress;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod trainer;
pub mod weights;

pub use epoch::{Breakdown, EpochContext, EpochStats, train_epoch};
pub use evaluate::{Evaluation, evaluate};
pub use inference::Inference;
pub use run::{RunOptions, RunSummary, run, write_test_outputs};
pub use trainer::{Trainer, augmenters, build_model, imagenet_pipeline, resolve_pipeline};
pub use weights::{restore, restore_model};

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
    /// The loss of a whole epoch went far above where the run started (see
    /// [`trainer::DIVERGENCE_FACTOR`]): the model is learning away from the labels.
    #[error(
        "training diverged: the mean training loss of epoch {epoch} was {loss:.4}, more than {factor} times {chance:.4}, where the run started (the loss of a uniform guess over the classes, or of its first epoch if higher); training stopped and {kept}; try a lower learning rate (--lr, this run's was {lr})",
        factor = trainer::DIVERGENCE_FACTOR,
        kept = kept_checkpoint(.last_good)
    )]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Its mean training loss.
        loss: f64,
        /// Where the run started: ln(classes), or the first epoch's mean loss if higher.
        chance: f64,
        /// The base learning rate.
        lr: f64,
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
    /// A device of a data-parallel run could not be opened.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// Pretrained weights could not be read or do not fit the model.
    #[error(transparent)]
    Pretrained(#[from] crate::model::pretrained::PretrainedError),
}

/// What a stopped run kept: "the last good checkpoint (epoch N) was kept", or that none was
/// written.
fn kept_checkpoint(last_good: &usize) -> String {
    match last_good {
        0 => "no checkpoint was written".to_string(),
        n => format!("the last good checkpoint (epoch {n}) was kept"),
    }
}

impl TrainError {
    /// A non-finite loss error told which epoch's checkpoint is the last good one on disk.
    pub fn with_last_good(self, epochs_done: usize) -> Self {
        match self {
            TrainError::NonFinite {
                epoch,
                batch,
                value,
                ..
            } => TrainError::NonFinite {
                epoch,
                batch,
                value,
                last_good: epochs_done,
            },
            TrainError::Diverged {
                epoch,
                loss,
                chance,
                lr,
                ..
            } => TrainError::Diverged {
                epoch,
                loss,
                chance,
                lr,
                last_good: epochs_done,
            },
            other => other,
        }
    }
}
