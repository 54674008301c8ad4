//! The typed contents of a run directory's JSON files: per-epoch records (`metrics.jsonl` and
//! the checkpoint's progress), the model card (`model.json`), the dataset summary
//! (`dataset.json`) and the test report (`report.json`). NaN values (no validation split,
//! undefined metrics) are written as `null` and read back as NaN.

use serde::{Deserialize, Serialize};

use augtrain_data::ImageShape;
use augtrain_quality::metrics::{ClassificationReport, ZeroDivision};

/// Metrics of one finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Learning rate used.
    #[serde(with = "augtrain_data::util::nan")]
    pub lr: f64,
    /// Mean training loss over the epoch's samples.
    #[serde(with = "augtrain_data::util::nan")]
    pub train_loss: f64,
    /// Training accuracy on the augmented batches (argmax vs own label).
    #[serde(with = "augtrain_data::util::nan")]
    pub train_accuracy: f64,
    /// Validation loss (NaN without a validation set).
    #[serde(with = "augtrain_data::util::nan")]
    pub val_loss: f64,
    /// Validation accuracy (NaN without a validation set).
    #[serde(with = "augtrain_data::util::nan")]
    pub val_accuracy: f64,
    /// Validation macro F1 (NaN without a validation set).
    #[serde(with = "augtrain_data::util::nan")]
    pub val_macro_f1: f64,
    /// Training images per second over the epoch (augmentation + forward + backward + step).
    #[serde(with = "augtrain_data::util::nan")]
    pub images_per_second: f64,
    /// Seconds spent in the epoch, validation included.
    #[serde(with = "augtrain_data::util::nan")]
    pub seconds: f64,
    /// Bytes the device's memory pool reserved at the end of the epoch (GPU devices).
    #[serde(default)]
    pub device_memory_reserved: Option<u64>,
    /// Host↔device traffic of the epoch's training batches (GPU devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers: Option<TransferCounts>,
}

/// Traffic between the host and the training device during one epoch's training batches
/// (validation excluded), as augtrain issues it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCounts {
    /// Whether the training images were resident on the device (uploaded before epoch 1).
    pub resident: bool,
    /// Image bytes sent to the device: `u8` pixels for the GPU kernel, or the CPU twin's
    /// `f32` batches; 0 when resident.
    pub image_bytes_uploaded: u64,
    /// Other bytes sent: kernel headers, slot lists, parameters, targets and labels.
    pub other_bytes_uploaded: u64,
    /// Bytes read back to the host (loss and accuracy counters).
    pub bytes_read_back: u64,
    /// Times the host waited for the device (each read back is one).
    pub host_syncs: u64,
    /// Kernels launched on the device (GPU only; burn's and augtrain's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_launches: Option<u64>,
    /// The order and count of a data-parallel run's cross-device transfers (`--devices`
    /// with more than one device; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<ParallelCounts>,
}

/// What the steps of a data-parallel epoch waited on, as augtrain issues its transfers: each
/// step queues every shard's forward and backward on its device before it reads any result,
/// brings each replica's gradients (with its loss and correct count) back in one flattened
/// buffer, and sends the updated weights out in one flattened buffer per replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelCounts {
    /// Data-parallel steps.
    pub steps: u64,
    /// Shards whose forward and backward were queued on their device (the main device's
    /// included), over all steps.
    pub shards_queued: u64,
    /// Steps in which the host waited on a read before every shard of the step was queued.
    pub steps_read_before_all_queued: u64,
    /// Flattened gradient buffers brought from the replicas to the main device (one per
    /// replica with a shard per step).
    pub gradient_transfers: u64,
    /// Flattened weight buffers sent from the main device to the replicas (one per replica
    /// per step: the weights after each step, and before the epoch's first).
    pub weight_transfers: u64,
}

impl ParallelCounts {
    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: &ParallelCounts) {
        self.steps += other.steps;
        self.shards_queued += other.shards_queued;
        self.steps_read_before_all_queued += other.steps_read_before_all_queued;
        self.gradient_transfers += other.gradient_transfers;
        self.weight_transfers += other.weight_transfers;
    }
}

impl TransferCounts {
    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: &TransferCounts) {
        self.resident |= other.resident;
        self.image_bytes_uploaded += other.image_bytes_uploaded;
        self.other_bytes_uploaded += other.other_bytes_uploaded;
        self.bytes_read_back += other.bytes_read_back;
        self.host_syncs += other.host_syncs;
        self.kernel_launches = match (self.kernel_launches, other.kernel_launches) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.parallel = match (self.parallel, other.parallel) {
            (None, None) => None,
            (a, b) => {
                let mut sum = a.unwrap_or_default();
                sum.add(&b.unwrap_or_default());
                Some(sum)
            }
        };
    }
}

