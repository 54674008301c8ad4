//! Evaluation: the deterministic pipeline, the model in validation mode, one confusion matrix
//! over the whole dataset (never an average of per-batch ratios).

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::TrainError;
use super::loss;
use crate::augment::Augmenter;
use crate::data::{Dataset, sampler};
use crate::metrics::ConfusionMatrix;
use crate::model::Model;
use crate::train::progress::ImageProgress;
use augtrain_run::config::TrainConfig;

/// The result of evaluating a model on a dataset.
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f64,
    /// Confusion matrix over the dataset.
    pub confusion: ConfusionMatrix,
    /// Predicted class per sample (argmax; ties go to the lowest class).
    pub predictions: Vec<usize>,
    /// Softmax probabilities, `len × classes`, when asked for.
    pub probabilities: Option<Vec<f32>>,
}

pub(crate) fn to_vec(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Tensor(format!("{e:?}")))
}

pub(crate) fn argmax_rows(values: &[f32], k: usize) -> Vec<usize> {
    values
        .chunks_exact(k)
        .map(|row| {
            let mut best = 0;
            for (j, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// The evaluation logits of `images`: the model's, or with `flip` (test-time augmentation,
/// `tta_flip`) the mean of the logits of the images and of their horizontal mirrors.
pub fn eval_logits(model: &Model, images: Tensor<4>, flip: bool) -> Tensor<2> {
    if flip {
        let mirrored = images.clone().flip([3]);
        (model.forward(images) + model.forward(mirrored)).div_scalar(2.0)
    } else {
        model.forward(images)
    }
}

/// Largest softmax output kept on the device before a read (bytes): an evaluation reads its
/// predictions back once, unless they would take more than this.
const MAX_PENDING_BYTES: usize = 64 << 20;

/// Softmax outputs and per-batch losses waiting on the device, and what was read so far.
struct EvalAccumulator {
    classes: usize,
    probs: Vec<Tensor<2>>,
    losses: Vec<Tensor<1>>,
    sizes: Vec<usize>,
    pending_rows: usize,
    loss_sum: f64,
    read: Vec<f32>,
}

impl EvalAccumulator {
    fn push(&mut self, probs: Tensor<2>, loss: Tensor<1>, rows: usize) -> Result<(), TrainError> {
        self.probs.push(probs);
        self.losses.push(loss.reshape([1]));
        self.sizes.push(rows);
        self.pending_rows += rows;
        if self.pending_rows * self.classes * 4 > MAX_PENDING_BYTES {
            self.read()?;
        }
        Ok(())
    }

    /// Read everything pending in one transfer: the probabilities and, after them, the losses.
    fn read(&mut self) -> Result<(), TrainError> {
        if self.sizes.is_empty() {
            return Ok(());
        }
        let probs = Tensor::cat(std::mem::take(&mut self.probs), 0).reshape([-1]);
        let losses = Tensor::cat(std::mem::take(&mut self.losses), 0);
        let values = Tensor::cat(vec![probs, losses], 0)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Tensor(format!("{e:?}")))?;
        let split = self.pending_rows * self.classes;
        for (l, &n) in values[split..].iter().zip(&self.sizes) {
            self.loss_sum += *l as f64 * n as f64;
        }
        self.read.extend_from_slice(&values[..split]);
        self.sizes.clear();
        self.pending_rows = 0;
        Ok(())
    }
}

/// Evaluate `model` (run as [`Model::for_inference`] has it, on a plain device) on `data` with
/// the deterministic pipeline (and the config's test-time flip averaging). The predictions are read back from the device
/// once (in 64 MiB pieces for very large sets), not per batch. `progress` (a bar on a
/// terminal) moves with every batch queued.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &Model,
    data: &Dataset,
    aug: &Augmenter,
    batch_size: usize,
    cfg: &TrainConfig,
    device: &Device,
    keep_probabilities: bool,
    progress: Option<&ImageProgress>,
) -> Result<Evaluation, TrainError> {
    let model = &model.clone().for_inference();
    let k = data.num_classes();
    let mut acc = EvalAccumulator {
        classes: k,
        probs: Vec::new(),
        losses: Vec::new(),
        sizes: Vec::new(),
        pending_rows: 0,
        loss_sum: 0.0,
        read: Vec::with_capacity(data.len() * k),
    };
    let order: Vec<usize> = (0..data.len()).collect();
    for range in sampler::batches(data.len(), batch_size) {
        let idx = &order[range];
        let images: Vec<&[u8]> = idx.iter().map(|&i| data.image(i)).collect();
        let ids: Vec<u64> = idx.iter().map(|&i| data.ids[i]).collect();
        let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
        let batch = aug.batch(&images, &ids, 0, device)?;
        let logits = eval_logits(model, batch.images, cfg.tta_flip);
        let targets = loss::target_rows(&labels, None, k);
        let l = loss::loss(cfg.loss, logits.clone(), &targets, None, device);
        acc.push(softmax(logits, 1), l, idx.len())?;
        if let Some(progress) = progress {
            progress.advance(idx.len());
        }
    }
    acc.read()?;
    let predictions = argmax_rows(&acc.read, k);
    let mut confusion = ConfusionMatrix::new(k);
    for (&t, &p) in data.labels.iter().zip(&predictions) {
        confusion.add(t as usize, p);
    }
    Ok(Evaluation {
        loss: if data.is_empty() {
            f64::NAN
        } else {
            acc.loss_sum / data.len() as f64
        },
        confusion,
        predictions,
        probabilities: keep_probabilities.then_some(acc.read),
    })
}
