//! # augtrain
//!
//! Labelled images from raw files to a trained, evaluated classifier, with data augmentation
//! done in one fused GPU pass (or its exact CPU twin).
//!
//! The crate follows the data flow of `ARCHITECTURE.md`; every stage is a plain function on plain
//! data, and the CLI (`src/cli`) only parses, calls and prints:
//!
//! ```text
//! files ─► data (sources, splits) ─► Sampler ─► u8 batch ─► augment (GPU kernel | CPU twin)
//!       ─► Tensor<4> f32 NCHW ─► model ─► loss ─► optimizer ─► metrics ─► run directory
//! ```
//!
//! Conventions used throughout:
//! - images are `u8`, height × width × channels (HWC), row-major, until the augmentation kernel;
//! - the kernel writes `f32` NCHW tensors, values in [0, 1] before normalization;
//! - pixel (i, j) covers [j, j+1) × [i, i+1): pixel centres are at +0.5;
//! - all randomness is a pure function of `(seed, epoch, sample id, op index)`.

pub mod augment;
pub mod bench;
pub mod budget;
pub mod cli;
pub mod device;
pub mod error;
pub mod heap;
pub mod model;
pub mod train;

// The burn-free layers, under the names the rest of the crate (and its users) know them by.
pub use augtrain_data as data;
pub use augtrain_data::util;
pub use augtrain_quality::{agreement, audit, embedding, label, label_issues, metrics};
pub use augtrain_run::{report, run_dir};

pub use error::{Error, Result};
