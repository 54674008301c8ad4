//! Augmentation throughput: every op alone and the full pipeline, on the CPU twin and (when
//! the device is a GPU) the fused kernel, at 224×224 RGB (batch 256) and 28×28 gray
//! (batch 8,000).

use super::{Measurement, Options, time};
use crate::augment::AugmentError;
use crate::augment::gpu::{DeviceImages, GpuAugment};
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

/// Run the augmentation benchmarks.
pub fn run(
    opts: &Options,
    cpu_bw: f64,
    gpu: Option<(&GpuAugment, f64)>,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<Measurement>> {
    let mut out = Vec::new();
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
        let uploaded = gpu.map(|(k, _)| k.upload(&refs));
        for (case, spec) in cases(w, h, c, opts.quick) {
            let prog = Program::new(&spec, crate::data::ImageShape::new(w, h, c))?;
            let (ow, oh) = (prog.output.width, prog.output.height);
            let header = prog.header(n);
            let moved = n as f64 * ((w * h * c) as f64 + (c * oh * ow * 4) as f64);
            let name = format!("{label} {case}");
            let mut buf = vec![0f32; n * c * oh * ow];
            let mut epoch = 0;
            let stats = time(1, opts.reps(), || {
                epoch += 1;
                let params = prog.draw(1, epoch, &ids);
                let words = prog.pack(&params).expect("params fit their program");
                cpu::run(&header, &words, &refs, &mut buf);
                std::hint::black_box(&buf);
            });
            let m = measurement(&name, "cpu", n, stats, moved, cpu_bw, None);
            log(&format!(
                "augment {name} cpu: {:.0} images/s",
                m.items_per_second
            ));
            out.push(m);
            if let (Some((kernel, gpu_bw)), Some(up)) = (gpu, uploaded.as_ref()) {
                out.push(gpu_case(
                    opts,
                    kernel,
                    gpu_bw,
                    up,
                    GpuCase {
                        name: &name,
                        prog: &prog,
                        refs: &refs,
                        ids: &ids,
                        in_bytes: w * h * c,
                        out_bytes: c * oh * ow * 4,
                    },
                    log,
                )?);
            }
        }
        if let Some((kernel, gpu_bw)) = gpu {
            let stats = time(1, opts.reps(), || {
                let up = kernel.upload(&refs);
                let _ = kernel.sync();
                std::hint::black_box(up.bytes);
            });
            let bytes = (n * w * h * c) as f64;
            let mut m = measurement(
                &format!("{label} upload (host -> device)"),
                "gpu",
                n,
                stats,
                bytes,
                gpu_bw,
                None,
            );
            m.group = "upload".into();
            out.push(m);
        }
    }
    Ok(out)
}

/// One GPU augmentation case: what [`gpu_case`] needs besides the kernel.
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

/// Time the fused kernel on `case` (images already uploaded as `up`, unless
/// `--with-upload`), then check once that its output can be read and compare it with the CPU
/// twin, so that a launch that failed on the device cannot pass for a fast one. A batch whose
/// f32 output (or u8 input) exceeds the device's largest buffer is reduced to the largest that
/// fits (said in the note); the benchmark's inputs are always the smaller of the two.
fn gpu_case(
    opts: &Options,
    kernel: &GpuAugment,
    gpu_bw: f64,
    up: &DeviceImages,
    case: GpuCase,
    log: &dyn Fn(&str),
) -> crate::Result<Measurement> {
    let n = case.refs.len();
    let per_image = case.out_bytes.max(case.in_bytes).max(1) as u64;
    let fit = (kernel.max_buffer_bytes() / per_image).max(1) as usize;
    let n = n.min(fit);
    let (refs, ids, prog) = (&case.refs[..n], &case.ids[..n], case.prog);
    let header = prog.header(n);
    let mut failed = None;
    let mut epoch = 0;
    let stats = time(2, opts.reps(), || {
        epoch += 1;
        let params = prog.draw(1, epoch, ids);
        let words = prog.pack(&params).expect("params fit their program");
        let result = if opts.with_upload {
            kernel.run(&header, &words, refs)
        } else {
            kernel.run_uploaded(&header, &words, up)
        };
        match result.and_then(|t| {
            drop(t);
            kernel.sync()
        }) {
            Ok(()) => {}
            Err(e) => failed = Some(e),
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    // The check: one more batch, read back and compared with the CPU twin.
    let params = prog.draw(1, 0, ids);
    let words = prog.pack(&params).expect("params fit their program");
    let gpu_out = kernel
        .run_uploaded(&header, &words, up)?
        .try_into_data()
        .map_err(|e| format!("{e:?}"))
        .and_then(|d| {
            d.convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))
        })
        .map_err(|e| {
            AugmentError::Gpu(format!(
                "the benchmark could not read the kernel's output for '{}': {e}",
                case.name
            ))
        })?;
    let mut cpu_out = vec![0f32; gpu_out.len()];
    cpu::run(&header, &words, refs, &mut cpu_out);
    let diff = gpu_out
        .iter()
        .zip(&cpu_out)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let mut note = format!(
        "{}; max |gpu - cpu twin| = {diff:.2e} (output units)",
        if opts.with_upload {
            "includes the image upload"
        } else {
            "images already on the device"
        }
    );
    if n < case.refs.len() {
        note.push_str(&format!(
            "; batch reduced from {} to {n}, the most whose input and output each fit the device's largest buffer ({} bytes)",
            case.refs.len(),
            kernel.max_buffer_bytes()
        ));
    }
    let moved = n as f64 * (case.in_bytes + case.out_bytes) as f64;
    let m = measurement(case.name, "gpu", n, stats, moved, gpu_bw, Some(&note));
    log(&format!(
        "augment {} gpu: {:.0} images/s (max |gpu - cpu| {diff:.2e})",
        case.name, m.items_per_second
    ));
    Ok(m)
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
