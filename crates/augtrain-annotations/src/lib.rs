//! augtrain's annotation model and formats, burn-free.
//!
//! [`model`] holds the one in-memory model (per image, a list of objects with boxes, oriented
//! boxes, polygons, masks and keypoints) in one coordinate convention: continuous pixels, origin
//! at the top-left corner of the top-left pixel (see [`model`]). Each format converts at the
//! border.

pub mod agreement;
pub mod checks;
pub mod error;
pub mod export;
pub mod formats;
pub mod input;
pub mod iou;
pub mod loss;
pub mod matching;
pub mod model;
#[cfg(test)]
mod oracle;
pub mod rle;
pub mod split;
pub mod stats;

pub use error::{AnnotationError, Result};
pub use loss::Losses;
pub use model::*;
