//! Faults: SIGKILL at any moment (`kill`), the corpus of malformed inputs (`malformed`), a
//! diverging loss, unwritable or full output, GPU memory and buffer limits, identical
//! checkpoints from identical seeds.

mod kill;
mod malformed;

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
    let c = augtrain_run::checkpoint::load(&runs.join("n").join("checkpoint.bin")).unwrap();
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
