//! The fuzz targets: every parser of outside input, each driven one step further than parsing
//! where a parsed value feeds more code (a pack is read record by record, a pipeline spec is
//! compiled and run on the CPU twin, a checkpoint is loaded into a model).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Target, check, fake_path, scratch};
use crate::augment::{Augmenter, Engine, PipelineSpec};
use crate::data::LoadOptions;
use crate::data::decode::{ResizePolicy, decode_bytes};
use crate::data::files::{OnError, load_items, parse_manifest};
use crate::data::{cifar, idx, pack, split};

/// IDX image and label files, plain or gzip.
pub const IDX: Target = Target {
    name: "idx",
    dict: &[
        b"\x00\x00\x08\x03",
        b"\x00\x00\x08\x01",
        b"\x00\x00\x08\x04",
        b"\x1f\x8b\x08\x00",
        b"\x00\x00\x00\x00",
        b"\xff\xff\xff\xff",
    ],
    max_len: 1 << 16,
    run: |bytes| {
        let images = idx::parse_images(fake_path("images.idx"), Cursor::new(bytes)).is_ok();
        let labels = idx::parse_labels(fake_path("labels.idx"), Cursor::new(bytes)).is_ok();
        images || labels
    },
};

/// CIFAR-10 and CIFAR-100 binary batches.
pub const CIFAR: Target = Target {
    name: "cifar",
    dict: &[b"\x00", b"\x09", b"\x0a", b"\x63", b"\x64", b"\xff"],
    max_len: 1 << 15,
    run: |bytes| {
        [cifar::Variant::Cifar10, cifar::Variant::Cifar100]
            .into_iter()
            .map(|variant| {
                cifar::parse_batch(fake_path("data_batch_1.bin"), bytes, variant).is_ok()
            })
            .fold(false, |a, b| a | b)
    },
};

/// A directory with a few real images for the manifest target to point at.
fn manifest_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("augtrain-fuzz-{}-manifest", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let img = image::RgbImage::from_fn(12, 9, |x, y| {
            image::Rgb([(x * 20) as u8, (y * 25) as u8, 90])
        });
        img.save(dir.join("a.png")).unwrap();
        img.save(dir.join("b.jpg")).unwrap();
        image::GrayImage::from_fn(5, 7, |x, y| image::Luma([(x * y * 7) as u8]))
            .save(dir.join("sub/c.png"))
            .unwrap();
        std::fs::write(dir.join("empty.png"), b"").unwrap();
        std::fs::write(dir.join("text.png"), b"not an image").unwrap();
        dir
    })
}

/// CSV manifests, then loading the images they list.
pub const MANIFEST: Target = Target {
    name: "manifest",
    dict: &[
        b"path",
        b"label",
        b"split",
        b"train",
        b"val",
        b"test",
        b",",
        b"\"",
        b"\"\"",
        b"\n",
        b"\r\n",
        b"../",
        b"/",
        b"\xef\xbb\xbf",
        b"a.png",
        b"b.jpg",
        b"sub/c.png",
        b"empty.png",
        b"text.png",
        b"/dev/zero",
        b"/",
        b"\xff\xfe",
    ],
    max_len: 1 << 14,
    run: |bytes| {
        let dir = manifest_dir();
        let Ok((items, classes)) = parse_manifest(&dir.join("manifest.csv"), bytes.to_vec()) else {
            return false;
        };
        let opts = LoadOptions {
            size: [8, 6],
            channels: 3,
            resize: ResizePolicy::CenterCrop,
            max_pixels: 1 << 16,
            on_error: OnError::Skip,
            ..LoadOptions::default()
        };
        load_items(&items, &classes, None, &opts).is_ok_and(|(ds, _, _)| !ds.is_empty())
    },
};

