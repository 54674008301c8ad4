//! The fused WGSL kernel against its CPU twin: every op alone and the full pipeline, at odd
//! sizes, batch 1 and a batch big enough for the 2-D dispatch, on random images and real
//! photos; determinism and batch-split invariance on the GPU. Needs a GPU adapter (Mesa's
//! lavapipe is enough); skips loudly without one, fails without one on CI.

use augtrain::augment::gpu::{GpuAugment, compilations};
use augtrain::augment::layout::H_SCALE;
use augtrain::augment::spec::PipelineSpec;
use augtrain::augment::variant::Variant;
use augtrain::augment::{Program, cpu};
use augtrain::device;
use augtrain::util::rng::pixel_hash;
use augtrain_run::config::DeviceChoice;
use burn::tensor::Device;

use crate::support;

/// Largest allowed difference between GPU and CPU, in [0, 1] units before normalization.
const TOLERANCE: f32 = 1.0 / 255.0;

struct Gpu {
    kernel: GpuAugment,
}

fn open() -> Option<Gpu> {
    if !support::gpu() {
        return None;
    }
    let dev = device::open(DeviceChoice::Gpu).expect("the GPU adapter starts");
    let device: Device = dev.device.clone();
    Some(Gpu {
        kernel: GpuAugment::new(&device).expect("kernel"),
    })
}

fn random_images(n: usize, w: usize, h: usize, c: usize, key: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|s| {
            (0..w * h * c)
                .map(|i| (pixel_hash(key ^ (s as u32 * 7919), i as u32) >> 24) as u8)
                .collect()
        })
        .collect()
}

/// Run `spec` on both engines; return (max difference in [0, 1] units, gpu output).
fn compare(
    gpu: &Gpu,
    spec: &PipelineSpec,
    images: &[Vec<u8>],
    w: usize,
    h: usize,
    c: usize,
    seed: u64,
) -> (f32, Vec<f32>) {
    let prog = Program::new(spec, augtrain::data::ImageShape::new(w, h, c))
        .unwrap_or_else(|e| panic!("{e}"));
    let n = images.len();
    let ids: Vec<u64> = (0..n as u64).collect();
    let params = prog.draw(seed, 3, &ids);
    let header = prog.header(n);
    let words = prog.pack(&params).unwrap();
    let refs: Vec<&[u8]> = images.iter().map(|i| i.as_slice()).collect();
    let (oh, ow) = (prog.output.height, prog.output.width);
    let mut expect = vec![0f32; n * c * oh * ow];
    cpu::run(&header, &words, &refs, &mut expect);
    let got: Vec<f32> = gpu
        .kernel
        .run(&header, &words, &refs)
        .unwrap()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(got.len(), expect.len());
    let plane = oh * ow;
    let mut worst = 0f32;
    for (i, (a, b)) in got.iter().zip(&expect).enumerate() {
        let ch = (i / plane) % c;
        let scale = f32::from_bits(header[H_SCALE + ch]);
        let d = (a - b).abs() / scale;
        assert!(a.is_finite(), "non-finite GPU output at {i}");
        worst = worst.max(d);
    }
    (worst, got)
}

