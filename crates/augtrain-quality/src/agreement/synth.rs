//! Simulated annotators, for timing runs and tests: every image is labelled by every
//! annotator, each right with its own accuracy and otherwise uniformly wrong.

use augtrain_data::util::rng::{Domain, Stream};

use super::LabelMatrix;

/// `n` images of `k` classes (true class uniform), one annotator per entry of `accuracy`
/// (its chance of giving the true class; otherwise one of the other classes, uniformly).
/// Deterministic in `seed` (augtrain's [`Stream`], `Synth` domain). Returns the matrix and
/// the true classes.
pub fn simulated(n: usize, k: usize, accuracy: &[f64], seed: u64) -> (LabelMatrix, Vec<usize>) {
    let mut rng = Stream::new(Domain::Synth, &[0xA6EE_0000, seed]);
    let truth: Vec<usize> = (0..n).map(|_| rng.next_u64() as usize % k).collect();
    let mut triples = Vec::with_capacity(n * accuracy.len());
    for (i, &t) in truth.iter().enumerate() {
        for (a, &acc) in accuracy.iter().enumerate() {
            let c = if rng.uniform() < acc || k < 2 {
                t
            } else {
                (t + 1 + rng.next_u64() as usize % (k - 1)) % k
            };
            triples.push((i, a, c));
        }
    }
    let names = |m: usize| (0..m).map(|i| i.to_string()).collect::<Vec<_>>();
    let m = LabelMatrix::new(names(n), names(accuracy.len()), names(k), triples)
        .expect("simulated labels are in range and unique");
    (m, truth)
}
