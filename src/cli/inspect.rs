//! `augtrain inspect DATA`: counts per class and split, image sizes, channels, formats and the
//! files that cannot be used.

use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::data::profile::Profile;
use crate::data::source::load_whole;
use crate::util::escape::escape;

/// Flags of `augtrain inspect`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain inspect ../shared/data/hymenoptera
  augtrain inspect ../shared/data/mnist-10k --json")]
pub struct InspectArgs {
    /// The dataset: IDX or CIFAR directory, image folder, CSV manifest or pack.
    data: PathBuf,
    #[command(flatten)]
    load: LoadArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InspectArgs) -> crate::Result<()> {
    let cfg = args.load.config(Some(args.data.clone()))?;
    let source = cfg.source()?;
    let whole = load_whole(&source, &cfg, 42)?;
    let profile = Profile::of(source.name(), &whole);
    if args.json {
        say!("{}", serde_json::to_string_pretty(&profile).expect("json"));
        return Ok(());
    }
    say!(
        "{}: {} images, {} classes, {} files skipped",
        escape(&profile.source),
        profile.images,
        profile.classes.len(),
        profile.skipped.len()
    );
    say!();
    print_counts(&profile)?;
    say!();
    print_files(&profile)
}

/// Columns of classes shown; more are summarized as `...`.
const SHOWN_CLASSES: usize = 20;

/// Images per split (rows) and class (columns), with totals.
fn print_counts(p: &Profile) -> crate::Result<()> {
    let names = &p.classes;
    let more = names.len() > SHOWN_CLASSES;
    let w = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    say_raw!("{:<10}", "split");
    for n in names.iter().take(SHOWN_CLASSES) {
        say_raw!(" {:>w$}", escape(n));
    }
    if more {
        say_raw!(" {:>w$}", "...");
    }
    say!(" {:>8}", "total");
    let mut totals = vec![0usize; names.len()];
    let row = |label: &str, counts: &[usize]| -> crate::Result<()> {
        say_raw!("{label:<10}");
        for c in counts.iter().take(SHOWN_CLASSES) {
            say_raw!(" {c:>w$}");
        }
        if more {
            say_raw!(" {:>w$}", "");
        }
        say!(" {:>8}", counts.iter().sum::<usize>());
        Ok(())
    };
    for (split, counts) in p.splits() {
        row(split, counts)?;
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
    }
    row("all", &totals)
}

/// Stored sizes, channels, formats, the loaded shape and the skipped files.
fn print_files(p: &Profile) -> crate::Result<()> {
    say!(
        "image sizes (width x height, as stored): min {}, median {}, max {}",
        p.size_min,
        p.size_median,
        p.size_max
    );
    let ch: Vec<String> = p
        .channels
        .iter()
        .map(|(c, n)| {
            let kind = match c {
                1 => "gray",
                2 => "gray+alpha",
                3 => "RGB",
                4 => "RGBA",
                _ => "other",
            };
            format!("{kind} {n}")
        })
        .collect();
    say!("channels: {}", ch.join(", "));
    if !p.formats.is_empty() {
        let f: Vec<String> = p.formats.iter().map(|(k, n)| format!("{k} {n}")).collect();
        say!(
            "formats: {}; EXIF orientation applied to {}",
            f.join(", "),
            p.exif_rotated
        );
    }
    let [w, h, c] = p.loaded_as;
    say!("loaded as: {w}x{h}x{c}");
    if !p.skipped.is_empty() {
        say!();
        say!("skipped files:");
        for s in &p.skipped {
            say!("  {}: {}", escape(&s.path), s.reason);
        }
    }
    Ok(())
}