fn spec(ops: &str, extra: &str) -> PipelineSpec {
    let text = format!("version = 1\n{extra}\n{ops}");
    PipelineSpec::from_toml(&text, "test").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Every op alone (with the options that change the kernel's path).
fn single_ops(w: usize, h: usize) -> Vec<(String, PipelineSpec)> {
    let mut v = geometric_ops(w, h);
    v.extend(pixel_ops());
    v
}

/// One `[[ops]]` table of a pipeline spec.
fn op(body: &str) -> String {
    format!("[[ops]]\n{body}\n")
}

/// The ops that move pixels, alone: identity, flips, rotations (each border and interpolation),
/// affine, crops, resizes and pads, for `w`x`h` input.
fn geometric_ops(w: usize, h: usize) -> Vec<(String, PipelineSpec)> {
    let (hw, hh) = ((w / 2).max(1), (h / 2).max(1));
    let mut v: Vec<(String, PipelineSpec)> = Vec::new();
    let mut add =
        |name: &str, ops: String, extra: &str| v.push((name.to_string(), spec(&ops, extra)));
    add("identity", String::new(), "");
    add("hflip", op("op = \"hflip\"\np = 1.0"), "");
    add("vflip", op("op = \"vflip\"\np = 1.0"), "");
    for border in ["constant", "replicate", "reflect"] {
        add(
            &format!("rotate-bilinear-{border}"),
            op("op = \"rotate\"\ndegrees = [-40.0, 40.0]"),
            &format!("border = \"{border}\"\nfill = [0.25]"),
        );
    }
    add(
        "rotate-nearest",
        op("op = \"rotate\"\ndegrees = [-40.0, 40.0]"),
        "interpolation = \"nearest\"",
    );
    add(
        "affine",
        op(
            "op = \"affine\"\ndegrees = [-20.0, 20.0]\nscale = [0.7, 1.3]\ntranslate = [0.2, 0.1]\nshear = [-10.0, 10.0]",
        ),
        "border = \"reflect\"",
    );
    add(
        "crop-random",
        op(&format!(
            "op = \"crop\"\nwidth = {hw}\nheight = {hh}\nposition = \"random\""
        )),
        "",
    );
    add(
        "crop-center",
        op(&format!("op = \"crop\"\nwidth = {hw}\nheight = {hh}")),
        "",
    );
    add(
        "random-resized-crop",
        op("op = \"random_resized_crop\"\nwidth = 17\nheight = 13\nscale = [0.3, 1.0]"),
        "",
    );
    add(
        "resize-up",
        op(&format!(
            "op = \"resize\"\nwidth = {}\nheight = {}",
            w * 2 + 1,
            h + 3
        )),
        "",
    );
    add(
        "resize-nearest",
        op("op = \"resize\"\nwidth = 9\nheight = 5"),
        "interpolation = \"nearest\"",
    );
    for border in ["constant", "replicate", "reflect"] {
        add(
            &format!("pad-{border}"),
            op("op = \"pad\"\npixels = [3, 1, 2, 4]"),
            &format!("border = \"{border}\""),
        );
    }
    v
}

/// The ops that change pixel values or mix images, alone: colour, noise, erasing,
/// normalization, mixup and cutmix.
fn pixel_ops() -> Vec<(String, PipelineSpec)> {
    let mut v: Vec<(String, PipelineSpec)> = Vec::new();
    let mut add =
        |name: &str, ops: String, extra: &str| v.push((name.to_string(), spec(&ops, extra)));
    add(
        "brightness",
        op("op = \"brightness\"\nfactor = [0.5, 1.5]"),
        "",
    );
    add("contrast", op("op = \"contrast\"\nfactor = [0.5, 1.5]"), "");
    add(
        "saturation",
        op("op = \"saturation\"\nfactor = [0.0, 2.0]"),
        "",
    );
    add("gamma", op("op = \"gamma\"\ngamma = [0.5, 2.0]"), "");
    add("grayscale", op("op = \"grayscale\"\np = 1.0"), "");
    add(
        "gaussian-noise",
        op("op = \"gaussian_noise\"\nsigma = [0.05, 0.2]"),
        "",
    );
    add(
        "gaussian-noise-shared",
        op("op = \"gaussian_noise\"\nsigma = [0.05, 0.2]\nper_channel = false"),
        "",
    );
    add(
        "salt-pepper",
        op("op = \"salt_pepper\"\namount = [0.05, 0.3]"),
        "",
    );
    add("speckle", op("op = \"speckle\"\nsigma = [0.1, 0.3]"), "");
    add(
        "erase-value",
        op("op = \"erase\"\np = 1.0\ncount = [1, 3]\nfill = 0.5"),
        "",
    );
    add(
        "erase-random",
        op("op = \"erase\"\np = 1.0\nfill = \"random\""),
        "",
    );
    add(
        "normalize",
        op("op = \"normalize\"\nmean = [0.4]\nstd = [0.2]"),
        "",
    );
    add("mixup", op("op = \"mixup\"\nalpha = 0.4"), "");
    add("cutmix", op("op = \"cutmix\"\nalpha = 1.0"), "");
    v
}

fn full_pipeline(w: usize, h: usize) -> PipelineSpec {
    spec(
        &format!(
            "[[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"rotate\"\ndegrees = [-15.0, 15.0]\n\
             [[ops]]\nop = \"random_resized_crop\"\nwidth = {w}\nheight = {h}\nscale = [0.5, 1.0]\n\
             [[ops]]\nop = \"brightness\"\nfactor = [0.8, 1.2]\n[[ops]]\nop = \"saturation\"\nfactor = [0.8, 1.2]\n\
             [[ops]]\nop = \"gaussian_noise\"\nsigma = [0.0, 0.1]\n[[ops]]\nop = \"erase\"\n\
             [[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n"
        ),
        "border = \"reflect\"",
    )
}

#[test]
fn every_op_matches_the_cpu_twin_at_odd_sizes() {
    let Some(gpu) = open() else { return };
    let mut failures = Vec::new();
    for (w, h) in [(1, 1), (3, 7), (28, 28), (224, 224), (513, 301)] {
        for c in [1, 3] {
            let n = if w * h > 100_000 { 1 } else { 3 };
            let images = random_images(n, w, h, c, (w * 31 + h) as u32);
            for (name, s) in single_ops(w, h) {
                let (diff, _) = compare(&gpu, &s, &images, w, h, c, 11);
                if diff > TOLERANCE {
                    failures.push(format!("{name} at {w}x{h}x{c}: {diff}"));
                }
            }
            let (diff, _) = compare(
                &gpu,
                &full_pipeline(w.max(2), h.max(2)),
                &images,
                w,
                h,
                c,
                5,
            );
            if diff > TOLERANCE {
                failures.push(format!("full pipeline at {w}x{h}x{c}: {diff}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "GPU differs from the CPU twin:\n{}",
        failures.join("\n")
    );
}

/// Op subsets that switch the kernel variant's op constants: none, each family alone, the
/// colour and noise kinds the others lack, and batch mixing with erasing.
fn variant_op_subsets() -> Vec<(&'static str, String)> {
    vec![
        ("warp only", String::new()),
        (
            "brightness contrast gamma",
            op("op = \"brightness\"\nfactor = [0.5, 1.5]")
                + &op("op = \"contrast\"\nfactor = [0.5, 1.5]")
                + &op("op = \"gamma\"\ngamma = [0.5, 2.0]"),
        ),
        (
            "saturation grayscale",
            op("op = \"saturation\"\nfactor = [0.0, 2.0]") + &op("op = \"grayscale\"\np = 0.5"),
        ),
        (
            "gaussian speckle",
            op("op = \"gaussian_noise\"\nsigma = [0.05, 0.2]")
                + &op("op = \"speckle\"\nsigma = [0.1, 0.3]"),
        ),
        (
            "shared gaussian salt-pepper",
            op("op = \"gaussian_noise\"\nsigma = [0.05, 0.2]\nper_channel = false")
                + &op("op = \"salt_pepper\"\namount = [0.05, 0.3]"),
        ),
        (
            "erase cutmix",
            op("op = \"erase\"\np = 1.0\nfill = \"random\"") + &op("op = \"cutmix\"\nalpha = 1.0"),
        ),
        (
            "gamma erase mixup",
            op("op = \"gamma\"\ngamma = [0.5, 2.0]")
                + &op("op = \"erase\"\np = 1.0\nfill = 0.5")
                + &op("op = \"mixup\"\nalpha = 0.4"),
        ),
    ]
}

#[test]
fn every_kernel_variant_matches_the_cpu_twin() {
    let Some(gpu) = open() else { return };
    let (w, h) = (29, 23);
    let subsets = variant_op_subsets();
    let mut failures = Vec::new();
    let mut variants = std::collections::BTreeSet::new();
    let mut case = 0;
    for c in 1..=4 {
        let images = random_images(4, w, h, c, 40 + c as u32);
        for interp in ["bilinear", "nearest"] {
            for border in ["constant", "replicate", "reflect"] {
                // Every channel count, interpolation and border with a rotation (so the border
                // is read), the op subsets taken in turn: each subset meets every channel count.
                for (name, ops) in [&subsets[0], &subsets[1 + case % (subsets.len() - 1)]] {
                    let s = spec(
                        &(op("op = \"rotate\"\ndegrees = [-40.0, 40.0]") + ops),
                        &format!(
                            "interpolation = \"{interp}\"\nborder = \"{border}\"\nfill = [0.25]"
                        ),
                    );
                    let prog = Program::new(&s, augtrain::data::ImageShape::new(w, h, c)).unwrap();
                    let words = prog.pack(&prog.draw(9, 1, &[0, 1, 2, 3])).unwrap();
                    variants.insert(Variant::of_launch(&prog.header(4), &words).unwrap().key());
                    let (diff, _) = compare(&gpu, &s, &images, w, h, c, 9);
                    if diff > TOLERANCE {
                        failures.push(format!("{c} channels, {interp}, {border}, {name}: {diff}"));
                    }
                }
                case += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "GPU differs from the CPU twin:\n{}",
        failures.join("\n")
    );
    // 24 warp-only variants and 24 with ops (the subsets never repeat a variant's key).
    assert_eq!(variants.len(), 48, "distinct variants run");
}

#[test]
fn a_variant_is_compiled_once_and_different_variants_are_compiled_apart() {
    let Some(gpu) = open() else { return };
    // A 2-channel pipeline nothing else in the suite runs, so no other test compiles it.
    let (w, h) = (11, 7);
    let images = random_images(2, w, h, 2, 77);
    let uploaded = gpu
        .kernel
        .upload(&images.iter().map(|i| i.as_slice()).collect::<Vec<_>>());
    let prepare = |ops: &str| {
        let s = spec(ops, "interpolation = \"nearest\"\nborder = \"replicate\"");
        let prog = Program::new(&s, augtrain::data::ImageShape::new(w, h, 2)).unwrap();
        let words = prog.pack(&prog.draw(1, 1, &[0, 1])).unwrap();
        gpu.kernel
            .prepare(&prog.header(2), &words, &uploaded, None)
            .unwrap()
    };
    let gamma = op("op = \"gamma\"\ngamma = [0.5, 2.0]");
    let (a1, a2) = (prepare(&gamma), prepare(&gamma));
    let b = prepare(&op("op = \"speckle\"\nsigma = [0.1, 0.3]"));
    assert_eq!(a1.kernel_id(), a2.kernel_id());
    assert_ne!(a1.kernel_id(), b.kernel_id());
    assert_eq!(compilations(&a1.variant), 0);
    for l in [&a1, &a2, &a1] {
        gpu.kernel.dispatch(l);
        gpu.kernel.read_output(l).unwrap();
    }
    assert_eq!(compilations(&a1.variant), 1, "one pipeline for one variant");
    assert_eq!(compilations(&b.variant), 0);
    gpu.kernel.dispatch(&b);
    gpu.kernel.read_output(&b).unwrap();
    assert_eq!(
        compilations(&b.variant),
        1,
        "a second variant compiles its own"
    );
    assert_eq!(compilations(&a1.variant), 1);
}

#[test]
fn batch_of_one_and_a_batch_needing_the_two_dimensional_dispatch() {
    let Some(gpu) = open() else { return };
    let s = full_pipeline(28, 28);
    let one = random_images(1, 28, 28, 1, 3);
    let (diff, _) = compare(&gpu, &s, &one, 28, 28, 1, 1);
    assert!(diff <= TOLERANCE, "batch 1: {diff}");
    // 21,500 × 28 × 28 = 16.9 M invocations > 65,535 workgroups of 256.
    let n = 21_500;
    assert!(augtrain::augment::gpu::grid((n * 28 * 28) as u64).1 > 1);
    let many = random_images(n, 28, 28, 1, 4);
    let (diff, _) = compare(&gpu, &s, &many, 28, 28, 1, 2);
    assert!(diff <= TOLERANCE, "2-D dispatch: {diff}");
}

#[test]
fn real_photos_match_the_cpu_twin() {
    let Some(photos) = support::data("photos") else {
        return;
    };
    let Some(gpu) = open() else { return };
    let mut names: Vec<_> = std::fs::read_dir(&photos)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    for path in names {
        let img = image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let pixels = img.into_raw();
        let (diff, _) = compare(
            &gpu,
            &full_pipeline(224, 224),
            std::slice::from_ref(&pixels),
            w,
            h,
            3,
            9,
        );
        assert!(diff <= TOLERANCE, "{}: {diff}", path.display());
        let rot = spec(
            "[[ops]]\nop = \"rotate\"\ndegrees = [-30.0, 30.0]\n",
            "interpolation = \"nearest\"",
        );
        let (diff, _) = compare(&gpu, &rot, &[pixels], w, h, 3, 9);
        assert!(diff <= TOLERANCE, "{} nearest: {diff}", path.display());
    }
}

#[test]
fn gpu_output_is_deterministic_and_independent_of_batch_split() {
    let Some(gpu) = open() else { return };
    let s = full_pipeline(20, 20);
    let images = random_images(8, 24, 24, 3, 77);
    let prog = Program::new(&s, augtrain::data::ImageShape::new(24, 24, 3)).unwrap();
    let run = |ids: &[u64], imgs: &[Vec<u8>]| -> Vec<f32> {
        let params = prog.draw(42, 1, ids);
        let refs: Vec<&[u8]> = imgs.iter().map(|i| i.as_slice()).collect();
        gpu.kernel
            .run(&prog.header(ids.len()), &prog.pack(&params).unwrap(), &refs)
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let ids: Vec<u64> = (100..108).collect();
    let a = run(&ids, &images);
    let b = run(&ids, &images);
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "same seed, same bytes"
    );
    let first = run(&ids[..3], &images[..3]);
    let rest = run(&ids[3..], &images[3..]);
    let joined: Vec<f32> = first.into_iter().chain(rest).collect();
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        joined.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "per-sample output must not depend on the batch split"
    );
}

#[test]
fn the_bandwidth_copy_kernel_copies_every_byte_and_a_refused_buffer_is_caught() {
    let Some(g) = open() else { return };
    // The ceiling of `augtrain bench` is only honest if the copy really ran: check sizes from
    // one vector to the device's largest buffer.
    let largest = (g.kernel.max_buffer_bytes() as usize).min(256 << 20) / 16 * 16;
    for bytes in [16usize, 4096 + 16, largest] {
        let pattern: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
        let src = g.kernel.upload(&[&pattern]);
        let dst = g.kernel.buffer(bytes);
        g.kernel.copy(&src, &dst);
        g.kernel.sync().unwrap();
        assert!(g.kernel.read(&dst).unwrap() == pattern, "{bytes} bytes");
    }
    // A buffer over the limit is refused by the device; the copy into it does not run, and
    // reading it back says so instead of returning stale bytes (what the benchmark checks).
    if let Ok(over) = usize::try_from(g.kernel.max_buffer_bytes() + 16)
        && over <= 512 << 20
    {
        let src = g.kernel.buffer(16);
        let dst = g.kernel.buffer(over);
        g.kernel.copy(&src, &dst);
        let _ = g.kernel.sync();
        assert!(g.kernel.read(&dst).is_err());
    }
}

#[test]
fn the_benchmark_gpu_ceiling_is_a_verified_copy_within_the_device_limit() {
    let Some(g) = open() else { return };
    let opts = augtrain::bench::Options {
        suite: augtrain::bench::Suite::Augment,
        quick: true,
        with_upload: false,
        breakdown: false,
        data: None,
        models: Vec::new(),
        op_cases: std::path::PathBuf::new(),
        op_filter: String::new(),
        allow_software: true,
        reference: None,
    };
    let cache = augtrain::bench::gpu_timing::CacheSize::for_adapter(true);
    let m = augtrain::bench::ceiling::gpu_copy(&g.kernel, &cache, &opts).unwrap();
    assert!(m.batch as u64 <= g.kernel.max_buffer_bytes(), "{m:?}");
    assert_eq!(
        m.batch,
        (256usize << 20).min(g.kernel.max_buffer_bytes() as usize) / 16 * 16
    );
    let bps = m.bytes_per_second.unwrap();
    // A copy that never ran timed at tens of TB/s before the check existed.
    assert!(bps.is_finite() && bps > 0.0 && bps < 20e12, "{m:?}");
}

#[test]
fn a_batch_whose_input_exceeds_the_largest_buffer_is_refused_even_when_its_output_fits() {
    let Some(g) = open() else { return };
    // 64x64 RGB in, 8x8 out: the u8 input (12,288 bytes per image) outweighs the f32 output
    // (768 bytes per image), so the input buffer is the one that must fit.
    let spec = spec("[[ops]]\nop = \"resize\"\nwidth = 8\nheight = 8", "");
    let prog = Program::new(&spec, augtrain::data::ImageShape::new(64, 64, 3)).unwrap();
    let limit = g.kernel.max_buffer_bytes();
    let n = (limit / (64 * 64 * 3)) as usize + 1;
    let ids: Vec<u64> = (0..n as u64).collect();
    let words = prog.pack(&prog.draw(1, 0, &ids)).unwrap();
    let small = g.kernel.buffer(16);
    let err = g
        .kernel
        .run_uploaded(&prog.header(n), &words, &small)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("use --batch-size"), "{err}");
    let most = n - 1;
    assert!(
        err.contains(&format!("--batch-size {most} or less")),
        "{err}"
    );
}

#[test]
fn gathering_from_resident_images_equals_uploading_the_batch_bit_for_bit() {
    let Some(gpu) = open() else { return };
    let images = random_images(37, 23, 19, 3, 5);
    let refs: Vec<&[u8]> = images.iter().map(|i| i.as_slice()).collect();
    let resident = gpu.kernel.upload_resident(&refs).unwrap();
    assert_eq!(resident.bytes(), 37 * 23 * 19 * 3);
    assert_eq!(resident.parts(), 1);
    // The same set in parts of 5 images (1,311 bytes each: parts and images straddle the
    // kernel's 4-byte words), as a set over 2 GiB is held on Vulkan: gathered on the device
    // into one batch buffer first.
    let parted = gpu
        .kernel
        .upload_resident_in_parts(&refs, 5 * 23 * 19 * 3 + 100)
        .unwrap();
    assert_eq!(parted.parts(), 8);
    assert_eq!(parted.bytes(), resident.bytes());
    let bits = |t: burn::tensor::Tensor<4>| -> Vec<u32> {
        let v = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        v.iter().map(|x| x.to_bits()).collect()
    };
    // Slots out of order, repeated, and the last image (the end of the buffer); with and
    // without batch mixing (a partner is read through its own slot).
    let slots: Vec<u32> = vec![36, 0, 17, 17, 5, 29, 1, 36, 12];
    let mixes = [
        "",
        "[[ops]]\nop = \"mixup\"\nalpha = 0.4\n",
        "[[ops]]\nop = \"cutmix\"\nalpha = 1.0\n",
    ];
    for mix in mixes {
        let mut s = full_pipeline(16, 16);
        s.ops.extend(spec(mix, "").ops);
        let prog = Program::new(&s, augtrain::data::ImageShape::new(23, 19, 3)).unwrap();
        let ids: Vec<u64> = slots.iter().map(|&s| 1000 + s as u64).collect();
        let words = prog.pack(&prog.draw(7, 2, &ids)).unwrap();
        let header = prog.header(slots.len());
        let batch: Vec<&[u8]> = slots.iter().map(|&s| refs[s as usize]).collect();
        let uploaded = bits(gpu.kernel.run(&header, &words, &batch).unwrap());
        let gathered = bits(
            gpu.kernel
                .run_resident(&header, &words, &resident, &slots)
                .unwrap(),
        );
        assert!(uploaded == gathered, "mix {mix:?}: outputs differ");
        let from_parts = bits(
            gpu.kernel
                .run_resident(&header, &words, &parted, &slots)
                .unwrap(),
        );
        assert!(uploaded == from_parts, "mix {mix:?}: parts differ");
    }
    let prog = Program::new(
        &full_pipeline(16, 16),
        augtrain::data::ImageShape::new(23, 19, 3),
    )
    .unwrap();
    let words = prog.pack(&prog.draw(7, 2, &[1])).unwrap();
    let e = gpu
        .kernel
        .run_resident(&prog.header(1), &words, &resident, &[37])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("slot 37 is outside the 37 resident images"),
        "{e}"
    );
}

/// `n` label planes of `w`x`h`: blobs of a few ids on a background of 0, different per sample.
fn label_planes(n: usize, w: usize, h: usize, key: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|s| {
            (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let cell = (x / 3 + (y / 2) * 7) as u32;
                    (pixel_hash(key ^ s as u32, cell) >> 29) as u8 * 30
                })
                .collect()
        })
        .collect()
}

#[test]
fn masks_warped_in_the_fused_pass_equal_the_cpu_twin_bit_for_bit_for_any_batch_split() {
    let Some(gpu) = open() else { return };
    use augtrain::augment::gpu::GpuAugment as Kernel;
    use augtrain::augment::masks;
    let (w, h, c) = (29, 23, 3);
    let images = random_images(7, w, h, c, 31);
    let planes = label_planes(7, w, h, 5);
    let ids: Vec<u64> = (500..507).collect();
    let mut cases = geometric_ops(w, h);
    cases.push(("full pipeline".into(), full_pipeline(24, 20)));
    let mut cutmix = full_pipeline(24, 20);
    cutmix
        .ops
        .extend(spec("[[ops]]\nop = \"cutmix\"\nalpha = 1.0\np = 1.0\n", "").ops);
    cases.push(("full pipeline + cutmix".into(), cutmix));
    let mut checked = 0;
    for (name, s) in cases {
        let prog = Program::new(&s, augtrain::data::ImageShape::new(w, h, c)).unwrap();
        let plane = prog.output.width * prog.output.height;
        let all = prog.draw(13, 4, &ids);
        let mut twin = vec![0u8; 7 * plane];
        let refs: Vec<&[u8]> = planes.iter().map(|p| p.as_slice()).collect();
        masks::warp_masks(&prog, &all, &refs, &mut twin).unwrap();
        let splits: [&[usize]; 3] = [&[7], &[4, 3], &[1; 7]];
        for split in splits {
            // Cutmix partners are batch positions: a split changes them, so the twin is
            // recomputed per part (the parts' draws are what the GPU gets).
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let mut at = 0;
            for &len in split {
                let part = &ids[at..at + len];
                let params = prog.draw(13, 4, part);
                let words = prog.pack(&params).unwrap();
                let header = masks::header(&prog, len).unwrap();
                let imgs: Vec<&[u8]> = images[at..at + len].iter().map(|i| i.as_slice()).collect();
                let ms: Vec<&[u8]> = refs[at..at + len].to_vec();
                let (img_t, mask_t) = gpu
                    .kernel
                    .run_with_masks(&header, &words, &imgs, &ms)
                    .unwrap();
                got.extend(Kernel::read_labels(mask_t).unwrap());
                let mut part_twin = vec![0u8; len * plane];
                masks::warp_masks(&prog, &params, &ms, &mut part_twin).unwrap();
                want.extend(part_twin);
                // The images of the fused pass are the images-only kernel's, bit for bit.
                let bits = |t: burn::tensor::Tensor<4>| -> Vec<u32> {
                    let v = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
                    v.iter().map(|x| x.to_bits()).collect()
                };
                let alone = gpu.kernel.run(&prog.header(len), &words, &imgs).unwrap();
                assert!(
                    bits(img_t) == bits(alone),
                    "{name}: images changed by masks"
                );
                at += len;
            }
            assert!(
                got == want,
                "{name} split {split:?}: GPU masks differ from the twin"
            );
            if !prog.mixes() {
                assert!(
                    got == twin,
                    "{name} split {split:?}: differs from the whole batch"
                );
            }
            checked += 1;
        }
        assert!(twin.iter().any(|&v| v != 0), "{name}: all background");
    }
    assert!(checked >= 3 * 16, "{checked} cases");
}

#[test]
fn masks_with_mixup_are_refused_and_the_augmenter_gives_the_same_labels_on_both_engines() {
    let Some(gpu) = open() else { return };
    use augtrain::augment::{Augmenter, Engine};
    let (w, h) = (31, 17);
    let mut s = full_pipeline(20, 16);
    let images = random_images(5, w, h, 3, 8);
    let planes = label_planes(5, w, h, 9);
    let imgs: Vec<&[u8]> = images.iter().map(|i| i.as_slice()).collect();
    let ms: Vec<&[u8]> = planes.iter().map(|p| p.as_slice()).collect();
    let shape = augtrain::data::ImageShape::new(w, h, 3);
    let dev = device::open(DeviceChoice::Gpu).unwrap().device;
    let ids = [3u64, 1, 4, 1, 5];
    let labels = |engine: Engine| {
        let aug = Augmenter::new(&s, shape, 77, engine).unwrap();
        let (_, t) = aug.batch_with_masks(&imgs, &ms, &ids, 2, &dev).unwrap();
        GpuAugment::read_labels(t).unwrap()
    };
    let on_gpu = labels(Engine::Gpu(Box::new(gpu.kernel.clone())));
    let on_cpu = labels(Engine::Cpu);
    assert!(
        on_gpu == on_cpu,
        "GPU and CPU engines disagree on the labels"
    );
    s.ops
        .extend(spec("[[ops]]\nop = \"mixup\"\nalpha = 0.4\n", "").ops);
    let aug = Augmenter::new(&s, shape, 77, Engine::Gpu(Box::new(gpu.kernel.clone()))).unwrap();
    let e = aug
        .batch_with_masks(&imgs, &ms, &ids, 2, &dev)
        .err()
        .expect("mixup with masks is refused")
        .to_string();
    assert!(e.contains("mixup") && e.contains("cutmix"), "{e}");
}

#[test]
fn the_mask_benchmark_runs_its_pairs_and_checks_the_gpu_labels_against_the_twin() {
    let Some(g) = open() else { return };
    let opts = augtrain::bench::Options {
        suite: augtrain::bench::Suite::Augment,
        quick: true,
        with_upload: false,
        breakdown: false,
        data: None,
        models: Vec::new(),
        op_cases: std::path::PathBuf::new(),
        op_filter: String::new(),
        allow_software: true,
        reference: None,
    };
    let log = |line: &str| eprintln!("{line}");
    let cache = augtrain::bench::gpu_timing::CacheSize::for_adapter(true);
    let bench = augtrain::bench::gpu_timing::GpuBench {
        kernel: &g.kernel,
        ceiling: 1e10,
        cache: &cache,
    };
    let mut rows = augtrain::bench::rows::Rows::in_memory();
    augtrain::bench::masks::run(&opts, 1e10, Some(bench), &mut rows, &log).unwrap();
    let m = rows.list;
    assert_eq!(m.len(), 4, "cpu and gpu, images only and with the mask");
    let gpu = m
        .iter()
        .find(|m| m.engine == "gpu" && m.name.ends_with("+ mask"))
        .unwrap();
    let note = gpu.note.as_deref().unwrap();
    assert!(
        note.contains("over 3 pairs") && note.contains("bit for bit"),
        "{note}"
    );
    assert!(
        m.iter()
            .all(|m| m.items_per_second.is_finite() && m.items_per_second > 0.0)
    );
}
