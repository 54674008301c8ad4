//! `augtrain export`: privacy-clean, checksummed, EXIF orientation baked into the pixels.

use std::path::Path;

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
