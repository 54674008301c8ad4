//! SIGKILL: a run killed after a checkpoint resumes to the uninterrupted result, and whatever a
//! `pack`, `export` or `train` killed at any moment leaves at its final path is whole.

use std::path::Path;
use std::time::Duration;

use super::seeded_run;
use crate::support::*;

#[test]
fn sigkill_after_a_checkpoint_then_resume_equals_an_uninterrupted_run() {
    use augtrain_run::checkpoint;
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
        augtrain_run::config::TrainConfig::from_toml(
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

/// Training images in [`write_kill_dataset`]'s dataset (its test file holds 100 more).
const KILL_IMAGES: usize = 6000;

/// Kill `pack` at tenths of how long an uninterrupted one takes: whatever is at the final path
/// opens with every record, and the next pack cleans up the killed ones' hidden temporaries.
#[test]
fn sigkill_at_any_moment_leaves_only_whole_files_of_a_pack() {
    let root = scratch("kill-pack");
    let data = root.join("idx");
    write_kill_dataset(&data);
    let pack = |out: &Path| {
        let (data, out) = (data.to_str().unwrap(), out.to_str().unwrap());
        strings(&["pack", data, "--out", out, "--quiet", "--shard-mb", "1"])
    };
    let mut interrupted = 0;
    for (k, delay) in kill_delays(&pack(&root.join("timed.pack")))
        .into_iter()
        .enumerate()
    {
        let ms = delay.as_millis();
        let out = root.join(format!("p{k}.pack"));
        let finished = kill_after(&pack(&out), delay);
        interrupted += usize::from(!finished);
        if out.exists() {
            let (ds, _, _) = augtrain::data::pack::open(&out)
                .unwrap_or_else(|e| panic!("pack killed after {ms} ms: {e}"));
            assert_eq!(
                ds.len(),
                KILL_IMAGES + 100,
                "pack killed after {ms} ms is incomplete"
            );
        } else {
            assert!(!finished, "pack finished but {} is missing", out.display());
        }
    }
    ok(&augtrain(&[
        "pack",
        data.to_str().unwrap(),
        "--out",
        root.join("final.pack").to_str().unwrap(),
        "--quiet",
    ]));
    assert_no_partials(&[&root]);
    assert_enough_interrupted("packs", interrupted);
}

/// Kill `export` at tenths of how long an uninterrupted one takes: whatever is at the final
/// path has every row and verifies against its checksums, and the next export (of a smaller
/// dataset) cleans up the killed ones' hidden temporaries.
#[test]
fn sigkill_at_any_moment_leaves_only_whole_files_of_an_export() {
    let root = scratch("kill-export");
    let data = root.join("idx");
    write_kill_dataset(&data);
    let small = root.join("small");
    write_idx(&small);
    let export = |out: &Path| {
        let (data, out) = (data.to_str().unwrap(), out.to_str().unwrap());
        strings(&["export", data, "--out", out, "--quiet"])
    };
    let mut interrupted = 0;
    for (k, delay) in kill_delays(&export(&root.join("timed-export")))
        .into_iter()
        .enumerate()
    {
        let out = root.join(format!("e{k}"));
        let finished = kill_after(&export(&out), delay);
        interrupted += usize::from(!finished);
        if out.exists() {
            assert_export_whole(&out, delay.as_millis());
        }
    }
    ok(&augtrain(&[
        "export",
        small.to_str().unwrap(),
        "--out",
        root.join("final-export").to_str().unwrap(),
        "--quiet",
    ]));
    assert_no_partials(&[&root]);
    assert_enough_interrupted("exports", interrupted);
}

/// Kill `train` at tenths of how long an uninterrupted run takes: every file in the run
/// directory parses, and no partial directory is left.
#[test]
fn sigkill_at_any_moment_leaves_only_whole_files_of_a_training_run() {
    let root = scratch("kill-train");
    let data = root.join("idx");
    write_kill_dataset(&data);
    let runs = root.join("runs");
    let train = |name: &str| {
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
    let mut interrupted = 0;
    for (k, delay) in kill_delays(&train("timed")).into_iter().enumerate() {
        let name = format!("r{k}");
        let finished = kill_after(&train(&name), delay);
        interrupted += usize::from(!finished);
        if runs.join(&name).exists() {
            assert_run_files_whole(&runs.join(&name));
        }
    }
    assert_no_partials(&[&root, &runs]);
    assert_enough_interrupted("training runs", interrupted);
}

/// An IDX dataset big enough for kills to land mid-write: [`KILL_IMAGES`] training and 100
/// test images of 28x28, uncompressed.
fn write_kill_dataset(data: &Path) {
    use augtrain::data::idx::{write_images, write_labels};
    std::fs::create_dir_all(data).unwrap();
    let n = KILL_IMAGES;
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
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// When to kill `augtrain ARGS`: at tenths (0 to 9) of how long an uninterrupted run takes on
/// this machine, measured now.
fn kill_delays(args: &[String]) -> Vec<Duration> {
    let t = std::time::Instant::now();
    ok(&augtrain(args));
    let whole = t.elapsed();
    (0..10u32).map(|k| whole * k / 10).collect()
}

/// SIGKILL `augtrain ARGS` after `delay`; returns whether it had already finished.
fn kill_after(args: &[String], delay: Duration) -> bool {
    let mut child = augtrain_command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap().success()
}

/// An export killed after `ms` milliseconds but present at its final path is complete: every
/// row of the dataset, and (a sample of) its files match their checksums.
fn assert_export_whole(out: &Path, ms: u128) {
    let sums = std::fs::read_to_string(out.join("SHA256SUMS"))
        .unwrap_or_else(|e| panic!("export killed after {ms} ms: {e}"));
    let rows = std::fs::read_to_string(out.join("manifest.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        rows,
        KILL_IMAGES + 100 + 1,
        "export killed after {ms} ms is incomplete"
    );
    for line in sums.lines().step_by(37) {
        let (hash, file) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(out.join(file)).unwrap();
        assert_eq!(
            sha256_hex(&bytes),
            hash,
            "{file} in an export killed after {ms} ms"
        );
    }
}

/// No partial directory of a killed run survives in `dirs`.
fn assert_no_partials(dirs: &[&Path]) {
    let leftovers: Vec<String> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial directories of killed runs were not cleaned up: {leftovers:?}"
    );
}

/// Enough of the ten kills of `what` landed mid-write for the test to mean something.
fn assert_enough_interrupted(what: &str, interrupted: usize) {
    eprintln!("interrupted: {interrupted} {what} of 10");
    assert!(
        interrupted >= 3,
        "too few kills landed mid-write: {interrupted} {what} of 10"
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
                augtrain_run::checkpoint::load(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            _ => {}
        }
    }
}
