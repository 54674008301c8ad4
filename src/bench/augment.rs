//! Augmentation throughput: every op alone and the full pipeline, on the CPU twin and (when
//! the device is a GPU) the fused kernel, at 224×224 RGB (batch 256) and 28×28 gray
//! (batch 8,000).

use super::gpu_batch::PreparedBatch;
use super::gpu_timing::{DeviceTimes, GpuBench, time_launches};
use super::rows::Rows;
use super::{Measurement, Options, time};
use crate::augment::spec::PipelineSpec;
use crate::augment::{Program, cpu};
use crate::util::rng::pixel_hash;

/// The pipeline of the throughput targets: flip → rotate ±15° bilinear → random resized crop →
/// gaussian noise → normalize, output the input size.
pub fn full_pipeline(w: usize, h: usize, c: usize) -> PipelineSpec {
    let (mean, std) = if c == 1 {
        ("[0.1307]", "[0.3081]")
    } else {
        ("[0.485, 0.456, 0.406]", "[0.229, 0.224, 0.225]")
    };
    PipelineSpec::from_toml(
        &format!(
            "version = 1\n[[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"rotate\"\ndegrees = [-15.0, 15.0]\n\
             [[ops]]\nop = \"random_resized_crop\"\nwidth = {w}\nheight = {h}\nscale = [0.5, 1.0]\n\
             [[ops]]\nop = \"gaussian_noise\"\nsigma = [0.01, 0.05]\n\
             [[ops]]\nop = \"normalize\"\nmean = {mean}\nstd = {std}\n"
        ),
        "bench",
    )
    .expect("the benchmark pipeline is valid")
}

/// `(name, spec)` for every op alone and the full pipeline.
pub fn cases(w: usize, h: usize, c: usize, quick: bool) -> Vec<(String, PipelineSpec)> {
    let one = |body: &str| {
        PipelineSpec::from_toml(&format!("version = 1\n[[ops]]\n{body}\n"), "bench").expect("valid")
    };
    let mut v = vec![("full pipeline".to_string(), full_pipeline(w, h, c))];
    let mut ops: Vec<(&str, String)> = vec![
        ("identity (u8 -> f32)", String::new()),
        ("hflip", "op = \"hflip\"\np = 1.0".into()),
        (
            "rotate ±15 bilinear",
            "op = \"rotate\"\ndegrees = [-15.0, 15.0]".into(),
        ),
        (
            "gaussian_noise",
            "op = \"gaussian_noise\"\nsigma = [0.01, 0.05]".into(),
        ),
    ];
    if !quick {
        ops.extend([
            ("vflip", "op = \"vflip\"\np = 1.0".into()),
            ("affine", "op = \"affine\"\ndegrees = [-10.0, 10.0]\nscale = [0.9, 1.1]\ntranslate = [0.1, 0.1]\nshear = [-5.0, 5.0]".into()),
            ("crop (7/8 centre)", format!("op = \"crop\"\nwidth = {}\nheight = {}", w * 7 / 8, h * 7 / 8)),
            ("random_resized_crop", format!("op = \"random_resized_crop\"\nwidth = {w}\nheight = {h}")),
            ("resize (1/2)", format!("op = \"resize\"\nwidth = {}\nheight = {}", w / 2, h / 2)),
            ("pad 4", "op = \"pad\"\npixels = 4".into()),
            ("brightness", "op = \"brightness\"\nfactor = [0.8, 1.2]".into()),
            ("contrast", "op = \"contrast\"\nfactor = [0.8, 1.2]".into()),
            ("saturation", "op = \"saturation\"\nfactor = [0.8, 1.2]".into()),
            ("gamma", "op = \"gamma\"\ngamma = [0.8, 1.25]".into()),
            ("grayscale", "op = \"grayscale\"\np = 1.0".into()),
            ("salt_pepper", "op = \"salt_pepper\"\namount = [0.01, 0.05]".into()),
            ("speckle", "op = \"speckle\"\nsigma = [0.05, 0.1]".into()),
            ("erase", "op = \"erase\"\np = 1.0".into()),
            ("normalize", "op = \"normalize\"\nmean = [0.5]\nstd = [0.25]".into()),
            ("mixup", "op = \"mixup\"\nalpha = 0.4".into()),
            ("cutmix", "op = \"cutmix\"\nalpha = 1.0".into()),
        ]);
    }
    for (name, body) in ops {
        let spec = if body.is_empty() {
            PipelineSpec::identity()
        } else {
            one(&body)
        };
        v.push((name.to_string(), spec));
    }
    v
}

