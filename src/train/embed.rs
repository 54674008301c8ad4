//! Embeddings: every image of a dataset through the deterministic (evaluation) pipeline and the
//! model's backbone ([`Model::features`]: the head's input), one L2-normalized row per image.
//!
//! The model runs as [`Model::for_inference`] has it (running batch-norm statistics folded
//! into the convolutions, no dropout), so an image's embedding does not depend on the batch it
//! is in or on the device beyond float rounding.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::TrainError;
use super::evaluate::to_vec;
use super::inference::Inference;
use super::progress::{ImageProgress, Reporter};
use crate::augment::Augmenter;
use crate::data::source::load_whole;
use crate::data::{Dataset, LoadOptions, sampler};
use crate::device;
use crate::model::Model;
use crate::util::escape::escape;
use augtrain_quality::embedding::{EmbedInfo, Embedded, EmbeddingSet, IndexRow, StoreError};
use augtrain_run::RunDir;
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;
use burn::prelude::*;

/// The model whose backbone embeds.
#[derive(Clone, Debug)]
pub enum EmbeddingModel {
    /// A trained run's model, its preprocessing included.
    Run(PathBuf),
    /// The backbone of a weights file (`.pth`, `.pt`, `.safetensors`) of architecture `kind`.
    Pretrained {
        /// The weights file.
        weights: PathBuf,
        /// Its architecture.
        kind: ModelKind,
    },
}

/// How a dataset is embedded: the model, the images per forward pass and the device.
#[derive(Clone, Debug)]
pub struct EmbedSettings {
    /// The model whose backbone embeds.
    pub model: EmbeddingModel,
    /// Images per forward pass.
    pub batch_size: usize,
    /// The compute device.
    pub device: DeviceChoice,
}

/// Embed every image of the dataset at `data`, loaded with `load` except for the size and
/// channels, which come from the model, and the resize policy, which comes from the model
/// unless `keep_resize`. Skipped files are reported on `reporter`; the result holds the rows,
/// the index (path, label, split, file hash) and what made them ([`EmbedInfo`]).
pub fn embed_dataset(
    settings: &EmbedSettings,
    data: &Path,
    mut load: LoadOptions,
    keep_resize: bool,
    reporter: &Reporter,
) -> crate::Result<Embedded> {
    let dev = device::open(settings.device)?;
    let inference = match &settings.model {
        EmbeddingModel::Run(run) => Inference::load(&RunDir::open(run)?, &dev)?,
        EmbeddingModel::Pretrained { weights, kind } => Inference::backbone(*kind, weights, &dev)?,
    };
    let model_opts = inference.load_options();
    (load.size, load.channels) = (model_opts.size, model_opts.channels);
    if !keep_resize {
        load.resize = model_opts.resize;
    }
    let whole = load_whole(&load.source()?, &load, 0)?;
    for s in &whole.report.skipped {
        reporter.line(&format!("  skipped {}: {}", escape(&s.path), s.reason));
    }
    let d = &whole.data;
    let start = Instant::now();
    let progress = reporter.images("embedding", d.len());
    let set = embed(
        &inference.model,
        d,
        &inference.aug,
        settings.batch_size,
        &dev.device,
        &progress,
    )?;
    progress.finish();
    // The file hashes, row by row, when every row is a file of its own.
    let files_sha = (whole.report.sha256.len() == d.len()).then_some(&whole.report.sha256);
    let index = (0..d.len())
        .map(|i| IndexRow {
            path: if d.paths[i].is_empty() {
                format!("#{}", d.ids[i])
            } else {
                d.paths[i].clone()
            },
            label: d.class_names[d.labels[i] as usize].clone(),
            split: whole.splits[i],
            sha256: Some(files_sha.map(|h| h[i].clone()).unwrap_or_default()),
        })
        .collect();
    let absolute = |p: &Path| {
        crate::util::path_text::encode(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    };
    let (model, weights, run) = match &settings.model {
        EmbeddingModel::Run(run) => (inference.cfg.model.kind, None, Some(absolute(run))),
        EmbeddingModel::Pretrained { weights, kind } => (*kind, Some(absolute(weights)), None),
    };
    let info = EmbedInfo {
        model: model.to_string(),
        weights,
        run,
        data: absolute(data),
        images: d.len(),
        dim: set.dim,
        input: inference.aug.output_shape().to_string(),
        device: dev.describe(),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(Embedded { set, index, info })
}

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