impl EpochRecord {
    /// The record without its machine-dependent fields (timings, memory), as checkpoints
    /// store it, so that two runs with the same seed write identical checkpoints.
    pub fn deterministic(&self) -> EpochRecord {
        EpochRecord {
            images_per_second: 0.0,
            seconds: 0.0,
            device_memory_reserved: None,
            transfers: None,
            ..self.clone()
        }
    }

    /// Whether two records describe the same epoch (everything but timings and memory equal;
    /// NaN equals NaN).
    pub fn same_epoch(&self, other: &EpochRecord) -> bool {
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        let (a, b) = (self.deterministic(), other.deterministic());
        a.epoch == b.epoch
            && same(a.lr, b.lr)
            && same(a.train_loss, b.train_loss)
            && same(a.train_accuracy, b.train_accuracy)
            && same(a.val_loss, b.val_loss)
            && same(a.val_accuracy, b.val_accuracy)
            && same(a.val_macro_f1, b.val_macro_f1)
    }
}

/// Training progress saved with the weights.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epochs_done: usize,
    /// One record per completed epoch.
    pub history: Vec<EpochRecord>,
    /// Training batches the batch norms ran on in training mode, over all epochs: every
    /// batch, none with a frozen backbone. PyTorch counts the same in each batch norm's
    /// `num_batches_tracked`, which `export-model` writes. 0 in checkpoints from before it
    /// was recorded.
    #[serde(default)]
    pub batch_norm_batches: u64,
}

/// What a trained model expects (`model.json`): the shape of the images it is fed before
/// augmentation, its classes in label order, and (runs since the model zoo) what the network
/// itself takes: its architecture, input shape after the evaluation pipeline, the
/// normalization applied, and the weights it started from. Older cards without the optional
/// fields still load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Shape of the images as loaded (the evaluation pipeline's input).
    #[serde(flatten)]
    pub input: ImageShape,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// The architecture (`--model`), e.g. `efficientnet-lite0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Shape of the network's input: the evaluation pipeline's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_input: Option<ImageShape>,
    /// The per-channel normalization the pipelines end with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<Normalization>,
    /// The weights training started from (`--pretrained`), as an absolute path (path text),
    /// so that the card stays true from any directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<String>,
}

impl ModelCard {
    /// A card with only the loaded shape and the classes (the optional fields absent).
    pub fn new(input: ImageShape, class_names: Vec<String>) -> Self {
        Self {
            input,
            class_names,
            architecture: None,
            model_input: None,
            normalization: None,
            pretrained: None,
        }
    }
}

/// `(v − mean) / std` per channel, values in [0, 1] units (one value, or one per channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

/// The dataset facts a run records (`dataset.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Source name.
    pub name: String,
    /// How the splits were made.
    pub provenance: String,
    /// The loaded images' shape, written as `[width, height, channels]`.
    #[serde(with = "shape_as_whc")]
    pub shape: ImageShape,
    /// Class names.
    pub classes: Vec<String>,
    /// Images per class in the train, val and test splits.
    pub counts: [Vec<usize>; 3],
    /// Files skipped at load time (path and reason).
    pub skipped: Vec<(String, String)>,
}

/// `[width, height, channels]` in JSON, as `dataset.json` has always written it.
mod shape_as_whc {
    use augtrain_data::ImageShape;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(s: &ImageShape, ser: S) -> Result<S::Ok, S::Error> {
        [s.width, s.height, s.channels].serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<ImageShape, D::Error> {
        let [w, h, c] = <[usize; 3]>::deserialize(de)?;
        Ok(ImageShape::new(w, h, c))
    }
}

/// The final test evaluation (`report.json`): scikit-learn's numbers in our layout and in
/// scikit-learn's `classification_report(output_dict=True)` layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// Fraction of test images classified correctly.
    #[serde(with = "augtrain_data::util::nan")]
    pub accuracy: f64,
    /// Test images.
    pub samples: u64,
    /// Mean loss per test image.
    #[serde(with = "augtrain_data::util::nan")]
    pub loss: f64,
    /// The zero-division policy used.
    pub zero_division: ZeroDivision,
    /// scikit-learn's `classification_report(..., output_dict=True)`.
    pub classification_report: serde_json::Value,
    /// The full report.
    pub report: ClassificationReport,
    /// `eval --data`: images of the data that the run trained or validated on, left out
    /// (absent when none were, and in a run's own `report.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
}

