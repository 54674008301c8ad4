//! `augtrain split`: stratified, duplicates kept together, reused by `train --split`.

use crate::support::*;

#[test]
fn split_is_stratified_keeps_duplicates_together_and_train_reuses_it() {
    let root = scratch("split");
    let ds = root.join("ds");
    if real_folder(&ds, &["ants", "bees"], 30).is_none() {
        return;
    }
    // Exact duplicates under other names (re-saved bytes are equal, so pixels are equal).
    for i in 0..5 {
        std::fs::copy(
            ds.join(format!("ants/ants-{i}.jpg")),
            ds.join(format!("ants/copy-{i}.jpg")),
        )
        .unwrap();
    }
    let file = root.join("s.csv");
    ok(&augtrain(&[
        "split",
        ds.to_str().unwrap(),
        "--val",
        "0.2",
        "--test",
        "0.2",
        "--seed",
        "3",
        "--folds",
        "3",
        "--out",
        file.to_str().unwrap(),
        "--size",
        "24x24",
        "--quiet",
    ]));
    let rows: Vec<Vec<String>> = augtrain::data::csv::Table::read(&file)
        .unwrap()
        .rows()
        .iter()
        .map(|r| r.fields.clone())
        .collect();
    assert_eq!(rows.len(), 65);
    let split_of = |name: &str| rows.iter().find(|r| r[4].ends_with(name)).unwrap()[1].clone();
    for i in 0..5 {
        assert_eq!(
            split_of(&format!("ants-{i}.jpg")),
            split_of(&format!("copy-{i}.jpg")),
            "duplicate {i} split apart"
        );
    }
    assert_stratified(&rows);
    let test_rows = rows.iter().filter(|r| r[1] == "test").count();
    let runs = root.join("runs");
    TrainArgs::new()
        .data(&ds)
        .set_path("--split", &file)
        .size("24x24")
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .name("r")
        .quiet()
        .run_ok();
    assert_eq!(
        json(&runs.join("r/report.json"))["samples"]
            .as_u64()
            .unwrap() as usize,
        test_rows
    );
}

