//! Classification metrics with scikit-learn's semantics, derived from a confusion matrix of
//! counts accumulated over a whole evaluation (never averaged over batches).
//!
//! - [`ConfusionMatrix`]: K×K counts, rows = true class, columns = predicted class;
//! - [`ClassificationReport`]: per-class precision / recall / F1 / support, accuracy, micro /
//!   macro / weighted averages, as `sklearn.metrics.precision_recall_fscore_support` and
//!   `classification_report` compute them (labels = union of true and predicted classes by
//!   default, `zero_division` 0, 1 or NaN).

pub mod confusion;
mod report;

pub use confusion::ConfusionMatrix;
pub use report::{Averages, ClassScores, ClassificationReport, ZeroDivision};
