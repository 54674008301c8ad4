//! # augtrain-weights
//!
//! Checks on weights files that run before any parser or model trusts them, without burn:
//!
//! - [`pth`]: a PyTorch `.pth`/`.pt` file's container and pickle held to [`pth::Limits`]
//!   (entry sizes against the file, compression ratio, pickle size, values created,
//!   storages against the bytes that hold them), so that burn-store's reader never sees a
//!   file that would make it allocate gigabytes;
//! - [`pickle_scan`]: the opcode pre-scan behind it;
//! - [`safetensors_meta`]: a `.safetensors` file's metadata (what `export-model` records);
//! - [`values`]: finite weights and non-negative batch-norm variances, checked tensor by
//!   tensor when weights are loaded.

pub mod pickle_scan;
pub mod pth;
pub mod safetensors_meta;
pub mod values;

pub use pth::{Checked, Container, Limits, PthError, check_pth, check_pth_with};
pub use safetensors_meta::safetensors_metadata;
pub use values::{BadValue, check_tensor};
