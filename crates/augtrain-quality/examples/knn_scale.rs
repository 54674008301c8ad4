//! Times exact k-NN ([`augtrain_quality::embedding::nearest`]) on random unit rows, for
//! comparison with tools/knn_reference.py (NumPy/BLAS doing the same search).
//!
//! ```text
//! cargo run --release -p augtrain-quality --example knn_scale -- --n 10000 --dim 1280 --k 10 \
//!     [--seed 0] [--threads 2] [--query 256 --base 1024]
//! ```
//!
//! Prints one JSON line: `{"n", "dim", "k", "seconds", "peak_rss_mb", "threads", "query",
//! "base"}`; `seconds` covers the search only (not generating the data), `peak_rss_mb` is the
//! process's peak resident memory (VmHWM) in MiB.

use std::time::Instant;

use augtrain_quality::embedding::synth::gaussian_unit_rows;
use augtrain_quality::embedding::{Blocking, nearest_blocked};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut n, mut dim, mut k, mut seed, mut threads) = (10_000, 1_280, 10, 0u64, 0usize);
    let mut blocking = Blocking::default();
    while let Some(flag) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a non-negative integer"));
        match flag.as_str() {
            "--n" => n = value,
            "--dim" => dim = value,
            "--k" => k = value,
            "--seed" => seed = value as u64,
            "--threads" => threads = value,
            "--query" => blocking.query = value,
            "--base" => blocking.base = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let set = gaussian_unit_rows(n, dim, seed);
    let start = Instant::now();
    let neighbors = pool.install(|| nearest_blocked(&set, k, blocking));
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(&neighbors);
    println!(
        "{{\"n\": {n}, \"dim\": {dim}, \"k\": {k}, \"seconds\": {seconds:.3}, \"peak_rss_mb\": {:.1}, \"threads\": {}, \"query\": {}, \"base\": {}}}",
        peak_rss_mb(),
        pool.current_num_threads(),
        blocking.query,
        blocking.base
    );
}

/// Peak resident set size in MiB from /proc/self/status (0 where unavailable).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
