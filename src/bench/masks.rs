//! Augmentation with a label mask attached against images alone: the full pipeline at 224×224
//! RGB (batch 256) on the CPU twin and, when the device is a GPU, the fused kernel, timed in
//! alternated pairs (images only, then with the mask) so that load from other work hits both
//! alike. The target is ≥ 90 % of the images-only throughput; each pair's ratio is reported with
//! the median and range. The GPU's labels are checked once against the CPU twin, bit for bit.

use super::augment::full_pipeline;
use super::gpu_batch::PreparedBatch;
use super::gpu_timing::{GpuBench, time_launches};
use super::rows::Rows;
use super::{Measurement, Options, Stats, time};
use crate::augment::{AugmentError, Program, cpu, masks};
use crate::util::rng::pixel_hash;

/// Width and height of the benchmark's images.
const SIDE: usize = 224;

/// A batch of `n` images and label planes for the pairs.
struct Batch {
    images: Vec<Vec<u8>>,
    labels: Vec<Vec<u8>>,
}

impl Batch {
    fn new(n: usize) -> Self {
        let plane = SIDE * SIDE;
        let images = (0..n)
            .map(|s| {
                (0..plane * 3)
                    .map(|i| (pixel_hash(s as u32, i as u32) >> 24) as u8)
                    .collect()
            })
            .collect();
        // Blobs of 8x8 pixels with one of 8 labels: borders everywhere, as in dense masks.
        let labels = (0..n)
            .map(|s| {
                (0..plane)
                    .map(|i| {
                        let cell = ((i % SIDE) / 8 + (i / SIDE / 8) * 64) as u32;
                        (pixel_hash(!(s as u32), cell) >> 29) as u8
                    })
                    .collect()
            })
            .collect();
        Self { images, labels }
    }

    fn image_refs(&self) -> Vec<&[u8]> {
        self.images.iter().map(|v| v.as_slice()).collect()
    }

    fn label_refs(&self) -> Vec<&[u8]> {
        self.labels.iter().map(|v| v.as_slice()).collect()
    }
}

/// The benchmark's name, which `--filter` matches.
pub const NAME: &str = "masks: 224x224 RGB full pipeline, images only and with a label mask";

/// Run the alternated pairs on the CPU twin and, with `gpu`, on the fused kernel; each set's
/// rows are added to `rows` as they complete.
pub fn run(
    opts: &Options,
    cpu_bw: f64,
    gpu: Option<GpuBench<'_>>,
    rows: &mut Rows,
    log: &dyn Fn(&str),
) -> crate::Result<()> {
    let n = if opts.quick { 64 } else { 256 };
    let pairs = if opts.quick { 3 } else { 5 };
    let batch = Batch::new(n);
    let spec = full_pipeline(SIDE, SIDE, 3);
    let prog = Program::new(&spec, crate::data::ImageShape::new(SIDE, SIDE, 3))?;
    let ids: Vec<u64> = (0..n as u64).collect();
    rows.extend(cpu_pairs(opts, &prog, &batch, &ids, pairs, cpu_bw, log)?)?;
    if let Some(g) = gpu {
        rows.extend(gpu_pairs(opts, g, &prog, &batch, &ids, pairs, log)?)?;
    }
    Ok(())
}

/// Times of `pairs` alternated (images only, with mask) runs of `plain` and `masked`.
fn alternate(
    opts: &Options,
    pairs: usize,
    mut plain: impl FnMut(),
    mut masked: impl FnMut(),
) -> (Vec<Stats>, Vec<Stats>) {
    let reps = opts.reps().div_ceil(2).max(3);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        a.push(time(1, reps, &mut plain));
        b.push(time(1, reps, &mut masked));
    }
    (a, b)
}

/// The two measurements of a set of pairs, the with-mask one noting the per-pair ratio of
/// throughputs (median and range).
fn report(
    engine: &str,
    n: usize,
    (plain, masked): (Vec<Stats>, Vec<Stats>),
    bytes: (f64, f64),
    ceiling: f64,
    extra: &str,
    log: &dyn Fn(&str),
) -> Vec<Measurement> {
    let mut ratios: Vec<f64> = plain
        .iter()
        .zip(&masked)
        .map(|(p, m)| p.median / m.median)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let note = format!(
        "throughput with the mask / images only, per alternated pair: median {:.1} % (range {:.1} to {:.1} %) over {} pairs; target >= 90 %{extra}",
        100.0 * median,
        100.0 * ratios[0],
        100.0 * ratios[ratios.len() - 1],
        ratios.len()
    );
    log(&format!(
        "augment 224x224 RGB full pipeline + mask {engine}: {note}"
    ));
    // The pair whose ratio is the median stands for both cases.
    let k = (0..plain.len())
        .find(|&i| plain[i].median / masked[i].median == median)
        .unwrap_or(0);
    let measure = |name: &str, stats: &Stats, moved: f64, note: Option<String>| {
        let bps = moved / stats.median;
        Measurement {
            group: "augment".into(),
            name: name.into(),
            engine: engine.into(),
            batch: n,
            items_per_second: n as f64 / stats.median,
            bytes_per_second: Some(bps),
            ceiling_fraction: Some(bps / ceiling),
            stats: stats.clone(),
            note,
        }
    };
    vec![
        measure(
            "224x224 RGB full pipeline (images only, paired with the mask case)",
            &plain[k],
            bytes.0,
            None,
        ),
        measure(
            "224x224 RGB full pipeline + mask",
            &masked[k],
            bytes.1,
            Some(note),
        ),
    ]
}

