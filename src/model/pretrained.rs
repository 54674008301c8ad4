//! Published weights into a [`Model`]: PyTorch state dicts (`.pth`, `.pt`) and `.safetensors`
//! files, read by burn-store (its PyTorch reader parses the pickle as data and never runs
//! it: an object that is not a tensor or a plain container is ignored, a file whose root is
//! one is refused).
//!
//! Loading is strict, as PyTorch's `load_state_dict(strict=True)`: every parameter and
//! batch-norm statistic of the model must be in the file under its PyTorch name with its
//! shape, and every tensor of the file must belong to the model (`num_batches_tracked`
//! buffers excepted: burn's batch norm has none). The one allowed difference is the
//! classification head: with [`HeadPolicy::Replace`] a head of another class count (or none)
//! leaves the freshly initialized one in place. Everything is checked and every tensor read
//! before the model changes; a mismatch is one error naming the first few keys. Tensors stored
//! in another float type (f16, bf16, f64) are converted to f32.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore, bridge,
};
use burn::tensor::{DType, TensorData};

use super::Model;

/// How many keys an error message names.
const SHOWN: usize = 5;

/// A failure to load pretrained weights.
#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    /// The file cannot be read as weights.
    #[error(
        "{path}: cannot read it as PyTorch (.pth, .pt) or safetensors weights: {why}; check the file (is it complete? a state dict?)"
    )]
    Unreadable {
        /// The file.
        path: String,
        /// What the reader said.
        why: String,
    },
    /// The file breaks a bound checked before any parser reads it (a `.pth` whose container
    /// or pickle would make the reader allocate far more than the file holds).
    #[error("{path} is refused before reading: {why}; pass a state dict saved by torch.save")]
    Refused {
        /// The file.
        path: String,
        /// The bound it breaks.
        why: String,
    },
    /// A tensor holds a value no trained network has (NaN, infinity, a negative batch-norm
    /// variance): every prediction would be NaN.
    #[error(
        "{path}: {bad}; the weights are damaged or come from a training that diverged: use another file"
    )]
    BadValue {
        /// The file.
        path: String,
        /// The first offending tensor and value.
        bad: augtrain_weights::BadValue,
    },
    /// The file's tensors do not fit the architecture.
    #[error("{path} does not fit the {arch} model: {details}")]
    Mismatch {
        /// The file.
        path: String,
        /// The architecture asked for.
        arch: String,
        /// The first few mismatched keys and what was expected.
        details: String,
    },
}

/// What to do with the file's classification head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadPolicy {
    /// Load it when its class count is the model's; otherwise keep the model's freshly
    /// initialized head (transfer learning).
    Replace,
    /// Load it; any difference is an error (the model was built for the file's classes).
    Keep,
}

/// What happened to the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadOutcome {
    /// The file's head was loaded.
    Loaded,
    /// The model keeps its fresh head: the file's has `file_classes` classes (`None`: the
    /// file has no head).
    Replaced {
        /// The file head's class count.
        file_classes: Option<usize>,
    },
}

/// What a successful load did.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The file.
    pub path: PathBuf,
    /// Tensors loaded (parameters and batch-norm statistics).
    pub loaded: usize,
    /// The head.
    pub head: HeadOutcome,
    /// The float type the file stored, when it was not f32 (converted).
    pub converted_from: Option<DType>,
}

impl LoadReport {
    /// One line for the user, e.g. `loaded 294 tensors from w.pth; its 1000-class head was
    /// replaced by a new 2-class one`.
    pub fn describe(&self, classes: usize) -> String {
        let mut s = format!(
            "pretrained: loaded {} tensors from {}",
            self.loaded,
            self.path.display()
        );
        match &self.head {
            HeadOutcome::Loaded => s.push_str(" (head included)"),
            HeadOutcome::Replaced {
                file_classes: Some(k),
            } => s.push_str(&format!(
                "; its {k}-class head was replaced by a new {classes}-class one"
            )),
            HeadOutcome::Replaced { file_classes: None } => s.push_str(&format!(
                "; the file has no head: a new {classes}-class one is trained"
            )),
        }
        if let Some(dtype) = self.converted_from {
            s.push_str(&format!(" (converted from {dtype:?} to f32)"));
        }
        s
    }
}

