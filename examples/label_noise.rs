//! A label-noise hunt: flip 10% of the MNIST training labels on purpose, get out-of-sample
//! probabilities by 5-fold cross-validation, let confident learning find the flips, and measure
//! how well it did.
//!
//! `cargo run --release --example label_noise`

mod common;

use augtrain::data::files::SplitName;
use augtrain::data::source::load_whole;
use augtrain::device;
use augtrain::label_issues::confident::{
    Filter, PredProbs, RankBy, ranked_issues, suggested_labels,
};
use augtrain::report::images::Picture;
use augtrain::report::plot::{Anchor, draw_text};
use augtrain::train::cv::cross_validate;
use augtrain::train::progress::{Reporter, Verbosity};
use augtrain::util::rng::{Domain, Stream};
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;
use augtrain_run::config::TrainConfig;
use common::{check, data, out_dir, quick, section};

fn main() {
    // SAFETY: first statement, no other thread yet.
    unsafe { augtrain::device::prepare_environment() };
    let Some(mnist) = data("mnist-10k") else {
        return;
    };
    let out = out_dir("label_noise");
    let mut cfg = TrainConfig {
        epochs: if quick() { 2 } else { 5 },
        ..TrainConfig::default()
    };
    cfg.model.kind = ModelKind::Mlp;
    cfg.data.path = Some(mnist);

    section(1, "Plant the noise");
    let whole = check(load_whole(&check(cfg.data.source()), &cfg.data, cfg.seed));
    let mut ds = whole.data.clone();
    if quick() {
        let keep: Vec<usize> = (0..2000).collect();
        ds = ds.subset(&keep);
    }
    let train: Vec<usize> = (0..ds.len())
        .filter(|&i| whole.splits[i] == Some(SplitName::Train))
        .collect();
    let mut order = train.clone();
    let mut rng = Stream::new(Domain::Split, &[2026]);
    rng.shuffle(&mut order);
    let flipped: std::collections::BTreeSet<usize> =
        order[..train.len() / 10].iter().copied().collect();
    let original = ds.labels.clone();
    for &i in &flipped {
        ds.labels[i] = ((ds.labels[i] as u64 + 1 + rng.below(9)) % 10) as u32;
    }
    println!(
        "{} of the {} training labels now name another digit; the model is not told which.",
        flipped.len(),
        train.len()
    );

    section(2, "Out-of-sample probabilities by 5-fold cross-validation");
    let dev = check(device::open(DeviceChoice::Auto));
    let reporter = Reporter::new(if quick() {
        Verbosity::Quiet
    } else {
        Verbosity::detect(false)
    });
    let result = check(cross_validate(&cfg, &ds, 5, &dev, &reporter));
    println!(
        "Every image got probabilities from the fold model that never saw it (out-of-sample accuracy against the noisy labels {:.4}).",
        result.confusion.accuracy()
    );

    section(3, "Confident learning");
    let labels: Vec<usize> = ds.labels.iter().map(|&l| l as usize).collect();
    let probs = PredProbs {
        k: 10,
        values: result.probs.iter().map(|&v| v as f64).collect(),
    };
    let issues = ranked_issues(
        &labels,
        &probs,
        Filter::PruneByNoiseRate,
        RankBy::SelfConfidence,
    );
    let hits = issues.iter().filter(|i| flipped.contains(i)).count();
    let precision = hits as f64 / issues.len().max(1) as f64;
    let recall = hits as f64 / flipped.len().max(1) as f64;
    println!(
        "flagged {} examples: precision {precision:.3}, recall {recall:.3} against the planted flips.",
        issues.len()
    );
    let real = issues.iter().filter(|i| !flipped.contains(i)).count();
    println!(
        "{real} flagged examples were not planted: MNIST's own doubtful labels, or model mistakes."
    );

    section(4, "The first issues, to review");
    let suggested = suggested_labels(&probs);
    let shown: Vec<usize> = issues.iter().copied().take(24).collect();
    let sheet = review_sheet(&ds, &shown, &labels, &suggested, |i| {
        if flipped.contains(&i) {
            format!("was {}", original[i])
        } else {
            "unplanted".into()
        }
    });
    let path = out.join("label_issues.png");
    check(sheet.save_png(&path));
    println!(
        "{}: each image with its given -> suggested label, and the truth we planted.",
        path.display()
    );
}

/// A contact sheet of the `shown` images, each captioned `given->suggested` and with `truth`.
fn review_sheet(
    ds: &augtrain::data::Dataset,
    shown: &[usize],
    labels: &[usize],
    suggested: &[usize],
    truth: impl Fn(usize) -> String,
) -> Picture {
    let (cell, cols) = (84usize, 8usize);
    let mut sheet = Picture::blank(
        cols * cell,
        shown.len().div_ceil(cols) * (cell + 34) + 10,
        3,
        255,
    );
    for (k, &i) in shown.iter().enumerate() {
        let (x, y) = ((k % cols) * cell, (k / cols) * (cell + 34));
        let pic = Picture {
            width: ds.shape.width,
            height: ds.shape.height,
            channels: ds.shape.channels,
            pixels: ds.image(i).to_vec(),
        };
        sheet.paste(&pic, x + 6, y + 6, cell - 12, cell - 12);
        let centre = (x + cell / 2) as i32;
        draw_text(
            &mut sheet,
            (centre, (y + cell + 4) as i32),
            &format!("{}->{}", labels[i], suggested[i]),
            13.0,
            [180, 0, 0],
            Anchor::Center,
        );
        draw_text(
            &mut sheet,
            (centre, (y + cell + 20) as i32),
            &truth(i),
            13.0,
            [90, 90, 90],
            Anchor::Center,
        );
    }
    sheet
}