/// Bytes read and written per batch: (images only, with the mask's `u8` in and `out_label` out).
fn moved(n: usize, out_label_bytes: usize) -> (f64, f64) {
    let plane = SIDE * SIDE;
    let images = n as f64 * (plane * 3 + plane * 3 * 4) as f64;
    (
        images,
        images + n as f64 * (plane + plane * out_label_bytes) as f64,
    )
}

fn cpu_pairs(
    opts: &Options,
    prog: &Program,
    batch: &Batch,
    ids: &[u64],
    pairs: usize,
    cpu_bw: f64,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let n = ids.len();
    let (images, labels) = (batch.image_refs(), batch.label_refs());
    let params = prog.draw(1, 1, ids);
    let words = prog.pack(&params)?;
    let (header, mask_header) = (prog.header(n), masks::header(prog, n)?);
    // One output buffer per closure (the two are called alternately, never together).
    let mut buf = vec![0f32; n * 3 * SIDE * SIDE];
    let mut masked_buf = buf.clone();
    let mut label_buf = vec![0u8; n * SIDE * SIDE];
    let runs = alternate(
        opts,
        pairs,
        || {
            cpu::run(&header, &words, &images, &mut buf);
            std::hint::black_box(&buf);
        },
        || {
            cpu::run(&header, &words, &images, &mut masked_buf);
            masks::run(&mask_header, &words, &labels, &mut label_buf);
            std::hint::black_box((&masked_buf, &label_buf));
        },
    );
    Ok(report("cpu", n, runs, moved(n, 1), cpu_bw, "", log))
}

/// The GPU pairs, timed by the device's clock: the whole batch (256 at full size, as several
/// launches where one would exceed the device's largest buffer: lavapipe allows 128 MiB, 222
/// images of 224x224x3 f32), buffer sets rotated past four times the last-level cache,
/// parameters drawn and uploaded before the timed region. The labels of one batch are then
/// checked against the CPU twin, bit for bit.
fn gpu_pairs(
    opts: &Options,
    g: GpuBench<'_>,
    prog: &Program,
    batch: &Batch,
    ids: &[u64],
    pairs: usize,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let n = ids.len();
    let kernel = g.kernel;
    let (images, labels) = (batch.image_refs(), batch.label_refs());
    let (plain_bytes, masked_bytes) = moved(n, 4);
    let sets = g.cache.sets(masked_bytes as u64, opts.quick);
    let prepare = |with: Option<&[&[u8]]>| {
        (0..sets)
            .map(|r| PreparedBatch::new(kernel, prog, &images, with, ids, r + 1))
            .collect::<Result<Vec<_>, AugmentError>>()
    };
    let (plain, masked) = (prepare(None)?, prepare(Some(&labels))?);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..pairs {
        let p = time_launches(kernel, opts, &|i| plain[i % sets].dispatch(kernel))?;
        let m = time_launches(kernel, opts, &|i| masked[i % sets].dispatch(kernel))?;
        a.push(p.device.clone());
        b.push(m.device.clone());
        last = Some(m);
    }
    let (_, differ) = masked[0].check(kernel, &images, Some(&labels))?;
    if differ > 0 {
        return Err(AugmentError::Gpu(format!(
            "the benchmark's GPU masks differ from the CPU twin at {differ} pixels"
        ))
        .into());
    }
    let times = last.expect("at least one pair");
    let extra = format!(
        "; images and masks already on the device; the labels equal the CPU twin's bit for bit; {}",
        super::augment::device_note(
            &times,
            sets,
            masked_bytes * sets as f64,
            masked[0].chunks.len()
        )
    );
    Ok(report(
        "gpu",
        n,
        (a, b),
        (plain_bytes, masked_bytes),
        g.ceiling,
        &extra,
        log,
    ))
}
