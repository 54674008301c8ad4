//! `augtrain embed` and what uses embeddings: `audit` (semantic near duplicates, outliers) and
//! `label-issues --embeddings` (k-nearest-neighbour probabilities), on planted cases in copies
//! of the real photos with the real ImageNet-pretrained EfficientNet-Lite0.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use augtrain::embedding::Embedded;
use image::{DynamicImage, ImageFormat};

use crate::support::*;

const LITE0: &str = "models/efficientnet-lite0-57934424.pth";

/// The pretrained EfficientNet-Lite0's flags for `embed` and `audit`.
fn lite0() -> Option<Vec<String>> {
    let weights = data(LITE0)?;
    Some(vec![
        "--pretrained".into(),
        weights.to_str().unwrap().into(),
        "--model".into(),
        "efficientnet-lite0".into(),
    ])
}

fn run_ok(args: &[&str], more: &[String]) -> String {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(more.iter().cloned());
    ok(&augtrain(&all))
}

#[test]
fn embed_writes_one_normalized_row_per_image_with_its_index() {
    let root = scratch("embed-run");
    let run = small_mlp_run(&root, "mlp");
    let images = image_folder(&root.join("images"), &["a", "b"], 3);
    let out = root.join("emb");
    let args = [
        "embed",
        "--data",
        images.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    let stdout = run_ok(&args, &[]);
    assert!(stdout.contains("6 embeddings of"), "{stdout}");
    let e = Embedded::read(&out).unwrap();
    assert_eq!(e.set.len(), 6);
    assert_eq!(e.index.len(), 6);
    for i in 0..6 {
        let norm: f32 = e.set.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} has norm {norm}");
    }
    assert_eq!(e.index[0].label, "a");
    assert_eq!(e.info.images, 6);
    // numpy.load reads it: magic, version 1.0, '<f4', (6, dim).
    let npy = std::fs::read(out.join("embeddings.npy")).unwrap();
    assert_eq!(&npy[..8], b"\x93NUMPY\x01\x00");
    let header = String::from_utf8_lossy(&npy[10..128]);
    assert!(header.contains("'descr': '<f4'") && header.contains(&format!("(6, {})", e.set.dim)));
    // The same again refuses to replace it, and leaves it as it was.
    let again = augtrain(&args);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read(out.join("embeddings.npy")).unwrap(), npy);
    // Without a model: a usage error.
    let none = augtrain(&["embed", "--data", images.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(2));
}

/// Copies of 12 ants and 12 bees, five altered copies of the first ant, and a cat among the
/// ants. Returns the folder and the altered copies' names (relative paths).
fn planted_folder(root: &Path) -> Option<(PathBuf, Vec<String>)> {
    real_folder(root, &["ants", "bees"], 12)?;
    let original = image::open(root.join("ants/ants-0.jpg")).unwrap();
    let (w, h) = (original.width(), original.height());
    let shifted = {
        let mut rgb = original.to_rgb8();
        for p in rgb.pixels_mut() {
            p.0 = [
                p.0[0].saturating_add(40),
                p.0[1].saturating_sub(20),
                p.0[2].saturating_add(10),
            ];
        }
        DynamicImage::ImageRgb8(rgb)
    };
    let copies: Vec<(&str, DynamicImage)> = vec![
        (
            "crop",
            original.crop_imm(w / 10, h / 10, w * 8 / 10, h * 8 / 10),
        ),
        (
            "half",
            original.resize_exact(w / 2, h / 2, image::imageops::FilterType::Triangle),
        ),
        ("colour", shifted),
        ("flip", original.fliph()),
    ];
    let mut names = Vec::new();
    for (name, img) in copies {
        let rel = format!("ants/ants-0-{name}.png");
        img.save_with_format(root.join(&rel), ImageFormat::Png)
            .unwrap();
        names.push(rel);
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 30)
        .encode_image(&original)
        .unwrap();
    std::fs::write(root.join("ants/ants-0-q30.jpg"), jpeg).unwrap();
    names.push("ants/ants-0-q30.jpg".into());
    let cat = data("photos/chelsea.png")?;
    std::fs::copy(cat, root.join("ants/cat.png")).unwrap();
    Some((root.to_path_buf(), names))
}

#[test]
fn audit_finds_planted_semantic_duplicates_and_the_outlier_with_pretrained_embeddings() {
    let root = scratch("embed-planted");
    let (Some(model), Some((folder, copies))) = (lite0(), planted_folder(&root.join("data")))
    else {
        return;
    };
    let (json_path, html_path) = (root.join("audit.json"), root.join("audit.html"));
    let stdout = run_ok(
        &[
            "audit",
            folder.to_str().unwrap(),
            "--json",
            json_path.to_str().unwrap(),
            "--html",
            html_path.to_str().unwrap(),
            "--device",
            "cpu",
        ],
        &model,
    );
    let report = json(&json_path);
    let rows = report["rows"].as_array().unwrap();
    let row = |p: &str| {
        rows.iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p} not audited"))
    };
    // Every altered copy is a semantic duplicate of its original: one group holds them all.
    let group = row("ants/ants-0.jpg")["semantic_duplicates_group"].clone();
    assert!(
        group.is_number(),
        "the original has no semantic duplicate:\n{stdout}"
    );
    for c in &copies {
        assert_eq!(row(c)["semantic_duplicates_group"], group, "{c}:\n{stdout}");
    }
    let members = report["semantic"]["groups"][group.as_u64().unwrap() as usize]["paths"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        members,
        copies.len() + 1,
        "unrelated images joined the group:\n{stdout}"
    );
    // The pHash still finds what it found before (a rescale, a re-encode, a colour shift).
    let phash_group = row("ants/ants-0.jpg")["near_duplicates_group"].clone();
    for c in ["ants/ants-0-half.png", "ants/ants-0-q30.jpg"] {
        assert_eq!(row(c)["near_duplicates_group"], phash_group, "{c}");
    }
    // The cat is the most unusual ant.
    let mut ants: Vec<(&str, f64)> = rows
        .iter()
        .filter(|r| r["label"] == "ants")
        .map(|r| {
            (
                r["path"].as_str().unwrap(),
                r["outlier_score"].as_f64().unwrap(),
            )
        })
        .collect();
    ants.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert_eq!(ants[0].0, "ants/cat.png", "{ants:?}");
    assert_eq!(row("ants/cat.png")["is_outlier_issue"], true, "{stdout}");
    assert!(stdout.contains("semantic near duplicates") && stdout.contains("ants/cat.png"));
    // The page shows the pairs side by side, with thumbnails.
    let page = std::fs::read_to_string(&html_path).unwrap();
    assert!(page.contains("Semantic near duplicates") && page.contains("Outliers"));
    assert!(page.matches("data:image/jpeg;base64,").count() >= copies.len() + 2);
}

