//! Defects found by outside testing (issue [integrity]): each case was a wrong answer with exit
//! 0, damaged data or a crash before it was fixed; each test here failed then.

use std::path::Path;
use std::process::Stdio;

use crate::support::*;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Item 1: two `train --name X` at once. The second is refused with a clear error while the
/// first holds the run; the first finishes and its run evaluates.
#[test]
fn a_second_train_into_the_same_run_is_refused_while_the_first_runs() {
    let runs = scratch("two-trains");
    let first = TrainArgs::small()
        .model("cnn")
        .epochs(4)
        .runs_dir(&runs)
        .name("x")
        .quiet()
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first has claimed the run directory.
    let lock = runs.join("x").join(".augtrain.lock");
    let start = std::time::Instant::now();
    while !lock.exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(lock.exists(), "the first run never claimed its directory");
    let second = TrainArgs::small().runs_dir(&runs).name("x").quiet().run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another augtrain process is writing this run"),
        "{stderr}"
    );
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    ok(&augtrain(&[
        "eval",
        "--run",
        path(&runs.join("x")),
        "--quiet",
    ]));
}

/// Item 3: `eval --data` matches classes by name. Data whose folders are named in another case
/// than the model's classes is an error naming them (it used to swap the classes); `--classes`
/// evaluates a subset by name.
#[test]
fn eval_on_new_data_matches_classes_by_name() {
    let root = scratch("eval-classes");
    let train_data = image_folder(&root.join("train-data"), &["ants", "bees"], 12);
    let runs = root.join("runs");
    TrainArgs::new()
        .device("cpu")
        .model("mlp")
        .epochs(2)
        .data(&train_data)
        .size("8x8")
        .runs_dir(&runs)
        .name("m")
        .quiet()
        .run_ok();
    let run = runs.join("m");
    // New data with only a test split (root/test/<class>/...), evaluated whole (images the
    // run never saw: eval leaves out any it trained on).
    image_folder_from(&root.join("renamed/test"), &["ants", "Bees"], 12..18);
    let renamed = root.join("renamed");
    let out = augtrain(&["eval", "--run", path(&run), "--data", path(&renamed)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("'Bees'") && stderr.contains("--classes"),
        "{stderr}"
    );
    // Only the bees of a three-class folder, by name: every image is labelled `bees`.
    image_folder_from(&root.join("three/test"), &["ants", "bees", "wasps"], 12..18);
    let three = root.join("three");
    let report = root.join("e.json");
    ok(&augtrain(&[
        "eval",
        "--run",
        path(&run),
        "--data",
        path(&three),
        "--classes",
        "bees",
        "--json",
        path(&report),
        "--quiet",
    ]));
    let v = json(&report);
    assert_eq!(v["samples"], 6, "{v}");
    assert_eq!(v["classification_report"]["bees"]["support"], 6, "{v}");
}

/// Item 5: a closed standard output is never a panic. Training does not depend on it (the
/// run completes, exit 0, and evaluates); a command whose output is its result reports the
/// failed write as an ordinary error (exit 1, one line).
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let runs = scratch("closed-stdout");
    let mut child = TrainArgs::small()
        .model("mlp")
        .epochs(2)
        .runs_dir(&runs)
        .name("r")
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // `| head -0`: the reader is gone before anything is printed
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    ok(&augtrain(&[
        "eval",
        "--run",
        path(&runs.join("r")),
        "--quiet",
    ]));
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = augtrain_command(&["config", "--default"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "/dev/full: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Item 7: a run made with relative paths (`--data` relative to the working directory) is
/// evaluated and resumed from another directory; a `--config` file's `data.path` is relative
/// to the file.
#[test]
fn relative_paths_are_resolved_where_they_were_given() {
    let root = scratch("relative-paths");
    image_folder(&root.join("work/photos"), &["ants", "bees"], 10);
    let work = root.join("work");
    let out = augtrain_command(&[
        "train",
        "--device",
        "cpu",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--size",
        "8x8",
        "--data",
        "photos",
        "--runs-dir",
        "runs",
        "--name",
        "rel",
        "--quiet",
    ])
    .current_dir(&work)
    .output()
    .unwrap();
    ok(&out);
    let run = work.join("runs/rel");
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for args in [
        vec!["eval", "--run", path(&run), "--quiet"],
        vec!["train", "--resume", path(&run), "--epochs", "2", "--quiet"],
    ] {
        let out = augtrain_command(&args)
            .current_dir(&elsewhere)
            .output()
            .unwrap();
        ok(&out);
    }
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains(path(&work.join("photos"))),
        "absolute data path: {config}"
    );
    // A config file naming its data relative to itself.
    let conf_dir = root.join("conf");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("run.toml"),
        "epochs = 1\n[model]\nkind = \"mlp\"\n[data]\npath = \"../work/photos\"\nsize = [8, 8]\n",
    )
    .unwrap();
    let out = augtrain_command(&[
        "train",
        "--device",
        "cpu",
        "--config",
        path(&conf_dir.join("run.toml")),
        "--runs-dir",
        path(&root.join("runs2")),
        "--name",
        "c",
        "--quiet",
    ])
    .current_dir(&elsewhere)
    .output()
    .unwrap();
    ok(&out);
}

/// Item 11: a failed `--resume` (here a learning rate that diverges in its first epoch) leaves the run's
/// files as they were: the next plain `--resume` does not inherit the failed attempt's flags.
#[test]
fn a_failed_resume_changes_no_run_file() {
    let runs = scratch("failed-resume");
    small_mlp_run(&runs, "r");
    let run = runs.join("r");
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.ends_with(".augtrain.lock"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&run);
    let failed = augtrain(&[
        "train",
        "--resume",
        path(&run),
        "--epochs",
        "3",
        "--lr",
        "1e6",
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert_eq!(
        snapshot(&run),
        before,
        "a failed resume changed the run's files"
    );
    // The next plain resume trains with the run's own settings (1e6 would diverge again).
    ok(&augtrain(&[
        "train",
        "--resume",
        path(&run),
        "--epochs",
        "2",
        "--quiet",
    ]));
}