/// A class with a single image cannot be stratified: `split` fails with scikit-learn's error
/// and writes nothing.
#[test]
fn split_refuses_a_class_with_a_single_image_like_scikit_learn() {
    let root = scratch("split-lonely");
    let lonely = root.join("lonely");
    if real_folder(&lonely, &["many", "one"], 6).is_none() {
        return;
    }
    for i in 1..6 {
        std::fs::remove_file(lonely.join(format!("one/one-{i}.jpg"))).unwrap();
    }
    let out = augtrain(&[
        "split",
        lonely.to_str().unwrap(),
        "--out",
        root.join("x.csv").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("The least populated class in y has only 1 member")
            && stderr.contains("'one'"),
        "{stderr}"
    );
    assert!(!root.join("x.csv").exists());
}

/// Each class's validation and test shares are the requested 0.2 (within one image; one
/// duplicate group more for the class holding duplicates), and every training row has a fold.
/// Rows are a split file's fields: `id,split,fold,label,path`.
fn assert_stratified(rows: &[Vec<String>]) {
    for class in ["ants", "bees"] {
        let members: Vec<&Vec<String>> = rows.iter().filter(|r| r[3] == class).collect();
        let n = members.len() as f64;
        for (split, frac) in [("val", 0.2), ("test", 0.2)] {
            let got = members.iter().filter(|r| r[1] == split).count() as f64;
            // Exact ratio ±1 per class; a class with duplicate groups may miss by one group more.
            let tolerance = if class == "bees" { 1.0 } else { 2.0 };
            assert!(
                (got - frac * n).abs() <= tolerance,
                "{class} {split}: {got} of {n}"
            );
        }
        assert!(
            members
                .iter()
                .filter(|r| r[1] == "train")
                .all(|r| !r[2].is_empty()),
            "train rows have folds"
        );
    }
}

/// An existing `--out` is refused before any work (exit 1, the file untouched); `--force`
/// replaces it. `--folds` beyond what the training images allow is a usage error, as
/// scikit-learn's `StratifiedKFold` has it, and writes nothing.
#[test]
fn split_refuses_an_existing_out_and_checks_folds_like_scikit_learn() {
    let root = scratch("split-out");
    let data = image_folder(&root.join("data"), &["a", "b"], 10);
    let out = root.join("s.csv");
    std::fs::write(&out, "precious").unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "split",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.push("--quiet");
        augtrain(&a)
    };
    let refused = args(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("s.csv") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    for folds in ["1", "50"] {
        let bad = args(&["--force", "--folds", folds]);
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(2), "--folds {folds}: {stderr}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    }
    ok(&args(&["--force", "--folds", "2"]));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("id,split,fold,label,path"), "{text}");
}

/// A COCO file of 120 small PNG images under `dir/images`: classes present by a fixed pattern
/// (class 0 common, class 3 rare, several per image), 20 images without objects, and images 1
/// and 2 with equal pixels under different names. Returns the annotation file.
fn annotated_coco(dir: &std::path::Path) -> std::path::PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut imgs = Vec::new();
    let mut anns = Vec::new();
    for i in 0..120u64 {
        let name = format!("img-{i:03}.png");
        let shade = if i == 2 { 1 } else { i as u8 };
        image::RgbImage::from_pixel(8, 6, image::Rgb([shade, 3, 5]))
            .save(images.join(&name))
            .unwrap();
        imgs.push(serde_json::json!({"id": 1000 + i, "file_name": format!("images/{name}"), "width": 8, "height": 6}));
        if i % 6 == 5 {
            continue; // without objects
        }
        let mut classes = vec![1 + (i % 4 == 0) as u64 * 2]; // category ids 1 or 3
        if i % 3 == 0 {
            classes.push(2);
        }
        if i % 10 == 1 {
            classes.push(7); // the rare class
        }
        for (k, c) in classes.iter().enumerate() {
            for copy in 0..=(k as u64 % 2) {
                anns.push(serde_json::json!({
                    "id": anns.len() as u64 + 1, "image_id": 1000 + i, "category_id": c,
                    "bbox": [1.0 + copy as f64, 1.0, 3.0, 2.0], "area": 6.0, "iscrowd": 0,
                }));
            }
        }
    }
    let coco = serde_json::json!({
        "images": imgs, "annotations": anns,
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"},
                       {"id": 3, "name": "bike"}, {"id": 7, "name": "dog"}],
    });
    let file = dir.join("instances.json");
    std::fs::write(&file, serde_json::to_vec(&coco).unwrap()).unwrap();
    file
}