/// hymenoptera (train and val) with 10 % of the labels flipped: the planted set.
fn noisy_hymenoptera(root: &Path) -> Option<BTreeSet<String>> {
    let hym = data("hymenoptera")?;
    let mut files: Vec<(String, String, PathBuf)> = Vec::new();
    for split in ["train", "val"] {
        for class in ["ants", "bees"] {
            let mut names: Vec<_> = std::fs::read_dir(hym.join(split).join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for p in names {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                files.push((class.to_string(), format!("{split}-{name}"), p));
            }
        }
    }
    let mut flipped = BTreeSet::new();
    for (i, (class, name, src)) in files.iter().enumerate() {
        // Every tenth file, spread over both classes and splits.
        let class = if i % 10 == 3 {
            let other = if class == "ants" { "bees" } else { "ants" };
            flipped.insert(format!("{other}/{name}"));
            other
        } else {
            class.as_str()
        };
        std::fs::create_dir_all(root.join(class)).unwrap();
        std::fs::copy(src, root.join(class).join(name)).unwrap();
    }
    Some(flipped)
}

#[test]
fn label_issues_from_pretrained_embeddings_find_planted_label_noise_without_training() {
    let root = scratch("embed-noise");
    let (Some(model), Some(flipped)) = (lite0(), noisy_hymenoptera(&root.join("data"))) else {
        return;
    };
    let emb = root.join("emb");
    let data_dir = root.join("data");
    let start = std::time::Instant::now();
    run_ok(
        &[
            "embed",
            "--data",
            data_dir.to_str().unwrap(),
            "--out",
            emb.to_str().unwrap(),
            "--device",
            "cpu",
            "--quiet",
        ],
        &model,
    );
    let out = root.join("issues");
    let stdout = ok(&augtrain(&[
        "label-issues",
        "--embeddings",
        emb.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let seconds = start.elapsed().as_secs_f64();
    let found: BTreeSet<String> = std::fs::read_to_string(out.join("label_issues.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    let hits = found.intersection(&flipped).count();
    let precision = hits as f64 / found.len().max(1) as f64;
    let recall = hits as f64 / flipped.len() as f64;
    eprintln!(
        "label-issues --embeddings on hymenoptera with {} flipped labels: {} flagged, precision {precision:.3}, recall {recall:.3}, {seconds:.1} s (embed + search)",
        flipped.len(),
        found.len()
    );
    assert!(precision >= 0.8 && recall >= 0.8, "{stdout}");
}

#[test]
fn embeddings_that_do_not_fit_fail_with_one_line_and_write_nothing() {
    let root = scratch("embed-bad");
    let run = small_mlp_run(&root, "mlp");
    let images = image_folder(&root.join("images"), &["a", "b"], 3);
    let other = image_folder(&root.join("other"), &["c", "d"], 2);
    let emb = root.join("emb");
    ok(&augtrain(&[
        "embed",
        "--data",
        other.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
        "--out",
        emb.to_str().unwrap(),
        "--quiet",
    ]));
    let json_path = root.join("audit.json");
    let out = augtrain(&[
        "audit",
        images.to_str().unwrap(),
        "--embeddings",
        emb.to_str().unwrap(),
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("have no embedding") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(!json_path.exists());
    // A damaged matrix names the file.
    std::fs::write(emb.join("embeddings.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
    let out = augtrain(&["label-issues", "--embeddings", emb.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("embeddings.npy"), "{stderr}");
}

#[test]
fn embeddings_on_the_cpu_and_a_software_gpu_agree() {
    let root = scratch("embed-gpu");
    let (Some(model), Some(photos)) = (lite0(), data("photos")) else {
        return;
    };
    if !gpu() {
        return;
    }
    let folder = root.join("photos/any");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["chelsea.png", "coffee.png", "rocket.jpg"] {
        std::fs::copy(photos.join(name), folder.join(name)).unwrap();
    }
    let embed_on = |device: &str| {
        let out = root.join(device);
        run_ok(
            &[
                "embed",
                "--data",
                root.join("photos").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--device",
                device,
                "--quiet",
            ],
            &model,
        );
        Embedded::read(&out).unwrap()
    };
    let (cpu, gpu) = (embed_on("cpu"), embed_on("gpu"));
    assert_eq!(cpu.index, gpu.index);
    for i in 0..cpu.set.len() {
        let cosine: f32 = cpu
            .set
            .row(i)
            .iter()
            .zip(gpu.set.row(i))
            .map(|(a, b)| a * b)
            .sum();
        assert!(cosine >= 0.9999, "{}: cosine {cosine}", cpu.index[i].path);
    }
}
