//! The PyTorch reference beside `augtrain bench train --reference PYTHON`: runs
//! `tools/torch_train_bench.py` (same step: forward, cross-entropy, backward, SGD with momentum,
//! the loss read back; same shapes and batch sizes) right after augtrain's own training steps,
//! with as many threads as augtrain uses, and adds its rows and the same-run ratios to the
//! report. Without Python, torch or the script, the reference is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{Measurement, Stats};
use augtrain_run::config::ModelKind;

/// The reference script, relative to the repository root (the working directory).
pub const SCRIPT: &str = "tools/torch_train_bench.py";

#[derive(Deserialize)]
struct Row {
    model: String,
    batch: usize,
    steps: usize,
    seconds: f64,
    images_per_second: f64,
    step_seconds_median: f64,
    step_seconds_min: f64,
    step_seconds_max: f64,
}

/// PyTorch's training steps of the MLP, the CNN and `models`, `seconds` each, with `python`;
/// None (after saying why on `log`) when they cannot be run.
pub fn torch_train(
    python: &Path,
    models: &[ModelKind],
    seconds: f64,
    log: &dyn Fn(&str),
) -> Option<Vec<Measurement>> {
    let list: Vec<String> = ["mlp".to_string(), "cnn".to_string()]
        .into_iter()
        .chain(models.iter().map(|m| m.to_string()))
        .collect();
    log(&format!(
        "PyTorch reference: {} {SCRIPT} --models {} ({seconds} s each)",
        python.display(),
        list.join(",")
    ));
    let args = [
        "--models".to_string(),
        list.join(","),
        "--seconds".into(),
        seconds.to_string(),
    ];
    match run_rows::<Row>(python, SCRIPT, &args) {
        Ok(rows) => Some(rows.into_iter().map(measurement).collect()),
        Err(why) => {
            log(&format!("PyTorch reference skipped: {why}"));
            None
        }
    }
}

#[derive(Deserialize)]
struct Report<T> {
    rows: Vec<T>,
}

