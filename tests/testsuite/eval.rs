//! `augtrain eval`: re-evaluating a finished run reproduces its reported metrics.

use crate::support::*;

#[test]
fn eval_reproduces_the_reported_test_metrics() {
    let runs = scratch("eval");
    TrainArgs::small().runs_dir(&runs).name("r").run_ok();
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