/// Images of an evaluation's data that a run has seen (same pixels as an image of its
/// training or validation split) and that were therefore not evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Images of the data given.
    pub given: usize,
    /// Left out: the pixels of a training image of the run.
    pub train: usize,
    /// Left out: the pixels of a validation image of the run.
    pub val: usize,
}

impl TestReport {
    /// The test report of `report` with mean loss `loss`.
    pub fn new(report: ClassificationReport, loss: f64) -> Self {
        Self {
            accuracy: report.accuracy,
            samples: report.samples,
            loss,
            zero_division: report.zero_division,
            classification_report: report.to_sklearn_json(),
            report,
            left_out: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f64 of a record reads back bit-identical from its JSON (resumed runs compare
    /// records exactly). serde_json's default float parser is best-effort and read
    /// 1.1481481481481481 back as 1.148148148148148; the `float_roundtrip` feature is exact.
    /// Found by the `checkpoint` fuzz target (`fuzz/regressions/checkpoint/`).
    #[test]
    fn every_float_reads_back_bit_identical_from_json() {
        let tricky = "1.1481481481481481".parse::<f64>().unwrap();
        let mut values = vec![
            tricky,
            0.1,
            1.0 / 3.0,
            2.3811830149756537,
            f64::MIN_POSITIVE,
        ];
        let mut x = 0.123_456_789_f64;
        for _ in 0..2000 {
            x = (x * 3.987_654_321).fract() + 1e-9;
            values.push(x);
            values.push(x * 1e-7);
            values.push(1.0 + x);
        }
        for v in values {
            let record = EpochRecord {
                epoch: 1,
                lr: v,
                train_loss: v,
                train_accuracy: v,
                val_loss: v,
                val_accuracy: v,
                val_macro_f1: v,
                images_per_second: v,
                seconds: v,
                device_memory_reserved: None,
                transfers: None,
            };
            let json = serde_json::to_string(&record).unwrap();
            let back: EpochRecord = serde_json::from_str(&json).unwrap();
            assert_eq!(
                back.train_accuracy.to_bits(),
                v.to_bits(),
                "{v:?} -> {json}"
            );
        }
    }

    #[test]
    fn nan_epochs_round_trip_and_compare() {
        let r = EpochRecord {
            epoch: 1,
            lr: 0.1,
            train_loss: 0.5,
            train_accuracy: 0.8,
            val_loss: f64::NAN,
            val_accuracy: f64::NAN,
            val_macro_f1: f64::NAN,
            images_per_second: 100.0,
            seconds: 2.0,
            device_memory_reserved: None,
            transfers: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        let back: EpochRecord = serde_json::from_str(&text).unwrap();
        assert!(back.same_epoch(&r) && back.val_loss.is_nan());
        assert!(r.same_epoch(&r.deterministic()));
        let other = EpochRecord {
            train_loss: 0.6,
            ..r.clone()
        };
        assert!(!other.same_epoch(&r));
    }

    #[test]
    fn dataset_shape_is_written_width_height_channels() {
        let d = DatasetSummary {
            shape: ImageShape::new(32, 24, 3),
            ..Default::default()
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["shape"], serde_json::json!([32, 24, 3]));
        let back: DatasetSummary = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
        let card = ModelCard::new(ImageShape::new(28, 28, 1), vec!["a".into()]);
        let v = serde_json::to_value(&card).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"width": 28, "height": 28, "channels": 1, "class_names": ["a"]})
        );
        // An old card (no optional fields) loads; a full one round-trips.
        let back: ModelCard = serde_json::from_value(v).unwrap();
        assert_eq!(back, card);
        let full = ModelCard {
            architecture: Some("efficientnet-lite0".into()),
            model_input: Some(ImageShape::new(224, 224, 3)),
            normalization: Some(Normalization {
                mean: vec![0.5; 3],
                std: vec![0.25; 3],
            }),
            pretrained: Some("w.pth".into()),
            ..ModelCard::new(ImageShape::new(256, 256, 3), vec!["a".into(), "b".into()])
        };
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(v["model_input"]["width"], 224);
        assert_eq!(serde_json::from_value::<ModelCard>(v).unwrap(), full);
    }
}
