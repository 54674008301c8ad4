//! `augtrain plot --run DIR`: redraw a run's charts, contact sheet and HTML report.

use std::path::PathBuf;

use clap::Args;

use crate::device::{self, DeviceChoice};
use crate::report::html::render;
use crate::train::{augmenters, config::TrainConfig, resolve_pipeline};

/// Flags of `augtrain plot`.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  augtrain plot --run runs/synthetic-cnn-20261123-140509")]
pub struct PlotArgs {
    /// The run directory.
    #[arg(long)]
    run: PathBuf,
    /// Keep the existing augmentation contact sheet instead of redrawing it from the data.
    #[arg(long)]
    keep_sheet: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: PlotArgs) -> crate::Result<()> {
    let cfg_path = args.run.join("config.toml");
    let text = String::from_utf8(crate::util::fs::read(&cfg_path)?)
        .map_err(|_| crate::Error::Usage(format!("{}: not UTF-8 text", cfg_path.display())))?;
    let cfg = TrainConfig::from_toml(&text, &cfg_path.display().to_string())
        .map_err(crate::Error::Usage)?;
    if !args.keep_sheet {
        // The contact sheet needs the training images; the CPU twin draws it.
        let splits = cfg.data.load(cfg.seed)?;
        let spec = resolve_pipeline(&cfg, &splits.train);
        let cpu = device::open(DeviceChoice::Cpu)?;
        let (train_aug, _) = augmenters(&spec, &splits.train, cfg.seed, &cpu)?;
        let sheet = crate::report::images::augmentation_sheet(
            &train_aug.program,
            train_aug.seed,
            &splits.train,
            8,
            6,
        )?;
        sheet.save_png(&args.run.join("augmentation.png"))?;
    }
    let written = render(&args.run).map_err(|e| crate::Error::Usage(e.to_string()))?;
    if !args.quiet {
        println!("redrew {} in {}", written.join(", "), args.run.display());
    }
    Ok(())
}
