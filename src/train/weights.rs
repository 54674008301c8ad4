//! Model weights and optimizer state as bytes: saving them canonically (identical bytes for
//! the same seed) and restoring them without letting burn's decoders panic.

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use super::TrainError;
use crate::model::Model;

/// Load checkpointed weights and optimizer state into `model` and `optimizer`. burn's record
/// decoders panic on some malformed records; a panic here becomes an error (the checkpoint's
/// checksum makes this a crafted-file case: corruption is caught before).
pub fn restore(
    model: Model,
    optimizer: ModuleOptimizer,
    model_bytes: Vec<u8>,
    optimizer_bytes: Vec<u8>,
) -> Result<(Model, ModuleOptimizer), TrainError> {
    let model = restore_model(model, model_bytes)?;
    without_panics(move || {
        optimizer
            .from_bytes(Bytes::from_bytes_vec(optimizer_bytes))
            .map_err(|e| TrainError::Checkpoint(format!("optimizer state: {e}")))
    })
    .map(|optimizer| (model, optimizer))
}

/// Load checkpointed weights into `model`, turning a decoder panic into an error. Weights
/// holding a NaN, an infinity or a negative batch-norm variance are refused, naming the
/// tensor: a checkpoint's checksum guards against corruption, not against a crafted file, and
/// such a model would predict "NaN" for everything.
pub fn restore_model(model: Model, model_bytes: Vec<u8>) -> Result<Model, TrainError> {
    let model = without_panics(move || {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model_bytes))
            .map_err(|e| TrainError::Checkpoint(format!("model weights: {e}")))?;
        model
            .try_load_record(record)
            .map_err(|e| TrainError::Checkpoint(format!("model weights do not fit the model: {e}")))
    })?;
    match crate::model::pretrained::first_bad_value(&model) {
        Some(bad) => Err(TrainError::Checkpoint(format!(
            "{}: {bad}; no training leaves such weights (a damaged or crafted file): start the run again",
            augtrain_run::run_dir::file::CHECKPOINT
        ))),
        None => Ok(model),
    }
}

/// Run a checkpoint decoder; a panic inside burn becomes [`TrainError::Checkpoint`].
fn without_panics<T>(load: impl FnOnce() -> Result<T, TrainError>) -> Result<T, TrainError> {
    crate::util::panic::contain(load).unwrap_or_else(|why| {
        Err(TrainError::Checkpoint(format!(
            "the checkpoint's weights or optimizer state cannot be decoded ({why}); start the run again"
        )))
    })
}

/// Re-encode a burnpack record with its tensors in name order. burn writes optimizer state
/// in hash-map order, which differs between processes; sorted, two runs with the same seed
/// write identical bytes.
fn canonical_pack(bytes: Bytes) -> Result<Bytes, TrainError> {
    let bad = |e: burn_pack::Error| {
        TrainError::Checkpoint(format!("cannot re-encode the optimizer state: {e}"))
    };
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(bad)?;
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    let mut tensors = reader.into_tensors().map_err(bad)?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    for (k, v) in scalars {
        writer = writer.with_scalar(&k, v);
    }
    writer.into_bytes().map_err(bad)
}

/// The model's weights as a burnpack record.
pub fn model_bytes(model: &Model) -> Result<Bytes, TrainError> {
    model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize the model: {e}")))
}

/// The optimizer's state as a burnpack record with its tensors in name order.
pub fn optimizer_bytes(optimizer: &ModuleOptimizer) -> Result<Bytes, TrainError> {
    let bytes = optimizer
        .into_bytes()
        .map_err(|e| TrainError::Checkpoint(format!("cannot serialize the optimizer: {e}")))?;
    canonical_pack(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use augtrain_fuzz_targets::{InputKind, input_dirs, reseal};
    use augtrain_run::checkpoint;
    use augtrain_run::config::ModelKind;

    /// A checkpoint's checksum guards against corruption, not a crafted file: weights holding
    /// a NaN restored silently and every prediction was "NaN". Refused, naming the tensor.
    #[test]
    fn a_checkpoint_holding_a_nan_weight_is_refused_naming_the_tensor() {
        use burn::store::{ModuleSnapshot, bridge};
        let device = Device::flex();
        let shape = ImageShape::new(8, 8, 3);
        let mut model = Model::new(ModelKind::Mlp, shape, 10, 4, &device).unwrap();
        let weight = model
            .collect(None, None, true)
            .into_iter()
            .find(|t| t.name == "hidden.weight")
            .expect("the MLP's hidden weight");
        let mut data = bridge::to_data(&weight).unwrap().convert::<f32>();
        data.as_mut_slice::<f32>().unwrap()[5] = f32::NAN;
        let applied = model.apply(
            vec![bridge::from_data(data, weight.name.clone(), None)],
            None,
            None,
            true,
        );
        assert!(applied.errors.is_empty());
        let bytes = model_bytes(&model).unwrap().to_vec();
        let fresh = Model::new(ModelKind::Mlp, shape, 10, 4, &device).unwrap();
        let err = restore_model(fresh, bytes).unwrap_err().to_string();
        assert!(
            err.contains("checkpoint.bin: tensor hidden.weight holds NaN at index 5"),
            "{err}"
        );
        let clean = model_bytes(&Model::new(ModelKind::Mlp, shape, 10, 4, &device).unwrap());
        let fresh = Model::new(ModelKind::Mlp, shape, 10, 4, &device).unwrap();
        assert!(restore_model(fresh, clean.unwrap().to_vec()).is_ok());
    }

    /// Every committed input of the `checkpoint` fuzz target (which stops at burn's container
    /// reader, see `fuzz/targets/src/checkpoint.rs`), as is and re-sealed with a valid checksum,
    /// through the whole of `restore` into a small MLP and SGD: a model and optimizer come back
    /// or an error does, never a panic; the seeds (written by real runs) restore.
    #[test]
    fn checkpoint_corpus_restores_or_fails_cleanly() {
        let device = Device::flex().autodiff();
        let mut seeds = 0;
        for (kind, dir) in input_dirs("checkpoint") {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let mut restored = false;
                for input in [bytes.clone(), reseal(&bytes)] {
                    let Ok(ckpt) = checkpoint::parse(&path, &input) else {
                        continue;
                    };
                    let shape = ImageShape::new(8, 8, 3);
                    let model = Model::new(ModelKind::Mlp, shape, 10, 4, &device).unwrap();
                    let optimizer = crate::train::optim::build(&Default::default(), &model);
                    restored |= restore(model, optimizer, ckpt.model, ckpt.optimizer).is_ok();
                }
                if kind == InputKind::Seed {
                    assert!(restored, "seed {} does not restore", path.display());
                    seeds += 1;
                }
            }
        }
        assert!(seeds > 0, "no checkpoint seeds");
    }
}
