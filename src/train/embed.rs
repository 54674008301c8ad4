//! Embeddings: every image of a dataset through the deterministic (evaluation) pipeline and the
//! model's backbone ([`Model::features`]: the head's input), one L2-normalized row per image.
//!
//! The model runs as [`Model::for_inference`] has it (running batch-norm statistics folded
//! into the convolutions, no dropout), so an image's embedding does not depend on the batch it
//! is in or on the device beyond float rounding.

use super::TrainError;
use super::evaluate::to_vec;
use super::progress::ImageProgress;
use crate::augment::Augmenter;
use crate::data::{Dataset, sampler};
use crate::model::Model;
use augtrain_quality::embedding::{EmbeddingSet, StoreError};
use burn::prelude::*;

/// The L2-normalized features of every image of `data`, in its order, computed in batches of
/// `batch_size` on `device`; `progress` advances per batch. A row whose features are all zero
/// (or not finite) is an error naming the image: it has no direction to compare.
pub fn embed(
    model: &Model,
    data: &Dataset,
    aug: &Augmenter,
    batch_size: usize,
    device: &Device,
    progress: &ImageProgress,
) -> Result<EmbeddingSet, TrainError> {
    let model = &model.clone().for_inference();
    let mut values = Vec::new();
    let mut dim = 0;
    for range in sampler::batches(data.len(), batch_size.max(1)) {
        let images: Vec<&[u8]> = range.clone().map(|i| data.image(i)).collect();
        let ids: Vec<u64> = range.clone().map(|i| data.ids[i]).collect();
        let batch = aug.batch(&images, &ids, 0, device)?;
        let features = model.features(batch.images);
        dim = features.dims()[1];
        values.extend(to_vec(features)?);
        progress.advance(range.len());
    }
    let mut set = EmbeddingSet { dim, values };
    set.normalize_rows().map_err(|e| {
        let row = match e {
            StoreError::ZeroRow(r) | StoreError::NonFinite(r) => r,
            _ => 0,
        };
        TrainError::Config(format!(
            "{} has no usable embedding ({e}); check the image and the model's weights",
            data.paths
                .get(row)
                .filter(|p| !p.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("image #{row}"))
        ))
    })?;
    Ok(set)
}
