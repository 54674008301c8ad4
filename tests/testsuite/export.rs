//! `augtrain export`: privacy-clean, checksummed, EXIF orientation baked into the pixels.

use std::path::{Path, PathBuf};

use crate::support::*;

#[test]
fn export_is_privacy_clean_and_checksummed() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("export");
    let out = root.join("clean");
    ok(&augtrain(&[
        "export",
        hym.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 398);
    let mut chunk_kinds = std::collections::BTreeSet::new();
    for line in sums.lines() {
        let (sha, path) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(out.join(path)).unwrap();
        assert_eq!(sha256_hex(&bytes), sha, "{path}");
        let name = path.rsplit('/').next().unwrap();
        assert!(
            name.len() == 20
                && name.ends_with(".png")
                && name[..16].chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        chunk_kinds.extend(png_chunk_kinds(&bytes));
    }
    for k in &chunk_kinds {
        assert!(
            ["IHDR", "IDAT", "IEND", "PLTE", "tRNS"].contains(&k.as_str()),
            "metadata chunk {k} survived"
        );
    }
    assert_sha256sum_verifies(&out);
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("| ants | 124 | 70 | 194 |") && card.contains("GPS"),
        "{card}"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert!(!manifest.contains(".jpg"), "original names must not leak");
    assert!(!out.join("mapping.csv").exists());
    let entries: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        entries.iter().all(|e| !e.contains("partial")),
        "{entries:?}"
    );
}

/// The mapping from exported to original names only on request, and never inside the export;
/// the exported pixels equal the source's, oriented.
#[test]
fn export_mapping_is_opt_in_and_exported_pixels_equal_the_oriented_source() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("export-mapping");
    // The mapping only on request, and never inside the export.
    let out2 = root.join("clean2");
    let mapping = root.join("mapping.csv");
    let bad = augtrain(&[
        "export",
        hym.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--keep-mapping",
        out2.join("m.csv").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    ok(&augtrain(&[
        "export",
        hym.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--keep-mapping",
        mapping.to_str().unwrap(),
        "--quiet",
    ]));
    let map = std::fs::read_to_string(&mapping).unwrap();
    assert!(map.contains("train/ants/ant photos.jpg"));
    // Exported pixels equal the oriented source pixels.
    let map_rows = augtrain::data::csv::Table::parse(&mapping, map.as_bytes()).unwrap();
    for row in map_rows.rows().iter().step_by(40) {
        let f = &row.fields;
        let src = std::fs::read(hym.join(&f[0])).unwrap();
        let (oriented, _, _) = augtrain::data::decode::decode_full(&src, 100_000_000).unwrap();
        let exported = image::open(out2.join(&f[1])).unwrap();
        assert_eq!(oriented.to_rgba8(), exported.to_rgba8(), "{}", f[0]);
    }
}

/// The kinds of the chunks of a PNG file, in order (`IHDR`, `IDAT`, ...): nothing but image
/// data may be present in an export.
fn png_chunk_kinds(bytes: &[u8]) -> Vec<String> {
    let mut kinds = Vec::new();
    let mut i = 8;
    while i + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        kinds.push(String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned());
        i += 12 + len;
    }
    kinds
}

/// `sha256sum -c` (where installed) agrees with an export's `SHA256SUMS`.
fn assert_sha256sum_verifies(out: &Path) {
    if std::process::Command::new("sha256sum")
        .arg("--version")
        .output()
        .is_ok()
    {
        let check = std::process::Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(out)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

#[test]
fn export_bakes_exif_orientation_into_the_pixels() {
    let root = scratch("export-orientation");
    let ds = root.join("ds");
    for class in ["a", "b"] {
        std::fs::create_dir_all(ds.join(class)).unwrap();
        for i in 0..2u8 {
            let jpeg = augtrain::data::decode::jpeg_with_orientation(
                8 + i as u32 + 2 * (class == "b") as u32,
                4,
                6,
            );
            std::fs::write(ds.join(class).join(format!("{i}.jpg")), jpeg).unwrap();
        }
    }
    let out = root.join("clean");
    let stdout = ok(&augtrain(&[
        "export",
        ds.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(stdout.contains("4 carried metadata, 4 rotated"), "{stdout}");
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let (_, first) = sums.lines().next().unwrap().split_once("  ").unwrap();
    let png = image::open(out.join(first)).unwrap();
    assert!(
        png.width() == 4 && png.height() >= 8,
        "rotated into the pixels: {}x{}",
        png.width(),
        png.height()
    );
}

/// Writes the leaky annotated data set of the test below under `root` (photos in a person's
/// folder, annotator names, a duplicate image, an EXIF-rotated JPEG) and returns its COCO file.
fn leaky_coco(root: &Path) -> PathBuf {
    let photos = root.join("alice-smith/holiday");
    std::fs::create_dir_all(&photos).unwrap();
    for (i, shade) in [(0, 10u8), (1, 20), (2, 10)] {
        image::RgbImage::from_pixel(8, 6, image::Rgb([shade, 1, 2]))
            .save(photos.join(format!("IMG_{i}.png")))
            .unwrap();
    }
    std::fs::write(
        photos.join("IMG_3.jpg"),
        augtrain::data::decode::jpeg_with_orientation(8, 6, 6),
    )
    .unwrap();
    let image = |id: u64, name: &str, w: u32, h: u32| serde_json::json!({"id": id, "file_name": format!("alice-smith/holiday/{name}"), "width": w, "height": h});
    let ann = |id: u64, image_id: u64, who: &str| {
        serde_json::json!({"id": id, "image_id": image_id, "category_id": 5, "bbox": [1.0, 1.0, 2.0, 3.0],
                           "area": 6.0, "iscrowd": 0, "annotator": who})
    };
    let coco = serde_json::json!({
        "info": {"contributor": "Alice Smith", "date_created": "2024-05-01"},
        "licenses": [{"id": 1, "name": "private", "url": "http://alice.example"}],
        "images": [image(41, "IMG_0.png", 8, 6), image(42, "IMG_1.png", 8, 6),
                   image(43, "IMG_2.png", 8, 6), image(44, "IMG_3.jpg", 6, 8)],
        "annotations": [ann(901, 41, "alice@example.com"), ann(902, 42, "bob.jones"),
                        ann(903, 43, "bob.jones"), ann(904, 44, "alice@example.com"),
                        ann(905, 44, "carol")],
        "categories": [{"id": 5, "name": "kite"}],
    });
    let file = root.join("instances.json");
    std::fs::write(&file, serde_json::to_vec(&coco).unwrap()).unwrap();
    file
}

/// Checks that `out/SHA256SUMS` lists 3 images and `annotations.json` with digests that
/// verify, and that neither the annotations, the README nor the file names hold anything of
/// the originals (names, folder, dates, licence, object ids).
fn assert_checksummed_without_leaks(out: &Path) {
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let mut listed = std::collections::BTreeSet::new();
    for line in sums.lines() {
        let (sha, path) = line.split_once("  ").unwrap();
        assert_eq!(
            sha256_hex(&std::fs::read(out.join(path)).unwrap()),
            sha,
            "{path}"
        );
        listed.insert(path.to_string());
    }
    assert_eq!(listed.len(), 4, "{sums}"); // 3 images + annotations.json
    assert_eq!(
        listed.iter().filter(|p| p.starts_with("images/")).count(),
        3
    );
    let paths: String = listed.iter().map(|p| format!("{p}\n")).collect();
    for (what, text) in [
        (
            "annotations.json",
            std::fs::read_to_string(out.join("annotations.json")).unwrap(),
        ),
        (
            "README.md",
            std::fs::read_to_string(out.join("README.md")).unwrap(),
        ),
        ("file names", paths),
    ] {
        let text = text.to_lowercase();
        for leak in [
            "alice",
            "bob",
            "carol",
            "holiday",
            "img_",
            "2024-05-01",
            "private",
            "\"id\":901",
        ] {
            assert!(!text.contains(leak), "{leak} in {what}: {text}");
        }
    }
}

/// Annotated export: a COCO file naming people's folders and annotators, with a duplicate image
/// and a JPEG with EXIF orientation 6 (stored 8x6, shown 6x8). The export holds
/// `images/<hash>.png` and `annotations.json` naming them, no trace of the original names or
/// annotators, every object kept, checksums that verify; it reads back with every image found.
#[test]
fn annotated_export_renames_images_in_the_annotations_and_drops_what_leaks() {
    let root = scratch("export-annotated");
    let file = leaky_coco(&root);
    let out = root.join("clean");
    let mapping = root.join("mapping.csv");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let text = ok(&augtrain(&[
        "export",
        &s(&file),
        "--out",
        &s(&out),
        "--keep-mapping",
        &s(&mapping),
    ]));
    assert!(text.contains("exported 3 images (5 objects)"), "{text}");
    assert!(text.contains("1 merged"), "{text}");
    // Checksums cover every file and verify; nothing names Alice, Bob, Carol or the originals.
    assert_checksummed_without_leaks(&out);
    let exported = json(&out.join("annotations.json"));
    let images = exported["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    for im in images {
        let name = im["file_name"].as_str().unwrap();
        assert!(out.join(name).is_file(), "{name}");
        assert!(
            name.starts_with("images/") && name.len() == "images/".len() + 20,
            "{name}"
        );
    }
    let rotated = images
        .iter()
        .find(|i| i["width"] == 6)
        .expect("the rotated image, 6x8");
    assert_eq!(rotated["height"], 8);
    let anns = exported["annotations"].as_array().unwrap();
    assert_eq!(anns.len(), 5);
    let who: std::collections::BTreeSet<&str> = anns
        .iter()
        .map(|a| a["annotator"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["annotator-1", "annotator-2", "annotator-3"].into());
    // The mapping, outside the export, names the originals.
    let m = std::fs::read_to_string(&mapping).unwrap();
    assert_eq!(m.lines().count(), 5, "{m}");
    assert!(m.contains("alice-smith/holiday/IMG_3.jpg,images/"), "{m}");
    // Read back: every annotated image is found beside the annotations.
    let audit = augtrain(&[
        "audit",
        &s(&out.join("annotations.json")),
        "--json",
        &s(&root.join("a.json")),
    ]);
    assert!(audit.status.code().is_some_and(|c| c <= 1), "{audit:?}");
    let report = std::fs::read_to_string(root.join("a.json")).unwrap();
    assert!(!report.contains("missing_image"), "{report}");
    // --keep-annotators keeps the names.
    let kept = root.join("kept");
    ok(&augtrain(&[
        "export",
        &s(&file),
        "--out",
        &s(&kept),
        "--keep-annotators",
        "--quiet",
    ]));
    let text = std::fs::read_to_string(kept.join("annotations.json")).unwrap();
    assert!(text.contains("bob.jones"), "{text}");
}

/// An image annotated at a size it does not have after EXIF orientation is refused: one line
/// naming the image, exit 1, no export.
#[test]
fn annotated_export_refuses_an_annotated_size_the_image_does_not_have() {
    let root = scratch("export-annotated-size");
    std::fs::write(
        root.join("r.jpg"),
        augtrain::data::decode::jpeg_with_orientation(8, 6, 6),
    )
    .unwrap();
    let coco = serde_json::json!({
        "images": [{"id": 1, "file_name": "r.jpg", "width": 8, "height": 6}],
        "annotations": [], "categories": [{"id": 1, "name": "a"}],
    });
    let file = root.join("c.json");
    std::fs::write(&file, serde_json::to_vec(&coco).unwrap()).unwrap();
    let out = root.join("clean");
    let line = one_error_line(
        &augtrain(&[
            "export",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        1,
    );
    assert!(line.contains("r.jpg") && line.contains("6x8"), "{line}");
    assert!(!out.exists());
}
