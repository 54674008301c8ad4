//! Bandwidth ceilings measured in the same run as the workloads they bound.

use rayon::prelude::*;

use super::gpu_timing::{CacheSize, time_launches};
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

/// A buffer-to-buffer copy kernel on the GPU, timed by the device's clock (see
/// [`super::gpu_timing`]): 256 MiB per copy, or the device's largest buffer when that is
/// smaller, over source/destination pairs rotated past four times the last-level cache.
/// The first destination is read back once afterwards and must equal its source: a copy that
/// never ran (an allocation or launch the device refused) would otherwise time as an
/// impossibly fast ceiling.
pub fn gpu_copy(
    kernel: &GpuAugment,
    cache: &CacheSize,
    opts: &Options,
) -> crate::Result<Measurement> {
    let largest = (kernel.max_buffer_bytes() as usize) / 16 * 16;
    let bytes = (256usize << 20).min(largest).max(16);
    let pattern: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let sets = cache.sets(2 * bytes as u64, opts.quick);
    let pairs: Vec<_> = (0..sets)
        .map(|r| {
            let src = match r {
                0 => kernel.upload(&[&pattern]),
                _ => kernel.buffer(bytes),
            };
            let dst = kernel.buffer(bytes);
            let copy = kernel.prepare_copy(&src, &dst);
            (copy, dst)
        })
        .collect();
    let times = time_launches(kernel, opts, &|i| kernel.dispatch_copy(&pairs[i % sets].0))?;
    if kernel.read(&pairs[0].1)? != pattern {
        return Err(crate::augment::AugmentError::Gpu(format!(
            "the benchmark's GPU copy kernel did not copy its {bytes}-byte buffer; \
             the GPU ceiling cannot be measured on this device"
        ))
        .into());
    }
    let mut m = ceiling(
        &format!("buffer copy {} MiB", bytes >> 20),
        "gpu",
        bytes,
        times.device.clone(),
    );
    m.note = Some(format!(
        "bytes per second count the read and the write; {}",
        super::augment::device_note(&times, sets, (2 * bytes * sets) as f64, 1)
    ));
    Ok(m)
}
