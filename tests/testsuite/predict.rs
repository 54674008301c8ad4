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

/// `augtrain ARGS`, killed after `secs` seconds: `None` when it had to be killed (a hang).
fn output_within(args: &[&str], secs: u64) -> Option<std::process::Output> {
    let mut child = augtrain_command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= secs {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

/// Symbolic-link loops under `--data` are walked once and a file reached twice is predicted
/// once, instead of hanging or predicting one image many times (issue 27, item 13).
#[test]
fn predict_walks_a_link_loop_once() {
    let root = scratch("predict-link-loop");
    let runs = root.join("runs");
    let run = small_mlp_run(&runs, "m");
    let images = root.join("images");
    std::fs::create_dir_all(images.join("sub")).unwrap();
    for (name, px) in [("red.png", [200, 10, 10]), ("sub/blue.png", [10, 10, 200])] {
        image::RgbImage::from_pixel(8, 8, image::Rgb(px))
            .save(images.join(name))
            .unwrap();
    }
    std::os::unix::fs::symlink(&images, images.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(&images, images.join("sub/loop2")).unwrap();
    std::os::unix::fs::symlink(images.join("red.png"), images.join("zz-again.png")).unwrap();
    let out_dir = root.join("out");
    let out = output_within(
        &[
            "predict",
            "--run",
            run.to_str().unwrap(),
            "--data",
            images.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ],
        120,
    )
    .expect("predict hung on a link loop");
    ok(&out);
    let preds = std::fs::read_to_string(out_dir.join("predictions.csv")).unwrap();
    assert_eq!(preds.lines().count(), 3, "two images, each once: {preds}");
}

/// A FIFO as `--pretrained` is refused before opening ("not a regular file"), instead of
/// blocking until someone writes to it (issue 27, item 13).
#[test]
fn a_fifo_as_pretrained_is_refused_without_blocking() {
    let root = scratch("predict-fifo");
    let fifo = root.join("weights.pth");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let images = image_folder(&root.join("images"), &["a"], 1).join("a");
    let out = output_within(
        &[
            "predict",
            "--pretrained",
            fifo.to_str().unwrap(),
            "--model",
            "resnet18",
            "--data",
            images.to_str().unwrap(),
            "--out",
            root.join("out").to_str().unwrap(),
        ],
        60,
    )
    .expect("predict blocked on a FIFO");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(!root.join("out").exists());
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
