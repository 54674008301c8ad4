//! Agreement statistics and Dawid-Skene on simulated annotators ([`crate::agreement::synth`]:
//! five annotators of accuracy 0.9, 0.8, 0.7, 0.6 and 0.1 on ten classes, every image labelled
//! by all), at 1,000,000 images (100,000 with `--quick`). With `--reference PYTHON`,
//! `tools/agreement_reference.py --bench N` times scikit-learn's `cohen_kappa_score`, the
//! `krippendorff` package and crowd-kit's `DawidSkene` on the same labels in the same run.

use std::path::Path;
use std::process::Command;

use super::{Measurement, Options, Stats, time};
use crate::agreement::{LabelMatrix, consensus, dawid_skene, kappa, synth};

/// The reference script, relative to the repository root (the working directory).
pub const SCRIPT: &str = "tools/agreement_reference.py";
/// Annotator accuracies of the simulation.
const ACCURACY: [f64; 5] = [0.9, 0.8, 0.7, 0.6, 0.1];

/// Time the statistics once each (the large case takes seconds).
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    let n = if opts.quick { 100_000 } else { 1_000_000 };
    let (m, _) = synth::simulated(n, 10, &ACCURACY, 0);
    let mut out = Vec::new();
    let mut row = |name: &str, stats: Stats, note: String| {
        let shown = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        log(&format!(
            "agreement {n} x 5, {name}: {:.2} s{shown}",
            stats.median
        ));
        out.push(measurement(
            format!("{name}, {n} images x 5 annotators"),
            n,
            stats,
            note,
        ));
    };
    let s = time(0, 1, || {
        std::hint::black_box(kappa::pairs(&m));
    });
    row("Cohen's kappa x 3 weightings, 10 pairs", s, String::new());
    let s = time(0, 1, || {
        std::hint::black_box(kappa::krippendorff_alpha(&m));
        std::hint::black_box(kappa::krippendorff_alpha_per_class(&m));
        std::hint::black_box(kappa::fleiss_kappa(&m, &kappa::complete_images(&m)));
    });
    row(
        "Krippendorff's alpha (overall + 10 per class), Fleiss' kappa",
        s,
        String::new(),
    );
    let s = time(0, 1, || {
        std::hint::black_box(consensus::majority_vote(&m, None));
    });
    row("majority vote", s, String::new());
    let mut iterations = 0;
    let s = time(0, 1, || {
        iterations = dawid_skene::fit(&m, dawid_skene::Settings::default())
            .loss_history
            .len();
    });
    let rss = super::knn::peak_rss_mib().map_or("?".into(), |m| m.to_string());
    row(
        "Dawid-Skene",
        s,
        format!("{iterations} EM iterations; peak RSS {rss} MiB"),
    );
    if let Some(python) = &opts.reference {
        out.extend(reference(python, &m, log));
    }
    Ok(out)
}

fn measurement(name: String, n: usize, stats: Stats, note: String) -> Measurement {
    Measurement {
        group: "agreement".into(),
        name,
        engine: "cpu".into(),
        batch: n,
        items_per_second: n as f64 / stats.median,
        bytes_per_second: None,
        ceiling_fraction: None,
        note: (!note.is_empty()).then_some(note),
        stats,
    }
}

/// The Python references' rows on the same labels (passed as raw bytes, images × 5), or none
/// (after saying why) when they cannot run.
fn reference(python: &Path, m: &LabelMatrix, log: &dyn Fn(&str)) -> Vec<Measurement> {
    let n = m.n_images();
    let file = std::env::temp_dir().join(format!(
        "augtrain-agreement-bench-{}.u8",
        std::process::id()
    ));
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| m.row(i).iter().map(|e| e.class as u8))
        .collect();
    if let Err(e) = std::fs::write(&file, bytes) {
        log(&format!(
            "Python references skipped: cannot write {}: {e}",
            file.display()
        ));
        return Vec::new();
    }
    log(&format!(
        "Python references: {} {SCRIPT} --bench {n} {}",
        python.display(),
        file.display()
    ));
    let out = Command::new(python)
        .args([SCRIPT, "--bench", &n.to_string()])
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let parsed = match out {
        Err(e) => Err(format!("cannot run {}: {e}", python.display())),
        Ok(o) if !o.status.success() => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string()),
        Ok(o) => serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .map_err(|e| format!("unexpected output of {SCRIPT}: {e}")),
    };
    let v = match parsed {
        Ok(v) => v,
        Err(why) => {
            log(&format!("Python references skipped: {why}"));
            return Vec::new();
        }
    };
    let secs = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let rows = [
        (
            "scikit-learn cohen_kappa_score, 10 pairs (Python)",
            secs("cohen_10_pairs_s"),
            String::new(),
        ),
        (
            "krippendorff.alpha nominal (Python)",
            secs("krippendorff_alpha_s"),
            String::new(),
        ),
        (
            "crowd-kit DawidSkene (Python)",
            secs("dawid_skene_s"),
            format!("{} EM iterations", v["dawid_skene_iterations"]),
        ),
    ];
    rows.into_iter()
        .map(|(name, s, note)| {
            log(&format!("agreement {n} x 5, {name}: {s:.2} s"));
            measurement(
                format!("{name}, {n} images x 5 annotators"),
                n,
                Stats::single(s),
                note,
            )
        })
        .collect()
}
