//! Times the agreement statistics and Dawid-Skene on simulated annotators (five of accuracy
//! 0.9, 0.8, 0.7, 0.6 and 0.1, ten classes), for comparison with
//! `tools/agreement_reference.py --bench N` (the Python references on the same shape).
//!
//! ```text
//! cargo run --release -p augtrain-quality --example agreement_scale -- --n 1000000
//! ```
//!
//! Prints one JSON line: seconds per step (building the matrix excluded), Dawid-Skene's
//! iterations, and the process's peak resident memory (VmHWM) in MiB.

use std::time::Instant;

use augtrain_quality::agreement::{consensus, dawid_skene, kappa, synth};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut n = 1_000_000usize;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--n", Some(v)) => n = v,
            _ => panic!("usage: agreement_scale [--n IMAGES]"),
        }
    }
    let (m, _) = synth::simulated(n, 10, &[0.9, 0.8, 0.7, 0.6, 0.1], 0);
    let t = Instant::now();
    let pairs = kappa::pairs(&m);
    let t_pairs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let alpha = kappa::krippendorff_alpha(&m);
    let fleiss = kappa::fleiss_kappa(&m, &kappa::complete_images(&m));
    let t_alpha = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mv = consensus::majority_vote(&m, None);
    let t_mv = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ds = dawid_skene::fit(&m, dawid_skene::Settings::default());
    let t_ds = t.elapsed().as_secs_f64();
    std::hint::black_box((pairs, alpha, fleiss, mv));
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    println!(
        "{{\"images\":{n},\"annotators\":5,\"cohen_10_pairs_s\":{t_pairs:.3},\"alpha_and_fleiss_s\":{t_alpha:.3},\"majority_vote_s\":{t_mv:.3},\"dawid_skene_s\":{t_ds:.3},\"dawid_skene_iterations\":{},\"peak_rss_mib\":{}}}",
        ds.loss_history.len(),
        rss.map_or(0, |k| k / 1024)
    );
}