/// The tensors of a weights file under their PyTorch names, read lazily (no tensor data yet).
pub struct WeightsFile {
    path: PathBuf,
    tensors: BTreeMap<String, PackTensor>,
    metadata: BTreeMap<String, String>,
}

impl WeightsFile {
    /// Open `path` (PyTorch or safetensors, told apart by content). A wrapping prefix common
    /// to every key (`module.` from DataParallel, a nested `state_dict.` or `model.`) is
    /// removed; `num_batches_tracked` buffers are dropped.
    pub fn open(path: &Path) -> Result<Self, PretrainedError> {
        let unreadable = |why: String| PretrainedError::Unreadable {
            path: path.display().to_string(),
            why,
        };
        let mut head = [0u8; 9];
        // A FIFO or device would block or never end: refused before opening.
        let n = crate::util::fs::open_regular(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| unreadable(e.to_string()))?;
        if n == 0 {
            return Err(unreadable("the file is empty".into()));
        }
        let safetensors = n == 9 && head[8] == b'{';
        if !safetensors {
            augtrain_weights::check_pth(path).map_err(|e| match e {
                e if e.is_bound() => PretrainedError::Refused {
                    path: path.display().to_string(),
                    why: e.to_string(),
                },
                augtrain_weights::PthError::Io(e) => unreadable(e.to_string()),
                e => unreadable(e.to_string()),
            })?;
        }
        let read = || -> Result<BTreeMap<String, PackTensor>, String> {
            if safetensors {
                let mut store = SafetensorsStore::from_file(path);
                store.get_all_tensors().cloned().map_err(|e| e.to_string())
            } else {
                let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
                store.get_all_tensors().cloned().map_err(|e| e.to_string())
            }
        };
        let tensors = crate::util::panic::contain(read)
            .map_err(|why| format!("the reader failed ({why})"))
            .and_then(|r| r)
            .map_err(unreadable)?;
        if tensors.is_empty() {
            return Err(unreadable("it holds no tensors".into()));
        }
        let metadata = if safetensors {
            augtrain_weights::safetensors_metadata(path).map_err(unreadable)?
        } else {
            BTreeMap::new()
        };
        Ok(Self {
            path: path.to_path_buf(),
            tensors: normalize_names(tensors),
            metadata,
        })
    }

    /// The file's own metadata (safetensors `__metadata__`; empty for PyTorch files), e.g.
    /// what `augtrain export-model` records: `architecture`, `classes` (one name per line,
    /// in the head's order), `input` (the loaded image shape, `WxHxC`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The file's tensor names (PyTorch names, normalized), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The architecture (a `--model` name) whose characteristic tensors the file has, if any.
    pub fn architecture(&self) -> Option<&'static str> {
        guess_architecture(self)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The class count of the head whose weight is `{head}.weight` (`[classes, features]`),
    /// if the file has one.
    pub fn head_classes(&self, head: &str) -> Option<usize> {
        self.tensors
            .get(&format!("{head}.weight"))
            .filter(|t| t.shape.num_dims() == 2)
            .map(|t| t.shape[0])
    }

