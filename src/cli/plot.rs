//! `augtrain plot --run DIR`: redraw a run's charts, contact sheet and HTML report.

use std::path::PathBuf;

use clap::Args;

use crate::augment::Program;
use crate::report::html::render;
use crate::train::resolve_pipeline;
use augtrain_run::RunDir;
use augtrain_run::run_dir::file;

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
    let run = RunDir::open(&args.run)?;
    let cfg = run.config()?;
    if !args.keep_sheet {
        // The contact sheet needs the training images; the CPU twin draws it.
        let splits = cfg.data.load(cfg.seed)?;
        let program = Program::new(&resolve_pipeline(&cfg, &splits.train), splits.train.shape)?;
        let sheet =
            crate::report::images::augmentation_sheet(&program, cfg.seed, &splits.train, 8, 6)?;
        sheet.save_png(&run.file(file::AUGMENTATION))?;
    }
    let written = render(run.path())?;
    if !args.quiet {
        say!("redrew {} in {}", written.join(", "), args.run.display());
    }
    Ok(())
}
