//! `augtrain audit`: planted problems found and nothing else; the real photos' known oddities.

use std::path::Path;

use image::{DynamicImage, ImageFormat, RgbImage, imageops};

use crate::support::*;

#[test]
fn audit_finds_nothing_in_clean_photos() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("audit-clean");
    let clean = root.join("clean");
    write_clean(&clean, &twelve_photos(&hym));
    let report = audit_json(&clean, &root);
    for (issue, n) in report["issue_counts"].as_object().unwrap() {
        assert_eq!(
            n,
            0,
            "clean data flagged for {issue}: {:?}",
            flagged(&report, issue)
        );
    }
}

#[test]
fn audit_finds_every_planted_problem_and_nothing_else() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("audit");
    let imgs = twelve_photos(&hym);
    let (clean, dirty) = (root.join("clean"), root.join("dirty"));
    write_clean(&clean, &imgs);
    // Plant problems in a copy.
    std::fs::create_dir_all(&dirty).unwrap();
    copy_layout(&clean, &dirty);
    plant_problems(&dirty, &imgs);
    let r = audit_json(&dirty, &root);
    assert_corrupt_duplicates_and_leaks(&r);
    assert_health_issues(&r);
    let reason = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "train/b/zero.jpg")
        .unwrap();
    assert_eq!(reason["corrupt_reason"], "zero bytes");
    assert_eq!(r["leaks"].as_array().unwrap().len(), 1);
    let text = ok(&augtrain(&["audit", dirty.to_str().unwrap()]));
    assert!(text.contains("leak across train / val"), "{text}");
}

#[test]
fn audit_of_the_real_photos_is_fast_and_finds_their_known_oddities() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let start = std::time::Instant::now();
    let r = audit_json(&hym, &scratch("audit-real"));
    let secs = start.elapsed().as_secs_f64();
    eprintln!("audit of hymenoptera: {secs:.2} s");
    assert_eq!(r["images"], 398);
    // The dataset ships an "image not found" placeholder GIF: flat, low information.
    assert_eq!(
        flagged(&r, "low_information"),
        vec!["train/ants/imageNotFound.gif"]
    );
    assert_eq!(flagged(&r, "corrupt").len(), 0);
    assert!(!r["imbalance"]["is_issue"].as_bool().unwrap());
}

/// Audit `dir` into a JSON report in `out_dir` (each test its own: tests run in parallel).
fn audit_json(dir: &Path, out_dir: &Path) -> serde_json::Value {
    let out = out_dir.join(format!(
        "{}.json",
        dir.file_name().unwrap().to_string_lossy()
    ));
    ok(&augtrain(&[
        "audit",
        dir.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    json(&out)
}

/// The paths the report flags for `issue`, sorted.
fn flagged(report: &serde_json::Value, issue: &str) -> Vec<String> {
    let mut v: Vec<String> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[format!("is_{issue}_issue")].as_bool().unwrap())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Twelve real photos of bees, all 160x120 so that sizes are uniform.
fn twelve_photos(hym: &Path) -> Vec<RgbImage> {
    let mut photos: Vec<_> = std::fs::read_dir(hym.join("train/bees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    let load = |p: &Path| {
        image::open(p)
            .unwrap()
            .resize_exact(160, 120, imageops::FilterType::Triangle)
            .to_rgb8()
    };
    photos.iter().take(12).map(|p| load(p)).collect()
}

/// The photos as PNGs in a train/val layout: `p0`..`p7` in train, the rest in val, classes `a`
/// (even) and `b` (odd).
fn write_clean(clean: &Path, imgs: &[RgbImage]) {
    for (i, img) in imgs.iter().enumerate() {
        let (split, class) = (
            if i < 8 { "train" } else { "val" },
            if i % 2 == 0 { "a" } else { "b" },
        );
        let dir = clean.join(split).join(class);
        std::fs::create_dir_all(&dir).unwrap();
        img.save_with_format(dir.join(format!("p{i}.png")), ImageFormat::Png)
            .unwrap();
    }
}

/// Copy a `split/class/file` layout from `from` into `to`.
fn copy_layout(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&t).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                if f.path().is_dir() {
                    std::fs::create_dir_all(t.join(f.file_name())).unwrap();
                    for g in std::fs::read_dir(f.path()).unwrap() {
                        let g = g.unwrap();
                        std::fs::copy(g.path(), t.join(f.file_name()).join(g.file_name())).unwrap();
                    }
                }
            }
        }
    }
}

/// Save `img` as `rel` under `dir`: a JPEG at quality 80, or in `fmt`.
fn save(dir: &Path, img: &RgbImage, rel: &str, fmt: ImageFormat) {
    let p = dir.join(rel);
    match fmt {
        ImageFormat::Jpeg => {
            let mut f = std::fs::File::create(&p).unwrap();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 80)
                .encode_image(img)
                .unwrap();
        }
        _ => img.save_with_format(&p, fmt).unwrap(),
    }
}