    /// Load into `model` (built for the data, parameter ids kept), checked first.
    pub fn load_into(
        &self,
        mut model: Model,
        policy: HeadPolicy,
    ) -> Result<(Model, LoadReport), PretrainedError> {
        let plan = self.check(&model, policy)?;
        let (tensors, converted_from) = self.materialize(&model, &plan)?;
        let loaded = tensors.len();
        let result = model.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
        let missing: Vec<&str> = result
            .missing
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !plan.head_skipped || !is_head(&model.torch_name(p), model.head_name()))
            .collect();
        if !result.errors.is_empty() || !missing.is_empty() {
            // Checked above; reaching this is a bug in the checks, still not a wrong model.
            return Err(self.mismatch(
                &model,
                format!(
                    "{} tensors could not be applied ({}); missing: {}",
                    result.errors.len(),
                    first(result.errors.iter().map(|e| e.to_string())),
                    first(missing.iter().map(|s| s.to_string()))
                ),
            ));
        }
        let head = if plan.head_skipped {
            HeadOutcome::Replaced {
                file_classes: self.head_classes(model.head_name()),
            }
        } else {
            HeadOutcome::Loaded
        };
        Ok((
            model,
            LoadReport {
                path: self.path.clone(),
                loaded,
                head,
                converted_from,
            },
        ))
    }

    fn mismatch(&self, model: &Model, details: String) -> PretrainedError {
        PretrainedError::Mismatch {
            path: self.path.display().to_string(),
            arch: model.kind().to_string(),
            details,
        }
    }

    /// Compare the file with what `model` expects; decide about the head.
    fn check(&self, model: &Model, policy: HeadPolicy) -> Result<Plan, PretrainedError> {
        let head = model.head_name();
        let expected = expected_tensors(model);
        let expected_head: Vec<&(String, Vec<usize>)> =
            expected.iter().filter(|(n, _)| is_head(n, head)).collect();
        let head_differs = expected_head.iter().any(|(n, shape)| {
            self.tensors
                .get(n)
                .is_none_or(|t| t.shape.to_vec() != *shape)
        });
        let head_skipped = policy == HeadPolicy::Replace && head_differs;
        let mut missing = Vec::new();
        let mut wrong_shape = Vec::new();
        for (name, shape) in &expected {
            if head_skipped && is_head(name, head) {
                continue;
            }
            match self.tensors.get(name) {
                None => missing.push(format!("{name} {shape:?}")),
                Some(t) if t.shape.to_vec() != *shape => wrong_shape.push(format!(
                    "{name}: the file has {:?}, the model {shape:?}",
                    t.shape.to_vec()
                )),
                Some(t) if !t.dtype.is_float() => wrong_shape.push(format!(
                    "{name}: the file stores {:?}, a float type is needed",
                    t.dtype
                )),
                Some(_) => {}
            }
        }
        let known: std::collections::HashSet<&str> =
            expected.iter().map(|(n, _)| n.as_str()).collect();
        let unexpected: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() && wrong_shape.is_empty() && unexpected.is_empty() {
            return Ok(Plan { head_skipped });
        }
        Err(self.mismatch(model, describe(&missing, &wrong_shape, &unexpected, self)))
    }

    /// Read every tensor to load (outside burn's apply, so that a damaged file is an error
    /// here and never a panic there), converted to f32 and renamed to the model's paths.
    fn materialize(
        &self,
        model: &Model,
        plan: &Plan,
    ) -> Result<(Vec<PackTensor>, Option<DType>), PretrainedError> {
        let mut out = Vec::with_capacity(self.tensors.len());
        let mut converted_from = None;
        for (name, tensor) in &self.tensors {
            if plan.head_skipped && is_head(name, model.head_name()) {
                continue;
            }
            let data = crate::util::panic::contain(|| bridge::to_data(tensor))
                .map_err(|why| format!("the reader failed ({why})"))
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map_err(|why| PretrainedError::Unreadable {
                    path: self.path.display().to_string(),
                    why: format!("tensor {name}: {why}"),
                })?;
            let data = if data.dtype() != DType::F32 {
                converted_from = Some(data.dtype());
                data.convert::<f32>()
            } else {
                data
            };
            check_values(&self.path, name, &data)?;
            out.push(bridge::from_data(data, model.burn_name(name), None));
        }
        Ok((out, converted_from))
    }
}

/// Refuse tensor `name` of `path` when it holds a NaN, an infinity or (a batch-norm running
/// variance) a negative value.
fn check_values(path: &Path, name: &str, data: &TensorData) -> Result<(), PretrainedError> {
    let values = data
        .as_slice::<f32>()
        .map_err(|e| PretrainedError::Unreadable {
            path: path.display().to_string(),
            why: format!("tensor {name}: {e:?}"),
        })?;
    augtrain_weights::check_tensor(name, values).map_err(|bad| PretrainedError::BadValue {
        path: path.display().to_string(),
        bad,
    })
}

