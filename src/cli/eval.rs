//! `augtrain eval`: reload a run's checkpoint and evaluate it.

use std::path::PathBuf;

use clap::Args;

use crate::data::Dataset;
use crate::data::files::SplitName;
use crate::data::source::Whole;

use crate::device::{self, DeviceChoice};
use crate::metrics::ClassificationReport;
use crate::train::Inference;
use crate::train::progress::{Reporter, Verbosity};
use augtrain_run::RunDir;
use augtrain_run::records::TestReport;

/// Flags of `augtrain eval`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain eval --run runs/synthetic-cnn-20261123-140509
  augtrain eval --run runs/mnist --data ../shared/data/mnist-10k --json eval.json
  augtrain eval --run runs/hym --data new-photos/ --classes ants,bees")]
pub struct EvalArgs {
    /// The run directory (written by `augtrain train`).
    #[arg(long)]
    run: PathBuf,
    /// Evaluate on this dataset instead of the run's own data: its test split when it has one
    /// (a `test/` folder, a manifest's split column, a split file), otherwise every image. Its
    /// classes are matched to the model's by name.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Only these classes of the data (comma-separated); files of other classes are skipped.
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Compute device (default: the run's).
    #[arg(long)]
    device: Option<DeviceChoice>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: EvalArgs) -> crate::Result<()> {
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    reporter.show_loading();
    let run = RunDir::open(&args.run)?;
    let cfg = run.config()?;
    let device = device::open(args.device.unwrap_or(cfg.device))?;
    let inference = Inference::load(&run, &device)?;
    let mut load = cfg.data.clone();
    if let Some(p) = &args.data {
        load.path = Some(p.clone());
        load.split_file = None;
    }
    if let Some(classes) = &args.classes {
        load.classes = Some(classes.iter().map(|c| c.trim().to_string()).collect());
    }
    let (data, origin) = match &args.data {
        None => (load.load(cfg.seed)?.test, "the run's data".to_string()),
        Some(p) => (
            test_or_all(load.load_whole(cfg.seed)?),
            p.display().to_string(),
        ),
    };
    let test = inference.match_classes(&data, &origin)?;
    let bar = reporter.images("evaluating", test.len());
    let ev = inference.evaluate(&test, &device, false, Some(&bar));
    bar.finish();
    let ev = ev?;
    let report =
        ClassificationReport::new(&ev.confusion, None, &test.class_names, cfg.zero_division);
    if !args.quiet {
        say_raw!("{}", report.to_text(4));
        say!(
            "test accuracy {:.4}  ({} images)",
            report.accuracy,
            report.samples
        );
    }
    if let Some(path) = &args.json {
        let json = TestReport::new(report, ev.loss);
        crate::util::fs::write_atomic(
            path,
            serde_json::to_string_pretty(&json)
                .expect("json")
                .as_bytes(),
        )?;
    }
    Ok(())
}

/// The images of an explicit test split, or every image when the data has none (new data to
/// evaluate on need not be split).
fn test_or_all(whole: Whole) -> Dataset {
    let test: Vec<usize> = (0..whole.data.len())
        .filter(|&i| whole.splits[i] == Some(SplitName::Test))
        .collect();
    if test.is_empty() {
        whole.data
    } else {
        whole.data.subset(&test)
    }
}