/// Checks that `ids`, the images of `split` (its `share` of the data), hold each class of
/// `input` (category ids 1, 2, 3, 7; 0 stands for the images without objects) within 2 images
/// of that share.
fn assert_classes_stratified(
    input: &serde_json::Value,
    split: &str,
    share: f64,
    ids: &[&serde_json::Value],
) {
    let labels_of = |image_id: &serde_json::Value| -> Vec<u64> {
        let mut v: Vec<u64> = input["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["image_id"] == *image_id)
            .map(|a| a["category_id"].as_u64().unwrap())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // Per class (category id), and 0 for images without objects.
    for class in [0u64, 1, 2, 3, 7] {
        let has = |id: &serde_json::Value| {
            let l = labels_of(id);
            if class == 0 {
                l.is_empty()
            } else {
                l.contains(&class)
            }
        };
        let total = input["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| has(&i["id"]))
            .count();
        let got = ids.iter().filter(|id| has(id)).count() as f64;
        let want = share * total as f64;
        assert!(
            (got - want).abs() <= 2.0,
            "{split} class {class}: {got} of {total}"
        );
    }
}

/// Annotated data: images stratified by the classes present (each class and the images without
/// objects within 2 images of their share in every split), every annotation in exactly one
/// split's COCO file, duplicates together, folds on the training images, split.csv.
#[test]
fn annotated_split_is_stratified_per_class_and_writes_coco_per_split() {
    let root = scratch("split-annotated");
    let coco = annotated_coco(&root);
    let out = root.join("out");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let text = ok(&augtrain(&[
        "split",
        &s(&coco),
        "--val",
        "0.2",
        "--test",
        "0.2",
        "--seed",
        "4",
        "--folds",
        "3",
        "--out",
        &s(&out),
    ]));
    assert!(
        text.contains("(no objects)") && text.contains("dog"),
        "{text}"
    );
    let input = json(&coco);
    let mut seen_ann = Vec::new();
    let mut split_of_image = std::collections::HashMap::new();
    for (split, share) in [("train", 0.6), ("val", 0.2), ("test", 0.2)] {
        let part = json(&out.join(split).join("annotations.json"));
        assert_eq!(
            part["categories"], input["categories"],
            "{split}: every class kept"
        );
        for a in part["annotations"].as_array().unwrap() {
            seen_ann.push(a["id"].as_u64().unwrap());
        }
        let ids: Vec<&serde_json::Value> = part["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"])
            .collect();
        for id in &ids {
            split_of_image.insert(id.as_u64().unwrap(), split);
        }
        assert_classes_stratified(&input, split, share, &ids);
    }
    seen_ann.sort();
    let all: Vec<u64> = (1..=input["annotations"].as_array().unwrap().len() as u64).collect();
    assert_eq!(seen_ann, all, "every annotation exactly once");
    assert_eq!(split_of_image.len(), 120);
    assert_eq!(
        split_of_image[&1001], split_of_image[&1002],
        "duplicates split apart"
    );
    let rows: Vec<Vec<String>> = augtrain::data::csv::Table::read(&out.join("split.csv"))
        .unwrap()
        .rows()
        .iter()
        .map(|r| r.fields.clone())
        .collect();
    assert_eq!(rows.len(), 120);
    for r in &rows {
        let id: u64 = r[0].parse().unwrap();
        assert_eq!(r[1], split_of_image[&id], "{r:?}");
        assert_eq!(
            r[2].is_empty(),
            r[1] != "train",
            "folds on training rows only: {r:?}"
        );
        assert_eq!(r[4], format!("images/img-{:03}.png", id - 1000));
    }
    // An existing output is refused, and replaced with --force.
    let again = augtrain(&["split", &s(&coco), "--out", &s(&out)]);
    let line = one_error_line(&again, 1);
    assert!(line.contains("--force"), "{line}");
    ok(&augtrain(&[
        "split",
        &s(&coco),
        "--out",
        &s(&out),
        "--force",
        "--quiet",
    ]));
}

/// YOLO in, YOLO out per split; a bad annotation file fails with one line and writes nothing.
#[test]
fn annotated_split_keeps_the_input_format_and_refuses_bad_files() {
    let root = scratch("split-annotated-yolo");
    let coco = annotated_coco(&root);
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let yolo = root.join("yolo");
    ok(&augtrain(&[
        "convert",
        &s(&coco),
        "--to",
        "yolo",
        "--out",
        &s(&yolo),
        "--quiet",
    ]));
    // YOLO names images relative to images/ beside labels/ (here images/images/...).
    let copies = yolo.join("images/images");
    std::fs::create_dir_all(&copies).unwrap();
    for e in std::fs::read_dir(root.join("images")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copies.join(e.file_name())).unwrap();
    }
    let out = root.join("out");
    ok(&augtrain(&[
        "split",
        &s(&yolo),
        "--out",
        &s(&out),
        "--quiet",
    ]));
    let mut labels = 0;
    for split in ["train", "val", "test"] {
        assert!(out.join(split).join("data.yaml").is_file(), "{split}");
        labels += std::fs::read_dir(out.join(split).join("labels/images"))
            .unwrap()
            .count();
    }
    assert_eq!(labels, 120);
    let bad = root.join("bad.json");
    std::fs::write(&bad, r#"{"images": [{"id": 1, "file_name": "../x.png", "width": 4, "height": 4}], "annotations": [], "categories": []}"#).unwrap();
    let bad_out = root.join("bad-out");
    let line = one_error_line(&augtrain(&["split", &s(&bad), "--out", &s(&bad_out)]), 1);
    assert!(line.contains("bad.json"), "{line}");
    assert!(!bad_out.exists());
}
