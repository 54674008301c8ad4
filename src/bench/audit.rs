//! Audit throughput on synthetic data at two sizes, to show how audit time grows.

use super::{Measurement, Options, time};
use crate::audit::{AuditOptions, audit};
use crate::data::LoadOptions;
use crate::data::source::DataSource;

/// Audit 10k and 100k synthetic images (2k and 20k with `--quick`).
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    let sizes: [usize; 2] = if opts.quick {
        [2_000, 20_000]
    } else {
        [10_000, 100_000]
    };
    let mut out = Vec::new();
    for n in sizes {
        let source = DataSource::Synthetic {
            train: n,
            test: 1,
            size: 32,
        };
        let lo = LoadOptions::default();
        let mut failed = None;
        // Synthetic generation is part of loading; time it separately and subtract.
        let generation = time(0, 1, || {
            std::hint::black_box(
                crate::data::synth::generate(n, 32, 42, crate::data::synth::SynthSplit::Train)
                    .len(),
            );
        });
        let stats = time(0, if opts.quick { 2 } else { 1 }, || {
            if let Err(e) = audit(&source, &lo, 42, &AuditOptions::default()) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        let audit_only = (stats.median - generation.median).max(1e-9);
        let m = Measurement {
            group: "audit".into(),
            name: format!("audit synthetic 32x32, {n} images"),
            engine: "cpu".into(),
            batch: n,
            items_per_second: n as f64 / audit_only,
            bytes_per_second: None,
            ceiling_fraction: None,
            note: Some(format!(
                "{:.2} s total, {:.2} s of it generating the images",
                stats.median, generation.median
            )),
            stats,
        };
        log(&format!(
            "audit {n} synthetic images: {:.2} s ({:.0} images/s)",
            audit_only, m.items_per_second
        ));
        out.push(m);
    }
    Ok(out)
}
