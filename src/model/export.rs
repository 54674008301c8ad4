//! A model's weights as a `.safetensors` state dict with PyTorch's names and layouts, so that
//! `model.load_state_dict(safetensors.torch.load_file(path))` on the matching PyTorch module
//! (torchvision's ResNets, the EfficientNet-PyTorch layout, `tools/torch_train_bench.py`'s
//! MLP and CNN) gives the same logits.
//!
//! burn-store's `BurnToPyTorchAdapter` renames batch-norm `gamma`/`beta` to `weight`/`bias`
//! and transposes linear weights to `[out, in]`; [`Model::torch_name`] restores torchvision's
//! shortcut names. Every batch norm also gets the `num_batches_tracked` buffer PyTorch's
//! strict loading asks for, with PyTorch's meaning: the training batches the batch norm
//! updated its statistics on (`Progress::batch_norm_batches` of the run; none when the
//! backbone was frozen, where PyTorch would keep the pretrained file's own count, which
//! augtrain does not carry). PyTorch reads it only when a batch norm has no momentum, and
//! every batch norm here has one, so it changes no output.

use std::collections::HashMap;

use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, bridge};
use burn::tensor::DType;
use safetensors::tensor::{Dtype, TensorView};

use super::Model;

/// The safetensors bytes of `model`'s weights (PyTorch names and layouts, f32) with
/// `metadata` in the header; every batch norm's `num_batches_tracked` is `batches`.
pub fn safetensors_bytes(
    model: &Model,
    metadata: HashMap<String, String>,
    batches: u64,
) -> Result<Vec<u8>, String> {
    let mut entries: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for t in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let name = model.torch_name(&t.name);
        let data = bridge::to_data(&t)
            .map_err(|e| format!("{name}: {e}"))?
            .convert::<f32>();
        if data.dtype() != DType::F32 {
            return Err(format!("{name}: not convertible to f32"));
        }
        if let Some(bn) = name.strip_suffix(".running_mean") {
            entries.push((
                format!("{bn}.num_batches_tracked"),
                Vec::new(),
                Dtype::I64,
                (batches.min(i64::MAX as u64) as i64).to_le_bytes().to_vec(),
            ));
        }
        entries.push((
            name,
            data.shape().to_vec(),
            Dtype::F32,
            data.bytes().to_vec(),
        ));
    }
    let views: Vec<(String, TensorView<'_>)> = entries
        .iter()
        .map(|(name, shape, dtype, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("{name}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}