/// Compile a parsed spec and run it on two small images, gray and RGB.
fn exercise_spec(spec: &PipelineSpec) {
    let _ = spec.to_toml();
    let _ = spec.eval_version();
    for channels in [1usize, 3] {
        let (w, h) = (7usize, 5usize);
        let input = crate::data::ImageShape::new(w, h, channels);
        let Ok(aug) = Augmenter::new(spec, input, 11, Engine::Cpu) else {
            continue;
        };
        if aug.output_shape().values() > 1 << 16 {
            // Valid but large outputs (up to 16384² per image) are out of the harness's memory
            // budget; the parse and compile above still ran.
            continue;
        }
        let images: Vec<Vec<u8>> = (0..2)
            .map(|k| {
                (0..w * h * channels)
                    .map(|i| (i * 37 + k * 101) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
        let params = aug.program.draw(aug.seed, 3, &[5, 9]);
        let _ = aug.cpu_values(&refs, &params);
    }
}

const SPEC_DICT: &[&[u8]] = &[
    b"[[ops]]\n",
    b"op = ",
    b"\"hflip\"",
    b"\"rotate\"",
    b"\"affine\"",
    b"\"crop\"",
    b"\"random_resized_crop\"",
    b"\"resize\"",
    b"\"pad\"",
    b"\"brightness\"",
    b"\"contrast\"",
    b"\"saturation\"",
    b"\"gamma\"",
    b"\"grayscale\"",
    b"\"gaussian_noise\"",
    b"\"salt_pepper\"",
    b"\"speckle\"",
    b"\"erase\"",
    b"\"normalize\"",
    b"\"mixup\"",
    b"\"cutmix\"",
    b"degrees",
    b"scale",
    b"ratio",
    b"width",
    b"height",
    b"position",
    b"pixels",
    b"factor",
    b"sigma",
    b"count",
    b"fill",
    b"mean",
    b"std",
    b"alpha",
    b"p",
    b"same_on_batch",
    b"border",
    b"interpolation",
    b"\"reflect\"",
    b"\"nearest\"",
    b"\"random\"",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"=",
    b":",
    b"\"",
    b"true",
    b"1e308",
    b"-0.0",
    b"nan",
    b"inf",
    b"65535",
    b"16384",
    b"\"op\":",
];

/// Pipeline specs in TOML, compiled and run on the CPU twin.
pub const PIPELINE_TOML: Target = Target {
    name: "pipeline_toml",
    dict: SPEC_DICT,
    max_len: 1 << 13,
    run: |bytes| {
        PipelineSpec::from_toml(&String::from_utf8_lossy(bytes), "spec.toml")
            .map(|spec| exercise_spec(&spec))
            .is_ok()
    },
};

/// Pipeline specs in JSON, compiled and run on the CPU twin.
pub const PIPELINE_JSON: Target = Target {
    name: "pipeline_json",
    dict: SPEC_DICT,
    max_len: 1 << 13,
    run: |bytes| {
        PipelineSpec::from_json(&String::from_utf8_lossy(bytes), "spec.json")
            .map(|spec| exercise_spec(&spec))
            .is_ok()
    },
};

/// Training configs in TOML; a valid one must survive a write-and-read round trip.
pub const CONFIG: Target = Target {
    name: "config",
    dict: &[
        b"[data]\n",
        b"[model]\n",
        b"[optimizer]\n",
        b"[schedule]\n",
        b"[augment]\n",
        b"[augment.spec]\n",
        b"epochs",
        b"batch_size",
        b"seed",
        b"lr",
        b"momentum",
        b"hidden",
        b"kind",
        b"size",
        b"channels",
        b"val_fraction",
        b"test_fraction",
        b"\"mlp\"",
        b"\"cnn\"",
        b"\"adam\"",
        b"\"sgd\"",
        b"\"none\"",
        b"\"default\"",
        b"\"pipeline\"",
        b"=",
        b"[",
        b"]",
        b"\"",
        b"'",
        b"#",
        b"\n",
        b"1e308",
        b"-1",
        b"nan",
        b"inf",
        b"true",
        b"18446744073709551615",
    ],
    max_len: 1 << 14,
    run: |bytes| {
        let text = String::from_utf8_lossy(bytes);
        if let Ok(cfg) = crate::train::config::TrainConfig::from_toml(&text, "config.toml") {
            let again = crate::train::config::TrainConfig::from_toml(&cfg.to_toml(), "again");
            assert!(
                again.is_ok(),
                "a valid config does not read back: {again:?}"
            );
            let _ = cfg.data.source();
            if let crate::train::config::AugmentConfig::Pipeline { spec } = &cfg.augment {
                exercise_spec(spec);
            }
            return true;
        }
        false
    },
};

/// Separator between the files of a pack in one fuzz input.
const PACK_SEPARATOR: &[u8] = b"\n@@file@@\n";

/// Split a pack fuzz input into `manifest.json`, `index.csv` and shard contents.
fn pack_files(bytes: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest
        .windows(PACK_SEPARATOR.len())
        .position(|w| w == PACK_SEPARATOR)
    {
        parts.push(&rest[..at]);
        rest = &rest[at + PACK_SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}

/// Packs (manifest, index and shards in one input, written to disk), opened and read through.
pub const PACK: Target = Target {
    name: "pack",
    dict: &[
        b"\"format\"",
        b"\"augtrain-pack\"",
        b"\"version\"",
        b"\"width\"",
        b"\"height\"",
        b"\"channels\"",
        b"\"count\"",
        b"\"classes\"",
        b"\"records_per_shard\"",
        b"\"shards\"",
        b"\"file\"",
        b"\"records\"",
        b"\"sha256\"",
        b"shard-00000.bin",
        b"shard-00001.bin",
        b"../",
        b"id,label,split,sha256,path",
        b"train",
        b"val",
        b"test",
        b",",
        b"\n",
        b"\"",
        b"18446744073709551615",
        b"4294967296",
        b"0",
        b"65536",
    ],
    max_len: 1 << 14,
    run: |bytes| {
        let dir = scratch("pack").join("p");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = pack_files(bytes);
        for (k, content) in files.iter().enumerate() {
            let name = match k {
                0 => "manifest.json".to_string(),
                1 => "index.csv".to_string(),
                n => format!("shard-{:05}.bin", n - 2),
            };
            std::fs::write(dir.join(name), content).unwrap();
        }
        if let Ok((ds, splits, _)) = pack::open(&dir) {
            assert_eq!(splits.len(), ds.len());
            let mut sum = 0u64;
            for i in 0..ds.len() {
                let img = ds.image(i);
                assert_eq!(img.len(), ds.image_bytes());
                sum += img.iter().map(|&b| b as u64).sum::<u64>();
            }
            std::hint::black_box(sum);
            return true;
        }
        false
    },
};

/// Split files, applied to a small dataset and assembled into train/val/test.
pub const SPLIT_FILE: Target = Target {
    name: "split_file",
    dict: &[
        b"id,split,fold,label,path",
        b"train",
        b"val",
        b"test",
        b",",
        b"\n",
        b"\"",
        b"0",
        b"1",
        b"c0",
        b"c1",
        b"c2",
        b"18446744073709551615",
    ],
    max_len: 1 << 14,
    run: |bytes| {
        let path = scratch("split").join("split.csv");
        std::fs::write(&path, bytes).unwrap();
        let data = crate::data::synth::generate(24, 6, 1, crate::data::synth::SynthSplit::Train);
        let whole = crate::data::source::Whole {
            splits: vec![None; data.len()],
            data,
            report: Default::default(),
            split_origin: None,
        };
        let _ = split::parse_split_file(fake_path("split.csv"), &String::from_utf8_lossy(bytes));
        match crate::data::source::apply_split_file(whole, &path) {
            Ok(whole) => {
                crate::data::source::assemble("fuzz".into(), whole, &Default::default(), 1).is_ok()
            }
            Err(_) => false,
        }
    },
};

/// Predicted-probability CSVs (input of `label-issues`), and confident learning on them.
pub const PRED_PROBS: Target = Target {
    name: "pred_probs",
    dict: &[
        b"p0",
        b"p1",
        b"p2",
        b"given_label",
        b"path",
        b"index",
        b",",
        b"\n",
        b"\"",
        b"0.5",
        b"1",
        b"0",
        b"1e-300",
        b"nan",
        b"-0",
        b"1.0000001",
    ],
    max_len: 1 << 14,
    run: |bytes| {
        let text = String::from_utf8_lossy(bytes);
        crate::audit::pred_probs::parse(fake_path("pred_probs.csv"), &text).is_ok()
    },
};

/// Training checkpoints, loaded into a small MLP (8×8 RGB, 4 hidden units, 10 classes) and an
/// SGD optimizer as `--resume` does. Each input is tried as is (the checksum rejects nearly
/// every mutant) and re-sealed with a fresh checksum, which is what a crafted file looks like,
/// so burn's record decoders behind the checksum are fuzzed too.
pub const CHECKPOINT: Target = Target {
    name: "checkpoint",
    dict: &[
        b"AUGTRAIN-CKPT-2\n",
        b"\"epochs_done\"",
        b"\"history\"",
        b"{",
        b"}",
        b"[",
        b"]",
        b"\x00\x00\x00\x00",
    ],
    max_len: 1 << 16,
    run: |bytes| {
        let resealed = {
            use sha2::{Digest, Sha256};
            let mut body = bytes[..bytes.len().saturating_sub(32)].to_vec();
            let digest = Sha256::digest(&body);
            body.extend_from_slice(&digest);
            body
        };
        let mut accepted = false;
        for input in [bytes, &resealed[..]] {
            let Ok(ckpt) = crate::train::checkpoint::parse(fake_path("checkpoint.bin"), input)
            else {
                continue;
            };
            let device = burn::prelude::Device::flex().autodiff();
            let shape = crate::data::ImageShape::new(8, 8, 3);
            let model =
                crate::model::Model::new(crate::model::ModelKind::Mlp, shape, 10, 4, &device)
                    .unwrap();
            let optimizer = crate::train::optim::build(&Default::default(), &model);
            accepted |= crate::train::restore(model, optimizer, ckpt.model, ckpt.optimizer).is_ok();
        }
        accepted
    },
};

/// Image files (PNG, JPEG, BMP, GIF, WebP) decoded and fitted to a target shape.
pub const IMAGE: Target = Target {
    name: "image",
    dict: &[
        b"\x89PNG\r\n\x1a\n",
        b"IHDR",
        b"IDAT",
        b"IEND",
        b"\xff\xd8",
        b"\xff\xd9",
        b"\xff\xda",
        b"\xff\xc0",
        b"BM",
        b"GIF89a",
        b"RIFF",
        b"WEBP",
        b"VP8 ",
        b"VP8L",
        b"Exif\x00\x00",
    ],
    max_len: 1 << 16,
    run: |bytes| {
        let opts = LoadOptions {
            size: [9, 7],
            channels: 3,
            resize: ResizePolicy::Letterbox,
            max_pixels: 1 << 20,
            ..LoadOptions::default()
        };
        decode_bytes(bytes, &opts).is_ok()
    },
};

/// Every target, for the long runs.
pub const ALL: [&Target; 11] = [
    &IDX,
    &CIFAR,
    &MANIFEST,
    &PIPELINE_TOML,
    &PIPELINE_JSON,
    &CONFIG,
    &PACK,
    &SPLIT_FILE,
    &PRED_PROBS,
    &CHECKPOINT,
    &IMAGE,
];

#[test]
fn fuzz_idx() {
    check(&IDX);
}

#[test]
fn fuzz_cifar() {
    check(&CIFAR);
}

#[test]
fn fuzz_manifest() {
    check(&MANIFEST);
}

#[test]
fn fuzz_pipeline_toml() {
    check(&PIPELINE_TOML);
}

#[test]
fn fuzz_pipeline_json() {
    check(&PIPELINE_JSON);
}

#[test]
fn fuzz_config() {
    check(&CONFIG);
}

#[test]
fn fuzz_pack() {
    check(&PACK);
}

#[test]
fn fuzz_split_file() {
    check(&SPLIT_FILE);
}

#[test]
fn fuzz_pred_probs() {
    check(&PRED_PROBS);
}

#[test]
fn fuzz_checkpoint() {
    check(&CHECKPOINT);
}

#[test]
fn fuzz_image() {
    check(&IMAGE);
}

/// Long runs: `AUGTRAIN_FUZZ_TARGETS=idx,cifar AUGTRAIN_FUZZ_SECONDS=600 cargo test --release
/// --lib fuzz_selected -- --ignored --nocapture` (all targets when the list is empty).
#[test]
#[ignore]
fn fuzz_selected() {
    let wanted = std::env::var("AUGTRAIN_FUZZ_TARGETS").unwrap_or_default();
    let wanted: Vec<&str> = wanted.split(',').filter(|s| !s.is_empty()).collect();
    for t in ALL {
        if wanted.is_empty() || wanted.contains(&t.name) {
            check(t);
        }
    }
}

/// Write the generated seed files into `tests/corpus/` (run once; the files are committed).
#[test]
#[ignore]
fn write_seed_corpus() {
    use super::write_seed;
    let dir = scratch("seeds");

    // IDX: 3-D images, 4-D colour images, labels; plain and gzip.
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 7) as u8).collect();
    for gz in [false, true] {
        let ext = if gz { ".gz" } else { "" };
        let p = dir.join("images");
        idx::write_images(&p, 3, 4, 5, &pixels, gz).unwrap();
        write_seed(
            "idx",
            &format!("images-3x4x5{ext}"),
            &std::fs::read(&p).unwrap(),
        );
        idx::write_labels(&p, &[0, 1, 2, 9, 255], gz).unwrap();
        write_seed(
            "idx",
            &format!("labels-5{ext}"),
            &std::fs::read(&p).unwrap(),
        );
    }
    let mut four_d = vec![0, 0, 8, 4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3];
    four_d.extend((0..2 * 3 * 2 * 3).map(|i| i as u8));
    write_seed("idx", "images-4d-2x3x2x3", &four_d);

    // CIFAR: two records each.
    let mut c10 = Vec::new();
    let mut c100 = Vec::new();
    for r in 0..2u8 {
        c10.push(r * 7);
        c100.extend([r, 50 + r]);
        let planes: Vec<u8> = (0..3072).map(|i| (i as u8).wrapping_mul(r + 1)).collect();
        c10.extend(&planes);
        c100.extend(&planes);
    }
    write_seed("cifar", "cifar10-2", &c10);
    write_seed("cifar", "cifar100-2", &c100);

    // Manifests.
    write_seed(
        "manifest",
        "basic.csv",
        b"path,label\na.png,cat\nb.jpg,dog\nsub/c.png,cat\n",
    );
    write_seed(
        "manifest",
        "splits-quotes-bom.csv",
        "\u{feff}label,split,path\n\"c,1\",train,a.png\n\"c \"\"2\"\"\",val,\"sub/c.png\"\ncat,test,b.jpg\nx,,empty.png\ny,train,text.png\nz,train,missing.png\n"
            .as_bytes(),
    );

    // Pipeline specs: the defaults, a full pipeline, and one file per op family.
    let full = "version = 1\ninterpolation = \"bilinear\"\nborder = \"reflect\"\nfill = [0.5]\n\
        [[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"vflip\"\np = 0.2\n[[ops]]\nop = \"rotate\"\ndegrees = [-15.0, 15.0]\n\
        [[ops]]\nop = \"affine\"\ndegrees = [-5.0, 5.0]\nscale = [0.9, 1.1]\ntranslate = [0.1, 0.1]\nshear = [-3.0, 3.0]\n\
        [[ops]]\nop = \"pad\"\npixels = [3, 1, 2, 4]\n[[ops]]\nop = \"crop\"\nwidth = 6\nheight = 4\nposition = \"random\"\n\
        [[ops]]\nop = \"random_resized_crop\"\nwidth = 5\nheight = 5\nscale = [0.5, 1.0]\nratio = [0.75, 1.333]\n\
        [[ops]]\nop = \"resize\"\nwidth = 9\nheight = 3\n\
        [[ops]]\nop = \"brightness\"\nfactor = [0.8, 1.2]\n[[ops]]\nop = \"contrast\"\nfactor = [0.5, 1.5]\n\
        [[ops]]\nop = \"saturation\"\nfactor = [0.8, 1.2]\n[[ops]]\nop = \"gamma\"\ngamma = [0.5, 2.0]\n\
        [[ops]]\nop = \"grayscale\"\np = 0.1\n[[ops]]\nop = \"gaussian_noise\"\nsigma = [0.0, 0.1]\nper_channel = false\n\
        [[ops]]\nop = \"salt_pepper\"\namount = [0.0, 0.05]\n[[ops]]\nop = \"speckle\"\nsigma = [0.1, 0.2]\n\
        [[ops]]\nop = \"erase\"\ncount = [1, 3]\nscale = [0.02, 0.2]\nratio = [0.3, 3.3]\nfill = \"random\"\n\
        [[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n[[ops]]\nop = \"mixup\"\nalpha = 0.4\n";
    let full_spec = PipelineSpec::from_toml(full, "full").unwrap();
    let cutmix = PipelineSpec::from_toml(
        "version = 1\n[[ops]]\nop = \"crop\"\nwidth = 4\nheight = 4\nposition = [1, 0]\n[[ops]]\nop = \"erase\"\nfill = 0.25\n[[ops]]\nop = \"cutmix\"\nalpha = 1.0\n",
        "cutmix",
    )
    .unwrap();
    let specs = [
        ("default-gray", PipelineSpec::default_gray()),
        ("default-colour", PipelineSpec::default_colour(7, 5)),
        ("identity", PipelineSpec::identity()),
        ("full", full_spec),
        ("cutmix", cutmix),
    ];
    for (name, spec) in &specs {
        write_seed(
            "pipeline_toml",
            &format!("{name}.toml"),
            spec.to_toml().as_bytes(),
        );
        write_seed(
            "pipeline_json",
            &format!("{name}.json"),
            serde_json::to_string_pretty(spec).unwrap().as_bytes(),
        );
    }
    write_seed("pipeline_toml", "full-handwritten.toml", full.as_bytes());

    // Configs.
    let cfg = crate::train::config::TrainConfig::default();
    write_seed("config", "default.toml", cfg.to_toml().as_bytes());
    write_seed(
        "config",
        "commented-default.toml",
        crate::train::config::TrainConfig::commented_default().as_bytes(),
    );
    let mut with_spec = cfg.clone();
    with_spec.augment = crate::train::config::AugmentConfig::Pipeline {
        spec: specs[3].1.clone(),
    };
    write_seed("config", "pipeline.toml", with_spec.to_toml().as_bytes());

    // A pack of 5 records over 2 shards, written by the real writer.
    let data = crate::data::Dataset::from_pixels(
        crate::data::ImageShape::new(3, 2, 1),
        vec!["a".into(), "b".into()],
        (0..5 * 6).map(|i| i as u8).collect(),
        vec![0, 1, 0, 1, 1],
        vec![10, 11, 12, 13, 14],
        (0..5).map(|i| format!("img{i}.png")).collect(),
    );
    let out = dir.join("seed.pack");
    let _ = std::fs::remove_dir_all(&out);
    let splits = [
        None,
        Some(crate::data::files::SplitName::Train),
        Some(crate::data::files::SplitName::Val),
        None,
        Some(crate::data::files::SplitName::Test),
    ];
    let hashes: Vec<String> = (0..5).map(|i| format!("{:064x}", i)).collect();
    let manifest = pack::write(&out, &data, &splits, &hashes, "seed", "center_crop", 18).unwrap();
    let mut blob = std::fs::read(out.join("manifest.json")).unwrap();
    blob.extend(PACK_SEPARATOR);
    blob.extend(std::fs::read(out.join("index.csv")).unwrap());
    for s in &manifest.shards {
        blob.extend(PACK_SEPARATOR);
        blob.extend(std::fs::read(out.join(&s.file)).unwrap());
    }
    assert!(
        manifest.shards.len() >= 2,
        "the seed pack should span shards"
    );
    write_seed("pack", "five-records-two-shards", &blob);

    // Split files.
    let rows: Vec<split::SplitRow> = (0..24u64)
        .map(|i| split::SplitRow {
            id: i,
            split: match i % 4 {
                0 => crate::data::files::SplitName::Test,
                1 => crate::data::files::SplitName::Val,
                _ => crate::data::files::SplitName::Train,
            },
            fold: Some((i % 3) as usize),
            label: None,
            path: format!("synthetic#{i}"),
        })
        .collect();
    write_seed(
        "split_file",
        "synthetic-24.csv",
        split::split_file_text(&rows).as_bytes(),
    );

    // Predicted probabilities.
    write_seed(
        "pred_probs",
        "three-classes.csv",
        b"index,path,given_label,p0,p1,p2\n0,a.png,0,0.9,0.05,0.05\n1,b.png,1,0.7,0.2,0.1\n2,c.png,2,0.1,0.1,0.8\n3,d.png,0,0.3,0.3,0.4\n",
    );
    write_seed(
        "pred_probs",
        "minimal.csv",
        b"p0,p1,given_label\n0.4,0.6,1\n1,0,0\n",
    );

    // Small images in every format we decode.
    let rgb = image::RgbImage::from_fn(6, 4, |x, y| {
        image::Rgb([(x * 40) as u8, (y * 60) as u8, 128])
    });
    let rgba = image::RgbaImage::from_fn(5, 3, |x, y| {
        image::Rgba([(x * 50) as u8, (y * 80) as u8, 7, (x * y * 20) as u8])
    });
    let gray = image::GrayImage::from_fn(3, 5, |x, y| image::Luma([(x * 60 + y * 10) as u8]));
    let encode = |img: &image::DynamicImage, format: image::ImageFormat| {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    };
    use image::{DynamicImage, ImageFormat};
    write_seed(
        "image",
        "rgb.png",
        &encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png),
    );
    write_seed(
        "image",
        "rgba.png",
        &encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png),
    );
    write_seed(
        "image",
        "gray.png",
        &encode(&DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Png),
    );
    write_seed(
        "image",
        "rgb.jpg",
        &encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Jpeg),
    );
    write_seed(
        "image",
        "gray.jpg",
        &encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Jpeg),
    );
    write_seed(
        "image",
        "exif-rotated.jpg",
        &crate::data::decode::jpeg_with_orientation(6, 4, 6),
    );
    write_seed(
        "image",
        "rgb.bmp",
        &encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Bmp),
    );
    write_seed(
        "image",
        "rgba.gif",
        &encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Gif),
    );
    write_seed(
        "image",
        "rgba.webp",
        &encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::WebP),
    );
}
