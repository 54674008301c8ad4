//! Evaluation: the deterministic pipeline, the model in validation mode, one confusion matrix
//! over the whole dataset (never an average of per-batch ratios).

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::TrainError;
use super::config::TrainConfig;
use super::loss;
use crate::augment::Augmenter;
use crate::data::{Dataset, sampler};
use crate::metrics::ConfusionMatrix;
use crate::model::Model;

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

/// Evaluate `model` (validation mode, plain device) on `data` with the deterministic pipeline
/// (and the config's test-time flip averaging).
pub fn evaluate(
    model: &Model,
    data: &Dataset,
    aug: &Augmenter,
    batch_size: usize,
    cfg: &TrainConfig,
    device: &Device,
    keep_probabilities: bool,
) -> Result<Evaluation, TrainError> {
    let k = data.num_classes();
    let mut confusion = ConfusionMatrix::new(k);
    let mut predictions = Vec::with_capacity(data.len());
    let mut probabilities = keep_probabilities.then(|| Vec::with_capacity(data.len() * k));
    let mut loss_sum = 0.0;
    let order: Vec<usize> = (0..data.len()).collect();
    for range in sampler::batches(data.len(), batch_size) {
        let idx = &order[range];
        let images: Vec<&[u8]> = idx.iter().map(|&i| data.image(i)).collect();
        let ids: Vec<u64> = idx.iter().map(|&i| data.ids[i]).collect();
        let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i]).collect();
        let batch = aug.batch(&images, &ids, 0, device)?;
        let logits = eval_logits(model, batch.images, cfg.tta_flip);
        let targets = loss::target_rows(&labels, None, k);
        let l: f32 = loss::loss(cfg.loss, logits.clone(), &targets, None, device).into_scalar();
        loss_sum += l as f64 * idx.len() as f64;
        let probs = to_vec(softmax(logits, 1))?;
        let pred = argmax_rows(&probs, k);
        for (&t, &p) in labels.iter().zip(&pred) {
            confusion.add(t as usize, p);
        }
        predictions.extend_from_slice(&pred);
        if let Some(all) = probabilities.as_mut() {
            all.extend_from_slice(&probs);
        }
    }
    Ok(Evaluation {
        loss: if data.is_empty() {
            f64::NAN
        } else {
            loss_sum / data.len() as f64
        },
        confusion,
        predictions,
        probabilities,
    })
}
