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

/// `audit DATA --labels F` adds the annotators' label agreement: pooled percent agreement
/// (5 agreeing of 8 label pairs below), a Cohen's kappa per pair, the disputed images least
/// certain first with their audit row (or none for a labelled image not among the files), in
/// the text, the JSON and a section of the HTML page with the disputed image's thumbnail. A bad
/// label file fails before the audit and writes nothing; annotated data refuses the flag.
#[test]
fn audit_with_labels_reports_annotator_agreement_and_disputed_images() {
    let root = scratch("audit-labels");
    let data = image_folder(&root.join("data"), &["a", "b"], 2);
    let votes = root.join("votes.csv");
    std::fs::write(
        &votes,
        "image,annotator,label\na/0.png,x,a\na/0.png,y,a\na/0.png,z,a\na/1.png,x,a\na/1.png,y,b\na/1.png,z,a\nb/0.png,x,b\nb/0.png,y,b\nc/9.png,x,a\nc/9.png,y,b\n",
    )
    .unwrap();
    let (json, html) = (root.join("r.json"), root.join("r.html"));
    let text = ok(&augtrain(&[
        "audit",
        data.to_str().unwrap(),
        "--labels",
        votes.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]));
    assert!(
        text.contains("10 labels on 4 images from 3 annotators; 0.6250 of label pairs agree"),
        "{text}"
    );
    assert!(
        text.contains("1 labelled images are not among the audited files"),
        "{text}"
    );
    let a = &json_of(&json)["label_agreement"];
    assert_eq!(a["percent_agreement"], 0.625);
    assert_eq!(a["pairs"].as_array().unwrap().len(), 3);
    assert_eq!(a["not_audited"], 1);
    let disputed: Vec<(&str, Option<u64>)> = a["disputed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["image"].as_str().unwrap(), d["row"].as_u64()))
        .collect();
    assert_eq!(disputed.len(), 2, "{disputed:?}");
    assert!(disputed.contains(&("c/9.png", None)), "{disputed:?}");
    let row = disputed
        .iter()
        .find(|d| d.0 == "a/1.png")
        .unwrap()
        .1
        .unwrap();
    assert_eq!(json_of(&json)["rows"][row as usize]["path"], "a/1.png");
    let page = std::fs::read_to_string(&html).unwrap();
    let section = &page[page.find("<h2>Label agreement</h2>").expect("section")..];
    assert!(
        section.contains("x / y") && section.contains("y: b"),
        "{section}"
    );
    assert!(
        section.contains("data:image/jpeg;base64,"),
        "the disputed image is shown"
    );

    let bad = root.join("bad.csv");
    std::fs::write(&bad, "image,annotator,label\na/0.png,x,a\na/0.png,x,b\n").unwrap();
    let fresh = root.join("fresh.json");
    let out = augtrain(&[
        "audit",
        data.to_str().unwrap(),
        "--labels",
        bad.to_str().unwrap(),
        "--json",
        fresh.to_str().unwrap(),
    ]);
    let line = one_error_line(&out, 1);
    assert!(line.contains("bad.csv") && line.contains("twice"), "{line}");
    assert!(!fresh.exists());
    let coco = root.join("instances.json");
    write_json(&coco, &coco_with_problems());
    let out = augtrain(&[
        "audit",
        coco.to_str().unwrap(),
        "--labels",
        votes.to_str().unwrap(),
    ]);
    one_error_line(&out, 2);
}

// ---- Annotated data (COCO): annotation checks, files, agreement, hostile input ----

/// A small PNG of `w`x`h` at `dir/name`.
fn write_png(dir: &Path, name: &str, w: u32, h: u32) {
    let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5) as u8, (y * 7) as u8, 90]));
    DynamicImage::ImageRgb8(img)
        .save_with_format(dir.join(name), ImageFormat::Png)
        .unwrap();
}

