//! `augtrain predict`: predictions, pseudo-labels and a review queue.

use crate::support::*;

#[test]
fn predict_writes_predictions_pseudo_labels_and_a_review_queue() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let Some(photos) = data("photos") else { return };
    let root = scratch("predict");
    let runs = root.join("runs");
    TrainArgs::new()
        .data(&hym)
        .size("32x32")
        .model("mlp")
        .epochs(2)
        .runs_dir(&runs)
        .name("m")
        .quiet()
        .run_ok();
    let out = root.join("pred");
    ok(&augtrain(&[
        "predict",
        "--run",
        runs.join("m").to_str().unwrap(),
        "--data",
        photos.to_str().unwrap(),
        "--pseudo-label",
        "--threshold",
        "0.0",
        "--max-per-class",
        "2",
        "--queue",
        "entropy",
        "--top",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(preds.lines().count(), 11);
    assert!(preds.starts_with("path,predicted,confidence,p_ants,p_bees"));
    let pseudo = std::fs::read_to_string(out.join("pseudo_labels.csv")).unwrap();
    assert!(
        (2..=5).contains(&pseudo.lines().count()),
        "at most 2 per class: {pseudo}"
    );
    let queue = std::fs::read_to_string(out.join("review_queue.csv")).unwrap();
    assert_eq!(queue.lines().count(), 5);
    // Entropy ranks: non-increasing down the queue.
    let ent: Vec<f64> = queue
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(ent.windows(2).all(|w| w[0] >= w[1]), "{ent:?}");
    // The pseudo-label manifest is a dataset augtrain reads.
    let v = stdout_json(&augtrain(&[
        "inspect",
        out.join("pseudo_labels.csv").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        v["images"].as_u64().unwrap() as usize,
        pseudo.lines().count() - 1
    );
}
