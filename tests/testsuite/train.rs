//! Training end to end: synthetic data on the CPU and the (software) GPU, real MNIST, CIFAR
//! batches, malformed IDX files, bad pipeline specs, class balancing, determinism and resume.

use std::path::Path;

use crate::support::*;

#[test]
fn train_synthetic_on_cpu_learns_and_writes_the_run_directory() {
    let runs = scratch("cpu-train");
    let stdout = TrainArgs::small().runs_dir(&runs).name("r").run_ok();
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
    let run = |name: &str, seed: u64| {
        TrainArgs::small()
            .runs_dir(&runs)
            .name(name)
            .seed(seed)
            .run_ok()
    };
    run("a", 7);
    run("b", 7);
    run("c", 8);
    let read = |n: &str, f: &str| std::fs::read_to_string(runs.join(n).join(f)).unwrap();
    assert_eq!(read("a", "report.json"), read("b", "report.json"));
    assert_eq!(read("a", "predictions.csv"), read("b", "predictions.csv"));
    assert_ne!(read("a", "predictions.csv"), read("c", "predictions.csv"));
}

#[test]
fn resume_continues_to_the_same_result_as_an_uninterrupted_run() {
    let runs = scratch("resume");
    TrainArgs::small().runs_dir(&runs).name("straight").run_ok();
    // One epoch, then resume for the second.
    TrainArgs::small()
        .epochs(1)
        .runs_dir(&runs)
        .name("split")
        .quiet()
        .run_ok();
    TrainArgs::new()
        .resume(&runs.join("split"))
        .epochs(2)
        .quiet()
        .run_ok();
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
    let stdout = TrainArgs::new()
        .device("gpu")
        .epochs(2)
        .synthetic(400, 100)
        .batch_size(50)
        .runs_dir(&runs)
        .name("g")
        .run_ok();
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

/// The epochs of a run's `metrics.jsonl`.
fn epochs(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn resident_training_images_train_like_streamed_ones_and_are_uploaded_once() {
    if !gpu() {
        return;
    }
    let runs = scratch("gpu-resident");
    let run = |name: &str, fraction: &str, train: usize, sync_every: usize| {
        TrainArgs::new()
            .device("gpu")
            .epochs(2)
            .synthetic(train, 50)
            .batch_size(50)
            .set("--resident-fraction", fraction)
            .set("--sync-every", sync_every)
            .runs_dir(&runs)
            .name(name)
            .quiet()
            .run_ok();
        epochs(&runs.join(name))
    };
    let resident = run("resident", "0.25", 400, 1000);
    let streamed = run("streamed", "0", 400, 1000);
    for (r, s) in resident.iter().zip(&streamed) {
        for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy"] {
            assert_eq!(r[key], s[key], "{key} differs: {r} vs {s}");
        }
        let (rt, st) = (&r["transfers"], &s["transfers"]);
        assert_eq!(rt["resident"], true, "{rt}");
        assert_eq!(st["resident"], false, "{st}");
        assert_eq!(rt["image_bytes_uploaded"], 0, "{rt}");
        assert!(st["image_bytes_uploaded"].as_u64().unwrap() > 0, "{st}");
        assert_eq!(
            st["image_bytes_uploaded"], streamed[0]["transfers"]["image_bytes_uploaded"],
            "every streamed epoch uploads the same images"
        );
        // One read per epoch (its end), however many batches: 8 here.
        assert_eq!(rt["host_syncs"], 1, "{rt}");
        assert_eq!(rt["bytes_read_back"], 8 * 2 * 4, "{rt}");
        assert!(rt["kernel_launches"].as_u64().unwrap() > 8, "{rt}");
    }
    let read = |n: &str| std::fs::read_to_string(runs.join(n).join("report.json")).unwrap();
    assert_eq!(read("resident"), read("streamed"));
    // Twice the batches, still one sync per epoch; every second batch: one sync per two.
    let larger = run("larger", "0.25", 800, 1000);
    assert!(larger.iter().all(|e| e["transfers"]["host_syncs"] == 1));
    let often = run("often", "0.25", 400, 2);
    assert!(often.iter().all(|e| e["transfers"]["host_syncs"] == 4));
}

#[test]
fn a_set_over_the_resident_budget_is_streamed_with_one_line_saying_why() {
    if !gpu() {
        return;
    }
    let runs = scratch("gpu-budget");
    let run = |name: &str, budget: &str| {
        let said = TrainArgs::new()
            .device("gpu")
            .epochs(1)
            .synthetic(100, 20)
            .batch_size(50)
            .set("--resident-budget", budget)
            .set("--clip-grad-norm", "0.5")
            .set("--sync-every", "1000")
            .runs_dir(&runs)
            .name(name)
            .run_ok();
        (said, epochs(&runs.join(name)))
    };
    // 100 images of 28x28: 78,400 bytes, over a budget of 1,000.
    let (said, small) = run("small", "1000");
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("streaming:"))
        .collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(
        lines[0].contains("exceed the resident budget") && lines[0].contains("--resident-budget"),
        "{}",
        lines[0]
    );
    assert_eq!(small[0]["transfers"]["resident"], false);
    // A budget that holds them: resident, nothing said; clipping on the device reads nothing,
    // so the epoch syncs once (its end) with --clip-grad-norm as without.
    let (said, fits) = run("fits", "1000000");
    assert!(!said.contains("streaming:"), "{said}");
    assert_eq!(fits[0]["transfers"]["resident"], true);
    assert_eq!(fits[0]["transfers"]["host_syncs"], 1);
    assert_eq!(small[0]["train_loss"], fits[0]["train_loss"]);
}

