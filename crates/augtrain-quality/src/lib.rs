//! # augtrain-quality
//!
//! Judging data and predictions, without burn: scikit-learn's classification metrics
//! ([`metrics`]), the dataset audit (corrupt files, duplicates, leaks, image health, imbalance)
//! and confident learning ([`audit`]), pseudo-labels and review queues ([`label`]), and several
//! annotators per image: agreement, consensus, annotator quality, what to label next
//! ([`agreement`]).

pub mod agreement;
pub mod audit;
pub mod embedding;
pub mod label;
pub mod label_issues;
pub mod metrics;
