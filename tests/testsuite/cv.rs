//! `augtrain cv`: stratified k-fold cross-validation and its out-of-sample probabilities.

use crate::support::*;

fn cv(data: &std::path::Path, out: &std::path::Path, folds: &str) -> std::process::Output {
    augtrain(&[
        "cv",
        data.to_str().unwrap(),
        "--folds",
        folds,
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--size",
        "8x8",
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
}

/// Out-of-sample probabilities for every image, each row a distribution.
#[test]
fn cv_writes_a_probability_row_for_every_image() {
    let root = scratch("cv");
    let data = image_folder(&root.join("data"), &["a", "b"], 6);
    let out = root.join("out");
    ok(&cv(&data, &out, "3"));
    let table = augtrain::data::csv::Table::read(&out.join("pred_probs.csv")).unwrap();
    assert_eq!(table.rows().len(), 12);
    let (p0, p1) = (table.column("p0").unwrap(), table.column("p1").unwrap());
    for row in table.rows() {
        let sum: f64 = [p0, p1]
            .iter()
            .map(|&c| row.fields[c].parse::<f64>().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    }
    assert_eq!(
        json(&out.join("folds.json"))["folds"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// `--folds` is checked like scikit-learn's `StratifiedKFold` (usage errors, exit 2, with its
/// message) before any fold trains, and nothing is written.
#[test]
fn cv_folds_are_checked_like_scikit_learn() {
    let root = scratch("cv-folds");
    let data = image_folder(&root.join("data"), &["a", "b"], 4);
    let out = root.join("out");
    for (folds, message) in [
        ("1", "use at least 2"),
        ("9", "greater than the number of samples"),
        (
            "5",
            "cannot be greater than the number of members in each class",
        ),
    ] {
        let run = cv(&data, &out, folds);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "--folds {folds}: {stderr}");
        assert!(stderr.contains(message), "--folds {folds}: {stderr}");
        assert!(!out.exists(), "--folds {folds} wrote {}", out.display());
    }
}