/// Whether two GPU adapters can be opened (Mesa offers lavapipe over Vulkan and llvmpipe over
/// OpenGL); skip loudly with fewer, or fail when `AUGTRAIN_REQUIRE_GPU=1`.
fn two_adapters() -> bool {
    if !gpu() {
        return false;
    }
    let n = augtrain::device::list_adapters().len();
    if n >= 2 {
        return true;
    }
    if required("AUGTRAIN_REQUIRE_GPU") {
        panic!(
            "AUGTRAIN_REQUIRE_GPU=1 but only {n} GPU adapter; install libegl-mesa0 and libgl1-mesa-dri for Mesa's OpenGL one"
        );
    }
    eprintln!("SKIPPED: data-parallel training needs two GPU adapters, found {n}");
    false
}

#[test]
fn data_parallel_training_on_two_devices_follows_one_device_with_the_same_global_batch() {
    if !two_adapters() {
        return;
    }
    let runs = scratch("two-devices");
    let run = |name: &str, devices: &str| {
        TrainArgs::new()
            .set("--devices", devices)
            .model("mlp")
            .epochs(2)
            .synthetic(400, 50)
            .batch_size(50)
            .set("--lr", "0.005")
            .set("--sync-every", "1000")
            .runs_dir(&runs)
            .name(name)
            .quiet()
            .run_ok();
        epochs(&runs.join(name))
    };
    let one = run("one", "0");
    let two = run("two", "0,1");
    for (a, b) in one.iter().zip(&two) {
        for key in ["train_loss", "val_loss"] {
            let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            // The two adapters' exp/log differ in the last bits (Vulkan vs OpenGL shaders).
            assert!((x - y).abs() <= 1e-3 * x.abs(), "{key}: {x} vs {y}");
        }
        let (ta, tb) = (&a["transfers"], &b["transfers"]);
        assert!(ta.get("parallel").is_none(), "one device: {ta}");
        // 8 steps: each moves the replica's gradients in and the weights out, one flattened
        // buffer each way, every shard queued before anything is read (parallel_counts).
        let steps = parallel_counts(tb, 2);
        assert_eq!(steps, 8, "{tb}");
        assert_eq!(
            tb["host_syncs"].as_u64().unwrap(),
            2 * steps + ta["host_syncs"].as_u64().unwrap(),
            "{ta} vs {tb}"
        );
        assert_eq!(
            tb["image_bytes_uploaded"], 0,
            "resident on both devices: {tb}"
        );
    }
    let config = std::fs::read_to_string(runs.join("two").join("config.toml")).unwrap();
    assert!(config.contains("devices = [0, 1]"), "{config}");
}

