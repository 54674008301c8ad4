//! Transfer learning end to end against PyTorch (`augtrain bench transfer`): the pretrained
//! EfficientNet-Lite0 fine-tuned on hymenoptera (245 training photos; the 153 `val/` photos are
//! the test set), each side run the way a user runs it — the whole `augtrain train` command (a
//! child process of this binary) and the whole `tools/transfer_reference.py` — alternated seed
//! by seed, so that both see the same state of the machine.
//!
//! Cases (`--filter` picks them by name):
//! - `default recipe`: `augtrain train --pretrained F --model efficientnet-lite0` with no
//!   recipe flags, against the PyTorch tutorial's full fine-tune;
//! - `tutorial, full`: the tutorial's recipe on both sides (SGD lr 0.001, momentum 0.9, StepLR
//!   7 / 0.1, batch 16, 10 epochs, every weight trained);
//! - `tutorial, head`: the same with the backbone frozen (PyTorch's "fixed feature extractor").
//!
//! A row per side, case and seed: the whole command's wall time (start-up, weight import, every
//! epoch and the final test), final and best test accuracy, and the time to the first epoch at
//! ≥ 95 % test accuracy (the sum of the epochs' own seconds, training and evaluation, on both
//! sides); then a row per case with the per-seed ratios of the wall times (PyTorch's over
//! augtrain's: above 1 = augtrain faster), median and range. Three seeds (0, 1, 2); `--quick`
//! runs seed 0 for one epoch, a check of the plumbing, not a figure.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;

use super::child::{self, Scratch, first_error};
use super::{Measurement, Options, Stats};
use crate::device::ComputeDevice;
use crate::util::fs::IoError;

/// The PyTorch side, relative to the repository root (the working directory).
pub const SCRIPT: &str = "tools/transfer_reference.py";

/// Test accuracy (fraction) whose first epoch the rows time.
const TARGET: f64 = 0.95;

/// The tutorial's recipe as `augtrain train` flags (tools/transfer_reference.py's defaults).
const TUTORIAL: [&str; 16] = [
    "--epochs",
    "10",
    "--batch-size",
    "16",
    "--optimizer",
    "sgd",
    "--lr",
    "0.001",
    "--momentum",
    "0.9",
    "--schedule",
    "step",
    "--step-size",
    "7",
    "--gamma",
    "0.1",
];

/// One case: its name, augtrain's recipe flags and the reference script's `--mode`.
struct Case {
    name: &'static str,
    flags: Vec<&'static str>,
    mode: &'static str,
}

impl Case {
    /// augtrain's flags for this case; `quick`: one epoch (the tutorial's `--epochs 10`
    /// replaced, as a flag given twice is an error).
    fn flags(&self, quick: bool) -> Vec<&'static str> {
        let mut flags = self.flags.clone();
        if quick {
            match flags.iter().position(|f| *f == "--epochs") {
                Some(i) => flags[i + 1] = "1",
                None => flags.extend(["--epochs", "1"]),
            }
        }
        flags
    }
}

fn cases() -> Vec<Case> {
    let tutorial = |extra: [&'static str; 2]| TUTORIAL.iter().copied().chain(extra).collect();
    vec![
        Case {
            name: "default recipe",
            flags: Vec::new(),
            mode: "full",
        },
        Case {
            name: "tutorial, full",
            flags: tutorial(["--backbone-lr-scale", "1"]),
            mode: "full",
        },
        Case {
            name: "tutorial, head",
            flags: tutorial(["--freeze", "backbone"]),
            mode: "head",
        },
    ]
}

/// What one side's run came to.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Wall seconds of the whole command.
    pub wall: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Final test accuracy (fraction).
    pub final_accuracy: f64,
    /// Best test accuracy over the epochs (fraction).
    pub best_accuracy: f64,
    /// The first epoch at ≥ 95 % test accuracy and the epochs' seconds up to and including it.
    pub reached: Option<(usize, f64)>,
}

/// The inputs: hymenoptera and the EfficientNet-Lite0 weights under the data directory.
struct Inputs {
    data: PathBuf,
    weights: PathBuf,
}

/// Run every case the filter passes; rows are added as each case completes.
pub fn run(
    opts: &Options,
    device: &ComputeDevice,
    rows: &mut super::rows::Rows,
    log: &dyn Fn(&str),
) -> crate::Result<()> {
    let Some(inputs) = inputs(opts, log) else {
        return Ok(());
    };
    let Some(python) = &opts.reference else {
        log("transfer: no --reference PYTHON; augtrain's side alone is timed");
        return each_case(opts, device, &inputs, None, rows, log);
    };
    each_case(opts, device, &inputs, Some(python), rows, log)
}

