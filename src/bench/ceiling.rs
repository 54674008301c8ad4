//! Bandwidth ceilings measured in the same run as the workloads they bound.

use rayon::prelude::*;

use super::{Measurement, Options, time};
use crate::augment::gpu::GpuAugment;

fn ceiling(name: &str, engine: &str, bytes: usize, stats: super::Stats) -> Measurement {
    let moved = 2.0 * bytes as f64; // read + write
    Measurement {
        group: "ceiling".into(),
        name: name.into(),
        engine: engine.into(),
        batch: bytes,
        items_per_second: bytes as f64 / stats.median,
        bytes_per_second: Some(moved / stats.median),
        ceiling_fraction: Some(1.0),
        stats,
        note: Some("bytes per second count the read and the write".into()),
    }
}

/// Multi-threaded `memcpy` of a buffer much larger than the caches, with the worker threads the
/// CPU twin uses.
pub fn cpu_memcpy(opts: &Options) -> Measurement {
    let bytes = if opts.quick { 128 << 20 } else { 256 << 20 };
    let src = vec![1u8; bytes];
    let mut dst = vec![0u8; bytes];
    let chunk = bytes.div_ceil(rayon::current_num_threads().max(1) * 4);
    let stats = time(2, opts.reps(), || {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&dst);
    });
    ceiling(&format!("memcpy {} MiB", bytes >> 20), "cpu", bytes, stats)
}

/// A buffer-to-buffer copy kernel on the GPU, timed to completion: 256 MiB, or the device's
/// largest buffer when that is smaller. The destination is read back once afterwards and must
/// equal the source: a copy that never ran (an allocation or launch the device refused) would
/// otherwise time as an impossibly fast ceiling.
pub fn gpu_copy(kernel: &GpuAugment, opts: &Options) -> crate::Result<Measurement> {
    let largest = (kernel.max_buffer_bytes() as usize) / 16 * 16;
    let bytes = (256usize << 20).min(largest).max(16);
    let pattern: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let src = kernel.upload(&[&pattern]);
    let dst = kernel.buffer(bytes);
    let launches = 10;
    let mut failed = None;
    let stats = time(2, opts.reps(), || {
        for _ in 0..launches {
            kernel.copy(&src, &dst);
        }
        if let Err(e) = kernel.sync() {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    if kernel.read(&dst)? != pattern {
        return Err(crate::augment::AugmentError::Gpu(format!(
            "the benchmark's GPU copy kernel did not copy its {bytes}-byte buffer; \
             the GPU ceiling cannot be measured on this device"
        ))
        .into());
    }
    let per_copy = super::Stats {
        median: stats.median / launches as f64,
        min: stats.min / launches as f64,
        max: stats.max / launches as f64,
        ..stats
    };
    Ok(ceiling(
        &format!("buffer copy {} MiB", bytes >> 20),
        "gpu",
        bytes,
        per_copy,
    ))
}
