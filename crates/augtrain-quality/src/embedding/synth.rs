//! Synthetic embeddings for tests and timing runs.

use augtrain_data::util::rng::{Domain, Stream};

use super::store::EmbeddingSet;

/// `n` rows of `dim` independent standard-normal values (augtrain's deterministic
/// [`Stream`] in the `Synth` domain, seeded by `seed`), each L2-normalized: points spread
/// uniformly over the unit sphere. Panics when `dim` is 0.
pub fn gaussian_unit_rows(n: usize, dim: usize, seed: u64) -> EmbeddingSet {
    let mut rng = Stream::new(Domain::Synth, &[0xE4BE_D000, seed]);
    let values = (0..n * dim).map(|_| rng.normal() as f32).collect();
    let mut set = EmbeddingSet::new(dim, values).expect("dim must be at least 1");
    // A Gaussian row is all zeros with probability 0.
    set.normalize_rows()
        .expect("Gaussian rows are finite and non-zero");
    set
}
