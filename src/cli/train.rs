//! `augtrain train`: train a classifier and write a run directory.

use super::train_args::TrainArgs;
use crate::augment::AugmentError;
use crate::device;
use crate::train::progress::{Reporter, Verbosity};
use crate::train::{self, RunOptions, TrainError};
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::TrainConfig;

pub fn run(args: TrainArgs) -> crate::Result<()> {
    let cfg = args.config()?;
    crate::budget::check_train(&cfg)?;
    let reporter = Reporter::new(Verbosity::detect(args.quiet));
    reporter.show_loading();
    // Data first: malformed input fails before anything is created.
    let splits = match &args.resume {
        Some(dir) => train::resume::recorded_splits(&cfg, dir, args.allow_new_train_images)?,
        None => cfg.data.load(cfg.seed)?,
    };
    let device = device::open_main(cfg.device, &cfg.devices)?;
    let opts = RunOptions {
        runs_dir: args.runs_dir.clone(),
        name: args.name.clone(),
        resume: args.resume.clone(),
    };
    match train::run(&cfg, &splits, &device, &opts, &reporter) {
        // The batch check runs before the run directory exists, so nothing needs undoing.
        Err(TrainError::Augment(AugmentError::BatchTooLarge(why))) if args.cpu_fallback => {
            warn!("warning: {why}; --cpu-fallback: training on the CPU instead");
            let cfg = TrainConfig {
                device: DeviceChoice::Cpu,
                ..cfg
            };
            let cpu = device::open(DeviceChoice::Cpu)?;
            train::run(&cfg, &splits, &cpu, &opts, &reporter)?;
        }
        result => {
            result?;
        }
    }
    Ok(())
}
