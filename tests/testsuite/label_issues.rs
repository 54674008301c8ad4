//! `augtrain label-issues`: planted label noise in MNIST, cleanlab's sets on real predicted
//! probabilities.

use crate::support::*;

#[test]
fn label_issues_find_planted_label_noise_in_mnist() {
    use augtrain::data::idx::{read_labels, write_labels};
    use augtrain::util::rng::{Domain, Stream};
    let Some(mnist) = data("mnist-10k") else {
        return;
    };
    let root = scratch("label-noise");
    let noisy = root.join("noisy");
    std::fs::create_dir_all(&noisy).unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(mnist.join(f), noisy.join(f)).unwrap();
    }
    // Flip 10% of the training labels to another class, with a fixed seed.
    let mut labels = read_labels(&mnist.join("train-labels-idx1-ubyte.gz")).unwrap();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    let mut rng = Stream::new(Domain::Split, &[2026]);
    rng.shuffle(&mut order);
    let flipped: std::collections::BTreeSet<usize> =
        order[..labels.len() / 10].iter().copied().collect();
    for &i in &flipped {
        labels[i] = ((labels[i] as u64 + 1 + rng.below(9)) % 10) as u8;
    }
    write_labels(&noisy.join("train-labels-idx1-ubyte.gz"), &labels, true).unwrap();
    let out = root.join("issues");
    ok(&augtrain(&[
        "label-issues",
        noisy.to_str().unwrap(),
        "--folds",
        "5",
        "--model",
        "mlp",
        "--epochs",
        "5",
        "--device",
        "cpu",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    // Out-of-sample probabilities for every example.
    let probs = std::fs::read_to_string(out.join("pred_probs.csv")).unwrap();
    assert_eq!(probs.lines().count(), 10_001);
    let found: std::collections::BTreeSet<usize> =
        std::fs::read_to_string(out.join("label_issues.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
    let hits = found.intersection(&flipped).count() as f64;
    let (precision, recall) = (hits / found.len() as f64, hits / flipped.len() as f64);
    eprintln!(
        "planted 800 flips; flagged {}; precision {precision:.3}, recall {recall:.3}",
        found.len()
    );
    assert!(precision >= 0.8, "precision {precision}");
    assert!(recall >= 0.7, "recall {recall}");
    let queue: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("review_queue.json")).unwrap())
            .unwrap();
    assert_eq!(queue.as_array().unwrap().len(), found.len());
    assert!(queue[0]["predictions"][0]["result"][0]["value"]["choices"].is_array());
}

#[test]
fn label_issues_on_real_pred_probs_match_cleanlab() {
    let Some(dir) = data("label-errors") else {
        return;
    };
    let root = scratch("real-label-errors");
    let out = root.join("o");
    ok(&augtrain(&[
        "label-issues",
        "--pred-probs",
        dir.join("mnist-test-pred-probs.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let ours: Vec<usize> = std::fs::read_to_string(out.join("label_issues.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/cleanlab_mnist.json")).unwrap();
    let want: Vec<usize> = reference["ranked_self_confidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(ours, want, "same issues in the same order as cleanlab");
    // Against the human review: a given label with fewer than 3 of 5 votes is a confirmed error.
    let review = std::fs::read_to_string(dir.join("mnist-test-human-review.csv")).unwrap();
    let confirmed: std::collections::BTreeSet<usize> = review
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].parse::<u32>().unwrap() < 3).then(|| f[0].parse().unwrap())
        })
        .collect();
    let hits = ours.iter().filter(|i| confirmed.contains(i)).count();
    eprintln!(
        "real MNIST test set: {} flagged, {} of them confirmed by human review ({} confirmed errors in all)",
        ours.len(),
        hits,
        confirmed.len()
    );
    assert!(hits > 0);
}

/// Twelve distinct 8x8 images, six per class `a` and `b`, and out-of-sample probabilities
/// that call two of the `a` images `b`.
fn two_class_folder_with_probabilities(root: &std::path::Path) -> std::path::PathBuf {
    let data = root.join("data");
    let mut probs = String::from("p0,p1\n");
    for (class, c) in [("a", 0u8), ("b", 1u8)] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for i in 0..6u8 {
            let px = image::Rgb([40 * i, 100 + 100 * c, 7 * i + c]);
            image::RgbImage::from_pixel(8, 8, px)
                .save(data.join(class).join(format!("{i}.png")))
                .unwrap();
            let p_b = match (c, i) {
                (0, 0 | 1) => 0.95,
                (0, _) => 0.1,
                _ => 0.9,
            };
            probs.push_str(&format!("{},{p_b}\n", 1.0 - p_b));
        }
    }
    std::fs::write(root.join("pred_probs.csv"), probs).unwrap();
    data
}

/// With DATA, the review queue names each image by its absolute path (as `predict`'s does) and
/// comes with a labeling config listing the classes.
#[test]
fn label_issues_queue_names_images_by_absolute_path_with_a_labeling_config() {
    let root = scratch("label-issues-studio");
    let data = two_class_folder_with_probabilities(&root);
    let out = root.join("out");
    ok(&augtrain(&[
        "label-issues",
        data.to_str().unwrap(),
        "--pred-probs",
        root.join("pred_probs.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let issues = std::fs::read_to_string(out.join("label_issues.csv")).unwrap();
    let flagged = issues.lines().count() - 1;
    assert!(flagged >= 1, "{issues}");
    assert!(
        issues.contains("a/0.png") || issues.contains("a/1.png"),
        "{issues}"
    );
    crate::predict::assert_label_studio_queue(&out, flagged, &["a", "b"]);
}

/// Probabilities of another dataset (a row more) are a data error (exit 1), not a usage error,
/// and nothing is written.
#[test]
fn probabilities_of_other_data_are_a_data_error() {
    let root = scratch("label-issues-mismatch");
    let data = two_class_folder_with_probabilities(&root);
    let file = root.join("pred_probs.csv");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("0.5,0.5\n");
    std::fs::write(&file, text).unwrap();
    let out = root.join("out");
    let run = augtrain(&[
        "label-issues",
        data.to_str().unwrap(),
        "--pred-probs",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("13 rows") && stderr.contains("12 images"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
}
