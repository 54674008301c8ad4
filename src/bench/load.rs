//! Loading throughput: IDX parsing (gzip included) and synthetic generation.

use super::{Measurement, Options, time};
use crate::data::{idx, synth};

fn measurement(name: &str, n: usize, stats: super::Stats, bytes: Option<f64>) -> Measurement {
    Measurement {
        group: "load".into(),
        name: name.into(),
        engine: "cpu".into(),
        batch: n,
        items_per_second: n as f64 / stats.median,
        bytes_per_second: bytes.map(|b| b / stats.median),
        ceiling_fraction: None,
        stats,
        note: None,
    }
}

/// Run the loading benchmarks.
pub fn run(opts: &Options, log: &dyn Fn(&str)) -> crate::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    // IDX: the real mnist-10k training images when available, else a generated file.
    let real = opts
        .data
        .as_ref()
        .map(|d| d.join("mnist-10k"))
        .filter(|d| d.exists())
        .and_then(|d| idx::find_files(&d).ok());
    let (path, label, _tmp) = match real {
        Some(files) => (
            files.train_images,
            "IDX parse mnist-10k train (gzip)".to_string(),
            None,
        ),
        None => {
            let dir = std::env::temp_dir().join(format!("augtrain-bench-{}", std::process::id()));
            crate::util::fs::create_dir_all(&dir)?;
            let p = dir.join("train-images-idx3-ubyte.gz");
            let px: Vec<u8> = (0..8000 * 784).map(|i| (i % 251) as u8).collect();
            idx::write_images(&p, 8000, 28, 28, &px, true)
                .map_err(|e| crate::util::fs::IoError::new("write", &p, e))?;
            (
                p,
                "IDX parse 8000x28x28 generated (gzip)".to_string(),
                Some(dir),
            )
        }
    };
    let mut count = 0;
    let stats = time(1, opts.reps(), || {
        let img = idx::read_images(&path).expect("the benchmark IDX file parses");
        count = img.count;
        std::hint::black_box(img.pixels.len());
    });
    let m = measurement(&label, count, stats, Some((count * 784) as f64));
    log(&format!("load {label}: {:.0} images/s", m.items_per_second));
    out.push(m);
    if let Some(dir) = _tmp {
        let _ = std::fs::remove_dir_all(dir);
    }
    let n = if opts.quick { 1000 } else { 4000 };
    let stats = time(1, opts.reps(), || {
        std::hint::black_box(synth::generate(n, 32, 1, synth::SynthSplit::Train).len());
    });
    let m = measurement("synthetic generation 32x32 RGB", n, stats, None);
    log(&format!(
        "load synthetic: {:.0} images/s",
        m.items_per_second
    ));
    out.push(m);
    Ok(out)
}