/// Plant problems among the clean photos `imgs` copied into `dirty`: a duplicate leaked into
/// val, near duplicates, dark, light, blurred and flat images, corrupt files.
fn plant_problems(dirty: &Path, imgs: &[RgbImage]) {
    // Exact duplicate of p0 (train) re-saved under another name in val: a leak.
    save(dirty, &imgs[0], "val/a/resaved-p0.png", ImageFormat::Png);
    // Near duplicates: p2 re-encoded as JPEG; p4 shifted by one pixel.
    save(
        dirty,
        &imgs[2],
        "train/a/reencoded-p2.jpg",
        ImageFormat::Jpeg,
    );
    let mut shifted = imgs[4].clone();
    for y in 0..120 {
        for x in (1..160).rev() {
            let px = *imgs[4].get_pixel(x - 1, y);
            shifted.put_pixel(x, y, px);
        }
    }
    save(dirty, &shifted, "train/a/shifted-p4.png", ImageFormat::Png);
    // Health: dark, light, blurred, flat.
    let map = |img: &RgbImage, f: &dyn Fn(u8) -> u8| {
        let mut o = img.clone();
        o.pixels_mut().for_each(|p| p.0 = p.0.map(f));
        o
    };
    save(
        dirty,
        &map(&imgs[6], &|v| v / 12),
        "train/a/dark-p6.png",
        ImageFormat::Png,
    );
    save(
        dirty,
        &map(&imgs[1], &|v| 250 + v / 51),
        "train/b/light-p1.png",
        ImageFormat::Png,
    );
    save(
        dirty,
        &DynamicImage::ImageRgb8(imgs[3].clone()).blur(6.0).to_rgb8(),
        "train/b/blurred-p3.png",
        ImageFormat::Png,
    );
    save(
        dirty,
        &RgbImage::from_pixel(160, 120, image::Rgb([90, 120, 60])),
        "train/b/flat.png",
        ImageFormat::Png,
    );
    // Corrupt.
    std::fs::write(dirty.join("train/b/zero.jpg"), []).unwrap();
    let jpeg = std::fs::read(dirty.join("train/a/reencoded-p2.jpg")).unwrap();
    std::fs::write(dirty.join("val/b/truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
}

/// Corrupt files, exact and near duplicates and the leak are exactly the planted ones.
fn assert_corrupt_duplicates_and_leaks(r: &serde_json::Value) {
    assert_eq!(
        flagged(r, "corrupt"),
        vec!["train/b/zero.jpg", "val/b/truncated.jpg"]
    );
    assert_eq!(
        flagged(r, "exact_duplicates"),
        vec!["train/a/p0.png", "val/a/resaved-p0.png"]
    );
    // The re-encoded and shifted copies are found with their originals; the darkened,
    // lightened and blurred copies are perceptual near duplicates of theirs too (pHash keeps
    // low-frequency structure), and nothing else is.
    let near = flagged(r, "near_duplicates");
    for p in [
        "train/a/p2.png",
        "train/a/p4.png",
        "train/a/reencoded-p2.jpg",
        "train/a/shifted-p4.png",
    ] {
        assert!(near.contains(&p.to_string()), "{p} missing from {near:?}");
    }
    let derived = [
        "p2",
        "p4",
        "reencoded-p2",
        "shifted-p4",
        "p1",
        "light-p1",
        "p3",
        "blurred-p3",
        "p6",
        "dark-p6",
    ];
    assert!(
        near.iter().all(|p| derived
            .iter()
            .any(|d| p.ends_with(&format!("/{d}.png")) || p.ends_with(&format!("/{d}.jpg")))),
        "{near:?}"
    );
    assert_eq!(
        flagged(r, "leak"),
        vec!["train/a/p0.png", "val/a/resaved-p0.png"]
    );
}

/// Dark, light, blurry and low-information images are the planted ones (a dark, light or flat
/// image may count as blurry or low-information too); nothing has an odd aspect ratio or is
/// grayscale.
fn assert_health_issues(r: &serde_json::Value) {
    assert_eq!(flagged(r, "dark"), vec!["train/a/dark-p6.png"]);
    assert_eq!(flagged(r, "light"), vec!["train/b/light-p1.png"]);
    let blurry = flagged(r, "blurry");
    assert!(
        blurry.contains(&"train/b/blurred-p3.png".to_string()),
        "{blurry:?}"
    );
    assert!(
        blurry.iter().all(|p| p.contains("blurred")
            || p.contains("flat")
            || p.contains("dark")
            || p.contains("light")),
        "{blurry:?}"
    );
    let flat = flagged(r, "low_information");
    assert!(flat.contains(&"train/b/flat.png".to_string()), "{flat:?}");
    assert!(
        flat.iter()
            .all(|p| p.contains("flat") || p.contains("dark") || p.contains("light")),
        "{flat:?}"
    );
    assert!(flagged(r, "odd_aspect_ratio").is_empty() && flagged(r, "grayscale").is_empty());
}

/// `audit --json F` / `--html F` never overwrite an existing file without `--force` (checked
/// before any work), and do with it; the summary is the result: a full standard output is an
/// error, exit 1 (issue 27, items 3 and 11).
#[test]
fn audit_refuses_to_overwrite_an_existing_report_without_force() {
    let root = scratch("audit-force");
    let data = image_folder(&root.join("data"), &["a", "b"], 3);
    let json = root.join("checkpoint.bin");
    std::fs::write(&json, b"precious").unwrap();
    for flag in ["--json", "--html"] {
        let out = augtrain(&[
            "audit",
            data.to_str().unwrap(),
            flag,
            json.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("already exists") && stderr.contains("--force"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&json).unwrap(), b"precious");
    }
    ok(&augtrain(&[
        "audit",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--force",
        "--quiet",
    ]));
    assert!(json_of(&json)["rows"].is_array());
}

fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn audit_into_a_full_stdout_exits_1() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let root = scratch("audit-full-stdout");
    let data = image_folder(&root.join("data"), &["a", "b"], 3);
    let out = augtrain_command(&["audit", data.to_str().unwrap()])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("standard output"), "{stderr}");
}
