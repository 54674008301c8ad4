//! `augtrain inspect DATA`: counts per class and split, image sizes, channels, formats and the
//! files that cannot be used.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::data_args::LoadArgs;
use crate::data::files::SplitName;
use crate::data::source::load_whole;

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

fn median(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

pub fn run(args: InspectArgs) -> crate::Result<()> {
    let cfg = args.load.config(Some(args.data.clone()))?;
    let source = cfg.source()?;
    let whole = load_whole(&source, &cfg, 42)?;
    let d = &whole.data;
    let names = &d.class_names;
    let mut table: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..d.len() {
        let split = whole.splits[i]
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(unsplit)".into());
        table.entry(split).or_insert_with(|| vec![0; names.len()])[d.labels[i] as usize] += 1;
    }
    let order = |s: &str| match SplitName::parse(s) {
        Some(SplitName::Train) => 0,
        Some(SplitName::Val) => 1,
        Some(SplitName::Test) => 2,
        None => 3,
    };
    let mut rows: Vec<(String, Vec<usize>)> = table.into_iter().collect();
    rows.sort_by_key(|(s, _)| order(s));
    let r = &whole.report;
    let (widths, heights): (Vec<u64>, Vec<u64>) = if r.original_sizes.is_empty() {
        (
            vec![d.shape.width as u64; d.len()],
            vec![d.shape.height as u64; d.len()],
        )
    } else {
        r.original_sizes
            .iter()
            .map(|&(w, h)| (w as u64, h as u64))
            .unzip()
    };
    let areas: Vec<u64> = widths.iter().zip(&heights).map(|(w, h)| w * h).collect();
    let pick = |f: &dyn Fn(&[u64]) -> Option<usize>| {
        f(&areas)
            .map(|i| format!("{}x{}", widths[i], heights[i]))
            .unwrap_or_default()
    };
    let min = pick(&|a| (0..a.len()).min_by_key(|&i| a[i]));
    let max = pick(&|a| (0..a.len()).max_by_key(|&i| a[i]));
    let mut formats: BTreeMap<String, usize> = BTreeMap::new();
    for f in &r.formats {
        *formats.entry(f.clone()).or_default() += 1;
    }
    let mut channels: BTreeMap<u8, usize> = BTreeMap::new();
    for &c in &r.source_channels {
        *channels.entry(c).or_default() += 1;
    }
    if channels.is_empty() {
        channels.insert(d.shape.channels as u8, d.len());
    }
    if args.json {
        let v = serde_json::json!({
            "source": source.name(),
            "images": d.len(),
            "classes": names,
            "counts": rows.iter().map(|(s, c)| (s.clone(), c.clone())).collect::<BTreeMap<_, _>>(),
            "size_min": min,
            "size_median": format!("{}x{}", median(widths.clone()), median(heights.clone())),
            "size_max": max,
            "channels": channels,
            "formats": formats,
            "exif_rotated": r.rotated,
            "loaded_as": [d.shape.width, d.shape.height, d.shape.channels],
            "skipped": r.skipped,
        });
        say!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(());
    }
    say!(
        "{}: {} images, {} classes, {} files skipped",
        source.name(),
        d.len(),
        names.len(),
        r.skipped.len()
    );
    say!();
    let w = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    say_raw!("{:<10}", "split");
    for n in names.iter().take(20) {
        say_raw!(" {:>w$}", crate::util::escape::escape(n));
    }
    if names.len() > 20 {
        say_raw!(" {:>w$}", "...");
    }
    say!(" {:>8}", "total");
    let mut totals = vec![0usize; names.len()];
    for (split, counts) in &rows {
        say_raw!("{split:<10}");
        for c in counts.iter().take(20) {
            say_raw!(" {c:>w$}");
        }
        if names.len() > 20 {
            say_raw!(" {:>w$}", "");
        }
        say!(" {:>8}", counts.iter().sum::<usize>());
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
    }
    say_raw!("{:<10}", "all");
    for c in totals.iter().take(20) {
        say_raw!(" {c:>w$}");
    }
    if names.len() > 20 {
        say_raw!(" {:>w$}", "");
    }
    say!(" {:>8}", totals.iter().sum::<usize>());
    say!();
    say!(
        "image sizes (width x height, as stored): min {min}, median {}x{}, max {max}",
        median(widths),
        median(heights)
    );
    let ch: Vec<String> = channels
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
    if !formats.is_empty() {
        let f: Vec<String> = formats.iter().map(|(k, n)| format!("{k} {n}")).collect();
        say!(
            "formats: {}; EXIF orientation applied to {}",
            f.join(", "),
            r.rotated
        );
    }
    say!(
        "loaded as: {}x{}x{}",
        d.shape.width,
        d.shape.height,
        d.shape.channels
    );
    if !r.skipped.is_empty() {
        say!();
        say!("skipped files:");
        for s in &r.skipped {
            say!("  {}: {}", crate::util::escape::escape(&s.path), s.reason);
        }
    }
    Ok(())
}