fn images(n: usize, bytes: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|s| {
            (0..bytes)
                .map(|i| (pixel_hash(s as u32, i as u32) >> 24) as u8)
                .collect()
        })
        .collect()
}

/// Run the augmentation benchmarks, each row added to `rows` as it completes.
pub fn run(
    opts: &Options,
    cpu_bw: f64,
    gpu: Option<GpuBench<'_>>,
    rows: &mut Rows,
    log: &dyn Fn(&str),
) -> crate::Result<()> {
    let sizes: [(&str, usize, usize, usize, usize); 2] = [
        (
            "224x224 RGB",
            224,
            224,
            3,
            if opts.quick { 64 } else { 256 },
        ),
        (
            "28x28 gray",
            28,
            28,
            1,
            if opts.quick { 2000 } else { 8000 },
        ),
    ];
    for (label, w, h, c, n) in sizes {
        let imgs = images(n, w * h * c);
        let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
        let ids: Vec<u64> = (0..n as u64).collect();
        for (case, spec) in cases(w, h, c, opts.quick) {
            let name = format!("{label} {case}");
            if !opts.wants_case(&name) {
                continue;
            }
            let prog = Program::new(&spec, crate::data::ImageShape::new(w, h, c))?;
            let case = GpuCase {
                name: &name,
                prog: &prog,
                refs: &refs,
                ids: &ids,
                in_bytes: w * h * c,
                out_bytes: c * prog.output.height * prog.output.width * 4,
            };
            rows.push(cpu_case(opts, &case, cpu_bw, log))?;
            if let Some(g) = gpu {
                rows.push(gpu_case(opts, g, &case, log)?)?;
                if opts.with_upload {
                    rows.push(gpu_case_with_upload(opts, g, &case)?)?;
                }
            }
        }
        let upload = format!("{label} upload (host -> device)");
        if let Some(g) = gpu
            && opts.wants_case(&upload)
        {
            rows.push(upload_row(opts, g, &upload, &refs)?)?;
        }
    }
    Ok(())
}

/// The CPU twin on `case`, parameters drawn and packed in the timed region (as training does).
fn cpu_case(opts: &Options, case: &GpuCase, cpu_bw: f64, log: &dyn Fn(&str)) -> Measurement {
    let (prog, n) = (case.prog, case.refs.len());
    let header = prog.header(n);
    let mut buf = vec![0f32; n * case.out_bytes / 4];
    let mut epoch = 0;
    let stats = time(1, opts.reps(), || {
        epoch += 1;
        let params = prog.draw(1, epoch, case.ids);
        let words = prog.pack(&params).expect("params fit their program");
        cpu::run(&header, &words, case.refs, &mut buf);
        std::hint::black_box(&buf);
    });
    let m = measurement(case.name, "cpu", n, stats, case.moved(n), cpu_bw, None);
    log(&format!(
        "augment {} cpu: {:.0} images/s",
        case.name, m.items_per_second
    ));
    m
}

/// The upload of a batch's `u8` pixels, through to the device: the timed call packs and
/// uploads them and launches a 16-byte copy that reads the new buffer, then syncs (a sync
/// alone submits nothing when no kernel is queued, so it would time a host `memcpy` into
/// wgpu's staging buffer).
fn upload_row(
    opts: &Options,
    g: GpuBench<'_>,
    name: &str,
    refs: &[&[u8]],
) -> crate::Result<Measurement> {
    let kernel = g.kernel;
    let sink = kernel.buffer(16);
    let mut failed = None;
    let stats = time(1, opts.reps(), || {
        let up = kernel.upload(refs);
        kernel.copy(&up, &sink);
        if let Err(e) = kernel.sync() {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    let bytes: usize = refs.iter().map(|r| r.len()).sum();
    let mut m = measurement(
        name,
        "gpu",
        refs.len(),
        stats,
        bytes as f64,
        g.ceiling,
        Some("host clock: packing, upload and a 16-byte kernel reading the buffer, then a sync"),
    );
    m.group = "upload".into();
    Ok(m)
}

/// One augmentation case: its program, images and sizes.
struct GpuCase<'a> {
    name: &'a str,
    prog: &'a Program,
    refs: &'a [&'a [u8]],
    ids: &'a [u64],
    /// Input bytes per image (u8 HWC).
    in_bytes: usize,
    /// Output bytes per image (f32 NCHW).
    out_bytes: usize,
}

impl GpuCase<'_> {
    /// Bytes read and written by a batch of `n`.
    fn moved(&self, n: usize) -> f64 {
        n as f64 * (self.in_bytes + self.out_bytes) as f64
    }
}