/// Check an epoch's data-parallel counters over `devices` devices, each step sharding over all
/// of them: every shard queued before any read, one gradient buffer per replica per step back
/// and one weight buffer per replica per step out. Returns the steps.
fn parallel_counts(transfers: &serde_json::Value, devices: u64) -> u64 {
    let p = &transfers["parallel"];
    let count = |key: &str| {
        p[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {transfers}"))
    };
    let steps = count("steps");
    assert!(steps > 0, "{transfers}");
    assert_eq!(count("steps_read_before_all_queued"), 0, "{transfers}");
    assert_eq!(count("shards_queued"), devices * steps, "{transfers}");
    assert_eq!(
        count("gradient_transfers"),
        (devices - 1) * steps,
        "{transfers}"
    );
    assert_eq!(
        count("weight_transfers"),
        (devices - 1) * steps,
        "{transfers}"
    );
    steps
}

#[test]
fn data_parallel_batch_norm_model_queues_every_shard_before_reading_and_moves_one_buffer_each_way()
{
    if !two_adapters() {
        return;
    }
    let runs = scratch("two-devices-counters");
    TrainArgs::new()
        .set("--devices", "0,1")
        .model("resnet-small")
        .epochs(2)
        .synthetic(120, 20)
        .batch_size(40)
        .set("--sync-every", "1000")
        .runs_dir(&runs)
        .name("two")
        .quiet()
        .run_ok();
    let epochs = epochs(&runs.join("two"));
    assert_eq!(epochs.len(), 2);
    for epoch in &epochs {
        let t = &epoch["transfers"];
        let steps = parallel_counts(t, 2);
        assert_eq!(steps, 3, "{t}");
        // Per step one read of each replica's gradients and one of the main device's weights;
        // one read of the pending metrics at the epoch's end.
        assert_eq!(t["host_syncs"].as_u64().unwrap(), 2 * steps + 1, "{t}");
        assert!(epoch["val_loss"].as_f64().unwrap().is_finite(), "{epoch}");
    }
}

#[test]
fn a_loss_that_diverges_on_the_gpu_is_caught_at_the_epoch_end_naming_its_batch() {
    if !gpu() {
        return;
    }
    let runs = scratch("diverge");
    // Epoch 1 at lr 0.05, epoch 2 at 5e28: the loss becomes NaN in epoch 2's second batch.
    // Read back only at the epoch's end (reliability.rs checks the CPU, reading every batch):
    // the check still names the batch.
    let out = TrainArgs::new()
        .device("gpu")
        .model("mlp")
        .epochs(3)
        .synthetic(300, 30)
        .batch_size(50)
        .set("--schedule", "step")
        .set("--step-size", "1")
        .set("--gamma", "1e30")
        .set("--sync-every", "1000")
        .runs_dir(&runs)
        .name("gpu")
        .quiet()
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the loss became NaN at epoch 2, batch 2")
            && stderr.contains("last good checkpoint (epoch 1) was kept"),
        "{stderr}"
    );
    let run = runs.join("gpu");
    assert_eq!(epochs(&run).len(), 1, "only epoch 1 is recorded");
    assert!(run.join("checkpoint.bin").exists());
}

#[test]
fn cnn_on_real_mnist_on_cpu() {
    let Some(mnist) = data("mnist-10k") else {
        return;
    };
    let runs = scratch("mnist");
    TrainArgs::new()
        .device("cpu")
        .data(&mnist)
        .model("cnn")
        .epochs(1)
        .set("--lr", "0.05")
        .batch_size(64)
        .runs_dir(&runs)
        .name("m")
        .quiet()
        .run_ok();
    let report = json(&runs.join("m").join("report.json"));
    let acc = report["accuracy"].as_f64().unwrap();
    assert_eq!(report["samples"].as_u64(), Some(2000));
    assert!(
        acc > 0.9,
        "one CNN epoch on mnist-10k should exceed 90%: {acc}"
    );
}

