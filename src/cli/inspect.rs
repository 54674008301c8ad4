//! `augtrain inspect DATA`: counts per class and split, image sizes, channels, formats and the
//! files that cannot be used.

use std::path::PathBuf;

use clap::Args;

use augtrain_annotations::formats::{self, Format, ReadOptions};
use augtrain_annotations::stats::{Quantiles, Summary};

use super::data_args::LoadArgs;
use crate::data::profile::Profile;
use crate::data::source::load_whole;
use crate::util::escape::escape;

/// Flags of `augtrain inspect`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  augtrain inspect ../shared/data/hymenoptera
  augtrain inspect ../shared/data/mnist-10k --json
  augtrain inspect instances_val2017.json          (annotations: objects per class, box sizes)
  augtrain inspect yolo-dataset/ --format yolo")]
pub struct InspectArgs {
    /// The dataset: IDX or CIFAR directory, image folder, CSV manifest or pack.
    data: PathBuf,
    #[command(flatten)]
    load: LoadArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Read DATA as annotations in this format (coco, yolo, voc, labelme, labelstudio, cvat);
    /// detected for JSON and XML files and YOLO / VOC / CVAT folders.
    #[arg(long)]
    format: Option<Format>,
}

pub fn run(args: InspectArgs) -> crate::Result<()> {
    if args.format.is_some() || formats::looks_annotated(&args.data) {
        return inspect_annotations(&args);
    }
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

/// `inspect` of annotations: objects per class and image, box sizes, images without objects.
fn inspect_annotations(args: &InspectArgs) -> crate::Result<()> {
    let (format, read) = formats::read_any(&args.data, args.format, &ReadOptions::default())?;
    for (what, n) in read.skipped.iter() {
        warn!("warning: not read: {n} {what}");
    }
    let s = Summary::of(&read.dataset);
    if args.json {
        let json = serde_json::json!({"format": format, "annotations": s});
        say!("{}", serde_json::to_string_pretty(&json).expect("json"));
        return Ok(());
    }
    say!(
        "{} ({format}): {} images, {} objects, {} classes; {} images without objects",
        crate::util::escape::escape_path(&args.data),
        s.images,
        s.objects,
        s.classes.len(),
        s.images_without_objects
    );
    say!();
    let w = s.classes.iter().map(|c| c.name.len()).max().unwrap_or(5).max(5);
    say!("{:<w$} {:>9} {:>9}", "class", "objects", "images");
    for c in &s.classes {
        say!("{:<w$} {:>9} {:>9}", escape(&c.name), c.objects, c.images);
    }
    say!();
    let q = |q: &Quantiles| format!("min {}, q1 {}, median {}, q3 {}, max {}", r(q.min), r(q.q1), r(q.median), r(q.q3), r(q.max));
    say!("objects per image: {}", q(&s.objects_per_image));
    say!("box width (px):    {}", q(&s.box_width));
    say!("box height (px):   {}", q(&s.box_height));
    let [small, medium, large] = s.box_sizes;
    say!("box sizes (COCO bins by area): small (< 32²) {small}, medium {medium}, large (≥ 96²) {large}");
    let g: Vec<String> = s.geometries.iter().map(|(k, n)| format!("{k} {n}")).collect();
    say!("geometries: {}", if g.is_empty() { "none".into() } else { g.join(", ") });
    if s.annotators > 0 || s.predictions > 0 {
        say!("annotators: {}; predicted objects: {}", s.annotators, s.predictions);
    }
    Ok(())
}

/// A number rounded to 0.1 for display.
fn r(v: f64) -> String {
    let t = (v * 10.0).round() / 10.0;
    format!("{t}")
}
