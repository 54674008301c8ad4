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
    assert_label_studio_queue(&out, 4, &["ants", "bees"]);
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

/// `dir`'s Label Studio queue: `n` tasks whose images are absolute paths of existing files, and
/// a labeling config declaring the fields the tasks use and every class.
pub fn assert_label_studio_queue(dir: &std::path::Path, n: usize, classes: &[&str]) {
    let tasks = json(&dir.join("review_queue.json"));
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), n);
    for t in tasks {
        let image = std::path::Path::new(t["data"]["image"].as_str().unwrap());
        assert!(
            image.is_absolute() && image.is_file(),
            "{}",
            image.display()
        );
        let result = &t["predictions"][0]["result"][0];
        assert_eq!(result["from_name"], "label");
        assert_eq!(result["to_name"], "image");
    }
    let xml = std::fs::read_to_string(dir.join("labeling_config.xml")).unwrap();
    assert!(
        xml.contains("<Image name=\"image\" value=\"$image\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("<Choices name=\"label\" toName=\"image\""),
        "{xml}"
    );
    for c in classes {
        assert!(xml.contains(&format!("<Choice value=\"{c}\"/>")), "{xml}");
    }
}

/// `--on-error fail` stops at the first unusable image and writes nothing; the default skips
/// it and lists it in `skipped.csv`.
#[test]
fn predict_on_error_fails_or_skips_an_unusable_image() {
    let root = scratch("predict-on-error");
    let runs = root.join("runs");
    small_mlp_run(&runs, "m");
    let images = root.join("images");
    std::fs::create_dir_all(&images).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]))
        .save(images.join("red.png"))
        .unwrap();
    std::fs::write(images.join("broken.png"), b"not a png").unwrap();
    let run = runs.join("m");
    let failed = root.join("failed");
    let out = augtrain(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--data",
        images.to_str().unwrap(),
        "--on-error",
        "fail",
        "--out",
        failed.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(!failed.exists(), "nothing written");
    let skipped = root.join("skipped");
    ok(&augtrain(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--data",
        images.to_str().unwrap(),
        "--out",
        skipped.to_str().unwrap(),
        "--quiet",
    ]));
    let preds = std::fs::read_to_string(skipped.join("predictions.csv")).unwrap();
    assert_eq!(preds.lines().count(), 2, "{preds}");
    let list = std::fs::read_to_string(skipped.join("skipped.csv")).unwrap();
    assert!(list.contains("broken.png"), "{list}");
}

/// A `--class-names` file listing a name twice, or starting with a byte-order mark, is an
/// error naming the file and line (exit 1: the file's contents), before any weights are read;
/// a clean list passes (and the missing weights file is the error). Before, both were taken:
/// two outputs with one name, or a first class named "\u{feff}tench".
#[test]
fn class_names_files_with_a_duplicate_or_a_byte_order_mark_are_refused() {
    let root = scratch("class-names");
    let ds = image_folder(&root.join("ds"), &["blue"], 2);
    let weights = root.join("never-read.pth");
    for (name, text, expect) in [
        (
            "dup.txt",
            "tench\ngoldfish\n\ntench\n",
            "line 4: 'tench' is listed twice",
        ),
        ("bom.txt", "\u{feff}tench\ngoldfish\n", "line 1: entry 1"),
        ("clean.txt", "tench\ngoldfish\n", "never-read.pth"),
    ] {
        let file = root.join(name);
        std::fs::write(&file, text).unwrap();
        let out = augtrain(&[
            "predict",
            "--pretrained",
            weights.to_str().unwrap(),
            "--model",
            "resnet18",
            "--class-names",
            file.to_str().unwrap(),
            "--data",
            ds.to_str().unwrap(),
            "--device",
            "cpu",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: {stderr}");
        assert_eq!(
            stderr.contains(name),
            name != "clean.txt",
            "{name}: {stderr}"
        );
    }
}