#[test]
fn malformed_idx_files_fail_with_one_clear_line_and_write_nothing() {
    let root = scratch("malformed");
    // Sanity: the valid dataset trains (MLP: 4x4 is too small for the CNN).
    let good = root.join("good");
    write_idx(&good);
    // The same command line for every case below, on its own data and runs directory.
    let mlp = TrainArgs::new().device("cpu").model("mlp").epochs(1);
    mlp.clone()
        .data(&good)
        .runs_dir(&root.join("runs-good"))
        .quiet()
        .run_ok();

    for (name, file, expect, breaker) in idx_breakers() {
        let dir = root.join(name);
        write_idx(&dir);
        breaker(&dir);
        let runs = root.join(format!("runs-{name}"));
        let out = mlp.clone().data(&dir).runs_dir(&runs).run();
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

/// A way to break a valid IDX dataset (from [`write_idx`]) in its directory.
type Breaker = fn(&Path);

/// The broken IDX datasets: (case, the file the message must name or `missing`, what it must
/// say, how to break the dataset).
fn idx_breakers() -> Vec<(&'static str, &'static str, &'static str, Breaker)> {
    use augtrain::data::idx::{write_images, write_labels};
    vec![
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
    ]
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
    let out = TrainArgs::new()
        .set_path("--augment", &spec)
        .runs_dir(&root.join("runs"))
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("degress") && stderr.contains("p.toml"),
        "{stderr}"
    );
    assert!(!root.join("runs").exists());
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
    TrainArgs::new()
        .data(&dir)
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .name("c")
        .quiet()
        .run_ok();
    let report = json(&runs.join("c/report.json"));
    assert_eq!(report["samples"], 50);
    assert!(report["classification_report"]["truck"].is_object());
    // A truncated batch is one clear error naming it.
    let bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
    std::fs::write(dir.join("test_batch.bin"), &bytes[..bytes.len() - 7]).unwrap();
    let out = TrainArgs::new().data(&dir).runs_dir(&runs).run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("test_batch.bin") && stderr.contains("truncated"),
        "{stderr}"
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
        let stdout = TrainArgs::new()
            .data(&ds)
            .set("--balance", mode)
            .size("16x16")
            .model("mlp")
            .epochs(1)
            .set("--val-fraction", "0.1")
            .set("--test-fraction", "0.1")
            .seed(1)
            .runs_dir(&runs)
            .name(mode)
            .run_ok();
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

/// A one-epoch MLP run (CPU, 8x8) named `name` on a folder of 3 classes × 20 distinct PNGs
/// made under `root/ds`; the folder and the run directory.
fn folder_run(root: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let ds = image_folder(&root.join("ds"), &["blue", "green", "red"], 20);
    let runs = root.join("runs");
    folder_args(&ds).runs_dir(&runs).name(name).run_ok();
    (ds, runs.join(name))
}

/// The quick folder training of [`folder_run`], without a destination.
fn folder_args(ds: &Path) -> TrainArgs {
    TrainArgs::new()
        .device("cpu")
        .data(ds)
        .size("8x8")
        .model("mlp")
        .epochs(1)
        .batch_size(16)
        .quiet()
}

/// The `path` column of a run's `predictions.csv`: its test images.
fn test_paths(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let mut paths: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

/// A resumed run trains on the splits it recorded: new images are refused unless asked for,
/// and then join only the training split; a changed image is refused, naming it. Before,
/// the splits were carved again from the changed data and test images became training images.
#[test]
fn a_resume_after_the_data_changed_keeps_the_recorded_splits_or_says_what_changed() {
    let root = scratch("resume-data-changed");
    let (ds, run) = folder_run(&root, "r");
    let tests_before = test_paths(&run);
    let dataset_before = std::fs::read(run.join("dataset.json")).unwrap();
    for i in 0..6u8 {
        image::RgbImage::from_pixel(8, 8, image::Rgb([200, 7 * i, 9]))
            .save(ds.join("red").join(format!("new-{i}.png")))
            .unwrap();
    }
    let out = TrainArgs::new().resume(&run).epochs(2).quiet().run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("6 new ('red/new-0.png'") && stderr.contains("--allow-new-train-images"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(run.join("dataset.json")).unwrap(),
        dataset_before
    );
    // Asked for: the new images train, validation and test stay as recorded.
    TrainArgs::new()
        .resume(&run)
        .epochs(2)
        .switch("--allow-new-train-images")
        .quiet()
        .run_ok();
    assert_eq!(test_paths(&run), tests_before);
    let counts = |f: &str| json(&run.join(f))["counts"].clone();
    let before: serde_json::Value = serde_json::from_slice(&dataset_before).unwrap();
    assert_eq!(counts("dataset.json")[1], before["counts"][1], "val");
    assert_eq!(counts("dataset.json")[2], before["counts"][2], "test");
    let train = |v: &serde_json::Value| v[0][2].as_u64().unwrap();
    assert_eq!(train(&counts("dataset.json")), train(&before["counts"]) + 6);
    let splits = std::fs::read_to_string(run.join("splits.csv")).unwrap();
    assert!(splits.contains("red/new-5.png,train,red,"), "{splits}");
    // A recorded image whose pixels changed is refused by name.
    let changed = tests_before[0].clone();
    image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
        .save(ds.join(&changed))
        .unwrap();
    let out = TrainArgs::new()
        .resume(&run)
        .epochs(3)
        .switch("--allow-new-train-images")
        .quiet()
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("1 changed ('{changed}')")),
        "{stderr}"
    );
}

/// What a run is (model, input size, weights, classes, seed, splits) cannot change on resume:
/// a usage error naming the flag, before anything is loaded. Before, `--pretrained` was
/// written into config.toml although the weights were never loaded, and `--size` or
/// `--model` failed later on the checkpoint.
#[test]
fn a_resume_refuses_flags_that_change_what_the_run_is_and_records_the_others() {
    let root = scratch("resume-flags");
    let (_, run) = folder_run(&root, "r");
    let config_before = std::fs::read(run.join("config.toml")).unwrap();
    let weights = root.join("weights.pth");
    std::fs::write(&weights, b"never read").unwrap();
    for (flag, value) in [
        ("--size", "16x16"),
        ("--model", "cnn"),
        ("--pretrained", weights.to_str().unwrap()),
        ("--classes", "blue,red"),
        ("--seed", "7"),
        ("--val-fraction", "0.3"),
    ] {
        let out = TrainArgs::new()
            .resume(&run)
            .epochs(2)
            .set(flag, value)
            .quiet()
            .run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("made with {flag} ")) && stderr.contains("new run"),
            "{flag}: {stderr}"
        );
        assert_eq!(
            std::fs::read(run.join("config.toml")).unwrap(),
            config_before,
            "{flag}"
        );
    }
    // How the run goes on may change, and config.toml then says so.
    TrainArgs::new()
        .resume(&run)
        .epochs(2)
        .set("--lr", "0.002")
        .quiet()
        .run_ok();
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("epochs = 2") && config.contains("lr = 0.002"),
        "{config}"
    );
    assert!(!config.contains("pretrained"), "{config}");
}

