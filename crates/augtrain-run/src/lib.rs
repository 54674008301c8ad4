//! # augtrain-run
//!
//! What a training run leaves behind, without burn: the resolved configuration ([`config`]),
//! the checkpoint file format ([`checkpoint`]), and the run directory with its reports, charts
//! and HTML page ([`report`]).

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod predictions;
pub mod records;
pub mod report;
pub mod run_dir;

pub use error::RunError;
pub use run_dir::RunDir;

/// The git commit augtrain was built from (`abc123def456`, with `-dirty` when the checkout
/// had uncommitted changes; `unknown` outside a checkout).
pub const GIT_COMMIT: &str = env!("AUGTRAIN_GIT_COMMIT");
