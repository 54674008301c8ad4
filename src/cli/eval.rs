//! `augtrain eval`: reload a run's checkpoint and evaluate it.

use std::path::PathBuf;

use clap::Args;

use crate::device::{self, DeviceChoice};
use crate::metrics::ClassificationReport;
use crate::train::config::TrainConfig;
use crate::train::{self, evaluate};
use crate::{Error, util};

/// Flags of `augtrain eval`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain eval --run runs/synthetic-cnn-20261123-140509
  augtrain eval --run runs/mnist --data ../shared/data/mnist-10k --json eval.json")]
pub struct EvalArgs {
    /// The run directory (written by `augtrain train`).
    #[arg(long)]
    run: PathBuf,
    /// Evaluate on this dataset's test split instead of the run's own data.
    #[arg(long)]
    data: Option<PathBuf>,
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
    let cfg_path = args.run.join("config.toml");
    if !cfg_path.exists() {
        return Err(Error::Usage(format!(
            "{}: no config.toml; --run takes a run directory written by augtrain train",
            args.run.display()
        )));
    }
    let text = String::from_utf8(util::fs::read(&cfg_path)?)
        .map_err(|_| Error::Usage(format!("{}: not UTF-8 text", cfg_path.display())))?;
    let mut cfg =
        TrainConfig::from_toml(&text, &cfg_path.display().to_string()).map_err(Error::Usage)?;
    if let Some(p) = &args.data {
        cfg.data.path = Some(p.clone());
    }
    if let Some(d) = args.device {
        cfg.device = d;
    }
    let splits = cfg.data.load(cfg.seed)?;
    let device = device::open(cfg.device)?;
    let (model, eval_aug) = train::load_run(&args.run, &device, &splits, &cfg)?;
    let ev = evaluate(
        &model,
        &splits.test,
        &eval_aug,
        cfg.batch_size.max(256),
        &cfg,
        &device.device,
        false,
    )?;
    let report = ClassificationReport::new(
        &ev.confusion,
        None,
        &splits.test.class_names,
        cfg.zero_division,
    );
    if !args.quiet {
        print!("{}", report.to_text(4));
        println!(
            "test accuracy {:.4}  ({} images)",
            report.accuracy, report.samples
        );
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "accuracy": report.accuracy,
            "samples": report.samples,
            "loss": ev.loss,
            "classification_report": report.to_sklearn_json(),
            "report": report,
        });
        util::fs::write_atomic(
            path,
            serde_json::to_string_pretty(&json)
                .expect("json")
                .as_bytes(),
        )?;
    }
    Ok(())
}