fn each_case(
    opts: &Options,
    device: &ComputeDevice,
    inputs: &Inputs,
    python: Option<&Path>,
    rows: &mut super::rows::Rows,
    log: &dyn Fn(&str),
) -> crate::Result<()> {
    let seeds: &[u64] = if opts.quick { &[0] } else { &[0, 1, 2] };
    let scratch = Scratch::new("transfer")?;
    for case in cases().iter().filter(|c| opts.wants_case(c.name)) {
        let mut pairs = Vec::new();
        for &seed in seeds {
            let ours = run_ours(opts, device, inputs, case, seed, &scratch)?;
            log(&format!(
                "transfer {}, seed {seed}: augtrain {}",
                case.name,
                describe(&ours)
            ));
            rows.push(row(case.name, seed, "augtrain", &ours))?;
            let Some(python) = python else { continue };
            match run_torch(opts, python, inputs, case, seed, &scratch) {
                Ok(theirs) => {
                    log(&format!(
                        "transfer {}, seed {seed}: PyTorch {}",
                        case.name,
                        describe(&theirs)
                    ));
                    rows.push(row(case.name, seed, "pytorch", &theirs))?;
                    pairs.push((ours, theirs));
                }
                Err(why) => log(&format!("PyTorch transfer reference skipped: {why}")),
            }
        }
        if !pairs.is_empty() {
            let summary = summary(case.name, &pairs);
            log(&format!(
                "transfer {}: {}",
                case.name,
                summary.note.as_deref().unwrap_or("")
            ));
            rows.push(summary)?;
        }
    }
    Ok(())
}

fn inputs(opts: &Options, log: &dyn Fn(&str)) -> Option<Inputs> {
    let (data, weights) = super::inference::hymenoptera_and_weights(opts, "transfer", log)?;
    Some(Inputs { data, weights })
}

/// augtrain's side: the whole `augtrain train` command, timed from outside.
fn run_ours(
    opts: &Options,
    device: &ComputeDevice,
    inputs: &Inputs,
    case: &Case,
    seed: u64,
    scratch: &Scratch,
) -> crate::Result<Outcome> {
    let name = format!("{}-seed{seed}", case.name.replace([',', ' '], ""));
    let run = scratch.path().join(&name);
    let seed = seed.to_string();
    let mut args: Vec<&OsStr> = ["train", "--data"].map(OsStr::new).to_vec();
    args.push(inputs.data.as_os_str());
    args.extend(["--model", "efficientnet-lite0", "--pretrained"].map(OsStr::new));
    args.push(inputs.weights.as_os_str());
    let device = if device.is_gpu() { "gpu" } else { "cpu" };
    args.extend(
        [
            "--device", device, "--seed", &seed, "--quiet", "--name", &name,
        ]
        .map(OsStr::new),
    );
    args.extend([OsStr::new("--runs-dir"), scratch.path().as_os_str()]);
    args.extend(case.flags(opts.quick).into_iter().map(OsStr::new));
    let wall = child::augtrain(&args, "train the transfer case into", &run)?;
    read_run(&run, wall).map_err(|e| IoError::new("read", &run, std::io::Error::other(e)).into())
}

/// The epoch records of a run's `metrics.jsonl` that this benchmark reads.
#[derive(Deserialize)]
struct EpochLine {
    epoch: usize,
    val_accuracy: f64,
    seconds: f64,
}

/// A run directory's outcome: per-epoch validation accuracy (the test set here) and seconds
/// from `metrics.jsonl`, the final accuracy from `report.json`.
fn read_run(run: &Path, wall: f64) -> Result<Outcome, String> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).map_err(|e| e.to_string())?;
    let epochs: Vec<EpochLine> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("metrics.jsonl: {e}")))
        .collect::<Result<_, _>>()?;
    let report = std::fs::read(run.join("report.json")).map_err(|e| e.to_string())?;
    let report: augtrain_run::records::TestReport =
        serde_json::from_slice(&report).map_err(|e| format!("report.json: {e}"))?;
    let per_epoch: Vec<(usize, f64, f64)> = epochs
        .iter()
        .map(|e| (e.epoch, e.val_accuracy, e.seconds))
        .collect();
    outcome(wall, &per_epoch, report.accuracy)
}