/// The first tensor of `model` holding a NaN, an infinity or a negative batch-norm variance,
/// under its PyTorch name (for weights that did not come through [`WeightsFile`]:
/// checkpoints).
pub fn first_bad_value(model: &Model) -> Option<augtrain_weights::BadValue> {
    model
        .collect(None, None, true)
        .into_iter()
        .find_map(|tensor| {
            let data = bridge::to_data(&tensor).ok()?.convert::<f32>();
            let values = data.as_slice::<f32>().ok()?;
            augtrain_weights::check_tensor(&model.torch_name(&tensor.name), values).err()
        })
}

/// The decision [`WeightsFile::check`] takes.
struct Plan {
    /// The file's head is not loaded.
    head_skipped: bool,
}

/// Whether PyTorch name `name` belongs to the head `head` (`{head}.weight`, `{head}.bias`).
fn is_head(name: &str, head: &str) -> bool {
    name.strip_prefix(head)
        .is_some_and(|rest| rest == ".weight" || rest == ".bias")
}

/// The model's tensors as PyTorch names them (BN `weight`/`bias`, linear weights
/// `[out, in]`), with their shapes.
fn expected_tensors(model: &Model) -> Vec<(String, Vec<usize>)> {
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (model.torch_name(&t.name), t.shape.to_vec()))
        .collect()
}

/// Up to [`SHOWN`] items, comma-separated, with "…" when there are more.
fn first(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(", …");
    }
    s
}

/// The mismatch message: missing keys, shape differences, unexpected keys, and a guess at
/// the architecture the file is for.
fn describe(
    missing: &[String],
    wrong_shape: &[String],
    unexpected: &[String],
    file: &WeightsFile,
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "{} of its tensors are not in the file (first: {})",
            missing.len(),
            first(missing.iter().cloned())
        ));
    }
    if !wrong_shape.is_empty() {
        parts.push(format!(
            "{} have another shape ({})",
            wrong_shape.len(),
            first(wrong_shape.iter().cloned())
        ));
    }
    if !unexpected.is_empty() {
        parts.push(format!(
            "{} tensors of the file are not the model's (first: {})",
            unexpected.len(),
            first(unexpected.iter().cloned())
        ));
    }
    let hint = match guess_architecture(file) {
        Some(arch) => format!("; the file looks like {arch} weights: use --model {arch}"),
        None => "; pass weights saved from the same architecture (PyTorch names)".to_string(),
    };
    format!("{}{hint}", parts.join("; "))
}

/// The architecture whose characteristic keys the file has.
fn guess_architecture(file: &WeightsFile) -> Option<&'static str> {
    let has = |k: &str| file.tensors.contains_key(k);
    if has("_blocks.0._depthwise_conv.weight") {
        Some("efficientnet-lite0")
    } else if has("layer1.0.conv3.weight") {
        Some("resnet50")
    } else if has("layer3.5.conv1.weight") {
        Some("resnet34")
    } else if has("layer4.1.conv2.weight") {
        Some("resnet18")
    } else if has("layers.2.conv2.weight") {
        Some("resnet-small")
    } else if has("conv2.weight") && has("fc2.weight") {
        Some("cnn")
    } else if has("hidden.weight") && has("output.weight") {
        Some("mlp")
    } else {
        None
    }
}

/// Drop `num_batches_tracked` and a prefix every key shares (`module.`, `state_dict.`,
/// `model.`, `model_state_dict.`).
fn normalize_names(tensors: BTreeMap<String, PackTensor>) -> BTreeMap<String, PackTensor> {
    let mut tensors: BTreeMap<String, PackTensor> = tensors
        .into_iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .collect();
    for prefix in ["module.", "state_dict.", "model_state_dict.", "model."] {
        if !tensors.is_empty() && tensors.keys().all(|k| k.starts_with(prefix)) {
            tensors = tensors
                .into_iter()
                .map(|(k, mut t)| {
                    let k = k[prefix.len()..].to_string();
                    t.name = k.clone();
                    (k, t)
                })
                .collect();
        }
    }
    tensors
}
