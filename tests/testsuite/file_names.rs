//! File names that CSV files and terminals find hard: a comma, a quote, a line break, an escape
//! sequence and bytes that are not UTF-8. Every CSV augtrain writes reads back through its own
//! reader with the exact paths, and no name reaches the terminal raw.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// The hard names, as raw bytes (a file system name may hold any byte but `/` and NUL).
const HARD_NAMES: [&[u8]; 5] = [
    b"comma, \"quoted\".png",
    b"line\nbreak.png",
    b"\x1b]0;pwned\x07title.png",
    b"latin1 \xe9t\xe9.png",
    b"plain.png",
];

/// Classes `a` and `b`, each holding one distinct image under every hard name, and a broken
/// file whose name would clear the screen (so that it is listed as skipped).
fn hard_folder(root: &Path) -> PathBuf {
    let data = root.join("data");
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for (i, name) in HARD_NAMES.iter().enumerate() {
            let px = image::Rgb([40 * i as u8, 120 * c as u8, 60]);
            let path = data.join(class).join(std::ffi::OsStr::from_bytes(name));
            image::RgbImage::from_pixel(8, 8, px)
                .save_with_format(&path, image::ImageFormat::Png)
                .unwrap();
        }
    }
    std::fs::write(data.join("a").join("\x1b[2Jclear.png"), b"not a png").unwrap();
    data
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A split file of the hard folder, applied by `pack --split`: every image keeps its split.
#[test]
fn split_files_and_packs_keep_every_hard_name() {
    let root = scratch("hard-names-split");
    let data = hard_folder(&root);
    let split = root.join("s.csv");
    ok(&augtrain(&[
        "split",
        path(&data),
        "--val",
        "0.2",
        "--test",
        "0.2",
        "--out",
        path(&split),
        "--quiet",
    ]));
    let rows = augtrain::data::split::read_split_file(&split).unwrap();
    assert_eq!(rows.len(), 10, "{rows:?}");
    let pack = root.join("p.pack");
    ok(&augtrain(&[
        "pack",
        path(&data),
        "--split",
        path(&split),
        "--size",
        "8x8",
        "--out",
        path(&pack),
        "--quiet",
    ]));
    let v = stdout_json(&augtrain(&["inspect", path(&pack), "--json"]));
    assert_eq!(v["images"], 10, "{v}");
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0, "{v}");
    let per_split = |name: &str| {
        v["counts"][name]
            .as_array()
            .map(|c| c.iter().map(|n| n.as_u64().unwrap()).sum::<u64>())
            .unwrap_or(0)
    };
    for s in ["train", "val", "test"] {
        let want = rows.iter().filter(|r| r.split.to_string() == s).count() as u64;
        assert_eq!(per_split(s), want, "{s}: {v}");
    }
    let index = augtrain::data::csv::Table::read(&pack.join("index.csv")).unwrap();
    assert_eq!(index.rows().len(), 10);
}

/// `predict --pseudo-label` writes a manifest naming every hard file; `inspect` reads it back
/// with no file missing, and nothing printed holds a raw escape character.
#[test]
fn pseudo_label_manifests_read_back_and_names_print_escaped() {
    let root = scratch("hard-names-predict");
    let data = hard_folder(&root);
    let runs = root.join("runs");
    small_mlp_run(&runs, "m");
    let out = root.join("pred");
    let printed = ok(&augtrain(&[
        "predict",
        "--run",
        path(&runs.join("m")),
        "--data",
        path(&data),
        "--pseudo-label",
        "--threshold",
        "0",
        "--out",
        path(&out),
    ]));
    assert!(
        !printed.contains('\x1b') && !printed.contains('\x07'),
        "{printed:?}"
    );
    let v = stdout_json(&augtrain(&[
        "inspect",
        path(&out.join("pseudo_labels.csv")),
        "--json",
    ]));
    assert_eq!(v["images"], 10, "{v}");
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0, "{v}");
    let text = ok(&augtrain(&["inspect", path(&data)]));
    assert!(
        text.contains("clear.png"),
        "the broken file is listed: {text}"
    );
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
}