/// An outcome from `(epoch, test accuracy as a fraction, epoch seconds)` records.
fn outcome(
    wall: f64,
    per_epoch: &[(usize, f64, f64)],
    final_accuracy: f64,
) -> Result<Outcome, String> {
    if per_epoch.is_empty() {
        return Err("no epoch was recorded".into());
    }
    let mut elapsed = 0.0;
    let mut reached = None;
    for &(epoch, accuracy, seconds) in per_epoch {
        elapsed += seconds;
        if reached.is_none() && accuracy >= TARGET {
            reached = Some((epoch, elapsed));
        }
    }
    Ok(Outcome {
        wall,
        epochs: per_epoch.len(),
        final_accuracy,
        best_accuracy: per_epoch
            .iter()
            .map(|e| e.1)
            .fold(f64::NEG_INFINITY, f64::max),
        reached,
    })
}

/// The reference script's JSON (its accuracies in percent).
#[derive(Deserialize)]
struct TorchRun {
    per_epoch: Vec<TorchEpoch>,
    final_test_accuracy: f64,
}

#[derive(Deserialize)]
struct TorchEpoch {
    epoch: usize,
    test_accuracy: f64,
    epoch_seconds: f64,
}

/// PyTorch's side: the whole script, timed from outside.
fn run_torch(
    opts: &Options,
    python: &Path,
    inputs: &Inputs,
    case: &Case,
    seed: u64,
    scratch: &Scratch,
) -> Result<Outcome, String> {
    if !Path::new(SCRIPT).is_file() {
        return Err(format!("{SCRIPT} not found (run from the repository root)"));
    }
    let json = scratch
        .path()
        .join(format!("torch-{}-{seed}.json", case.mode));
    let mut cmd = Command::new(python);
    cmd.arg(SCRIPT)
        .args(["--mode", case.mode, "--seed", &seed.to_string()])
        .args(["--threads", &rayon::current_num_threads().to_string()])
        .arg("--data")
        .arg(&inputs.data)
        .arg("--weights")
        .arg(&inputs.weights)
        .arg("--json")
        .arg(&json);
    if opts.quick {
        cmd.args(["--epochs", "1"]);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(first_error(&String::from_utf8_lossy(&out.stderr)));
    }
    let bytes = std::fs::read(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    let r: TorchRun = serde_json::from_slice(&bytes)
        .map_err(|e| format!("unexpected output of {SCRIPT}: {e}"))?;
    let per_epoch: Vec<(usize, f64, f64)> = r
        .per_epoch
        .iter()
        .map(|e| (e.epoch, e.test_accuracy / 100.0, e.epoch_seconds))
        .collect();
    outcome(wall, &per_epoch, r.final_test_accuracy / 100.0)
}

/// `final 95.42 % (best 96.08 %), ≥ 95 % at epoch 4 after 85.7 s, whole run 215.6 s`.
fn describe(o: &Outcome) -> String {
    let reached = match o.reached {
        Some((epoch, s)) => format!("≥ 95 % at epoch {epoch} after {s:.1} s"),
        None => "95 % not reached".into(),
    };
    format!(
        "final {:.2} % (best {:.2} %), {reached}, {} epochs, whole run {:.1} s",
        100.0 * o.final_accuracy,
        100.0 * o.best_accuracy,
        o.epochs,
        o.wall
    )
}

/// One side's row: the whole run as one timed sample; images/s counts training images × epochs
/// over the whole run.
fn row(case: &str, seed: u64, engine: &str, o: &Outcome) -> Measurement {
    const TRAIN_IMAGES: usize = 245;
    Measurement {
        group: "transfer".into(),
        name: format!("hymenoptera EfficientNet-Lite0, {case}, seed {seed}"),
        engine: engine.into(),
        batch: TRAIN_IMAGES * o.epochs,
        stats: Stats::single(o.wall),
        items_per_second: (TRAIN_IMAGES * o.epochs) as f64 / o.wall,
        bytes_per_second: None,
        ceiling_fraction: None,
        note: Some(describe(o)),
    }
}

/// The case over its seeds: per-seed ratios of the whole runs' wall times (PyTorch's over
/// augtrain's), mean final accuracies, and on how many seeds augtrain reached 95 % first.
fn summary(case: &str, pairs: &[(Outcome, Outcome)]) -> Measurement {
    let ratios: Vec<f64> = pairs.iter().map(|(a, t)| t.wall / a.wall).collect();
    let ratio = super::inference::stats(&ratios);
    let mean = |f: &dyn Fn(&(Outcome, Outcome)) -> f64| {
        pairs.iter().map(f).sum::<f64>() / pairs.len() as f64
    };
    let earlier = pairs
        .iter()
        .filter(|(a, t)| match (a.reached, t.reached) {
            (Some((_, a)), Some((_, t))) => a < t,
            (Some(_), None) => true,
            _ => false,
        })
        .count();
    let walls: Vec<f64> = pairs.iter().map(|(a, _)| a.wall).collect();
    let ours = super::inference::stats(&walls);
    Measurement {
        group: "transfer".into(),
        name: format!(
            "hymenoptera EfficientNet-Lite0, {case}, {} seeds",
            pairs.len()
        ),
        engine: "augtrain".into(),
        batch: 245 * pairs[0].0.epochs,
        items_per_second: (245 * pairs[0].0.epochs) as f64 / ours.median,
        stats: ours,
        bytes_per_second: None,
        ceiling_fraction: None,
        note: Some(format!(
            "PyTorch's whole run / augtrain's: median {:.2}x (range {:.2} to {:.2}x); mean final test accuracy augtrain {:.2} %, PyTorch {:.2} %; 95 % reached first by augtrain on {earlier} of {} seeds",
            ratio.median,
            ratio.min,
            ratio.max,
            100.0 * mean(&|p| p.0.final_accuracy),
            100.0 * mean(&|p| p.1.final_accuracy),
            pairs.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_to_target_sums_the_epochs_up_to_the_first_at_95_percent() {
        let o = outcome(
            100.0,
            &[
                (1, 0.90, 10.0),
                (2, 0.951, 12.0),
                (3, 0.94, 11.0),
                (4, 0.96, 9.0),
            ],
            0.96,
        )
        .unwrap();
        assert_eq!(o.reached, Some((2, 22.0)));
        assert_eq!(o.best_accuracy, 0.96);
        assert_eq!(o.epochs, 4);
        let never = outcome(50.0, &[(1, 0.5, 1.0), (2, 0.949, 1.0)], 0.949).unwrap();
        assert_eq!(never.reached, None);
        assert!(outcome(1.0, &[], 0.5).is_err());
    }

    #[test]
    fn the_summary_compares_wall_times_and_first_arrivals_per_seed() {
        let o = |wall: f64, acc: f64, reached: Option<(usize, f64)>| Outcome {
            wall,
            epochs: 10,
            final_accuracy: acc,
            best_accuracy: acc,
            reached,
        };
        let pairs = [
            (
                o(100.0, 0.96, Some((3, 30.0))),
                o(200.0, 0.94, Some((5, 50.0))),
            ),
            (o(100.0, 0.95, None), o(150.0, 0.95, Some((2, 20.0)))),
            (o(100.0, 0.97, Some((1, 10.0))), o(100.0, 0.93, None)),
        ];
        let s = summary("tutorial, full", &pairs);
        let note = s.note.unwrap();
        assert!(
            note.contains("median 1.50x (range 1.00 to 2.00x)"),
            "{note}"
        );
        assert!(note.contains("augtrain 96.00 %, PyTorch 94.00 %"), "{note}");
        assert!(note.contains("by augtrain on 2 of 3 seeds"), "{note}");
    }

    #[test]
    fn a_quick_run_trains_one_epoch_without_repeating_a_flag() {
        for case in cases() {
            let flags = case.flags(true);
            let at: Vec<usize> = (0..flags.len())
                .filter(|&i| flags[i] == "--epochs")
                .collect();
            assert_eq!(at.len(), 1, "{}: {flags:?}", case.name);
            assert_eq!(flags[at[0] + 1], "1", "{}", case.name);
            assert_eq!(case.flags(false), case.flags, "{}", case.name);
        }
        let clap = "error: the argument '--epochs <EPOCHS>' cannot be used multiple times\n\nUsage: augtrain train\n\nFor more information, try '--help'.\n";
        assert!(first_error(clap).contains("cannot be used multiple times"));
        assert_eq!(
            first_error("Traceback\n  File x\nValueError: bad\n"),
            "ValueError: bad"
        );
        assert_eq!(first_error(""), "no message");
    }

    #[test]
    fn every_case_has_a_distinct_name_and_the_tutorial_flags_pair_up() {
        let all = cases();
        let names: std::collections::HashSet<_> = all.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), all.len());
        for c in &all {
            assert_eq!(c.flags.len() % 2, 0, "{}", c.name);
        }
        assert!(
            all.iter()
                .any(|c| c.mode == "head" && c.flags.contains(&"backbone"))
        );
    }
}
