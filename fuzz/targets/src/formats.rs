//! Single-file formats parsed from memory: IDX, CIFAR batches, images, predicted
//! probabilities.

use std::io::Cursor;
use std::path::Path;

use augtrain_data::LoadOptions;
use augtrain_data::cifar::{self, Variant};
use augtrain_data::decode::{ResizePolicy, decode_bytes};
use augtrain_quality::label_issues::confident::{
    Filter, RankBy, quality_scores, ranked_issues, suggested_labels,
};

/// IDX image and label files, plain or gzip; parsed images hold exactly the pixels their
/// header announces.
pub fn idx(bytes: &[u8]) -> bool {
    let images = augtrain_data::idx::parse_images(Path::new("images.idx"), Cursor::new(bytes));
    if let Ok(images) = &images {
        let announced = images.count * images.rows * images.cols * images.channels;
        assert_eq!(
            images.pixels.len(),
            announced,
            "IDX pixels and header disagree"
        );
    }
    let labels = augtrain_data::idx::parse_labels(Path::new("labels.idx"), Cursor::new(bytes));
    images.is_ok() || labels.is_ok()
}

/// CIFAR-10 and CIFAR-100 binary batches; a parsed batch has 3,072 pixels per label and
/// every label below its class count.
pub fn cifar(bytes: &[u8]) -> bool {
    let mut accepted = false;
    for (variant, classes) in [(Variant::Cifar10, 10), (Variant::Cifar100, 100)] {
        if let Ok((pixels, labels)) =
            cifar::parse_batch(Path::new("data_batch_1.bin"), bytes, variant)
        {
            assert_eq!(
                pixels.len(),
                labels.len() * 32 * 32 * 3,
                "CIFAR pixels per label"
            );
            assert!(
                labels.iter().all(|&l| l < classes),
                "CIFAR label out of range"
            );
            accepted = true;
        }
    }
    accepted
}

/// Largest width × height [`image`] decodes (`--max-pixels`).
const IMAGE_MAX_PIXELS: u64 = 1 << 20;

/// Image files (PNG, JPEG, BMP, GIF, WebP) decoded and fitted to 9×7 RGB; a decoded image has
/// the target size and came from a file within the pixel limit.
pub fn image(bytes: &[u8]) -> bool {
    let opts = LoadOptions {
        size: [9, 7],
        channels: 3,
        resize: ResizePolicy::Letterbox,
        max_pixels: IMAGE_MAX_PIXELS,
        ..LoadOptions::default()
    };
    let Ok(decoded) = decode_bytes(bytes, &opts) else {
        return false;
    };
    assert_eq!(decoded.pixels.len(), 9 * 7 * 3, "decoded to the wrong size");
    let (w, h) = decoded.original;
    assert!(
        u64::from(w) * u64::from(h) <= IMAGE_MAX_PIXELS,
        "a {w}×{h} image got past the pixel limit"
    );
    true
}

/// Predicted-probability CSVs (the input of `label-issues`), then confident learning on them
/// as `label-issues --pred-probs` runs it: quality scores are finite, every filter and
/// ranking gives row indices in range, and suggested labels are classes.
pub fn pred_probs(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Ok(file) =
        augtrain_quality::label_issues::pred_probs::parse(Path::new("pred_probs.csv"), &text)
    else {
        return false;
    };
    let rows = file.probs.len();
    let suggested = suggested_labels(&file.probs);
    assert_eq!(suggested.len(), rows);
    assert!(
        suggested.iter().all(|&c| c < file.probs.k),
        "suggested label out of range"
    );
    if let Some(given) = &file.given {
        let filters = [
            Filter::PruneByNoiseRate,
            Filter::PruneByClass,
            Filter::Both,
            Filter::ConfidentLearning,
            Filter::PredictedNeqGiven,
        ];
        for rank in [RankBy::SelfConfidence, RankBy::NormalizedMargin] {
            let scores = quality_scores(given, &file.probs, rank);
            assert!(
                scores.iter().all(|s| s.is_finite()),
                "a quality score is not finite"
            );
            for filter in filters {
                let issues = ranked_issues(given, &file.probs, filter, rank);
                assert!(issues.iter().all(|&i| i < rows), "issue row out of range");
            }
        }
    }
    true
}

/// Embedding matrices (`embeddings.npy`, the input of `audit --embeddings` and
/// `label-issues --embeddings`), then what those commands run on them when the rows normalize:
/// the exact neighbour search (at most 512 rows × 64 floats per input, to stay fast),
/// semantic duplicates, outlier scores and neighbour probabilities; every index in range,
/// similarities descending and at most 1, scores in [0, 1], probability rows summing to 1.
pub fn embeddings(bytes: &[u8]) -> bool {
    use augtrain_quality::embedding::{duplicates, knn_probs, nearest, npy, outliers};
    let Ok(mut set) = npy::parse_npy(bytes, "embeddings.npy") else {
        return false;
    };
    assert_eq!(set.values.len(), set.len() * set.dim);
    if set.normalize_rows().is_err() || set.len() > 512 || set.dim > 64 {
        return false;
    }
    let n = set.len();
    let nb = nearest(&set, 3);
    assert_eq!(nb.len(), if nb.k == 0 { 0 } else { n });
    for i in 0..nb.len() {
        let sims = nb.similarities_of(i);
        assert!(
            nb.indices_of(i)
                .iter()
                .all(|&j| (j as usize) < n && j as usize != i)
        );
        assert!(
            sims.windows(2).all(|w| w[0] >= w[1]),
            "similarities not descending"
        );
        assert!(sims.iter().all(|&s| s <= 1.0), "similarity above 1");
    }
    let dups = duplicates::near_duplicates(&nb, 0.9);
    assert!(dups.pairs.iter().all(|p| p.i < p.j && p.j < n));
    let scores = outliers::ood_scores(&nb, nb.k);
    assert!(
        scores.iter().all(|s| (0.0..=1.0).contains(s)),
        "outlier score outside [0, 1]"
    );
    if nb.k > 0 {
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let probs = knn_probs::knn_pred_probs(&nb, &labels, 2, nb.k).expect("valid inputs");
        for row in probs.values.chunks(2) {
            assert!(
                (row.iter().sum::<f64>() - 1.0).abs() < 1e-9,
                "row sums to {row:?}"
            );
        }
    }
    true
}
