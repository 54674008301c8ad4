//! `augtrain eval`: re-evaluating a finished run reproduces its reported metrics.

use crate::support::*;

/// `augtrain eval --run RUN --json OUT --quiet`, which must succeed; the JSON report.
fn eval_json(run: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    ok(&augtrain(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--json",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    json(out)
}

#[test]
fn eval_reproduces_the_reported_test_metrics() {
    let runs = scratch("eval");
    TrainArgs::small().runs_dir(&runs).name("r").run_ok();
    let dir = runs.join("r");
    let train = json(&dir.join("report.json"));
    let eval = eval_json(&dir, &runs.join("eval.json"));
    assert_eq!(
        train["classification_report"],
        eval["classification_report"]
    );
    assert_eq!(train["accuracy"], eval["accuracy"]);
}

/// `eval --data` on the run's own data evaluates only what the run held out: images with the
/// pixels of a training or validation image are left out, said in one line and in the JSON,
/// and the result is the run's own test report. Data the run saw entirely is refused. Before,
/// the training images were counted as test images (0.957 on 398 instead of 0.948 on 153).
#[test]
fn eval_on_the_runs_own_data_leaves_out_what_it_trained_on() {
    let root = scratch("eval-overlap");
    let ds = image_folder(&root.join("ds"), &["blue", "green", "red"], 20);
    let runs = root.join("runs");
    TrainArgs::new()
        .device("cpu")
        .data(&ds)
        .size("8x8")
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .name("r")
        .quiet()
        .run_ok();
    let run = runs.join("r");
    let out_json = root.join("eval.json");
    let stdout = ok(&augtrain(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        ds.to_str().unwrap(),
        "--json",
        out_json.to_str().unwrap(),
    ]));
    let report = json(&run.join("report.json"));
    let eval = json(&out_json);
    let tested = report["samples"].as_u64().unwrap();
    assert_eq!(eval["samples"], tested, "{stdout}");
    assert_eq!(
        eval["classification_report"],
        report["classification_report"]
    );
    let left = &eval["left_out"];
    assert_eq!(left["given"], 60, "{eval}");
    assert_eq!(
        left["train"].as_u64().unwrap() + left["val"].as_u64().unwrap() + tested,
        60
    );
    assert!(
        stdout.contains(&format!("evaluating the {tested} held out")),
        "{stdout}"
    );
    // A copy of the data without its test images: nothing held out to evaluate.
    let copy = root.join("seen");
    let text = std::fs::read_to_string(run.join("predictions.csv")).unwrap();
    let tests: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    for class in ["blue", "green", "red"] {
        std::fs::create_dir_all(copy.join(class)).unwrap();
        for f in std::fs::read_dir(ds.join(class)).unwrap() {
            let f = f.unwrap().path();
            let rel = format!("{class}/{}", f.file_name().unwrap().to_str().unwrap());
            if !tests.contains(&rel.as_str()) {
                std::fs::copy(
                    &f,
                    copy.join(format!(
                        "{class}/copy-{}",
                        f.file_name().unwrap().to_str().unwrap()
                    )),
                )
                .unwrap();
            }
        }
    }
    let out = augtrain(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--data",
        copy.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing held out") && stderr.contains("without --data"),
        "{stderr}"
    );
}

/// A folder with `train/` and `val/` but no `test/` (the layout of hymenoptera and of most
/// tutorials) tests on its val split, so the run's `splits.csv` lists each val image twice, as
/// val and as test. Both `eval` and `train --resume` refused their own run's record ("listed
/// twice"); they now read it back: eval reproduces the run's test report on the val images
/// (decoding only those), and a resumed run reaches the uninterrupted run's result.
#[test]
fn a_run_whose_val_split_is_also_its_test_split_is_evaluated_and_resumed() {
    let root = scratch("eval-val-is-test");
    let classes = ["blue", "green", "red"];
    image_folder(&root.join("ds/train"), &classes, 12);
    image_folder_from(&root.join("ds/val"), &classes, 12..16);
    let runs = root.join("runs");
    let train = |name: &str, epochs: u32| {
        TrainArgs::new()
            .device("cpu")
            .data(&root.join("ds"))
            .size("8x8")
            .model("mlp")
            .epochs(epochs)
            .runs_dir(&runs)
            .name(name)
            .quiet()
    };
    train("straight", 2).run_ok();
    train("split", 1).run_ok();
    let run = runs.join("split");
    let splits = std::fs::read_to_string(run.join("splits.csv")).unwrap();
    assert!(
        splits.contains("val/red/12.png,val,") && splits.contains("val/red/12.png,test,"),
        "{splits}"
    );
    // eval decodes the recorded test images only: a training image spoiled since is not read.
    let spoiled = root.join("ds/train/red/0.png");
    let saved = std::fs::read(&spoiled).unwrap();
    std::fs::write(&spoiled, b"not a png").unwrap();
    let eval = eval_json(&run, &root.join("eval.json"));
    std::fs::write(&spoiled, saved).unwrap();
    let report = json(&run.join("report.json"));
    assert_eq!(eval["samples"], 12, "{eval}");
    assert_eq!(
        eval["classification_report"],
        report["classification_report"]
    );
    TrainArgs::new().resume(&run).epochs(2).quiet().run_ok();
    let read = |n: &str| std::fs::read_to_string(runs.join(n).join("report.json")).unwrap();
    assert_eq!(read("straight"), read("split"));
}

/// Loading image files and evaluating ran for up to 39 s without a sign of life: on a
/// terminal (a pseudo-terminal from `script`) both now show a bar; with `--quiet` or output
/// to a pipe, none.
#[test]
fn loading_and_evaluating_show_progress_on_a_terminal_only() {
    let Ok(script) = std::process::Command::new("script")
        .arg("--version")
        .output()
    else {
        eprintln!("SKIPPED: no `script` (util-linux) to give the command a terminal");
        return;
    };
    assert!(script.status.success());
    let root = scratch("eval-progress");
    let folder = image_folder(&root.join("images"), &["a", "b"], 20);
    let runs = root.join("runs");
    TrainArgs::small()
        .data(&folder)
        .size("8x8")
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .name("r")
        .quiet()
        .run_ok();
    let run = runs.join("r");
    let command = |quiet: bool| {
        format!(
            "'{}' eval --run '{}' --device cpu{}",
            env!("CARGO_BIN_EXE_augtrain"),
            run.display(),
            if quiet { " --quiet" } else { "" }
        )
    };
    let on_terminal = |quiet: bool| {
        let out = std::process::Command::new("script")
            .args(["-qec", &command(quiet), "/dev/null"])
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal(false);
    assert!(shown.contains("loading ["), "{shown}");
    assert!(shown.contains("evaluating ["), "{shown}");
    assert!(shown.contains("test accuracy"), "{shown}");
    let quiet = on_terminal(true);
    assert!(
        !quiet.contains("loading") && !quiet.contains("evaluating"),
        "{quiet}"
    );
    let piped = augtrain(&["eval", "--run", run.to_str().unwrap(), "--device", "cpu"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(piped.status.success(), "{text}");
    assert!(
        !text.contains("loading [") && !text.contains("evaluating ["),
        "{text}"
    );
}
