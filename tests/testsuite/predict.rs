//! `augtrain predict`: predictions, pseudo-labels and a review queue.

use std::path::{Path, PathBuf};

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

/// A small run exported as safetensors (`export-model`) under `root`; the file.
fn exported(root: &Path, model: &str) -> PathBuf {
    let runs = root.join("runs");
    TrainArgs::small()
        .model(model)
        .epochs(1)
        .synthetic(200, 40)
        .runs_dir(&runs)
        .name(model)
        .quiet()
        .run_ok();
    let file = root.join(format!("{model}.safetensors"));
    ok(&augtrain(&[
        "export-model",
        "--run",
        runs.join(model).to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
        "--quiet",
    ]));
    file
}

/// A NaN weight or a negative batch-norm running variance made every prediction "NaN" with
/// exit 0, and `train` blamed the learning rate: refused on loading, naming the file and the
/// tensor (issue 27, item 8).
#[test]
fn weights_holding_a_nan_or_a_negative_variance_are_refused_naming_the_tensor() {
    let root = scratch("predict-nan-weights");
    let images = fixtures_folder(&root);
    let mlp = exported(&root, "mlp");
    set_safetensors_value(&mlp, "hidden.weight", 3, f32::NAN);
    let out = augtrain(&[
        "predict",
        "--pretrained",
        mlp.to_str().unwrap(),
        "--model",
        "mlp",
        "--data",
        images.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        root.join("pred").to_str().unwrap(),
    ]);
    let line = one_error_line(&out, 1);
    assert!(line.contains("mlp.safetensors"), "{line}");
    assert!(
        line.contains("tensor hidden.weight holds NaN at index 3"),
        "{line}"
    );
    assert!(!root.join("pred").exists());
    let train = TrainArgs::small()
        .model("mlp")
        .epochs(1)
        .synthetic(200, 40)
        .set_path("--pretrained", &mlp)
        .runs_dir(&root.join("runs"))
        .name("from-nan")
        .run();
    let line = one_error_line(&train, 1);
    assert!(line.contains("hidden.weight holds NaN"), "{line}");
    assert!(!line.contains("learning rate"), "{line}");

    let resnet = exported(&root, "resnet-small");
    let var = safetensors_keys(&resnet)
        .into_iter()
        .find(|k| k.ends_with("running_var"))
        .expect("a batch norm");
    set_safetensors_value(&resnet, &var, 0, -0.5);
    let out = augtrain(&[
        "predict",
        "--pretrained",
        resnet.to_str().unwrap(),
        "--model",
        "resnet-small",
        "--data",
        images.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        root.join("pred2").to_str().unwrap(),
    ]);
    let line = one_error_line(&out, 1);
    assert!(
        line.contains(&format!("tensor {var} holds -0.5 at index 0")),
        "{line}"
    );
    assert!(line.contains("cannot be negative"), "{line}");
}

/// A folder of a few 8x8 PNGs to predict on.
fn fixtures_folder(root: &Path) -> PathBuf {
    image_folder(&root.join("images"), &["a", "b"], 3)
}

/// `export-model` records the run's class names and input shape; `predict --pretrained`
/// used neither (the MLP of a 32x32 run did not even load, built for 64x64, and classes were
/// numbers).
#[test]
fn predict_with_an_exported_model_uses_its_class_names_and_input_shape() {
    let root = scratch("predict-exported");
    let images = fixtures_folder(&root);
    let mlp = exported(&root, "mlp");
    let out = root.join("pred");
    ok(&augtrain(&[
        "predict",
        "--pretrained",
        mlp.to_str().unwrap(),
        "--model",
        "mlp",
        "--data",
        images.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let run_classes = json(&root.join("runs/mlp/model.json"))["class_names"].clone();
    let names: Vec<String> = run_classes
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("p_{}", v.as_str().unwrap()))
        .collect();
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let header = preds.lines().next().unwrap();
    assert_eq!(
        header,
        format!("path,predicted,confidence,{}", names.join(","))
    );
    assert_eq!(preds.lines().count(), 7);
}

/// PyTorch files built to exhaust memory (`fuzz/regressions/pth/`): a 101 KB file whose
/// pickle unpacks to 99 MB of one-byte opcodes made burn-store's reader allocate 11.8 GB and
/// abort (exit 134); compression and size-claim bombs. Each is refused in one line before the
/// reader sees it, under a 16 GiB address-space limit.
#[test]
fn pth_files_built_to_exhaust_memory_are_refused_before_reading() {
    let root = scratch("predict-pth-bombs");
    let images = fixtures_folder(&root);
    let mut seen = 0;
    for (kind, dir) in augtrain_fuzz_targets::input_dirs("pth") {
        if kind != augtrain_fuzz_targets::InputKind::Regression {
            continue;
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().path();
            let out = augtrain_limited(
                &[
                    "predict",
                    "--pretrained",
                    file.to_str().unwrap(),
                    "--model",
                    "resnet18",
                    "--data",
                    images.to_str().unwrap(),
                    "--device",
                    "cpu",
                    "--out",
                    root.join("pred").to_str().unwrap(),
                ],
                16 << 30,
            );
            let line = one_error_line(&out, 1);
            assert!(line.contains("is refused before reading"), "{line}");
            assert!(
                line.contains(file.file_name().unwrap().to_str().unwrap()),
                "{line}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "only {seen} hostile files");
}

/// A ResNet-18 file passed as `--model efficientnet-lite0` was told to train a head with the
/// same wrong model ("train one: augtrain train --pretrained F --model efficientnet-lite0"),
/// which cannot work: the advice now names the architecture the file is, and that command
/// predicts.
#[test]
fn a_file_of_another_architecture_gets_a_command_that_works() {
    let Some(models) = data("models") else { return };
    let root = scratch("predict-other-arch");
    let images = fixtures_folder(&root);
    let file = models.join("resnet18-random-seed0.pth");
    let run = |model: &str, out: &str| {
        augtrain(&[
            "predict",
            "--pretrained",
            file.to_str().unwrap(),
            "--model",
            model,
            "--data",
            images.to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            root.join(out).to_str().unwrap(),
            "--quiet",
        ])
    };
    let line = one_error_line(&run("efficientnet-lite0", "wrong"), 1);
    assert!(line.contains("holds resnet18 weights"), "{line}");
    assert!(line.contains("--model resnet18"), "{line}");
    assert!(!line.contains("augtrain train"), "{line}");
    let model = line
        .split("--model ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap();
    ok(&run(model, "right"));
    assert!(root.join("right/predictions.csv").exists());
}

/// `export-model` wrote every `num_batches_tracked` as 0; PyTorch counts the training
/// batches each batch norm updated its statistics on, and so does the export now.
#[test]
fn exported_batch_norms_count_the_batches_they_trained_on() {
    let root = scratch("export-num-batches");
    let file = exported(&root, "resnet-small");
    let dataset = json(&root.join("runs/resnet-small/dataset.json"));
    let train: u64 = dataset["counts"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    let expected = train.div_ceil(32) as i64; // one epoch, batch 32
    let bytes = std::fs::read(&file).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut seen = 0;
    for (key, info) in header.as_object().unwrap() {
        if !key.ends_with("num_batches_tracked") {
            continue;
        }
        assert_eq!(info["dtype"], "I64");
        let start = 8 + n + info["data_offsets"][0].as_u64().unwrap() as usize;
        let value = i64::from_le_bytes(bytes[start..start + 8].try_into().unwrap());
        assert_eq!(value, expected, "{key}");
        seen += 1;
    }
    assert!(seen > 0, "no batch norm in the export");
}
