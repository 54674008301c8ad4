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
