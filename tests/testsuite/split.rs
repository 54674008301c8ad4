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