/// Run `script` (relative to the repository root) with `python`, `args`, `--threads` set to
/// augtrain's worker threads and `--json FILE`, and read the `rows` of the JSON it writes. The
/// error is one line: why it could not run (no Python, the script's last stderr line, an
/// output of another shape).
pub fn run_rows<T: serde::de::DeserializeOwned>(
    python: &Path,
    script: &str,
    args: &[String],
) -> Result<Vec<T>, String> {
    if !Path::new(script).is_file() {
        return Err(format!("{script} not found (run from the repository root)"));
    }
    let json = std::env::temp_dir().join(format!(
        "augtrain-torch-ref-{}-{}.json",
        std::process::id(),
        NEXT_FILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .args(["--threads", &rayon::current_num_threads().to_string()])
        .arg("--json")
        .arg(&json)
        .output();
    let rows = match out {
        Err(e) => Err(format!("cannot run {}: {e}", python.display())),
        Ok(o) if !o.status.success() => Err(String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string()),
        Ok(_) => read_rows(&json, script),
    };
    let _ = std::fs::remove_file(&json);
    rows
}

/// Numbers the JSON files of [`run_rows`] within this process.
static NEXT_FILE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn read_rows<T: serde::de::DeserializeOwned>(
    path: &PathBuf,
    script: &str,
) -> Result<Vec<T>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice::<Report<T>>(&bytes)
        .map(|r| r.rows)
        .map_err(|e| format!("unexpected output of {script}: {e}"))
}

/// One PyTorch row. Its images/s is the batch over the **median** step, the statistic of
/// augtrain's own rows (a median over timed samples), so the ratio compares like with like; the
/// wall-clock mean over all steps (which one slow step of three moves) stays in the note.
fn measurement(r: Row) -> Measurement {
    Measurement {
        group: "torch".into(),
        name: format!("{} step, batch {} (PyTorch)", r.model, r.batch),
        engine: "cpu".into(),
        batch: r.batch,
        items_per_second: r.batch as f64 / r.step_seconds_median,
        bytes_per_second: None,
        ceiling_fraction: None,
        note: Some(format!(
            "median step; {} steps in {:.1} s, {:.1} images/s over the whole run",
            r.steps, r.seconds, r.images_per_second
        )),
        stats: Stats {
            median: r.step_seconds_median,
            min: r.step_seconds_min,
            max: r.step_seconds_max,
            spread: 0.0,
            samples: r.steps,
            calls_per_sample: 1,
        },
    }
}

/// Note on each augtrain training row its ratio to the PyTorch row of the same model and batch
/// (augtrain images/s over PyTorch's: above 1 means augtrain is faster).
pub fn add_ratios(rows: &mut [Measurement]) {
    let torch: Vec<(String, usize, f64)> = rows
        .iter()
        .filter(|m| m.group == "torch")
        .filter_map(|m| {
            let model = m.name.split(' ').next()?.to_string();
            Some((model, m.batch, m.items_per_second))
        })
        .collect();
    for m in rows.iter_mut().filter(|m| m.group == "train") {
        let model = m.name.split(' ').next().unwrap_or("");
        if let Some((_, _, t)) = torch.iter().find(|(n, b, _)| n == model && *b == m.batch) {
            let ratio = format!(
                "{:.2}x PyTorch ({:.0} images/s) in this run",
                m.items_per_second / t,
                t
            );
            m.note = Some(match m.note.take() {
                Some(n) => format!("{n}; {ratio}"),
                None => ratio,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, name: &str, batch: usize, ips: f64) -> Measurement {
        let median = batch as f64 / ips;
        let mut m = measurement(Row {
            model: String::new(),
            batch,
            steps: 3,
            seconds: 1.0,
            images_per_second: ips,
            step_seconds_median: median,
            step_seconds_min: median,
            step_seconds_max: median,
        });
        m.group = group.into();
        m.name = name.into();
        m.note = None;
        m
    }

    #[test]
    fn a_python_that_cannot_run_skips_the_reference_with_a_message() {
        let said = std::cell::RefCell::new(Vec::new());
        let log = |s: &str| said.borrow_mut().push(s.to_string());
        let rows = torch_train(Path::new("/nonexistent/python"), &[], 1.0, &log);
        assert!(rows.is_none());
        let said = said.into_inner();
        assert!(
            said.last()
                .is_some_and(|s| s.starts_with("PyTorch reference skipped")),
            "{said:?}"
        );
    }

    #[test]
    fn a_torch_row_is_timed_by_its_median_step_not_its_mean() {
        // Three steps of 3.0, 3.2 and (one slow) 4.0 s: the median is 3.2 s, 32 / 3.2 = 10
        // images/s; the mean over the whole run would be 96 / 10.2 = 9.4 images/s.
        let m = measurement(Row {
            model: "efficientnet-lite0".into(),
            batch: 32,
            steps: 3,
            seconds: 10.2,
            images_per_second: 32.0 * 3.0 / 10.2,
            step_seconds_median: 3.2,
            step_seconds_min: 3.0,
            step_seconds_max: 4.0,
        });
        assert_eq!(m.items_per_second, 10.0);
        assert_eq!(m.stats.median, 3.2);
        assert!(m.note.unwrap().contains("9.4 images/s over the whole run"));
    }

    #[test]
    fn ratios_pair_rows_of_the_same_model_and_batch() {
        let mut rows = vec![
            row("train", "cnn 28x28 step, batch 64", 64, 1000.0),
            row("train", "cnn 28x28 step, batch 256", 256, 1200.0),
            row("torch", "cnn step, batch 64 (PyTorch)", 64, 4000.0),
        ];
        add_ratios(&mut rows);
        assert_eq!(
            rows[0].note.as_deref(),
            Some("0.25x PyTorch (4000 images/s) in this run")
        );
        assert_eq!(rows[1].note, None);
    }
}