/// COCO JSON with one planted problem per kind and clean objects beside them: image 1 is
/// `a.png` (60x40, on disk), image 2 `missing.png` (not on disk); `extra.png` is on disk but
/// not annotated.
fn coco_with_problems() -> serde_json::Value {
    let ann = |id: u64, image: u64, cat: u64, bbox: [f64; 4]| {
        serde_json::json!({"id": id, "image_id": image, "category_id": cat, "bbox": bbox,
                           "area": bbox[2] * bbox[3], "iscrowd": 0})
    };
    let mut anns = vec![
        ann(1, 1, 1, [5.0, 5.0, 20.0, 10.0]),   // clean
        ann(2, 1, 1, [70.0, 5.0, 5.0, 5.0]),    // outside (image is 60 wide)
        ann(3, 1, 1, [50.0, 30.0, 20.0, 20.0]), // straddles
        ann(4, 1, 1, [10.0, 10.0, 0.0, 5.0]),   // zero width
        ann(5, 1, 1, [30.0, 2.0, 1.0, 8.0]),    // tiny
        ann(6, 1, 1, [5.0, 5.0, 20.0, 10.2]),   // duplicate of 1
        ann(7, 1, 3, [30.0, 20.0, 8.0, 8.0]),   // class "Cat " (misspelt)
        ann(8, 2, 2, [1.0, 1.0, 10.0, 10.0]),   // clean, on the missing image
    ];
    anns.push(serde_json::json!({"id": 9, "image_id": 1, "category_id": 2, "bbox": [20.0, 20.0, 10.0, 10.0],
        "segmentation": [[20.0, 20.0, 30.0, 30.0, 30.0, 20.0, 20.0, 30.0]], "area": 50.0, "iscrowd": 0}));
    anns.push(serde_json::json!({"id": 10, "image_id": 1, "category_id": 4, "bbox": [40.0, 5.0, 10.0, 10.0],
        "keypoints": [45.0, 10.0, 2, 55.0, 10.0, 2, 0, 0, 0], "num_keypoints": 2, "area": 100.0, "iscrowd": 0}));
    serde_json::json!({
        "images": [
            {"id": 1, "file_name": "a.png", "width": 60, "height": 40},
            {"id": 2, "file_name": "missing.png", "width": 60, "height": 40}
        ],
        "categories": [
            {"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "Cat "},
            {"id": 4, "name": "person", "keypoints": ["l", "r", "nose"], "skeleton": [[1, 2]]}
        ],
        "annotations": anns
    })
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

#[test]
fn audit_of_coco_annotations_reports_each_planted_problem_once() {
    let root = scratch("audit-coco");
    write_png(&root, "a.png", 60, 40);
    write_png(&root, "extra.png", 8, 8);
    let coco = root.join("instances.json");
    write_json(&coco, &coco_with_problems());
    let (json_out, html_out) = (root.join("out/report.json"), root.join("out/report.html"));
    std::fs::create_dir_all(root.join("out")).unwrap();
    let text = ok(&augtrain(&[
        "audit",
        coco.to_str().unwrap(),
        "--json",
        json_out.to_str().unwrap(),
        "--html",
        html_out.to_str().unwrap(),
    ]));
    let r = json(&json_out);
    assert_eq!(r["format"], "coco");
    assert_eq!(
        (r["images"].as_u64(), r["objects"].as_u64()),
        (Some(2), Some(10))
    );
    let counts = r["finding_counts"].as_object().unwrap();
    let expected = [
        "box_outside_image",
        "box_straddles_edge",
        "empty_box",
        "tiny_box",
        "duplicate_box",
        "unknown_class",
        "self_intersecting_polygon",
        "keypoint_outside_box",
        "missing_image",
        "unannotated_image",
    ];
    for kind in expected {
        assert_eq!(
            counts.get(kind).and_then(|v| v.as_u64()),
            Some(1),
            "{kind}: {counts:?}"
        );
    }
    assert_eq!(counts.len(), expected.len(), "{counts:?}");
    let find = |kind: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            find("box_outside_image")["image"].as_str(),
            find("box_outside_image")["object"].as_u64()
        ),
        (Some("a.png"), Some(1))
    );
    assert_eq!(find("duplicate_box")["object"], 5);
    assert_eq!(find("missing_image")["image"], "missing.png");
    assert_eq!(find("unannotated_image")["image"], "extra.png");
    assert!(r["agreement"].is_null());
    assert!(text.contains("duplicate box: 1"), "{text}");
    assert!(
        text.contains("a.png object 5: same class \"cat\" as object 0"),
        "{text}"
    );
    // The page draws every object's box on the thumbnail, the flagged one in red.
    let page = std::fs::read_to_string(&html_out).unwrap();
    assert!(page.contains("data:image/jpeg;base64,"), "no thumbnail");
    assert!(
        page.contains("viewBox=\"0 0 60 40\""),
        "no overlay in image coordinates"
    );
    assert!(page.contains(
        "<rect x=\"70\" y=\"5\" width=\"5\" height=\"5\" fill=\"none\" stroke=\"#d62728\""
    ));
}

#[test]
fn audit_with_annotations_flag_takes_the_image_folder_as_data() {
    let root = scratch("audit-coco-flag");
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    write_png(&images, "a.png", 60, 40);
    write_png(&images, "missing.png", 60, 40);
    let coco = root.join("instances.json");
    write_json(&coco, &coco_with_problems());
    let out = root.join("r.json");
    ok(&augtrain(&[
        "audit",
        images.to_str().unwrap(),
        "--annotations",
        coco.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
    ]));
    let r = json(&out);
    let counts = r["finding_counts"].as_object().unwrap();
    assert!(
        counts.get("missing_image").is_none() && counts.get("unannotated_image").is_none(),
        "{counts:?}"
    );
    assert_eq!(r["image_root"], images.to_str().unwrap());
    // --classes names the known classes: "Cat " and "person" become unknown.
    ok(&augtrain(&[
        "audit",
        images.to_str().unwrap(),
        "--annotations",
        coco.to_str().unwrap(),
        "--classes",
        "cat,dog",
        "--json",
        out.to_str().unwrap(),
        "--force",
    ]));
    assert_eq!(json(&out)["finding_counts"]["unknown_class"], 2);
}