/// `skipped.csv` describes the current load: a resumed run whose unusable file was removed
/// leaves no stale list behind. Before, the first run's list stayed.
#[test]
fn a_resume_rewrites_or_removes_the_list_of_skipped_files() {
    let root = scratch("resume-skipped");
    let ds = image_folder(&root.join("ds"), &["blue", "red"], 12);
    std::fs::write(ds.join("red/broken.png"), b"not a png").unwrap();
    let runs = root.join("runs");
    folder_args(&ds).runs_dir(&runs).name("r").run_ok();
    let run = runs.join("r");
    let skipped = std::fs::read_to_string(run.join("skipped.csv")).unwrap();
    assert!(skipped.contains("red/broken.png"), "{skipped}");
    std::fs::remove_file(ds.join("red/broken.png")).unwrap();
    TrainArgs::new().resume(&run).epochs(2).quiet().run_ok();
    assert!(
        !run.join("skipped.csv").exists(),
        "stale skipped.csv after the file was removed"
    );
    assert_eq!(
        json(&run.join("dataset.json"))["skipped"],
        serde_json::json!([])
    );
}

/// Images in sub-folders of a class folder are that class's (torchvision's `ImageFolder`);
/// a class folder with no image is an error, never a class trained without images.
#[test]
fn sub_folder_images_train_and_a_class_without_images_is_an_error() {
    let root = scratch("nested-classes");
    let ds = image_folder(&root.join("ds"), &["blue", "red"], 12);
    let sub = ds.join("red/sub");
    std::fs::create_dir_all(&sub).unwrap();
    for f in std::fs::read_dir(ds.join("red")).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::rename(&f, sub.join(f.file_name().unwrap())).unwrap();
        }
    }
    let runs = root.join("runs");
    folder_args(&ds).runs_dir(&runs).name("r").run_ok();
    let counts = json(&runs.join("r/dataset.json"))["counts"].clone();
    let total = |k: usize| (0..3).map(|s| counts[s][k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((total(0), total(1)), (12, 12), "{counts}");
    std::fs::create_dir_all(ds.join("purple")).unwrap();
    let out = folder_args(&ds).runs_dir(&runs).name("p").run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("class 'purple' has no training images"),
        "{stderr}"
    );
}