/// Time the fused kernel on `case` by the device's clock: the whole batch (as several
/// launches when one would exceed the device's largest buffer), its buffer sets rotated past
/// four times the last-level cache, parameters drawn and uploaded before the timed region.
/// Then one batch is read back and compared with the CPU twin, so that a launch that failed
/// on the device cannot pass for a fast one.
fn gpu_case(
    opts: &Options,
    g: GpuBench<'_>,
    case: &GpuCase,
    log: &dyn Fn(&str),
) -> crate::Result<Measurement> {
    let n = case.refs.len();
    let kernel = g.kernel;
    let sets = g.cache.sets(case.moved(n) as u64, opts.quick);
    let batches = (0..sets)
        .map(|r| PreparedBatch::new(kernel, case.prog, case.refs, None, case.ids, r + 1))
        .collect::<Result<Vec<_>, _>>()?;
    let times = time_launches(kernel, opts, &|i| batches[i % sets].dispatch(kernel))?;
    let (diff, _) = batches[0].check(kernel, case.refs, None)?;
    let note = device_note(
        &times,
        sets,
        case.moved(n) * sets as f64,
        batches[0].chunks.len(),
    ) + &format!("; max |gpu - cpu twin| = {diff:.2e} (output units)");
    let m = measurement(
        case.name,
        "gpu",
        n,
        times.device.clone(),
        case.moved(n),
        g.ceiling,
        Some(&note),
    );
    log(&format!(
        "augment {} gpu: {:.0} images/s ({}; host clock {:.0} images/s; max |gpu - cpu| {diff:.2e})",
        case.name,
        m.items_per_second,
        times.method,
        n as f64 / times.host.median
    ));
    Ok(m)
}

/// What a device-timed row's note says: the clocks, `K`, the rotation, the launches.
pub fn device_note(times: &DeviceTimes, sets: usize, rotated: f64, launches: usize) -> String {
    format!(
        "{}; host clock {:.3} ms per batch ({:.1} % of the device's); {} batches per sync; {sets} buffer sets rotated ({:.0} MiB); {launches} launch(es) per batch",
        times.method,
        times.host.median * 1e3,
        100.0 * times.host.median / times.device.median,
        times.per_sync,
        rotated / 1048576.0
    )
}

/// `case` with the upload in the timed call (`--with-upload`): host clock, one launch per
/// batch when it fits (the batch is refused otherwise).
fn gpu_case_with_upload(
    opts: &Options,
    g: GpuBench<'_>,
    case: &GpuCase,
) -> crate::Result<Measurement> {
    let (prog, n) = (case.prog, case.refs.len());
    let header = prog.header(n);
    let mut failed = None;
    let mut epoch = 0;
    let stats = time(1, opts.reps(), || {
        epoch += 1;
        let words = prog
            .pack(&prog.draw(1, epoch, case.ids))
            .expect("params fit their program");
        if let Err(e) = g
            .kernel
            .run(&header, &words, case.refs)
            .and_then(|_| g.kernel.sync())
        {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(measurement(
        &format!("{} (with upload)", case.name),
        "gpu",
        n,
        stats,
        case.moved(n),
        g.ceiling,
        Some(
            "host clock: parameters drawn and packed, images and parameters uploaded, one launch, a sync",
        ),
    ))
}

fn measurement(
    name: &str,
    engine: &str,
    n: usize,
    stats: super::Stats,
    moved: f64,
    ceiling: f64,
    note: Option<&str>,
) -> Measurement {
    let bps = moved / stats.median;
    Measurement {
        group: "augment".into(),
        name: name.into(),
        engine: engine.into(),
        batch: n,
        items_per_second: n as f64 / stats.median,
        bytes_per_second: Some(bps),
        ceiling_fraction: Some(bps / ceiling),
        stats,
        note: note.map(str::to_string),
    }
}
