//! Faults: SIGKILL at any moment, diverging loss, unwritable or full output, GPU memory and
//! buffer limits, the corpus of malformed inputs (`tests/malformed/`).

use std::path::{Path, PathBuf};

use crate::support::*;

/// A small synthetic CPU run with a fixed seed: `epochs` over 1,200 generated images, quietly
/// into `runs/name`.
fn seeded_run(runs: &Path, name: &str, epochs: u32) -> TrainArgs {
    TrainArgs::small()
        .epochs(epochs)
        .synthetic(1200, 200)
        .seed(11)
        .runs_dir(runs)
        .name(name)
        .quiet()
}

#[test]
fn sigkill_after_a_checkpoint_then_resume_equals_an_uninterrupted_run() {
    use augtrain::train::checkpoint;
    let root = scratch("sigkill");
    let runs = root.join("runs");
    seeded_run(&runs, "straight", 4).run_ok();
    let killed = runs.join("killed");
    for attempt in 0..3u64 {
        let _ = std::fs::remove_dir_all(&killed);
        let mut child = seeded_run(&runs, "killed", 4).command().spawn().unwrap();
        // Wait for the first checkpoint, then kill in the middle of the next epoch.
        let start = std::time::Instant::now();
        let mut done = 0;
        while start.elapsed().as_secs() < 120 {
            if let Ok(c) = checkpoint::load(&killed.join(checkpoint::FILE_NAME)) {
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
        let c = checkpoint::load(&killed.join(checkpoint::FILE_NAME))
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
        TrainArgs::new().resume(&killed).quiet().run_ok();
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
    seeded_run(&runs, "a", 2).run_ok();
    seeded_run(&runs, "b", 2).run_ok();
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
    let out = TrainArgs::new()
        .device("cpu")
        .model("mlp")
        .epochs(3)
        .synthetic(600, 100)
        .set("--schedule", "step")
        .set("--step-size", 1)
        .set("--gamma", "1e12")
        .runs_dir(&runs)
        .name("n")
        .quiet()
        .run();
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
    let out = TrainArgs::new()
        .device("cpu")
        .runs_dir(&blocker.join("runs"))
        .run();
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

/// An MLP on the GPU on synthetic data: `epochs` over `train` generated training and `test`
/// test images of `size` pixels a side, batch `batch`, a validation fraction `val`, quietly into
/// `runs`.
fn gpu_mlp_run(
    runs: &Path,
    epochs: u32,
    (train, test): (usize, usize),
    size: usize,
    batch: usize,
    val: &str,
) -> TrainArgs {
    TrainArgs::new()
        .device("gpu")
        .model("mlp")
        .epochs(epochs)
        .synthetic(train, test)
        .synthetic_size(size)
        .batch_size(batch)
        .set("--val-fraction", val)
        .runs_dir(runs)
        .quiet()
}

#[test]
fn gpu_memory_stays_flat_across_twenty_epochs() {
    if !gpu() {
        return;
    }
    let root = scratch("gpu-memory");
    let runs = root.join("runs");
    gpu_mlp_run(&runs, 20, (120, 20), 16, 40, "0.25")
        .name("m")
        .run_ok();
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
        let mut args = TrainArgs::new()
            .device("cpu")
            .model("mlp")
            .epochs(1)
            .quiet()
            .runs_dir(runs)
            .args();
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
                        (
                            TrainArgs::new().resume(&d).epochs(3).quiet().args(),
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
    let mut child = augtrain_command(args)
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
        TrainArgs::new()
            .device("cpu")
            .model("mlp")
            .epochs(3)
            .data(&data)
            .runs_dir(&runs)
            .name(name)
            .quiet()
            .args()
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
    let train = |batch: usize| gpu_mlp_run(&runs, 1, (3100, 10), 64, batch, "0.01");
    let out = train(3000).run();
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
    train(most).run_ok();
    // Asked for, the same batch trains on the CPU instead, and the run records it.
    std::fs::remove_dir_all(&runs).unwrap();
    let out = train(3000).switch("--cpu-fallback").run();
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
    let out = TrainArgs::new()
        .device("cpu")
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .name("r")
        .run();
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