#[test]
fn audit_reports_box_agreement_between_annotators() {
    let root = scratch("audit-agreement");
    write_png(&root, "a.png", 100, 100);
    write_png(&root, "b.png", 100, 100);
    let ann = |id: u64, image: u64, who: &str, bbox: [f64; 4]| {
        serde_json::json!({"id": id, "image_id": image, "category_id": 1, "bbox": bbox,
                           "area": bbox[2] * bbox[3], "iscrowd": 0, "annotator": who})
    };
    let coco = serde_json::json!({
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100},
                   {"id": 2, "file_name": "b.png", "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            ann(1, 1, "ann", [10.0, 10.0, 20.0, 20.0]), ann(2, 1, "bob", [10.0, 10.0, 20.0, 20.0]),
            ann(3, 1, "ann", [50.0, 50.0, 20.0, 20.0]), ann(4, 1, "bob", [54.0, 50.0, 20.0, 20.0]),
            ann(5, 1, "bob", [80.0, 5.0, 10.0, 10.0]),
            ann(6, 2, "ann", [0.0, 0.0, 10.0, 10.0])
        ]
    });
    let path = root.join("cells.json");
    write_json(&path, &coco);
    let out = root.join("r.json");
    let html_out = root.join("r.html");
    let text = ok(&augtrain(&[
        "audit",
        path.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
        "--html",
        html_out.to_str().unwrap(),
    ]));
    let a = &json(&out)["agreement"];
    // Only a.png has two annotators; 2 of 5 boxes matched, IoUs 1 and 320/480.
    assert_eq!(a["images"].as_array().unwrap().len(), 1);
    assert_eq!(a["overall"]["matched"], 2);
    assert_eq!(a["overall"]["boxes"], 5);
    let iou_sum = a["overall"]["iou_sum"].as_f64().unwrap();
    assert!((iou_sum - (1.0 + 320.0 / 480.0)).abs() < 1e-12, "{iou_sum}");
    let names: Vec<&str> = a["annotators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["annotator"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    let unmatched = a["unmatched"].as_array().unwrap();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(
        (
            unmatched[0]["object"].as_u64(),
            unmatched[0]["annotator"].as_str()
        ),
        (Some(4), Some("bob"))
    );
    assert_eq!(a["most_disputed"][0]["object"], 4);
    assert!(text.contains("box agreement (IoU ≥ 0.5"), "{text}");
    assert!(text.contains("F1 0.800"), "{text}");
    let page = std::fs::read_to_string(&html_out).unwrap();
    assert!(
        page.contains("Box agreement between annotators") && page.contains("stroke=\"#ff7f0e\"")
    );
}

#[test]
fn hostile_annotations_fail_with_one_line_and_write_nothing() {
    let root = scratch("audit-hostile");
    write_png(&root, "a.png", 3, 3);
    let base = |segmentation: serde_json::Value| {
        serde_json::json!({
            "images": [{"id": 1, "file_name": "a.png", "width": 3, "height": 3}],
            "categories": [{"id": 1, "name": "x"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                             "segmentation": segmentation, "iscrowd": 1}]
        })
    };
    let cases = [
        (
            "compressed",
            base(serde_json::json!({"size": [3, 3], "counts": "52"})),
        ),
        (
            "plain",
            base(serde_json::json!({"size": [3, 3], "counts": [2, 3]})),
        ),
        (
            "bad-character",
            base(serde_json::json!({"size": [3, 3], "counts": "1p"})),
        ),
    ];
    for (name, coco) in cases {
        let path = root.join(format!("{name}.json"));
        write_json(&path, &coco);
        let (j, h) = (
            root.join(format!("{name}.out.json")),
            root.join(format!("{name}.out.html")),
        );
        let out = augtrain(&[
            "audit",
            path.to_str().unwrap(),
            "--json",
            j.to_str().unwrap(),
            "--html",
            h.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}.json")), "{name}: {stderr}");
        assert!(!j.exists() && !h.exists(), "{name}: output written");
    }
    let out = augtrain(&[
        "audit",
        root.to_str().unwrap(),
        "--annotations",
        root.join("plain.json").to_str().unwrap(),
        "--agreement-iou",
        "1.5",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
