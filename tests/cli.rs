//! End-to-end tests of the `augtrain` binary: training on the CPU and on the (software) GPU,
//! real MNIST, malformed input, eval reproducing train, resume, determinism.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A small, fast synthetic run on the CPU.
fn small_run(runs: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--synthetic-train",
        "3000",
        "--synthetic-test",
        "300",
        "--batch-size",
        "32",
        "--runs-dir",
    ];
    let runs = runs.to_str().unwrap().to_string();
    args.push(&runs);
    args.extend_from_slice(&["--name", name]);
    args.extend_from_slice(extra);
    ok(&augtrain(&args))
}

#[test]
fn train_synthetic_on_cpu_learns_and_writes_the_run_directory() {
    let runs = scratch("cpu-train");
    let stdout = small_run(&runs, "r", &[]);
    assert!(stdout.contains("epoch 2/2"), "{stdout}");
    let dir = runs.join("r");
    for f in [
        "config.toml",
        "metrics.jsonl",
        "report.txt",
        "report.json",
        "predictions.csv",
        "confusion.csv",
        "checkpoint.bin",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let report = json(&dir.join("report.json"));
    let acc = report["accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.25,
        "2 epochs should beat chance (0.1) clearly: {acc}"
    );
    assert_eq!(report["samples"].as_u64(), Some(300));
    let preds = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
    let rows: Vec<&str> = preds.lines().collect();
    assert_eq!(rows.len(), 301);
    assert!(rows[0].starts_with("index,path,y_true,y_pred,p_circle,p_ring"));
    assert_eq!(rows[1].split(',').count(), 14);
    // Each row's probabilities sum to 1 in float64.
    for row in &rows[1..] {
        let sum: f64 = row
            .split(',')
            .skip(4)
            .map(|v| v.parse::<f64>().unwrap())
            .sum();
        assert!((sum - 1.0).abs() <= 4.0 * f64::EPSILON, "{row}: {sum}");
    }
    let confusion = std::fs::read_to_string(dir.join("confusion.csv")).unwrap();
    assert_eq!(confusion.lines().count(), 11);
    // The report text is laid out like scikit-learn's.
    let text = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert!(text.contains("weighted avg") && text.contains("accuracy"));
    // No temporary files survive.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "leftover {name}");
    }
}

#[test]
fn same_seed_gives_identical_results_on_cpu() {
    let runs = scratch("determinism");
    small_run(&runs, "a", &["--seed", "7"]);
    small_run(&runs, "b", &["--seed", "7"]);
    small_run(&runs, "c", &["--seed", "8"]);
    let read = |n: &str, f: &str| std::fs::read_to_string(runs.join(n).join(f)).unwrap();
    assert_eq!(read("a", "report.json"), read("b", "report.json"));
    assert_eq!(read("a", "predictions.csv"), read("b", "predictions.csv"));
    assert_ne!(read("a", "predictions.csv"), read("c", "predictions.csv"));
}

#[test]
fn eval_reproduces_the_reported_test_metrics() {
    let runs = scratch("eval");
    small_run(&runs, "r", &[]);
    let dir = runs.join("r");
    let out_json = runs.join("eval.json");
    ok(&augtrain(&[
        "eval",
        "--run",
        dir.to_str().unwrap(),
        "--json",
        out_json.to_str().unwrap(),
        "--quiet",
    ]));
    let train = json(&dir.join("report.json"));
    let eval = json(&out_json);
    assert_eq!(
        train["classification_report"],
        eval["classification_report"]
    );
    assert_eq!(train["accuracy"], eval["accuracy"]);
}

#[test]
fn resume_continues_to_the_same_result_as_an_uninterrupted_run() {
    let runs = scratch("resume");
    small_run(&runs, "straight", &[]);
    // One epoch, then resume for the second.
    let runs_s = runs.to_str().unwrap().to_string();
    ok(&augtrain(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--synthetic-train",
        "3000",
        "--synthetic-test",
        "300",
        "--batch-size",
        "32",
        "--runs-dir",
        &runs_s,
        "--name",
        "split",
        "--quiet",
    ]));
    let split = runs.join("split");
    ok(&augtrain(&[
        "train",
        "--resume",
        split.to_str().unwrap(),
        "--epochs",
        "2",
        "--quiet",
    ]));
    let read = |n: &str, f: &str| std::fs::read_to_string(runs.join(n).join(f)).unwrap();
    assert_eq!(
        read("straight", "report.json"),
        read("split", "report.json")
    );
    assert_eq!(
        read("straight", "predictions.csv"),
        read("split", "predictions.csv")
    );
    let lines = read("split", "metrics.jsonl");
    assert_eq!(lines.lines().count(), 2);
}

#[test]
fn train_on_the_software_gpu_with_the_fused_kernel() {
    if !gpu() {
        return;
    }
    let runs = scratch("gpu-train");
    let runs_s = runs.to_str().unwrap().to_string();
    let stdout = ok(&augtrain(&[
        "train",
        "--device",
        "gpu",
        "--epochs",
        "2",
        "--synthetic-train",
        "400",
        "--synthetic-test",
        "100",
        "--batch-size",
        "50",
        "--runs-dir",
        &runs_s,
        "--name",
        "g",
    ]));
    assert!(stdout.contains("augmentation on the GPU"), "{stdout}");
    let report = json(&runs.join("g").join("report.json"));
    assert_eq!(report["samples"].as_u64(), Some(100));
    let history = std::fs::read_to_string(runs.join("g").join("metrics.jsonl")).unwrap();
    let losses: Vec<f64> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(losses.iter().all(|l| l.is_finite()));
}

#[test]
fn cnn_on_real_mnist_on_cpu() {
    let Some(mnist) = data("mnist-10k") else {
        return;
    };
    let runs = scratch("mnist");
    let runs_s = runs.to_str().unwrap().to_string();
    ok(&augtrain(&[
        "train",
        "--device",
        "cpu",
        "--data",
        mnist.to_str().unwrap(),
        "--model",
        "cnn",
        "--epochs",
        "1",
        "--lr",
        "0.05",
        "--batch-size",
        "64",
        "--runs-dir",
        &runs_s,
        "--name",
        "m",
        "--quiet",
    ]));
    let report = json(&runs.join("m").join("report.json"));
    let acc = report["accuracy"].as_f64().unwrap();
    assert_eq!(report["samples"].as_u64(), Some(2000));
    assert!(
        acc > 0.9,
        "one CNN epoch on mnist-10k should exceed 90%: {acc}"
    );
}

/// Write a valid little IDX dataset into `dir` (20 train, 10 test images of 4x4).
fn write_idx(dir: &Path) {
    use augtrain::data::idx::{write_images, write_labels};
    std::fs::create_dir_all(dir).unwrap();
    let px = |n: usize| (0..n * 16).map(|i| (i * 7) as u8).collect::<Vec<u8>>();
    write_images(
        &dir.join("train-images-idx3-ubyte.gz"),
        20,
        4,
        4,
        &px(20),
        true,
    )
    .unwrap();
    write_labels(
        &dir.join("train-labels-idx1-ubyte.gz"),
        &(0..20).map(|i| (i % 2) as u8).collect::<Vec<_>>(),
        true,
    )
    .unwrap();
    write_images(
        &dir.join("t10k-images-idx3-ubyte"),
        10,
        4,
        4,
        &px(10),
        false,
    )
    .unwrap();
    write_labels(
        &dir.join("t10k-labels-idx1-ubyte"),
        &(0..10).map(|i| (i % 2) as u8).collect::<Vec<_>>(),
        false,
    )
    .unwrap();
}

