//! `augtrain eval`: reload a run's checkpoint and evaluate it.

use std::collections::HashSet;
use std::path::PathBuf;

use clap::Args;

use crate::data::Dataset;
use crate::data::files::SplitName;
use crate::data::source::{self, Whole};

use crate::data::membership::{self, Member};
use crate::device;
use crate::metrics::ClassificationReport;
use crate::train::Inference;
use crate::train::progress::{Reporter, Verbosity};
use augtrain_run::RunDir;
use augtrain_run::config::DeviceChoice;
use augtrain_run::records::{LeftOut, TestReport};

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
    /// Also write the report as JSON to this file (which must not exist, unless --force).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace an existing --json file.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: EvalArgs) -> crate::Result<()> {
    if let Some(path) = &args.json {
        crate::util::fs::check_new_output(path, args.force)?;
    }
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
        let classes: Vec<String> = classes.iter().map(|c| c.trim().to_string()).collect();
        crate::data::class_list::check_names(&classes)
            .map_err(|p| crate::Error::Usage(format!("--classes {}: {p}", classes.join(","))))?;
        load.classes = Some(classes);
    }
    let recorded = run.splits()?;
    let (data, origin, left_out) = match &args.data {
        None => (
            own_test_split(&run, &load, cfg.seed, recorded.as_deref())?,
            "the run's data".to_string(),
            None,
        ),
        Some(p) => {
            let all = test_or_all(load.load_whole(cfg.seed)?);
            let (held_out, left_out) = match &recorded {
                Some(r) => leave_out_seen(all, r, p)?,
                None => (all, None),
            };
            (held_out, p.display().to_string(), left_out)
        }
    };
    if let (Some(l), false) = (&left_out, args.quiet) {
        say!(
            "note: {} of the {} images of {} are images the run trained on ({} training, {} validation; same pixels): evaluating the {} held out",
            l.train + l.val,
            l.given,
            crate::util::escape::escape_path(args.data.as_deref().unwrap_or(args.run.as_path())),
            l.train,
            l.val,
            data.len()
        );
    }
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
        let json = TestReport {
            left_out,
            ..TestReport::new(report, ev.loss)
        };
        crate::util::fs::write_output(
            path,
            serde_json::to_string_pretty(&json)
                .expect("json")
                .as_bytes(),
            args.force,
        )?;
    }
    Ok(())
}

/// The run's own test split: the images its `splits.csv` recorded as test images (unchanged,
/// by path and pixels), or for a run from before splits were recorded, the split carved again.
fn own_test_split(
    run: &RunDir,
    load: &crate::data::LoadOptions,
    seed: u64,
    recorded: Option<&[Member]>,
) -> crate::Result<Dataset> {
    let Some(recorded) = recorded else {
        return Ok(load.load(seed)?.test);
    };
    let source = load.source()?;
    let classes = run.dataset()?.classes;
    // Image files: only the recorded test images are decoded (and checked against the
    // record); other sources load whole and are checked against the whole record.
    let test: Vec<Member> = recorded
        .iter()
        .filter(|m| m.split == SplitName::Test)
        .cloned()
        .collect();
    let keys: HashSet<&str> = test.iter().map(|m| m.key.as_str()).collect();
    let (whole, recorded) =
        match source::load_files_where(&source, load, &|rel| keys.contains(rel))? {
            Some(whole) => (whole, &test[..]),
            None => (source::load_whole(&source, load, seed)?, recorded),
        };
    let splits = membership::reapply(source.name(), whole, recorded, &classes, "", true)?;
    Ok(splits.test)
}

/// `data` without the images the run trained or validated on (same pixels, any name), and how
/// many were left out (`None` when none were). Nothing left is an error.
fn leave_out_seen(
    data: Dataset,
    recorded: &[Member],
    path: &std::path::Path,
) -> crate::Result<(Dataset, Option<LeftOut>)> {
    let seen = membership::seen_in_training(&data, recorded);
    let count = |s: SplitName| seen.iter().filter(|x| **x == Some(s)).count();
    let (train, val) = (count(SplitName::Train), count(SplitName::Val));
    if train + val == 0 {
        return Ok((data, None));
    }
    let keep: Vec<usize> = (0..data.len()).filter(|&i| seen[i].is_none()).collect();
    if keep.is_empty() {
        return Err(crate::data::DataError::Invalid(format!(
            "every image of {} is one the run trained on ({train} training, {val} validation; same pixels), so there is nothing held out to evaluate; run eval without --data for the run's own test split, or give data it has not seen",
            crate::util::escape::escape_path(path)
        ))
        .into());
    }
    let left_out = LeftOut {
        given: data.len(),
        train,
        val,
    };
    Ok((data.subset(&keep), Some(left_out)))
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
