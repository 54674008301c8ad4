//! Image embeddings and the data-quality checks built on their exact nearest neighbours.
//!
//! - [`files`]: the embeddings directory `augtrain embed` writes;
//! - [`npy`]: read and write `n × d` float arrays as NumPy `.npy` files;
//! - [`store`]: the embedding matrix ([`EmbeddingSet`]) and L2 normalization;
//! - [`knn`]: exact k-nearest-neighbour search by cosine similarity ([`nearest`]);
//! - [`duplicates`]: semantic near-duplicate pairs and groups;
//! - [`outliers`]: out-of-distribution scores (cleanlab's `OutOfDistribution` on features);
//! - [`knn_probs`]: out-of-sample predicted probabilities from the neighbours' labels (cleanlab
//!   Datalab's label check on features), for [`crate::label_issues::confident`];
//! - [`synth`]: random unit rows for tests and timing.

pub mod duplicates;
pub mod files;
pub mod knn;
pub mod knn_probs;
pub mod npy;
pub mod outliers;
pub mod store;
pub mod synth;
mod topk;

pub use files::{EmbedInfo, Embedded, IndexRow};
pub use knn::{Blocking, Neighbors, nearest, nearest_blocked};
pub use store::{EmbeddingSet, StoreError};
