#![warn(missing_docs)]

//! # augtrain-run
//!
//! What a training run leaves behind, without burn: the resolved configuration ([`config`]),
//! the checkpoint file format ([`checkpoint`]), and the run directory with its reports, charts
//! and HTML page ([`report`]).

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod report;

pub use error::RunError;

/// The git commit augtrain was built from (`abc123def456`, with `-dirty` when the checkout
/// had uncommitted changes; `unknown` outside a checkout).
pub const GIT_COMMIT: &str = env!("AUGTRAIN_GIT_COMMIT");