#[test]
fn malformed_idx_files_fail_with_one_clear_line_and_write_nothing() {
    use augtrain::data::idx::{write_images, write_labels};
    let root = scratch("malformed");
    // Sanity: the valid dataset trains (MLP: 4x4 is too small for the CNN).
    let good = root.join("good");
    write_idx(&good);
    let runs = root.join("runs-good");
    ok(&augtrain(&[
        "train",
        "--device",
        "cpu",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--data",
        good.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
        "--quiet",
    ]));

    type Breaker = fn(&Path);
    let cases: Vec<(&str, &str, &str, Breaker)> = vec![
        (
            "wrong-magic",
            "t10k-images-idx3-ubyte",
            "wrong magic",
            |d| {
                let p = d.join("t10k-images-idx3-ubyte");
                let mut b = std::fs::read(&p).unwrap();
                b[3] = 0x09;
                std::fs::write(&p, b).unwrap();
            },
        ),
        ("truncated", "t10k-images-idx3-ubyte", "truncated", |d| {
            let p = d.join("t10k-images-idx3-ubyte");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() - 5]).unwrap();
        }),
        (
            "count-mismatch",
            "t10k-labels-idx1-ubyte",
            "same count",
            |d| {
                write_labels(&d.join("t10k-labels-idx1-ubyte"), &[0, 1, 0], false).unwrap();
            },
        ),
        (
            "label-out-of-range",
            "train-labels-idx1-ubyte.gz",
            "out of range",
            |d| {
                let mut labels: Vec<u8> = (0..20).map(|i| (i % 2) as u8).collect();
                labels[5] = 200;
                write_labels(&d.join("train-labels-idx1-ubyte.gz"), &labels, true).unwrap();
            },
        ),
        ("corrupt-gzip", "train-images-idx3-ubyte.gz", "gzip", |d| {
            let p = d.join("train-images-idx3-ubyte.gz");
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len();
            for x in &mut b[12..n - 8] {
                *x ^= 0x5a;
            }
            std::fs::write(&p, b).unwrap();
        }),
        (
            "size-mismatch",
            "t10k-images-idx3-ubyte",
            "training images",
            |d| {
                write_images(
                    &d.join("t10k-images-idx3-ubyte"),
                    10,
                    5,
                    5,
                    &[0u8; 250],
                    false,
                )
                .unwrap();
            },
        ),
        ("missing-file", "missing", "t10k-labels", |d| {
            std::fs::remove_file(d.join("t10k-labels-idx1-ubyte")).unwrap();
        }),
    ];
    for (name, file, expect, breaker) in cases {
        let dir = root.join(name);
        write_idx(&dir);
        breaker(&dir);
        let runs = root.join(format!("runs-{name}"));
        let out = augtrain(&[
            "train",
            "--device",
            "cpu",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--data",
            dir.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: one line expected, got: {stderr}");
        assert!(lines[0].starts_with("error: "), "{name}: {stderr}");
        if file != "missing" {
            assert!(
                lines[0].contains(file),
                "{name}: the message must name {file}: {stderr}"
            );
        }
        assert!(
            lines[0].contains(expect),
            "{name}: expected '{expect}' in: {stderr}"
        );
        assert!(!runs.exists(), "{name}: nothing may be written");
    }
}

#[test]
fn devices_lists_adapters_and_explains_the_choice() {
    let stdout = ok(&augtrain(&["devices"]));
    assert!(stdout.contains("--device auto:"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&augtrain(&["devices", "--json"]))).unwrap();
    assert!(json["adapters"].is_array());
}

#[test]
fn no_adapter_means_a_clear_error_for_gpu_and_the_cpu_for_auto() {
    let hide = [
        ("VK_ICD_FILENAMES", "/nonexistent.json"),
        ("VK_DRIVER_FILES", "/nonexistent.json"),
        ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json"),
    ];
    let runs = scratch("no-adapter");
    let out = augtrain_env(
        &[
            "train",
            "--device",
            "gpu",
            "--runs-dir",
            runs.to_str().unwrap(),
        ],
        &hide,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no GPU adapter"), "{stderr}");
    assert!(!runs.join("x").exists());
    let out = augtrain_env(
        &[
            "train",
            "--device",
            "auto",
            "--epochs",
            "1",
            "--synthetic-train",
            "100",
            "--synthetic-test",
            "20",
            "--model",
            "mlp",
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            "auto",
        ],
        &hide,
    );
    let stdout = ok(&out);
    assert!(stdout.contains("CPU (burn Flex)"), "{stdout}");
}

#[test]
fn bad_pipeline_specs_name_the_key() {
    let root = scratch("bad-spec");
    let spec = root.join("p.toml");
    std::fs::write(
        &spec,
        "version = 1\n[[ops]]\nop = \"rotate\"\ndegress = [-5, 5]\n",
    )
    .unwrap();
    let out = augtrain(&[
        "train",
        "--augment",
        spec.to_str().unwrap(),
        "--runs-dir",
        root.join("runs").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("degress") && stderr.contains("p.toml"),
        "{stderr}"
    );
    assert!(!root.join("runs").exists());
}

#[test]
fn augment_preview_out_and_exact_replay() {
    let root = scratch("augment");
    let spec = root.join("p.toml");
    std::fs::write(
        &spec,
        "version = 1\nborder = \"reflect\"\n[[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"rotate\"\ndegrees = [-20.0, 20.0]\n\
         [[ops]]\nop = \"random_resized_crop\"\nwidth = 24\nheight = 24\n[[ops]]\nop = \"gaussian_noise\"\nsigma = [0.0, 0.1]\n\
         [[ops]]\nop = \"erase\"\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n[[ops]]\nop = \"mixup\"\nalpha = 0.4\n",
    )
    .unwrap();
    let (a, b, grid) = (root.join("a"), root.join("b"), root.join("grid.png"));
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--pipeline",
        spec.to_str().unwrap(),
        "--n",
        "6",
        "--versions",
        "3",
        "--preview",
        grid.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    let sheet = image::open(&grid).unwrap();
    assert!(sheet.width() > 4 * 24 && sheet.height() > 6 * 24);
    let lines = std::fs::read_to_string(a.join("params.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 18);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["params"]["affine"].is_array() && first["params"]["mix"].is_object());
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--pipeline",
        spec.to_str().unwrap(),
        "--replay",
        a.join("params.jsonl").to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
        "--quiet",
    ]));
    for line in lines.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = r["file"].as_str().unwrap();
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
        let png = image::open(a.join(file)).unwrap();
        assert_eq!((png.width(), png.height()), (24, 24));
    }
}

// ---------------------------------------------------------------- [data]

/// `n` real JPEGs of each hymenoptera class copied into `root/<class>/` (renamed per class).
fn real_folder(root: &Path, classes: &[&str], n: usize) -> Option<()> {
    let hym = data("hymenoptera")?;
    let ants: Vec<_> = std::fs::read_dir(hym.join("train/ants"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let bees: Vec<_> = std::fs::read_dir(hym.join("train/bees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for (k, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let src = if k % 2 == 0 { &ants } else { &bees };
        let mut src = src.clone();
        src.sort();
        for (i, p) in src.iter().skip(k * n).take(n).enumerate() {
            std::fs::copy(p, dir.join(format!("{class}-{i}.jpg"))).unwrap();
        }
    }
    Some(())
}

/// A PNG whose header claims `w × h` pixels with almost no data: a decompression bomb.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn inspect_real_image_folder() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let v = stdout_json(&augtrain(&["inspect", hym.to_str().unwrap(), "--json"]));
    assert_eq!(v["images"], 398);
    assert_eq!(v["classes"], serde_json::json!(["ants", "bees"]));
    assert_eq!(v["counts"]["train"], serde_json::json!([124, 121]));
    assert_eq!(v["counts"]["val"], serde_json::json!([70, 83]));
    assert_eq!(
        v["skipped"].as_array().unwrap().len(),
        0,
        "every real photo loads, the name with a space too"
    );
    assert!(v["formats"]["jpeg"].as_u64().unwrap() >= 390);
    let text = ok(&augtrain(&["inspect", hym.to_str().unwrap()]));
    assert!(
        text.contains("image sizes") && text.contains("median"),
        "{text}"
    );
}

#[test]
fn bad_files_are_reported_per_file_and_skipped_or_fatal() {
    let root = scratch("bad-files");
    let ds = root.join("ds");
    if real_folder(&ds, &["cats", "dogs"], 8).is_none() {
        return;
    }
    let good = std::fs::read(ds.join("cats/cats-0.jpg")).unwrap();
    std::fs::write(ds.join("cats/zero.jpg"), []).unwrap();
    std::fs::write(ds.join("cats/notes.txt"), "not an image").unwrap();
    std::fs::write(ds.join("dogs/truncated.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(ds.join("dogs/bomb.png"), bomb_png(60_000, 60_000)).unwrap();
    std::fs::write(ds.join(".hidden"), "ignored").unwrap();
    let v = stdout_json(&augtrain(&["inspect", ds.to_str().unwrap(), "--json"]));
    let skipped: Vec<(String, String)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |p: &str| {
        skipped
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{p} not reported: {skipped:?}"))
    };
    assert_eq!(reason("cats/zero.jpg"), "zero_bytes");
    assert_eq!(reason("cats/notes.txt"), "not_an_image");
    assert!(["truncated", "corrupt"].contains(&reason("dogs/truncated.jpg").as_str()));
    assert_eq!(reason("dogs/bomb.png"), "too_large");
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert_eq!(v["images"], 16);

    // --on-error fail: exit 1, one line naming the file, nothing written.
    let runs = root.join("runs-fail");
    let out = augtrain(&[
        "train",
        "--data",
        ds.to_str().unwrap(),
        "--on-error",
        "fail",
        "--model",
        "mlp",
        "--size",
        "16x16",
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("zero.jpg")
            || stderr.contains("notes.txt")
            || stderr.contains("truncated.jpg")
            || stderr.contains("bomb.png"),
        "{stderr}"
    );
    assert!(!runs.exists());

    // Default (skip): trains and lists every skipped file in the run directory.
    let runs = root.join("runs");
    ok(&augtrain(&[
        "train",
        "--data",
        ds.to_str().unwrap(),
        "--model",
        "mlp",
        "--size",
        "16x16",
        "--epochs",
        "1",
        "--test-fraction",
        "0.25",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "r",
        "--quiet",
    ]));
    let listed = std::fs::read_to_string(runs.join("r/skipped.csv")).unwrap();
    for f in ["zero.jpg", "notes.txt", "truncated.jpg", "bomb.png"] {
        assert!(
            listed.contains(f),
            "{f} missing from skipped.csv:\n{listed}"
        );
    }
}

#[test]
fn manifest_rows_with_missing_files_and_unknown_labels_are_reported() {
    let root = scratch("manifest");
    let ds = root.join("imgs");
    if real_folder(&ds, &["ants", "bees"], 5).is_none() {
        return;
    }
    let mut csv = String::from("path,label,split\n");
    for class in ["ants", "bees"] {
        for i in 0..5 {
            let split = if i < 3 { "train" } else { "test" };
            csv.push_str(&format!("imgs/{class}/{class}-{i}.jpg,{class},{split}\n"));
        }
    }
    csv.push_str("imgs/ants/missing.jpg,ants,train\n");
    csv.push_str("imgs/bees/bees-0.jpg,wasps,train\n");
    csv.push_str("\"imgs/ants/ants-1.jpg\",\"ants\",train\n");
    let manifest = root.join("manifest.csv");
    std::fs::write(&manifest, csv).unwrap();
    let v = stdout_json(&augtrain(&[
        "inspect",
        manifest.to_str().unwrap(),
        "--classes",
        "ants,bees",
        "--json",
    ]));
    let skipped = v["skipped"].as_array().unwrap();
    let kinds: Vec<&str> = skipped
        .iter()
        .map(|s| s["reason"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"missing") && kinds.contains(&"unknown_label"),
        "{skipped:?}"
    );
    assert_eq!(v["counts"]["test"], serde_json::json!([2, 2]));
    let bad = root.join("bad.csv");
    std::fs::write(&bad, "file,class\na.jpg,x\n").unwrap();
    let out = augtrain(&["inspect", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("bad.csv") && stderr.contains("'path' and 'label'"),
        "{stderr}"
    );
}

#[test]
fn cifar_binary_batches_written_by_the_test_train() {
    let root = scratch("cifar");
    let dir = root.join("cifar");
    std::fs::create_dir_all(&dir).unwrap();
    let n = 200;
    let pixels: Vec<u8> = (0..n * 3072)
        .map(|i| ((i * 31 + i / 3072 * 17) % 256) as u8)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    augtrain::data::cifar::write_cifar10_batch(&dir.join("data_batch_1.bin"), &pixels, &labels)
        .unwrap();
    augtrain::data::cifar::write_cifar10_batch(
        &dir.join("test_batch.bin"),
        &pixels[..50 * 3072],
        &labels[..50],
    )
    .unwrap();
    std::fs::write(
        dir.join("batches.meta.txt"),
        "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n",
    )
    .unwrap();
    let runs = root.join("runs");
    ok(&augtrain(&[
        "train",
        "--data",
        dir.to_str().unwrap(),
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "c",
        "--quiet",
    ]));
    let report = json(&runs.join("c/report.json"));
    assert_eq!(report["samples"], 50);
    assert!(report["classification_report"]["truck"].is_object());
    // A truncated batch is one clear error naming it.
    let bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
    std::fs::write(dir.join("test_batch.bin"), &bytes[..bytes.len() - 7]).unwrap();
    let out = augtrain(&[
        "train",
        "--data",
        dir.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("test_batch.bin") && stderr.contains("truncated"),
        "{stderr}"
    );
}

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
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| augtrain::data::files::csv_fields(l).unwrap())
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
    let test_rows = rows.iter().filter(|r| r[1] == "test").count();
    let runs = root.join("runs");
    ok(&augtrain(&[
        "train",
        "--data",
        ds.to_str().unwrap(),
        "--split",
        file.to_str().unwrap(),
        "--size",
        "24x24",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "r",
        "--quiet",
    ]));
    assert_eq!(
        json(&runs.join("r/report.json"))["samples"]
            .as_u64()
            .unwrap() as usize,
        test_rows
    );

    // A class with a single image cannot be stratified: scikit-learn's error.
    let lonely = root.join("lonely");
    real_folder(&lonely, &["many", "one"], 6).unwrap();
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

#[test]
fn pack_round_trips_and_trains() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("pack");
    let pack = root.join("hym.pack");
    ok(&augtrain(&[
        "pack",
        hym.to_str().unwrap(),
        "--out",
        pack.to_str().unwrap(),
        "--size",
        "32x32",
        "--shard-mb",
        "1",
        "--quiet",
    ]));
    let m = json(&pack.join("manifest.json"));
    assert_eq!(m["count"], 398);
    assert!(
        m["shards"].as_array().unwrap().len() >= 2,
        "1 MiB shards: several"
    );
    let index = std::fs::read_to_string(pack.join("index.csv")).unwrap();
    assert!(index.contains("train/ants/ant photos.jpg"));
    // The pack holds exactly the pixels a direct load produces.
    let opts = augtrain::data::LoadOptions {
        size: [32, 32],
        ..Default::default()
    };
    let direct = augtrain::data::source::load_whole(
        &augtrain::data::DataSource::Folder(hym.clone()),
        &opts,
        42,
    )
    .unwrap();
    let (packed, splits, _) = augtrain::data::pack::open(&pack).unwrap();
    assert_eq!(packed.pixels(), direct.data.pixels());
    assert_eq!(packed.labels, direct.data.labels);
    assert_eq!(splits, direct.splits);
    // Every command that takes data takes a pack.
    let v = stdout_json(&augtrain(&["inspect", pack.to_str().unwrap(), "--json"]));
    assert_eq!(v["counts"]["val"], serde_json::json!([70, 83]));
    let runs = root.join("runs");
    ok(&augtrain(&[
        "train",
        "--data",
        pack.to_str().unwrap(),
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--quiet",
    ]));
    // Never over an existing pack.
    let out = augtrain(&[
        "pack",
        hym.to_str().unwrap(),
        "--out",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn export_is_privacy_clean_and_checksummed() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    use sha2::Digest;
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
        assert_eq!(
            augtrain::data::files::hex(&sha2::Sha256::digest(&bytes)),
            sha,
            "{path}"
        );
        let name = path.rsplit('/').next().unwrap();
        assert!(
            name.len() == 20
                && name.ends_with(".png")
                && name[..16].chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        // Walk the PNG chunks: nothing but image data may be present.
        let mut i = 8;
        while i + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
            chunk_kinds.insert(String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned());
            i += 12 + len;
        }
    }
    for k in &chunk_kinds {
        assert!(
            ["IHDR", "IDAT", "IEND", "PLTE", "tRNS"].contains(&k.as_str()),
            "metadata chunk {k} survived"
        );
    }
    if std::process::Command::new("sha256sum")
        .arg("--version")
        .output()
        .is_ok()
    {
        let check = std::process::Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
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
    for line in map.lines().skip(1).step_by(40) {
        let f = augtrain::data::files::csv_fields(line).unwrap();
        let src = std::fs::read(hym.join(&f[0])).unwrap();
        let (oriented, _, _) = augtrain::data::decode::decode_full(&src, 100_000_000).unwrap();
        let exported = image::open(out2.join(&f[1])).unwrap();
        assert_eq!(oriented.to_rgba8(), exported.to_rgba8(), "{}", f[0]);
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

#[test]
fn balancing_changes_only_the_training_split() {
    let root = scratch("balance");
    let ds = root.join("ds");
    if real_folder(&ds, &["big", "small"], 20).is_none() {
        return;
    }
    for i in 6..20 {
        std::fs::remove_file(ds.join(format!("small/small-{i}.jpg"))).unwrap();
    }
    let runs = root.join("runs");
    for (mode, expect) in [("oversample", "[16, 16]"), ("undersample", "[5, 5]")] {
        let stdout = ok(&augtrain(&[
            "train",
            "--data",
            ds.to_str().unwrap(),
            "--balance",
            mode,
            "--size",
            "16x16",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--val-fraction",
            "0.1",
            "--test-fraction",
            "0.1",
            "--seed",
            "1",
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            mode,
        ]));
        assert!(
            stdout.contains(&format!("class counts {expect}")),
            "{mode}: {stdout}"
        );
        // The test split is untouched: 2 big + 1 small (10% of 20 and 6, rounded per class).
        assert_eq!(
            json(&runs.join(mode).join("report.json"))["samples"],
            3,
            "{mode}"
        );
    }
}

// ---------------------------------------------------------------- [audit]

fn audit_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = scratch("audit-json").join(format!(
        "{}.json",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let mut args = vec![
        "audit",
        dir.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&augtrain(&args));
    json(&out)
}

fn flagged(report: &serde_json::Value, issue: &str) -> Vec<String> {
    let mut v: Vec<String> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[format!("is_{issue}_issue")].as_bool().unwrap())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn audit_finds_every_planted_problem_and_nothing_else() {
    use image::{DynamicImage, ImageFormat, imageops};
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("audit");
    let clean = root.join("clean");
    // Twelve real photos, all 160x120 so that sizes are uniform, in a train/val layout.
    let mut photos: Vec<_> = std::fs::read_dir(hym.join("train/bees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    let load = |p: &Path| {
        image::open(p)
            .unwrap()
            .resize_exact(160, 120, imageops::FilterType::Triangle)
            .to_rgb8()
    };
    let imgs: Vec<image::RgbImage> = photos.iter().take(12).map(|p| load(p)).collect();
    for (i, img) in imgs.iter().enumerate() {
        let (split, class) = (
            if i < 8 { "train" } else { "val" },
            if i % 2 == 0 { "a" } else { "b" },
        );
        let dir = clean.join(split).join(class);
        std::fs::create_dir_all(&dir).unwrap();
        img.save_with_format(dir.join(format!("p{i}.png")), ImageFormat::Png)
            .unwrap();
    }
    let report = audit_json(&clean, &[]);
    for (issue, n) in report["issue_counts"].as_object().unwrap() {
        assert_eq!(
            n,
            0,
            "clean data flagged for {issue}: {:?}",
            flagged(&report, issue)
        );
    }

    // Plant problems in a copy.
    let dirty = root.join("dirty");
    let copy = |from: &Path, to: &Path| {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let t = to.join(e.file_name());
            if e.path().is_dir() {
                std::fs::create_dir_all(&t).unwrap();
                for f in std::fs::read_dir(e.path()).unwrap() {
                    let f = f.unwrap();
                    if f.path().is_dir() {
                        std::fs::create_dir_all(t.join(f.file_name())).unwrap();
                        for g in std::fs::read_dir(f.path()).unwrap() {
                            let g = g.unwrap();
                            std::fs::copy(g.path(), t.join(f.file_name()).join(g.file_name()))
                                .unwrap();
                        }
                    }
                }
            }
        }
    };
    std::fs::create_dir_all(&dirty).unwrap();
    copy(&clean, &dirty);
    let save = |img: &image::RgbImage, rel: &str, fmt: ImageFormat| {
        let p = dirty.join(rel);
        match fmt {
            ImageFormat::Jpeg => {
                let mut f = std::fs::File::create(&p).unwrap();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 80)
                    .encode_image(img)
                    .unwrap();
            }
            _ => img.save_with_format(&p, fmt).unwrap(),
        }
    };
    // Exact duplicate of p0 (train) re-saved under another name in val: a leak.
    save(&imgs[0], "val/a/resaved-p0.png", ImageFormat::Png);
    // Near duplicates: p2 re-encoded as JPEG; p4 shifted by one pixel.
    save(&imgs[2], "train/a/reencoded-p2.jpg", ImageFormat::Jpeg);
    let mut shifted = imgs[4].clone();
    for y in 0..120 {
        for x in (1..160).rev() {
            let px = *imgs[4].get_pixel(x - 1, y);
            shifted.put_pixel(x, y, px);
        }
    }
    save(&shifted, "train/a/shifted-p4.png", ImageFormat::Png);
    // Health: dark, light, blurred, flat.
    let map = |img: &image::RgbImage, f: &dyn Fn(u8) -> u8| {
        let mut o = img.clone();
        o.pixels_mut().for_each(|p| p.0 = p.0.map(f));
        o
    };
    save(
        &map(&imgs[6], &|v| v / 12),
        "train/a/dark-p6.png",
        ImageFormat::Png,
    );
    save(
        &map(&imgs[1], &|v| 250 + v / 51),
        "train/b/light-p1.png",
        ImageFormat::Png,
    );
    save(
        &DynamicImage::ImageRgb8(imgs[3].clone()).blur(6.0).to_rgb8(),
        "train/b/blurred-p3.png",
        ImageFormat::Png,
    );
    save(
        &image::RgbImage::from_pixel(160, 120, image::Rgb([90, 120, 60])),
        "train/b/flat.png",
        ImageFormat::Png,
    );
    // Corrupt.
    std::fs::write(dirty.join("train/b/zero.jpg"), []).unwrap();
    let jpeg = std::fs::read(dirty.join("train/a/reencoded-p2.jpg")).unwrap();
    std::fs::write(dirty.join("val/b/truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();

    let r = audit_json(&dirty, &[]);
    assert_eq!(
        flagged(&r, "corrupt"),
        vec!["train/b/zero.jpg", "val/b/truncated.jpg"]
    );
    assert_eq!(
        flagged(&r, "exact_duplicates"),
        vec!["train/a/p0.png", "val/a/resaved-p0.png"]
    );
    // The re-encoded and shifted copies are found with their originals; the darkened,
    // lightened and blurred copies are perceptual near duplicates of theirs too (pHash keeps
    // low-frequency structure), and nothing else is.
    let near = flagged(&r, "near_duplicates");
    for p in [
        "train/a/p2.png",
        "train/a/p4.png",
        "train/a/reencoded-p2.jpg",
        "train/a/shifted-p4.png",
    ] {
        assert!(near.contains(&p.to_string()), "{p} missing from {near:?}");
    }
    let derived = [
        "p2",
        "p4",
        "reencoded-p2",
        "shifted-p4",
        "p1",
        "light-p1",
        "p3",
        "blurred-p3",
        "p6",
        "dark-p6",
    ];
    assert!(
        near.iter().all(|p| derived
            .iter()
            .any(|d| p.ends_with(&format!("/{d}.png")) || p.ends_with(&format!("/{d}.jpg")))),
        "{near:?}"
    );
    assert_eq!(
        flagged(&r, "leak"),
        vec!["train/a/p0.png", "val/a/resaved-p0.png"]
    );
    assert_eq!(flagged(&r, "dark"), vec!["train/a/dark-p6.png"]);
    assert_eq!(flagged(&r, "light"), vec!["train/b/light-p1.png"]);
    let blurry = flagged(&r, "blurry");
    assert!(
        blurry.contains(&"train/b/blurred-p3.png".to_string()),
        "{blurry:?}"
    );
    assert!(
        blurry.iter().all(|p| p.contains("blurred")
            || p.contains("flat")
            || p.contains("dark")
            || p.contains("light")),
        "{blurry:?}"
    );
    let flat = flagged(&r, "low_information");
    assert!(flat.contains(&"train/b/flat.png".to_string()), "{flat:?}");
    assert!(
        flat.iter()
            .all(|p| p.contains("flat") || p.contains("dark") || p.contains("light")),
        "{flat:?}"
    );
    assert!(flagged(&r, "odd_aspect_ratio").is_empty() && flagged(&r, "grayscale").is_empty());
    let reason = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "train/b/zero.jpg")
        .unwrap();
    assert_eq!(reason["corrupt_reason"], "zero bytes");
    assert_eq!(r["leaks"].as_array().unwrap().len(), 1);
    let text = ok(&augtrain(&["audit", dirty.to_str().unwrap()]));
    assert!(text.contains("leak across train / val"), "{text}");
}

#[test]
fn audit_of_the_real_photos_is_fast_and_finds_their_known_oddities() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let start = std::time::Instant::now();
    let r = audit_json(&hym, &[]);
    let secs = start.elapsed().as_secs_f64();
    eprintln!("audit of hymenoptera: {secs:.2} s");
    assert_eq!(r["images"], 398);
    // The dataset ships an "image not found" placeholder GIF: flat, low information.
    assert_eq!(
        flagged(&r, "low_information"),
        vec!["train/ants/imageNotFound.gif"]
    );
    assert_eq!(flagged(&r, "corrupt").len(), 0);
    assert!(!r["imbalance"]["is_issue"].as_bool().unwrap());
}

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
        serde_json::from_str(include_str!("fixtures/cleanlab_mnist.json")).unwrap();
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

#[test]
fn predict_writes_predictions_pseudo_labels_and_a_review_queue() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let Some(photos) = data("photos") else { return };
    let root = scratch("predict");
    let runs = root.join("runs");
    ok(&augtrain(&[
        "train",
        "--data",
        hym.to_str().unwrap(),
        "--size",
        "32x32",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "m",
        "--quiet",
    ]));
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

// ---------------------------------------------------------------- [ux]

/// Debian's Chromium, or skip loudly (fail with AUGTRAIN_REQUIRE_BROWSER=1).
fn chromium() -> Option<std::path::PathBuf> {
    for c in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(c).exists() {
            return Some(c.into());
        }
    }
    if required("AUGTRAIN_REQUIRE_BROWSER") {
        panic!("AUGTRAIN_REQUIRE_BROWSER=1 but no Chromium; apt-get install -y chromium");
    }
    eprintln!("SKIPPED: no Chromium for the browser test (apt-get install -y chromium)");
    None
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn run_report_renders_in_a_real_browser() {
    let root = scratch("report");
    let runs = root.join("runs");
    small_run(&runs, "r", &["--quiet"]);
    let dir = runs.join("r");
    for f in [
        "report.html",
        "curves_loss.png",
        "curves_accuracy.png",
        "confusion.png",
        "per_class.png",
        "augmentation.png",
        "dataset.json",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("data:image/png;base64,") && !html.contains("src=\"http"),
        "self-contained"
    );
    let Some(browser) = chromium() else { return };
    let url = format!("file://{}", dir.join("report.html").display());
    let shot = root.join("shot.png");
    let out = headless(
        &browser,
        &root.join("profile1"),
        &[
            "--window-size=1200,1800",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.contains("Uncaught") && !log.contains(":ERROR:CONSOLE"),
        "JavaScript error:\n{log}"
    );
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"))
        .to_rgb8();
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().map(|&v| v as u32).sum::<u32>() < 600)
        .count();
    let share = dark as f64 / (img.width() * img.height()) as f64;
    assert!(
        share > 0.02,
        "the page looks blank: {share:.4} of pixels are not white"
    );
    // The page's script ran to the end (it builds the table of contents).
    let dom = headless(&browser, &root.join("profile2"), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-ready=\"yes\"") && dom.contains("href=\"#training\""),
        "script did not run"
    );
}

#[test]
fn plot_redraws_and_the_resolved_config_reproduces_the_run() {
    let root = scratch("config-repro");
    let runs = root.join("runs");
    small_run(&runs, "a", &["--quiet", "--seed", "5"]);
    let a = runs.join("a");
    ok(&augtrain(&[
        "train",
        "--config",
        a.join("config.toml").to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "b",
        "--quiet",
    ]));
    let read = |n: &str, f: &str| std::fs::read_to_string(runs.join(n).join(f)).unwrap();
    assert_eq!(read("a", "report.json"), read("b", "report.json"));
    assert_eq!(read("a", "config.toml"), read("b", "config.toml"));
    for f in ["report.html", "confusion.png", "augmentation.png"] {
        std::fs::remove_file(a.join(f)).unwrap();
    }
    ok(&augtrain(&[
        "plot",
        "--run",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    for f in ["report.html", "confusion.png", "augmentation.png"] {
        assert!(a.join(f).is_file(), "{f} not redrawn");
    }
    // Flags override the config file; unknown keys are refused with a suggestion.
    let cfg = root.join("run.toml");
    std::fs::write(&cfg, ok(&augtrain(&["config", "--default"]))).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("epochs = 10", "epochz = 10");
    std::fs::write(&cfg, text).unwrap();
    let out = augtrain(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A bad config file is bad input (exit 1), not a bad command line (exit 2).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did you mean `epochs`?") && stderr.contains("run.toml"),
        "{stderr}"
    );
}

#[test]
fn every_subcommand_help_has_an_example_and_usage_errors_exit_2() {
    let top = ok(&augtrain(&["--help"]));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 14, "{commands:?}");
    for c in &commands {
        let help = ok(&augtrain(&[c, "--help"]));
        assert!(
            help.contains("Example"),
            "`augtrain {c} --help` has no example:\n{help}"
        );
    }
    assert_eq!(
        augtrain(&["train", "--no-such-flag"]).status.code(),
        Some(2)
    );
    assert_eq!(augtrain(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn examples_run_in_quick_mode() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let out = scratch("examples");
    let data_dir = data("").map(|d| d.to_string_lossy().into_owned());
    for name in [
        "quickstart",
        "mnist_augmentation",
        "hymenoptera",
        "label_noise",
    ] {
        let bin = dir.join(name);
        assert!(
            bin.exists(),
            "example binary {} missing (cargo test builds examples)",
            bin.display()
        );
        let mut cmd = std::process::Command::new(&bin);
        cmd.env("AUGTRAIN_EXAMPLE_QUICK", "1")
            .env("AUGTRAIN_EXAMPLE_OUT", &out)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        if let Some(d) = &data_dir {
            cmd.env("AUGTRAIN_TEST_DATA", d);
        }
        let o = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        if data_dir.is_some() || name == "quickstart" {
            assert!(
                stdout.contains("## 1.") && stdout.contains("## 4."),
                "{name}: no narrative sections:\n{stdout}"
            );
            let pngs = std::fs::read_dir(out.join(name))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "png")
                })
                .count()
                + std::fs::read_dir(out.join(name))
                    .unwrap()
                    .filter(|e| e.as_ref().unwrap().path().is_dir())
                    .count();
            assert!(pngs > 0, "{name} wrote no pictures");
        }
    }
}

// ---------------------------------------------------------------- [reliability]

fn train_args<'a>(runs: &'a str, name: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--device",
        "cpu",
        "--epochs",
        epochs,
        "--synthetic-train",
        "1200",
        "--synthetic-test",
        "200",
        "--batch-size",
        "32",
        "--seed",
        "11",
        "--runs-dir",
        runs,
        "--name",
        name,
        "--quiet",
    ]
}

#[test]
fn sigkill_after_a_checkpoint_then_resume_equals_an_uninterrupted_run() {
    use augtrain::train::checkpoint;
    let root = scratch("sigkill");
    let runs = root.join("runs");
    let runs_s = runs.to_str().unwrap().to_string();
    ok(&augtrain(&train_args(&runs_s, "straight", "4")));
    let killed = runs.join("killed");
    for attempt in 0..3u64 {
        let _ = std::fs::remove_dir_all(&killed);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_augtrain"))
            .args(train_args(&runs_s, "killed", "4"))
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .spawn()
            .unwrap();
        // Wait for the first checkpoint, then kill in the middle of the next epoch.
        let start = std::time::Instant::now();
        let mut done = 0;
        while start.elapsed().as_secs() < 120 {
            if let Ok(c) = checkpoint::load(&killed.join(augtrain::run_dir::file::CHECKPOINT)) {
                done = c.progress.epochs_done;
                if done >= 1 {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(150 + 100 * attempt));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(done >= 1, "no checkpoint appeared");
        if status.success() {
            continue; // finished before the kill landed: try again, later in the run
        }
        // Whatever survived the kill is whole: every file parses.
        let c = checkpoint::load(&killed.join(augtrain::run_dir::file::CHECKPOINT))
            .expect("checkpoint intact after SIGKILL");
        assert!(c.progress.epochs_done < 4);
        for line in std::fs::read_to_string(killed.join("metrics.jsonl"))
            .unwrap()
            .lines()
        {
            serde_json::from_str::<serde_json::Value>(line).expect("metrics.jsonl intact");
        }
        augtrain::train::config::TrainConfig::from_toml(
            &std::fs::read_to_string(killed.join("config.toml")).unwrap(),
            "config",
        )
        .unwrap();
        ok(&augtrain(&[
            "train",
            "--resume",
            killed.to_str().unwrap(),
            "--quiet",
        ]));
        let leftovers: Vec<String> = std::fs::read_dir(&killed)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files survived: {leftovers:?}"
        );
        let read = |n: &str, f: &str| std::fs::read(runs.join(n).join(f)).unwrap();
        assert_eq!(
            read("straight", "report.json"),
            read("killed", "report.json")
        );
        assert_eq!(
            read("straight", "predictions.csv"),
            read("killed", "predictions.csv")
        );
        assert!(
            read("straight", "checkpoint.bin") == read("killed", "checkpoint.bin"),
            "weights and optimizer state differ"
        );
        return;
    }
    panic!(
        "the run finished before SIGKILL three times; the machine is too fast for this test's timing"
    );
}

#[test]
fn two_runs_with_the_same_seed_write_identical_checkpoints() {
    let root = scratch("identical");
    let runs = root.join("runs");
    let runs_s = runs.to_str().unwrap().to_string();
    ok(&augtrain(&train_args(&runs_s, "a", "2")));
    ok(&augtrain(&train_args(&runs_s, "b", "2")));
    let read = |n: &str, f: &str| std::fs::read(runs.join(n).join(f)).unwrap();
    assert!(
        read("a", "checkpoint.bin") == read("b", "checkpoint.bin"),
        "checkpoints differ"
    );
    assert_eq!(read("a", "report.json"), read("b", "report.json"));
    let strip = |n: &str| -> Vec<serde_json::Value> {
        String::from_utf8(read(n, "metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for k in ["images_per_second", "seconds", "device_memory_reserved"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v
            })
            .collect()
    };
    assert_eq!(strip("a"), strip("b"));
}

#[test]
fn a_diverging_loss_stops_with_epoch_and_batch_and_keeps_the_last_good_checkpoint() {
    let root = scratch("nan");
    let runs = root.join("runs");
    // Epoch 1 at lr 0.05, epoch 2 at 0.05e12: the loss explodes in epoch 2.
    let out = augtrain(&[
        "train",
        "--device",
        "cpu",
        "--model",
        "mlp",
        "--epochs",
        "3",
        "--synthetic-train",
        "600",
        "--synthetic-test",
        "100",
        "--schedule",
        "step",
        "--step-size",
        "1",
        "--gamma",
        "1e12",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "n",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("at epoch 2, batch")
            && stderr.contains("lower learning rate")
            && stderr.contains("(epoch 1) was kept"),
        "{stderr}"
    );
    let c = augtrain::train::checkpoint::load(&runs.join("n").join("checkpoint.bin")).unwrap();
    assert_eq!(c.progress.epochs_done, 1);
}

#[test]
fn unwritable_output_fails_before_training() {
    let root = scratch("unwritable");
    let blocker = root.join("not-a-dir");
    std::fs::write(&blocker, "a file where the runs directory should be").unwrap();
    let start = std::time::Instant::now();
    let out = augtrain(&[
        "train",
        "--device",
        "cpu",
        "--runs-dir",
        blocker.join("runs").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not-a-dir"), "{stderr}");
    assert!(start.elapsed().as_secs() < 30, "failed late");
    for (cmd, extra) in [("pack", "p"), ("export", "e")] {
        if let Some(hym) = data("hymenoptera") {
            let out = augtrain(&[
                cmd,
                hym.to_str().unwrap(),
                "--out",
                blocker.join(extra).to_str().unwrap(),
            ]);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `augtrain train` of an MLP on the GPU on synthetic data: `epochs`, training and test image
/// counts, image size (pixels a side), batch size and validation fraction, quietly into `runs`.
fn gpu_mlp_args<'a>(
    runs: &'a str,
    epochs: &'a str,
    train: &'a str,
    test: &'a str,
    size: &'a str,
    batch: &'a str,
    val: &'a str,
) -> Vec<&'a str> {
    vec![
        "train",
        "--device",
        "gpu",
        "--model",
        "mlp",
        "--epochs",
        epochs,
        "--synthetic-train",
        train,
        "--synthetic-test",
        test,
        "--synthetic-size",
        size,
        "--batch-size",
        batch,
        "--val-fraction",
        val,
        "--runs-dir",
        runs,
        "--quiet",
    ]
}

#[test]
fn gpu_memory_stays_flat_across_twenty_epochs() {
    if !gpu() {
        return;
    }
    let root = scratch("gpu-memory");
    let runs = root.join("runs");
    let mut args = gpu_mlp_args(
        runs.to_str().unwrap(),
        "20",
        "120",
        "20",
        "16",
        "40",
        "0.25",
    );
    args.extend(["--name", "m"]);
    ok(&augtrain(&args));
    let reserved: Vec<u64> = std::fs::read_to_string(runs.join("m/metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["device_memory_reserved"]
                .as_u64()
                .expect("GPU memory recorded")
        })
        .collect();
    assert_eq!(reserved.len(), 20);
    eprintln!("GPU pool reserved per epoch: {reserved:?}");
    let settled = reserved[2];
    assert!(
        reserved[2..].iter().all(|&r| r <= settled),
        "the memory pool grows across epochs: {reserved:?}"
    );
}

/// Every file under `tests/malformed/<kind>/` is one way an input can be broken. Each is put
/// where that kind of file goes (an IDX slot, a CIFAR batch, a pack's manifest, a run's
/// checkpoint, an image in a class folder, or a file given on the command line), and the
/// command must exit 1 with one line naming the file, and write nothing.
#[test]
fn malformed_input_corpus_fails_cleanly_and_writes_nothing() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let expected: std::collections::BTreeMap<String, String> =
        std::fs::read_to_string(corpus.join("expected.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (case, expect) = l.split_once(',').unwrap();
                (case.to_string(), expect.to_string())
            })
            .collect();
    let root = scratch("malformed-corpus");
    let train = |extra: &[&str], runs: &Path| -> Vec<String> {
        let mut args: Vec<String> = [
            "train",
            "--device",
            "cpu",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--quiet",
            "--runs-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(runs.to_str().unwrap().into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    // Valid bases the broken files are put into.
    let idx_dir = root.join("base-idx");
    write_idx(&idx_dir);
    let pack_dir = root.join("base.pack");
    ok(&augtrain(&[
        "pack",
        idx_dir.to_str().unwrap(),
        "--out",
        pack_dir.to_str().unwrap(),
        "--quiet",
    ]));
    let base_runs = root.join("base-runs");
    ok(&augtrain(
        &train(
            &[
                "--synthetic-train",
                "60",
                "--synthetic-test",
                "20",
                "--synthetic-size",
                "8",
                "--hidden",
                "4",
                "--name",
                "run",
            ],
            &base_runs,
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    ));
    let png = |path: &Path, v: u8| {
        image::GrayImage::from_pixel(6, 6, image::Luma([v]))
            .save(path)
            .unwrap();
    };
    let snapshot = |dir: &Path| -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.clone(), std::fs::read(&p).unwrap_or_default()))
            .collect()
    };

    let mut kinds: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    kinds.sort();
    let mut seen = 0;
    let mut failures = Vec::new();
    for kind_dir in kinds {
        let kind = kind_dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&kind_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let case = format!("{kind}/{name}");
            seen += 1;
            let work = root.join(case.replace('/', "--"));
            std::fs::create_dir_all(&work).unwrap();
            let runs = work.join("runs");
            let file_s = file.to_str().unwrap();
            // (arguments, the name the message must contain, a directory that must not change)
            let (args, names, unchanged): (Vec<String>, String, Option<PathBuf>) =
                match kind.as_str() {
                    "idx-train-images" | "idx-test-labels" => {
                        let d = work.join("data");
                        write_idx(&d);
                        let slot = if kind == "idx-train-images" {
                            std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
                            "train-images-idx3-ubyte"
                        } else {
                            "t10k-labels-idx1-ubyte"
                        };
                        std::fs::copy(&file, d.join(slot)).unwrap();
                        (
                            train(&["--data", d.to_str().unwrap()], &runs),
                            slot.into(),
                            None,
                        )
                    }
                    "cifar-batch" => {
                        let d = work.join("data");
                        std::fs::create_dir_all(&d).unwrap();
                        augtrain::data::cifar::write_cifar10_batch(
                            &d.join("test_batch.bin"),
                            &vec![9u8; 2 * 3072],
                            &[0, 1],
                        )
                        .unwrap();
                        std::fs::copy(&file, d.join("data_batch_1.bin")).unwrap();
                        (
                            train(&["--data", d.to_str().unwrap()], &runs),
                            "data_batch_1.bin".into(),
                            None,
                        )
                    }
                    "manifest" => {
                        png(&work.join("a.png"), 10);
                        let m = work.join(&name);
                        std::fs::copy(&file, &m).unwrap();
                        (
                            train(&["--data", m.to_str().unwrap()], &runs),
                            name.clone(),
                            None,
                        )
                    }
                    "config" => (train(&["--config", file_s], &runs), name.clone(), None),
                    "pipeline" => (
                        train(
                            &[
                                "--augment",
                                file_s,
                                "--synthetic-train",
                                "40",
                                "--synthetic-size",
                                "8",
                            ],
                            &runs,
                        ),
                        name.clone(),
                        None,
                    ),
                    "split-file" => (
                        train(
                            &["--data", idx_dir.to_str().unwrap(), "--split", file_s],
                            &runs,
                        ),
                        name.clone(),
                        None,
                    ),
                    "pack-manifest" | "pack-index" | "pack-shard" => {
                        let d = work.join("data.pack");
                        std::fs::create_dir_all(&d).unwrap();
                        for e in std::fs::read_dir(&pack_dir).unwrap() {
                            let e = e.unwrap();
                            std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
                        }
                        let slot = match kind.as_str() {
                            "pack-manifest" => "manifest.json",
                            "pack-index" => "index.csv",
                            _ => "shard-00000.bin",
                        };
                        std::fs::copy(&file, d.join(slot)).unwrap();
                        (
                            train(&["--data", d.to_str().unwrap()], &runs),
                            slot.into(),
                            None,
                        )
                    }
                    "pred-probs" => {
                        let args = [
                            "label-issues",
                            "--pred-probs",
                            file_s,
                            "--out",
                            runs.to_str().unwrap(),
                        ];
                        (
                            args.iter().map(|s| s.to_string()).collect(),
                            name.clone(),
                            None,
                        )
                    }
                    "checkpoint" => {
                        let d = work.join("run");
                        std::fs::create_dir_all(&d).unwrap();
                        for e in std::fs::read_dir(base_runs.join("run")).unwrap() {
                            let e = e.unwrap();
                            std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
                        }
                        std::fs::copy(&file, d.join("checkpoint.bin")).unwrap();
                        let args = [
                            "train",
                            "--resume",
                            d.to_str().unwrap(),
                            "--epochs",
                            "3",
                            "--quiet",
                        ];
                        (
                            args.iter().map(|s| s.to_string()).collect(),
                            "checkpoint.bin".into(),
                            Some(d),
                        )
                    }
                    "image" => {
                        let d = work.join("data");
                        for (class, v) in [("cat", 30u8), ("dog", 200)] {
                            std::fs::create_dir_all(d.join(class)).unwrap();
                            png(&d.join(class).join("good-1.png"), v);
                            png(&d.join(class).join("good-2.png"), v / 2);
                        }
                        std::fs::copy(&file, d.join("cat").join(&name)).unwrap();
                        (
                            train(
                                &[
                                    "--data",
                                    d.to_str().unwrap(),
                                    "--on-error",
                                    "fail",
                                    "--size",
                                    "8x8",
                                ],
                                &runs,
                            ),
                            name.clone(),
                            None,
                        )
                    }
                    other => panic!(
                        "tests/malformed/{other}: unknown kind; teach this test where it goes"
                    ),
                };
            let before = unchanged.as_deref().map(snapshot);
            let out = augtrain(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let expect = expected
                .get(&case)
                .map(String::as_str)
                .unwrap_or("<no expectation in expected.csv>");
            let mut problems = Vec::new();
            if out.status.code() != Some(1) {
                problems.push(format!("exit {:?}", out.status.code()));
            }
            if lines.len() != 1 || !lines[0].starts_with("error: ") {
                problems.push("not exactly one 'error:' line".into());
            }
            if !stderr.contains(&names) {
                problems.push(format!("does not name {names}"));
            }
            if !stderr.contains(expect) {
                problems.push(format!("does not say '{expect}'"));
            }
            if runs.exists() {
                problems.push(format!("wrote {}", runs.display()));
            }
            if let (Some(dir), Some(before)) = (&unchanged, before)
                && snapshot(dir) != before
            {
                problems.push(format!("changed {}", dir.display()));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{case}: {} | stderr: {}",
                    problems.join("; "),
                    stderr.trim()
                ));
            }
        }
    }
    assert_eq!(
        seen,
        expected.len(),
        "tests/malformed/expected.csv lists {} cases, the corpus holds {seen}",
        expected.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {seen} malformed inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Check that every file in a (possibly interrupted) run directory is whole.
fn assert_run_files_whole(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a temporary file of the killed process, never read (cleaned on resume)
        }
        let bytes = std::fs::read(&path).unwrap();
        let what = path.display();
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "json" => {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            "jsonl" => {
                for line in String::from_utf8(bytes).unwrap().lines() {
                    serde_json::from_str::<serde_json::Value>(line)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                }
            }
            "toml" => {
                toml::from_str::<toml::Value>(&String::from_utf8(bytes).unwrap())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            "png" => {
                image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            "csv" | "txt" | "html" => {
                let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(
                    text.ends_with('\n') || text.ends_with("</html>") || text.is_empty(),
                    "{what} is cut short"
                );
            }
            "bin" => {
                augtrain::train::checkpoint::load(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            _ => {}
        }
    }
}

/// SIGKILL `augtrain ARGS` after `delay`; returns whether it had already finished.
fn kill_after(args: &[&str], delay: std::time::Duration) -> bool {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_augtrain"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap().success()
}

/// Kill `pack`, `export` and `train` at many moments: whatever is left at the final path is
/// complete (a pack opens with every record, an export's checksums verify, every run file
/// parses), and the next run cleans up the killed one's hidden temporaries.
#[test]
fn sigkill_at_any_moment_leaves_only_whole_files() {
    use augtrain::data::idx::{write_images, write_labels};
    let root = scratch("kill-anytime");
    let data = root.join("idx");
    std::fs::create_dir_all(&data).unwrap();
    let n = 6000;
    let px: Vec<u8> = (0..n * 28 * 28).map(|i| ((i * 7) % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    write_images(&data.join("train-images-idx3-ubyte"), n, 28, 28, &px, false).unwrap();
    write_labels(&data.join("train-labels-idx1-ubyte"), &labels, false).unwrap();
    write_images(
        &data.join("t10k-images-idx3-ubyte"),
        100,
        28,
        28,
        &px[..100 * 784],
        false,
    )
    .unwrap();
    write_labels(&data.join("t10k-labels-idx1-ubyte"), &labels[..100], false).unwrap();
    let data_s = data.to_str().unwrap();
    // Kill at tenths of how long an uninterrupted run takes on this machine.
    let fractions = 0..10u32;
    let delays = |args: &[&str]| -> Vec<std::time::Duration> {
        let t = std::time::Instant::now();
        ok(&augtrain(args));
        let whole = t.elapsed();
        fractions.clone().map(|k| whole * k / 10).collect()
    };
    let mut interrupted = [0usize; 3];

    // Packs.
    let pack_args = |out: &Path| -> Vec<String> {
        [
            "pack",
            data_s,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--shard-mb",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let timed = pack_args(&root.join("timed.pack"));
    for (k, delay) in delays(&timed.iter().map(String::as_str).collect::<Vec<_>>())
        .into_iter()
        .enumerate()
    {
        let ms = delay.as_millis();
        let out = root.join(format!("p{k}.pack"));
        let args = pack_args(&out);
        let finished = kill_after(&args.iter().map(String::as_str).collect::<Vec<_>>(), delay);
        interrupted[0] += usize::from(!finished);
        if out.exists() {
            let (ds, _, _) = augtrain::data::pack::open(&out)
                .unwrap_or_else(|e| panic!("pack killed after {ms} ms: {e}"));
            assert_eq!(ds.len(), n + 100, "pack killed after {ms} ms is incomplete");
        } else {
            assert!(!finished, "pack finished but {} is missing", out.display());
        }
    }
    ok(&augtrain(&[
        "pack",
        data_s,
        "--out",
        root.join("final.pack").to_str().unwrap(),
        "--quiet",
    ]));

    // Exports (a smaller dataset: one PNG per image).
    let small = root.join("small");
    write_idx(&small);
    let timed = root.join("timed-export");
    for (k, delay) in delays(&[
        "export",
        data_s,
        "--out",
        timed.to_str().unwrap(),
        "--quiet",
    ])
    .into_iter()
    .enumerate()
    {
        let ms = delay.as_millis();
        let out = root.join(format!("e{k}"));
        let finished = kill_after(
            &["export", data_s, "--out", out.to_str().unwrap(), "--quiet"],
            delay,
        );
        interrupted[1] += usize::from(!finished);
        if out.exists() {
            let sums = std::fs::read_to_string(out.join("SHA256SUMS"))
                .unwrap_or_else(|e| panic!("export killed after {ms} ms: {e}"));
            let rows = std::fs::read_to_string(out.join("manifest.csv"))
                .unwrap()
                .lines()
                .count();
            assert_eq!(
                rows,
                n + 100 + 1,
                "export killed after {ms} ms is incomplete"
            );
            for line in sums.lines().step_by(37) {
                let (hash, file) = line.split_once("  ").unwrap();
                let bytes = std::fs::read(out.join(file)).unwrap();
                assert_eq!(
                    augtrain::data::files::hex(&sha2_digest(&bytes)),
                    hash,
                    "{file} in an export killed after {ms} ms"
                );
            }
        }
    }
    ok(&augtrain(&[
        "export",
        small.to_str().unwrap(),
        "--out",
        root.join("final-export").to_str().unwrap(),
        "--quiet",
    ]));

    // Training runs.
    let runs = root.join("runs");
    let train_run = |name: &str| -> Vec<String> {
        [
            "train",
            "--device",
            "cpu",
            "--model",
            "mlp",
            "--epochs",
            "3",
            "--data",
            data_s,
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            name,
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let timed = train_run("timed");
    for (k, delay) in delays(&timed.iter().map(String::as_str).collect::<Vec<_>>())
        .into_iter()
        .enumerate()
    {
        let name = format!("r{k}");
        let args = train_run(&name);
        let finished = kill_after(&args.iter().map(String::as_str).collect::<Vec<_>>(), delay);
        interrupted[2] += usize::from(!finished);
        if runs.join(&name).exists() {
            assert_run_files_whole(&runs.join(&name));
        }
    }
    let leftovers: Vec<String> = [root.clone(), runs.clone()]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial directories of killed runs were not cleaned up: {leftovers:?}"
    );
    eprintln!(
        "interrupted: {} packs, {} exports, {} training runs of 10 each",
        interrupted[0], interrupted[1], interrupted[2]
    );
    assert!(
        interrupted.iter().all(|&i| i >= 3),
        "too few kills landed mid-write: {interrupted:?}"
    );
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// A batch larger than the GPU's largest buffer fails before anything is written, naming the
/// largest batch that fits.
#[test]
fn a_batch_too_large_for_the_gpu_fails_first_and_names_a_batch_that_fits() {
    if !gpu() {
        return;
    }
    let root = scratch("gpu-batch");
    let runs = root.join("runs");
    let train_with = |batch: &str, extra: &[&str]| {
        let mut args = gpu_mlp_args(
            runs.to_str().unwrap(),
            "1",
            "3100",
            "10",
            "64",
            batch,
            "0.01",
        );
        args.extend_from_slice(extra);
        augtrain(&args)
    };
    let train = |batch: &str| train_with(batch, &[]);
    let out = train("3000");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        eprintln!(
            "SKIPPED: this GPU holds a 141 MiB batch in one buffer (lavapipe allows 128 MiB)"
        );
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("needs 141 MiB in one GPU buffer") && stderr.contains("use --batch-size"),
        "{stderr}"
    );
    let most: usize = stderr
        .split("--batch-size ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!runs.exists(), "nothing may be written");
    assert!(stderr.contains("--cpu-fallback"), "{stderr}");
    // The suggested batch does fit.
    ok(&train(&most.to_string()));
    // Asked for, the same batch trains on the CPU instead, and the run records it.
    std::fs::remove_dir_all(&runs).unwrap();
    let out = train_with("3000", &["--cpu-fallback"]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("training on the CPU instead"), "{stderr}");
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("device = \"cpu\""), "{config}");
}

/// A tiny filesystem mounted for one test; unmounted on drop.
struct TinyFs(PathBuf);

impl TinyFs {
    /// Mount a tmpfs of `kib` KiB, or `None` (with a message) where mounting is not allowed.
    fn mount(dir: PathBuf, kib: u32) -> Option<Self> {
        std::fs::create_dir_all(&dir).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k"),
                "tmpfs",
                dir.to_str().unwrap(),
            ])
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self(dir)),
            _ => {
                eprintln!(
                    "SKIPPED: cannot mount a small tmpfs here (needs root); the full-disk case is untested"
                );
                None
            }
        }
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A full output disk fails before training with a message naming the directory, leaves no
/// run directory, and pack/export into it leave no partial directory.
#[test]
fn a_full_disk_fails_before_training_and_leaves_nothing() {
    let root = scratch("full-disk");
    let Some(fs) = TinyFs::mount(root.join("tiny"), 1024) else {
        return;
    };
    let runs = fs.0.join("runs");
    let start = std::time::Instant::now();
    let out = augtrain(&[
        "train",
        "--device",
        "cpu",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "r",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("runs/r"),
        "{stderr}"
    );
    assert!(
        start.elapsed().as_secs() < 20,
        "failed late: {:?}",
        start.elapsed()
    );
    assert!(
        !runs.join("r").exists(),
        "the run directory was left behind"
    );
    let src = root.join("idx");
    write_idx(&src);
    // 20 + 10 images of 16 bytes fit; fill the disk first so that they do not.
    std::fs::write(fs.0.join("filler"), vec![0u8; 1024 * 1024 - 8192]).ok();
    for cmd in ["pack", "export"] {
        let out = augtrain(&[
            cmd,
            src.to_str().unwrap(),
            "--out",
            fs.0.join(cmd).to_str().unwrap(),
            "--quiet",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{cmd}: {stderr}"
        );
        let left: Vec<String> = std::fs::read_dir(&fs.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.iter().all(|n| n == "runs" || n == "filler"),
            "{cmd} left {left:?}"
        );
    }
}

#[test]
fn bench_reports_machine_medians_and_ceilings_as_json() {
    let dir = scratch("bench");
    let empty = dir.join("no-data");
    std::fs::create_dir_all(&empty).unwrap();
    let aug_json = dir.join("augment.json");
    let load_json = dir.join("load.json");
    let table = ok(&augtrain(&[
        "bench",
        "augment",
        "--quick",
        "--quiet",
        "--device",
        "cpu",
        "--json",
        aug_json.to_str().unwrap(),
    ]));
    assert!(table.contains("full pipeline"), "{table}");
    // Without real data the load suite makes its own IDX file and JPEG folder.
    ok(&augtrain(&[
        "bench",
        "load",
        "--quick",
        "--quiet",
        "--device",
        "cpu",
        "--data",
        empty.to_str().unwrap(),
        "--json",
        load_json.to_str().unwrap(),
    ]));
    for path in [&aug_json, &load_json] {
        let report = json(path);
        let machine = &report["machine"];
        for key in ["date", "version", "commit", "cpu", "device"] {
            assert!(
                machine[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key}: {machine}"
            );
        }
        assert!(machine["cores"].as_u64().unwrap() >= 1);
        let rows = report["measurements"].as_array().unwrap();
        assert_eq!(rows[0]["group"], "ceiling", "the ceiling comes first");
        for row in rows {
            let s = &row["stats"];
            let (min, median, max) = (
                s["min"].as_f64().unwrap(),
                s["median"].as_f64().unwrap(),
                s["max"].as_f64().unwrap(),
            );
            assert!(0.0 < min && min <= median && median <= max, "{row}");
            assert!(s["calls_per_sample"].as_u64().unwrap() >= 1, "{row}");
            let ips = row["items_per_second"].as_f64().unwrap();
            let batch = row["batch"].as_f64().unwrap();
            assert!((ips - batch / median).abs() <= 1e-6 * ips, "{row}");
        }
    }
    let aug = json(&aug_json);
    let rows = aug["measurements"].as_array().unwrap();
    for size in ["224x224 RGB", "28x28 gray"] {
        let full = rows
            .iter()
            .find(|r| r["name"] == format!("{size} full pipeline").as_str())
            .unwrap_or_else(|| panic!("no full pipeline row for {size}"));
        // Bytes moved are the u8 input plus the f32 output; the ceiling fraction is measured
        // against the memcpy row of the same run.
        let (w, c): (f64, f64) = if size.starts_with("224") {
            (224.0, 3.0)
        } else {
            (28.0, 1.0)
        };
        let per_image = w * w * c * 5.0;
        let bps = full["bytes_per_second"].as_f64().unwrap();
        let ips = full["items_per_second"].as_f64().unwrap();
        assert!((bps - ips * per_image).abs() <= 1e-6 * bps, "{full}");
        let ceiling = rows[0]["bytes_per_second"].as_f64().unwrap();
        let fraction = full["ceiling_fraction"].as_f64().unwrap();
        assert!((fraction - bps / ceiling).abs() <= 1e-9, "{full}");
        assert!(fraction > 0.0 && fraction < 1.0, "{full}");
    }
    let load = json(&load_json);
    let names: Vec<&str> = load["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "IDX parse 8000x28x28 generated",
        "image folder 200 generated JPEGs",
        "pack read sequential",
        "pack read random",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "{want}: {names:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- [models]

mod models {
    //! Real networks, pretrained weights, transfer learning, export.

    use std::path::{Path, PathBuf};

    use augtrain::data::decode::{ResizePolicy, decode_file};
    use augtrain::data::{Dataset, ImageShape, LoadOptions};
    use augtrain::device::{self, DeviceChoice};
    use augtrain::model::pretrained::{HeadOutcome, HeadPolicy, WeightsFile};
    use augtrain::model::{Model, ModelKind};
    use augtrain::train::config::{Freeze, TrainConfig};
    use augtrain::train::progress::{Reporter, Verbosity};
    use augtrain::train::{Inference, Trainer};
    use burn::module::Module;
    use burn::prelude::{Device, Tensor, TensorData};
    use burn::store::{ModuleSnapshot, bridge};

    use super::common::*;

    const RESNET18: &str = "resnet18-random-seed0.pth";
    const LITE0: &str = "efficientnet-lite0-57934424.pth";
    /// The file a hostile pickle's payload would create in the working directory.
    const MARKER: &str = "augtrain-pickle-executed";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn floats(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
    }

    /// `x[n,c,h,w] = sin(0.1(n+1)(h+1)) · cos(0.07(c+1)(w+1))`, `[2, 3, 64, 64]`, in f32 as
    /// the fixture's torch code computes it.
    fn resnet18_fixture_input() -> Vec<f32> {
        let mut x = Vec::with_capacity(2 * 3 * 64 * 64);
        for n in 0..2 {
            for c in 0..3 {
                for h in 0..64 {
                    for w in 0..64 {
                        let a = 0.1f32 * (n + 1) as f32 * (h + 1) as f32;
                        let b = 0.07f32 * (c + 1) as f32 * (w + 1) as f32;
                        x.push(a.sin() * b.cos());
                    }
                }
            }
        }
        x
    }

    /// ResNet-18 with the fixture's weights, head included, in evaluation mode.
    fn resnet18(models: &Path, device: &Device) -> Model {
        let model =
            Model::new(ModelKind::Resnet18, ImageShape::new(64, 64, 3), 1000, 0, device).unwrap();
        let (model, report) = WeightsFile::open(&models.join(RESNET18))
            .unwrap()
            .load_into(model, HeadPolicy::Keep)
            .unwrap();
        assert_eq!(report.head, HeadOutcome::Loaded);
        // 62 parameters and 2 x 20 batch-norm statistics (num_batches_tracked left out).
        assert_eq!(report.loaded, 102);
        model.valid()
    }

    fn resnet18_logits(model: &Model, device: &Device) -> Vec<f32> {
        let x = Tensor::<4>::from_data(
            TensorData::new(resnet18_fixture_input(), [2, 3, 64, 64]),
            device,
        );
        floats(model.forward(x))
    }

    #[test]
    fn resnet18_state_dict_reproduces_torchvision_logits() {
        let Some(models) = data("models") else { return };
        let expected = json(&models.join("resnet18-random-seed0.expected.json"));
        let device = Device::flex();
        let logits = resnet18_logits(&resnet18(&models, &device), &device);
        let mut worst = 0f64;
        for n in 0..2 {
            let row = &logits[n * 1000..(n + 1) * 1000];
            for (j, want) in expected["logits_first10"][n].as_array().unwrap().iter().enumerate() {
                worst = worst.max((row[j] as f64 - want.as_f64().unwrap()).abs());
            }
            let sum: f32 = row.iter().sum();
            let want_sum = expected["logits_sum"][n].as_f64().unwrap();
            assert!((sum as f64 - want_sum).abs() < 1e-3, "sum {sum} vs {want_sum}");
            let argmax = (0..1000).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(argmax as u64, expected["argmax"][n].as_u64().unwrap());
        }
        eprintln!("resnet18 fixture: max |logit - torchvision| = {worst:.2e}");
        assert!(worst < 1e-4, "max difference {worst}");
    }

    #[test]
    fn exported_weights_reimport_to_identical_logits() {
        let Some(models) = data("models") else { return };
        let device = Device::flex();
        let model = resnet18(&models, &device);
        let before = resnet18_logits(&model, &device);
        let bytes =
            augtrain::model::export::safetensors_bytes(&model, Default::default()).unwrap();
        let dir = scratch("export-reimport");
        let path = dir.join("resnet18.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let file = WeightsFile::open(&path).unwrap();
        let names: Vec<&str> = file.names().collect();
        // torchvision's names: the shortcut as downsample.0/1, BN weight/bias.
        for key in [
            "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.weight",
            "bn1.running_var",
            "fc.weight",
        ] {
            assert!(names.contains(&key), "{key} missing from the export");
        }
        // PyTorch's layout: fc.weight is [out, in]; strict loading finds num_batches_tracked.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        assert_eq!(header["fc.weight"]["shape"], serde_json::json!([1000, 512]));
        assert_eq!(header["bn1.num_batches_tracked"]["dtype"], "I64");
        let fresh =
            Model::new(ModelKind::Resnet18, ImageShape::new(64, 64, 3), 1000, 0, &device).unwrap();
        let (again, _) = file.load_into(fresh, HeadPolicy::Keep).unwrap();
        assert_eq!(resnet18_logits(&again.valid(), &device), before);
    }

    /// Sorted photo files of the real-photos folder.
    fn photo_files(photos: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(photos)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    ["png", "jpg", "jpeg"].contains(&e.to_string_lossy().to_lowercase().as_str())
                })
            })
            .collect();
        files.sort();
        files
    }

    /// `images` (uint8 `[n, h, w, 3]`) as a NumPy `.npy` file.
    fn write_npy(path: &Path, images: &[Vec<u8>], side: usize) {
        let mut header = format!(
            "{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, {side}, {side}, 3), }}",
            images.len()
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        for image in images {
            out.extend_from_slice(image);
        }
        std::fs::write(path, out).unwrap();
    }

    /// EfficientNet-Lite0 with the real ImageNet weights on the ten real photos, against
    /// tools/efficientnet_lite_reference.py run on the very same uint8 inputs (the fixture
    /// holds each input's SHA-256). `AUGTRAIN_WRITE_NPY=FILE` writes those inputs instead, to
    /// remake the fixture:
    ///   AUGTRAIN_WRITE_NPY=/tmp/photos.npy cargo test --release --test cli efficientnet_lite0
    ///   /work/venv/bin/python tools/efficientnet_lite_reference.py --inputs /tmp/photos.npy \
    ///       --out tests/fixtures/efficientnet_lite0_photos.json
    #[test]
    fn efficientnet_lite0_real_weights_match_the_pytorch_reference_on_real_photos() {
        let Some(models) = data("models") else { return };
        let Some(photos) = data("photos") else { return };
        let files = photo_files(&photos);
        assert_eq!(files.len(), 10);
        // augtrain's evaluation preprocessing: loaded at 256x256 (shorter side, centre crop),
        // then the centre 224x224 window.
        let opts = LoadOptions {
            size: [256, 256],
            channels: 3,
            resize: ResizePolicy::CenterCrop,
            ..LoadOptions::default()
        };
        let loaded: Vec<Vec<u8>> = files
            .iter()
            .map(|p| decode_file(p, &opts).unwrap().0.pixels)
            .collect();
        let crops: Vec<Vec<u8>> = loaded
            .iter()
            .map(|img| {
                (16..240)
                    .flat_map(|y| img[(y * 256 + 16) * 3..(y * 256 + 240) * 3].to_vec())
                    .collect()
            })
            .collect();
        if let Some(npy) = std::env::var_os("AUGTRAIN_WRITE_NPY") {
            write_npy(Path::new(&npy), &crops, 224);
            eprintln!("wrote {} inputs to {}", crops.len(), Path::new(&npy).display());
            return;
        }
        let reference = json(&fixture("efficientnet_lite0_photos.json"));
        let rows = reference["images"].as_array().unwrap();
        assert_eq!(rows.len(), 10);
        for (crop, row) in crops.iter().zip(rows) {
            let sha = sha256_hex(crop);
            assert_eq!(sha, row["sha256"].as_str().unwrap(), "not the reference's input");
        }
        let cpu = device::open(DeviceChoice::Cpu).unwrap();
        let inference = Inference::pretrained(
            ModelKind::EfficientnetLite0,
            &models.join(LITE0),
            None,
            &cpu,
        )
        .unwrap();
        assert_eq!(inference.aug.output_shape(), ImageShape::new(224, 224, 3));
        let images: Vec<&[u8]> = loaded.iter().map(Vec::as_slice).collect();
        let ids: Vec<u64> = (0..10).collect();
        let batch = inference.aug.batch(&images, &ids, 0, &cpu.device).unwrap();
        // The pipeline's input is the crop, scaled as (x - 127) / 128.
        let input = batch.images.clone().into_data().to_vec::<f32>().unwrap();
        for (i, crop) in crops.iter().enumerate() {
            for c in 0..3 {
                for p in (0..224 * 224).step_by(97) {
                    let got = input[(i * 3 + c) * 224 * 224 + p];
                    let want = (crop[p * 3 + c] as f32 - 127.0) / 128.0;
                    assert!((got - want).abs() < 1e-5, "input {i} {c} {p}: {got} vs {want}");
                }
            }
        }
        let logits = floats(inference.model.forward(batch.images));
        let mut worst = 0f64;
        let mut top1 = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let ours = &logits[i * 1000..(i + 1) * 1000];
            for (a, b) in ours.iter().zip(row["logits"].as_array().unwrap()) {
                worst = worst.max((*a as f64 - b.as_f64().unwrap()).abs());
            }
            top1.push((0..1000).max_by(|&a, &b| ours[a].total_cmp(&ours[b])).unwrap());
        }
        eprintln!("efficientnet-lite0 on 10 photos: max |logit - PyTorch| = {worst:.2e}");
        assert!(worst < 1e-3, "max difference {worst}");
        let name = |i: usize| files[i].file_stem().unwrap().to_string_lossy().into_owned();
        for (i, &class) in top1.iter().enumerate() {
            match name(i).as_str() {
                "chelsea" => assert!((281..=285).contains(&class), "chelsea: {class}"),
                "coffee" => assert_eq!(class, 967, "coffee"),
                "rocket" => assert_eq!(class, 657, "rocket"),
                _ => {}
            }
        }
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Every tensor of a model (parameters and batch-norm statistics) by name.
    fn tensors(model: &Model) -> std::collections::BTreeMap<String, Vec<f32>> {
        model
            .collect(None, None, true)
            .iter()
            .map(|t| {
                let data = bridge::to_data(t).unwrap().convert::<f32>();
                (t.name.clone(), data.to_vec::<f32>().unwrap())
            })
            .collect()
    }

    /// One epoch of ResNet-18 (fixture weights, new 10-class head) on a little synthetic data;
    /// the tensors before and after.
    fn one_epoch(models: &Path, freeze: Freeze) -> [std::collections::BTreeMap<String, Vec<f32>>; 2] {
        let mut cfg = TrainConfig::default();
        cfg.model.kind = ModelKind::Resnet18;
        cfg.model.pretrained = Some(models.join(RESNET18));
        cfg.model.freeze = freeze;
        cfg.batch_size = 16;
        cfg.epochs = 1;
        cfg.optimizer.lr = 0.01;
        cfg.data.synthetic_train = 64;
        cfg.data.synthetic_test = 10;
        let splits = cfg.data.load(cfg.seed).unwrap();
        let cpu = device::open(DeviceChoice::Cpu).unwrap();
        let mut trainer = Trainer::new(&cfg, &splits.train, &cpu).unwrap();
        let before = tensors(&trainer.model().valid());
        let record = trainer
            .epoch(0, None, &Reporter::new(Verbosity::Quiet))
            .unwrap();
        assert!(record.train_loss.is_finite());
        [before, tensors(&trainer.model().valid())]
    }

    #[test]
    fn freezing_the_backbone_keeps_its_weights_and_statistics_bit_identical() {
        let Some(models) = data("models") else { return };
        let [before, after] = one_epoch(&models, Freeze::Backbone);
        assert_eq!(before.len(), after.len());
        let mut head_changed = false;
        for (name, b) in &before {
            let a = &after[name];
            if name.starts_with("fc.") {
                head_changed |= a != b;
            } else {
                assert!(a == b, "{name} changed although the backbone is frozen");
            }
        }
        assert!(head_changed, "the head did not train");
        // The control: without freezing, the same epoch moves the backbone and its statistics.
        let [before, after] = one_epoch(&models, Freeze::None);
        for name in ["conv1.weight", "bn1.running_mean", "layer4.1.bn2.running_var"] {
            assert!(before[name] != after[name], "{name} did not change when training all");
        }
    }

    /// A folder of 2 x `n` real photos (ants, bees) for short runs.
    fn photo_folder(root: &Path, n: usize) -> Option<PathBuf> {
        let dir = root.join("photos");
        super::real_folder(&dir, &["ants", "bees"], n)?;
        Some(dir)
    }

    /// Run augtrain in `dir` (where a pickle payload would write its marker).
    fn augtrain_in(dir: &Path, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_augtrain"))
            .args(args)
            .current_dir(dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap()
    }

    /// Exit code and the stderr lines of a failed command; asserts one `error:` line.
    fn failure(out: &std::process::Output) -> (i32, String) {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(errors, 1, "expected one error line:\n{stderr}");
        (out.status.code().unwrap_or(-1), stderr)
    }

    #[test]
    fn weights_that_do_not_fit_fail_with_one_line_and_write_nothing() {
        let Some(models) = data("models") else { return };
        let root = scratch("pretrained-bad");
        let Some(photos) = photo_folder(&root, 3) else { return };
        let truncated = root.join("truncated.pth");
        let full = std::fs::read(models.join(RESNET18)).unwrap();
        std::fs::write(&truncated, &full[..full.len() / 3]).unwrap();
        let empty = root.join("empty.pth");
        std::fs::write(&empty, b"").unwrap();
        let hostile = fixture("pretrained/root-os-system.pth");
        let runs = root.join("runs");
        let resnet18 = models.join(RESNET18);
        let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
            (
                vec!["--model", "efficientnet-lite0", "--pretrained", resnet18.to_str().unwrap()],
                1,
                vec!["does not fit the efficientnet-lite0 model", "_conv_stem.weight", "--model resnet18"],
            ),
            (
                vec!["--model", "resnet34", "--pretrained", resnet18.to_str().unwrap()],
                1,
                vec!["does not fit the resnet34 model", "layer1.2.conv1.weight"],
            ),
            (
                vec!["--model", "resnet18", "--pretrained", truncated.to_str().unwrap()],
                1,
                vec!["truncated.pth", "cannot read it"],
            ),
            (
                vec!["--model", "resnet18", "--pretrained", empty.to_str().unwrap()],
                1,
                vec!["empty.pth", "empty"],
            ),
            (
                vec!["--model", "resnet18", "--pretrained", hostile.to_str().unwrap()],
                1,
                vec!["root-os-system.pth", "cannot read it"],
            ),
            (vec!["--model", "resnet18", "--freeze", "backbone"], 2, vec!["--pretrained"]),
        ];
        for (extra, code, words) in cases {
            let mut args = vec![
                "train",
                "--device",
                "cpu",
                "--epochs",
                "1",
                "--size",
                "40x40",
                "--quiet",
                "--data",
                photos.to_str().unwrap(),
                "--runs-dir",
                runs.to_str().unwrap(),
            ];
            args.extend(extra.iter().copied());
            let out = augtrain_in(&root, &args);
            let (got, stderr) = failure(&out);
            assert_eq!(got, code, "{extra:?}:\n{stderr}");
            for w in words {
                assert!(stderr.contains(w), "{extra:?}: no '{w}' in:\n{stderr}");
            }
            let written = std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0);
            assert_eq!(written, 0, "{extra:?} wrote a run directory");
        }
        assert!(!root.join(MARKER).exists(), "a pickle payload ran");
        // predict with the file's own head: a names file of the wrong length.
        let names = root.join("names.txt");
        std::fs::write(&names, "ant\nbee\nwasp\n").unwrap();
        let out = augtrain_in(
            &root,
            &[
                "predict",
                "--device",
                "cpu",
                "--pretrained",
                resnet18.to_str().unwrap(),
                "--model",
                "resnet18",
                "--class-names",
                names.to_str().unwrap(),
                "--data",
                photos.to_str().unwrap(),
                "--out",
                root.join("pred").to_str().unwrap(),
            ],
        );
        let (code, stderr) = failure(&out);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("names 3 classes") && stderr.contains("1000"), "{stderr}");
        assert!(!root.join("pred").exists());
    }

    #[test]
    fn a_pickle_payload_is_ignored_and_the_state_dict_around_it_loads() {
        let root = scratch("pretrained-payload");
        let Some(photos) = photo_folder(&root, 3) else { return };
        let file = fixture("pretrained/reduce-in-dict.pth");
        let runs = root.join("runs");
        let out = augtrain_in(
            &root,
            &[
                "train",
                "--device",
                "cpu",
                "--model",
                "mlp",
                "--hidden",
                "4",
                "--size",
                "8x8",
                "--epochs",
                "1",
                "--data",
                photos.to_str().unwrap(),
                "--pretrained",
                file.to_str().unwrap(),
                "--runs-dir",
                runs.to_str().unwrap(),
                "--name",
                "payload",
            ],
        );
        let stdout = ok(&out);
        assert!(
            stdout.contains("loaded 4 tensors") && stdout.contains("head included"),
            "{stdout}"
        );
        assert!(!root.join(MARKER).exists(), "the pickle payload ran");
    }

    #[test]
    fn transfer_learning_from_the_command_line_records_its_preprocessing() {
        let Some(models) = data("models") else { return };
        let root = scratch("transfer-cli");
        let Some(photos) = photo_folder(&root, 4) else { return };
        let runs = root.join("runs");
        let resnet18 = models.join(RESNET18);
        let stdout = ok(&augtrain(&[
            "train",
            "--device",
            "cpu",
            "--model",
            "resnet18",
            "--pretrained",
            resnet18.to_str().unwrap(),
            "--freeze",
            "backbone",
            "--size",
            "64x64",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--data",
            photos.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            "hym",
        ]));
        assert!(
            stdout.contains("1000-class head was replaced by a new 2-class one"),
            "{stdout}"
        );
        let run = runs.join("hym");
        let card = json(&run.join("model.json"));
        assert_eq!(card["architecture"], "resnet18");
        assert_eq!(card["width"], 64);
        assert_eq!(card["model_input"]["width"], 56);
        assert_eq!(card["normalization"]["mean"][0].as_f64().unwrap() as f32, 0.485);
        let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
        assert!(config.contains("eval = \"center_crop\""), "{config}");
        assert!(config.contains("freeze = \"backbone\""), "{config}");
        // eval reproduces the test report through the same centre crop.
        let report = json(&run.join("report.json"));
        let eval_json = root.join("eval.json");
        ok(&augtrain(&[
            "eval",
            "--run",
            run.to_str().unwrap(),
            "--device",
            "cpu",
            "--json",
            eval_json.to_str().unwrap(),
            "--quiet",
        ]));
        assert_eq!(json(&eval_json)["accuracy"], report["accuracy"]);
        // export-model: PyTorch names, a 2-class head, then refuses to overwrite.
        let out_file = root.join("hym.safetensors");
        ok(&augtrain(&[
            "export-model",
            "--run",
            run.to_str().unwrap(),
            "--format",
            "safetensors",
            "--out",
            out_file.to_str().unwrap(),
        ]));
        let file = WeightsFile::open(&out_file).unwrap();
        assert_eq!(file.head_classes("fc"), Some(2));
        let again = augtrain(&[
            "export-model",
            "--run",
            run.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ]);
        assert_eq!(again.status.code(), Some(2));
        // The exported backbone is the pretrained one (frozen), bit for bit.
        let original = WeightsFile::open(&resnet18).unwrap();
        let device = Device::flex();
        let shape = ImageShape::new(56, 56, 3);
        let (a, _) = original
            .load_into(
                Model::new(ModelKind::Resnet18, shape, 2, 0, &device).unwrap(),
                HeadPolicy::Replace,
            )
            .unwrap();
        let (b, _) = file
            .load_into(
                Model::new(ModelKind::Resnet18, shape, 2, 0, &device).unwrap(),
                HeadPolicy::Keep,
            )
            .unwrap();
        let (a, b) = (tensors(&a), tensors(&b));
        for (name, value) in &a {
            if !name.starts_with("fc.") {
                assert!(&b[name] == value, "{name} differs from the pretrained file");
            }
        }
    }

    #[test]
    fn predict_with_a_pretrained_head_names_imagenet_classes() {
        let Some(models) = data("models") else { return };
        let Some(photos) = data("photos") else { return };
        let root = scratch("predict-pretrained");
        let names = root.join("names.txt");
        let list: Vec<String> = (0..1000).map(|i| format!("class-{i}")).collect();
        std::fs::write(&names, list.join("\n")).unwrap();
        let out = root.join("pred");
        let stdout = ok(&augtrain(&[
            "predict",
            "--device",
            "cpu",
            "--pretrained",
            models.join(LITE0).to_str().unwrap(),
            "--model",
            "efficientnet-lite0",
            "--class-names",
            names.to_str().unwrap(),
            "--data",
            photos.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
        let line = |stem: &str| {
            stdout
                .lines()
                .find(|l| l.starts_with(stem))
                .unwrap_or_else(|| panic!("no line for {stem}:\n{stdout}"))
                .to_string()
        };
        assert!(line("coffee").contains(": 967 class-967"), "{stdout}");
        assert!(line("rocket").contains(": 657 class-657"), "{stdout}");
        let chelsea = line("chelsea");
        assert!(
            (281..=285).any(|c| chelsea.contains(&format!(": {c} class-{c}"))),
            "{chelsea}"
        );
        let csv = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
        assert_eq!(csv.lines().count(), 11);
        assert!(csv.lines().next().unwrap().ends_with(",p_class-999"));
    }

    #[test]
    fn resnet_small_learns_and_resume_keeps_its_batch_norm_statistics() {
        let root = scratch("resnet-small");
        let runs = root.join("runs");
        let runs_s = runs.to_str().unwrap();
        let args = |name: &'static str, epochs: &'static str| {
            vec![
                "train",
                "--device",
                "cpu",
                "--model",
                "resnet-small",
                "--epochs",
                epochs,
                "--synthetic-train",
                "600",
                "--synthetic-test",
                "200",
                "--batch-size",
                "32",
                "--lr",
                "0.05",
                "--seed",
                "5",
                "--runs-dir",
                runs_s,
                "--name",
                name,
                "--quiet",
            ]
        };
        ok(&augtrain(&args("whole", "2")));
        ok(&augtrain(&args("halves", "1")));
        let resumed = runs.join("halves");
        let mut resume = args("halves", "2");
        let at = resume.iter().position(|a| *a == "--name").unwrap();
        resume.drain(at..at + 2);
        resume.extend(["--resume", resumed.to_str().unwrap()]);
        ok(&augtrain(&resume));
        let whole = json(&runs.join("whole/report.json"));
        let halves = json(&resumed.join("report.json"));
        assert_eq!(whole["accuracy"], halves["accuracy"]);
        assert_eq!(whole["loss"], halves["loss"]);
        assert!(
            std::fs::read(runs.join("whole/predictions.csv")).unwrap()
                == std::fs::read(resumed.join("predictions.csv")).unwrap()
        );
        assert!(whole["accuracy"].as_f64().unwrap() > 0.3, "{whole}");
    }

    #[test]
    fn transfer_learning_example_runs_in_quick_mode() {
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join("examples/transfer_learning");
        assert!(bin.exists(), "{} missing (cargo test builds examples)", bin.display());
        let out_dir = scratch("example-transfer");
        let mut cmd = std::process::Command::new(&bin);
        cmd.env("AUGTRAIN_EXAMPLE_QUICK", "1")
            .env("AUGTRAIN_EXAMPLE_OUT", &out_dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        let data_dir = data("");
        if let Some(d) = &data_dir {
            cmd.env("AUGTRAIN_TEST_DATA", d);
        }
        let o = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
        if data_dir.is_some() && data("models").is_some() {
            assert!(stdout.contains("## 1.") && stdout.contains("## 4."), "{stdout}");
            assert!(out_dir.join("transfer_learning/fine-tune/report.html").exists());
        }
    }
}
