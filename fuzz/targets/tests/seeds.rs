//! Writes the seed files of `fuzz/seeds/` with the real writers (run once, when a format
//! changes; the files are committed):
//! `cargo test --release -p augtrain-fuzz-targets --test seeds -- --ignored`.
//! The checkpoint seed is not written here: it comes from a real two-epoch run
//! (`augtrain train --model mlp --hidden 4` on 8×8 RGB data, 10 classes).

use std::io::Cursor;

use augtrain_augment::PipelineSpec;
use augtrain_data::{idx, pack, split};

/// Write `bytes` as `name` into `target`'s seeds.
fn write_seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = augtrain_fuzz_targets::fuzz_dir().join("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
#[ignore]
fn write_seeds() {
    let dir = std::env::temp_dir().join(format!("augtrain-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

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
    let detection = PipelineSpec::from_toml(
        "version = 1\nborder = \"reflect\"\n[[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"affine\"\ndegrees = [-30.0, 30.0]\nshear = [-10.0, 10.0]\n\
        [[ops]]\nop = \"safe_crop\"\nwidth = 6\nheight = 6\nmax_cut = 0.2\n[[ops]]\nop = \"iou_crop\"\nwidth = 5\nheight = 4\n\
        [[ops]]\nop = \"erase\"\ncount = [1, 2]\n\
        [targets]\nbox_rotation = \"ellipse\"\nmin_visibility = 0.1\nmin_area = 0.5\nmin_size = 0.25\ndrop_outside_keypoints = true\n",
        "detection",
    )
    .unwrap();
    let specs = [
        ("detection", detection),
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
    let cfg = augtrain_run::config::TrainConfig::default();
    write_seed("config", "default.toml", cfg.to_toml().as_bytes());
    write_seed(
        "config",
        "commented-default.toml",
        augtrain_run::config::TrainConfig::commented_default().as_bytes(),
    );
    let mut with_spec = cfg.clone();
    with_spec.augment = augtrain_run::config::AugmentConfig::Pipeline {
        spec: specs[3].1.clone(),
    };
    write_seed("config", "pipeline.toml", with_spec.to_toml().as_bytes());

    // A pack of 5 records over 2 shards, written by the real writer.
    let data = augtrain_data::Dataset::from_pixels(
        augtrain_data::ImageShape::new(3, 2, 1),
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
        Some(augtrain_data::files::SplitName::Train),
        Some(augtrain_data::files::SplitName::Val),
        None,
        Some(augtrain_data::files::SplitName::Test),
    ];
    let hashes: Vec<String> = (0..5).map(|i| format!("{:064x}", i)).collect();
    let manifest = pack::write(&out, &data, &splits, &hashes, "seed", "center_crop", 18).unwrap();
    let mut blob = std::fs::read(out.join("manifest.json")).unwrap();
    blob.extend(augtrain_fuzz_targets::PACK_SEPARATOR);
    blob.extend(std::fs::read(out.join("index.csv")).unwrap());
    for s in &manifest.shards {
        blob.extend(augtrain_fuzz_targets::PACK_SEPARATOR);
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
                0 => augtrain_data::files::SplitName::Test,
                1 => augtrain_data::files::SplitName::Val,
                _ => augtrain_data::files::SplitName::Train,
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

    // Embedding matrices as `augtrain embed` writes them (float32), and as numpy saves
    // float64; duplicates and an orthogonal row included.
    let mut set = augtrain_quality::embedding::synth::gaussian_unit_rows(12, 8, 7);
    let first: Vec<f32> = set.row(0).to_vec();
    set.values.extend(first);
    write_seed(
        "embeddings",
        "f32-13x8.npy",
        &augtrain_quality::embedding::npy::npy_bytes(&set),
    );
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/augtrain-quality/tests/fixtures/embedding");
    // (`numpy-f64-6x5.npy` is np.save of a float64 (6, 5) normal array whose last row is twice
    // the first: written by numpy itself, kept as it is.)
    for name in ["npy_f32_v2.npy", "npy_f32_empty.npy"] {
        write_seed(
            "embeddings",
            name,
            &std::fs::read(fixtures.join(name)).unwrap(),
        );
    }

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
        &augtrain_data::decode::jpeg_with_orientation(6, 4, 6),
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

/// The seeds of the record targets (`params_jsonl`, `embedding_index`), written by the real
/// writers: `cargo test --release -p augtrain-fuzz-targets --test seeds -- --ignored records`.
#[test]
#[ignore]
fn write_record_seeds() {
    use augtrain_augment::record::Record;
    use augtrain_quality::embedding::{EmbedInfo, Embedded, EmbeddingSet, IndexRow};

    let spec = PipelineSpec::default_colour(8, 8);
    let program =
        augtrain_augment::Program::new(&spec, augtrain_data::ImageShape::new(8, 8, 3)).unwrap();
    let params = program.draw(7, 0, &[0, 1]);
    let mut lines = String::new();
    for (i, p) in params.into_iter().enumerate() {
        let r = Record {
            batch: 0,
            position: i,
            index: i,
            id: i as u64,
            epoch: 0,
            seed: 7,
            source: "synthetic".into(),
            image: format!("#{i}"),
            pixels_sha256: "ab".repeat(32),
            file: format!("{i:05}-v0.png"),
            params: p,
        };
        lines.push_str(&serde_json::to_string(&r).unwrap());
        lines.push('\n');
    }
    write_seed("params_jsonl", "two-records.jsonl", lines.as_bytes());

    let mut set = EmbeddingSet {
        dim: 2,
        values: vec![1.0, 0.0, 0.0, 1.0],
    };
    set.normalize_rows().unwrap();
    let e = Embedded {
        set,
        index: vec![
            IndexRow {
                path: "ants/a, \"b\".jpg".into(),
                label: "ants".into(),
                split: Some(augtrain_data::files::SplitName::Train),
                sha256: Some("0f".repeat(32)),
            },
            IndexRow {
                path: "#1".into(),
                label: "bees".into(),
                split: None,
                sha256: Some(String::new()),
            },
        ],
        info: EmbedInfo::default(),
    };
    let (_, index) = e
        .files()
        .into_iter()
        .find(|(name, _)| *name == "index.csv")
        .unwrap();
    write_seed("embedding_index", "two-rows.csv", &index);
}

/// The annotation seeds: the pycocotools fixture and its conversion to every format, one file
/// each, written by the real writers (run once when a format changes; committed):
/// `cargo test --release -p augtrain-fuzz-targets --test seeds -- --ignored annotation`.
#[test]
#[ignore]
fn write_annotation_seeds() {
    use augtrain_annotations::formats::{self, Format, ReadOptions};
    let fixture =
        augtrain_fuzz_targets::fuzz_dir().join("../tests/fixtures/annotations/coco_small.json");
    let d = formats::read(Format::Coco, &fixture, &ReadOptions::default())
        .unwrap()
        .dataset;
    write_seed(
        "annotations",
        "coco_small.json",
        &std::fs::read(&fixture).unwrap(),
    );
    for format in Format::ALL {
        let out = formats::write(format, &d).unwrap();
        // The first file that is not YOLO's data.yaml, and for per-image formats the boxes image.
        let file = out
            .files
            .iter()
            .find(|f| {
                f.path.contains("boxes/") || f.path.contains("poly/") && format == Format::Yolo
            })
            .or_else(|| out.files.iter().find(|f| !f.path.ends_with(".yaml")))
            .unwrap();
        let ext = file.path.rsplit('.').next().unwrap();
        write_seed("annotations", &format!("{format}.{ext}"), &file.bytes);
    }
}