/// Class lists given as flags: a duplicate, a single class, and a class no file has are
/// usage errors (exit 2) with one line naming the class. Before, they trained: one class
/// reported "accuracy 1.0", an empty class became an output the model never learned.
#[test]
fn class_lists_with_a_duplicate_one_class_or_an_absent_class_are_usage_errors() {
    let root = scratch("class-lists");
    let ds = image_folder(&root.join("ds"), &["blue", "green", "red"], 8);
    let runs = root.join("runs");
    for (classes, expect) in [
        ("red,red", "'red' is listed twice"),
        ("red", "1 class given; a classifier needs at least two"),
        ("red,blue,purple", "--classes names 'purple', but no file"),
    ] {
        let out = folder_args(&ds)
            .set("--classes", classes)
            .runs_dir(&runs)
            .name("c")
            .run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{classes}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{classes}: {stderr}");
        assert!(stderr.contains(expect), "{classes}: {stderr}");
    }
    assert!(!runs.join("c").join("checkpoint.bin").exists());
}

/// A training whose loss runs away is stopped as a failure with advice, not reported as a
/// result: the MLP at 0.05 on the built-in data goes from a loss of 24 to 184. Before, it
/// exited 0 with a report at chance.
#[test]
fn a_training_that_diverges_stops_with_advice_and_exit_1() {
    let root = scratch("diverges");
    let out = TrainArgs::small()
        .model("mlp")
        .set("--lr", "0.05")
        .runs_dir(&root)
        .name("d")
        .quiet()
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("training diverged")
            && stderr.contains("of a uniform guess")
            && stderr.contains("lower learning rate (--lr, this run's was 0.05)"),
        "{stderr}"
    );
    assert!(!root.join("d/report.json").exists());
}

/// Each model's default learning rate trains it: the MLP on the built-in data (the default
/// run: 6,000 images, 10 epochs, about 10 s) reaches well above chance (10 classes: 0.1; it
/// gets 0.68). Before, its default (0.05, the CNN's) diverged to chance (0.08).
#[test]
fn the_mlp_default_learning_rate_learns_the_built_in_data() {
    let root = scratch("mlp-default-lr");
    TrainArgs::new()
        .device("cpu")
        .model("mlp")
        .runs_dir(&root)
        .name("m")
        .quiet()
        .run_ok();
    let report = json(&root.join("m/report.json"));
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "test accuracy {accuracy}");
    let config = std::fs::read_to_string(root.join("m/config.toml")).unwrap();
    assert!(
        config.contains("lr = 0.02"),
        "the rate used is recorded: {config}"
    );
}

/// Size flags that would allocate terabytes (`--synthetic-train 1000000000` is 3 TB of
/// pixels, `--synthetic-size 100000` 30 GB per image, `--size 4096x4096` a terabyte of
/// ResNet activations per batch) aborted; each is now a usage error (exit 2) naming the
/// largest value that fits this machine's memory, before anything is allocated (run under a
/// 16 GiB address-space limit, so the old behaviour fails fast instead of swapping).
#[test]
fn size_flags_beyond_the_machines_memory_are_usage_errors_naming_what_fits() {
    let root = scratch("train-size-bounds");
    let folder = image_folder(&root.join("images"), &["a", "b"], 3);
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["--synthetic-train", "1000000000"],
            "the largest that fits is --synthetic-train ",
        ),
        (vec!["--synthetic-size", "100000"], "or --synthetic-size "),
        (
            vec![
                "--data",
                folder.to_str().unwrap(),
                "--size",
                "4096x4096",
                "--model",
                "resnet18",
            ],
            "the largest that fits is --batch-size ",
        ),
    ];
    for (flags, fits) in cases {
        let mut args = vec!["train", "--device", "cpu", "--epochs", "1", "--runs-dir"];
        let runs = root.join("runs");
        args.push(runs.to_str().unwrap());
        args.extend(flags.iter().copied());
        let out = augtrain_limited(&args, 16 << 30);
        let line = one_error_line(&out, 2);
        assert!(
            line.contains("of memory, more than this machine's"),
            "{line}"
        );
        assert!(line.contains(fits), "{line}");
        assert!(!runs.exists(), "{line}");
    }
    // The largest synthetic count named fits the budget's own arithmetic and is refused one
    // above (checked on the message, not by allocating it).
    let out = augtrain(&[
        "train",
        "--synthetic-train",
        "1000000000",
        "--device",
        "cpu",
    ]);
    let line = one_error_line(&out, 2);
    let largest: u64 = line
        .split("--synthetic-train ")
        .nth(2)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let budget = augtrain::budget::memory();
    let per_image = 32 * 32 * 3;
    assert!((largest + 1000) * per_image <= budget, "{line}");
    assert!((largest + 1001) * per_image > budget, "{line}");
}
