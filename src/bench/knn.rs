//! Exact nearest-neighbour search ([`crate::embedding::knn`]) on random unit embeddings of
//! 1,280 floats (EfficientNet-Lite0's width), at 10k and 100k rows: the all-pairs search that
//! `audit` and `label-issues --embeddings` run. `tools/knn_reference.py` does the same search
//! with NumPy/BLAS for comparison.

use super::{Measurement, Options, time};
use crate::embedding::{nearest, synth};

/// Floats per embedding.
const DIM: usize = 1280;
/// Neighbours per row.
const K: usize = 10;

/// Search 10k and 100k rows (2k and 10k with `--quick`), once each (the large one takes
/// minutes on two cores).
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    let sizes: [usize; 2] = if opts.quick {
        [2_000, 10_000]
    } else {
        [10_000, 100_000]
    };
    let mut out = Vec::new();
    for n in sizes {
        let set = synth::gaussian_unit_rows(n, DIM, 42);
        let stats = time(0, 1, || {
            std::hint::black_box(nearest(&set, K).len());
        });
        let multiply_adds = n as f64 * n as f64 * DIM as f64;
        let m = Measurement {
            group: "knn".into(),
            name: format!("exact {K}-NN, {n} x {DIM} f32"),
            engine: "cpu".into(),
            batch: n,
            items_per_second: n as f64 / stats.median,
            bytes_per_second: None,
            ceiling_fraction: None,
            note: Some(format!(
                "{:.1} GFLOP/s (all pairs, 2 flops per multiply-add); peak RSS {} MiB",
                2.0 * multiply_adds / stats.median / 1e9,
                peak_rss_mib()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "?".into())
            )),
            stats,
        };
        log(&format!(
            "knn {n} x {DIM}: {:.2} s ({})",
            m.stats.median,
            m.note.as_deref().unwrap_or("")
        ));
        out.push(m);
    }
    Ok(out)
}

/// The process's peak resident memory (`VmHWM`), MiB, where `/proc` has it.
pub(super) fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}
