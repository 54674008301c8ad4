//! # augtrain-augment
//!
//! The augmentation pipeline as one slice, without burn: the pipeline spec ([`spec`]),
//! per-sample parameters drawn from `(seed, epoch, sample id, op index)` ([`params`]), the word
//! layout the fused WGSL kernel reads ([`layout`]), the kernel's source ([`shader`],
//! `src/augment.wgsl`) specialised per launch ([`variant`]) and its exact multi-threaded CPU
//! twin ([`cpu`], [`fastmath`]).
//!
//! Flow for one batch: [`params::Program::draw`] draws every sample's parameters;
//! [`params::Program::pack`] lays them out as words; the GPU kernel ([`shader::AUGMENT_WGSL`],
//! launched by the `augtrain` crate's `src/augment/gpu.rs`) or the CPU twin ([`cpu::run`])
//! reads the `u8` HWC images once and writes the normalized `f32` NCHW batch once. With label
//! masks attached ([`masks`]) the same pass also writes each sample's warped label plane.

pub mod cpu;
pub mod crop_windows;
pub mod fastmath;
pub mod layout;
pub mod masks;
#[cfg(test)]
mod masks_reference;
pub mod params;
pub mod record;
pub mod shader;
pub mod spec;
mod spec_error;
pub mod targets;
pub mod variant;

use std::path::Path;

pub use params::{MixParams, Program, SampleParams};
pub use spec::{PipelineSpec, SpecError};

/// A failure to parse a pipeline or to augment a batch.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The pipeline spec is invalid (the message names the file, op and key).
    #[error(transparent)]
    Pipeline(#[from] SpecError),
    /// The pipeline cannot run on these images or this batch (the message names the op).
    #[error("{0}")]
    Spec(String),
    /// The images cannot go through the pipeline.
    #[error("{0}")]
    Shape(String),
    /// The GPU kernel could not run.
    #[error("GPU augmentation failed: {0}")]
    Gpu(String),
    /// A batch does not fit in the GPU's largest buffer (the message names a batch that does).
    #[error("{0}, or add --cpu-fallback to train on the CPU instead")]
    BatchTooLarge(String),
    /// A pipeline file could not be read.
    #[error("cannot read pipeline {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
}

/// Read a pipeline spec from a `.toml` or `.json` file.
pub fn load_spec(path: &Path) -> Result<PipelineSpec, AugmentError> {
    let text =
        augtrain_data::util::fs::read_regular_text(path).map_err(|source| AugmentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let origin = path.display().to_string();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        PipelineSpec::from_json(&text, &origin)
    } else {
        PipelineSpec::from_toml(&text, &origin)
    }
    .map_err(AugmentError::Pipeline)
}
