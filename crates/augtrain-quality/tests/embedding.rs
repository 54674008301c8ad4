//! `augtrain_quality::embedding` against files and results from NumPy, scikit-learn and
//! cleanlab (fixtures written by tools/embedding_oracle.py).

use std::path::{Path, PathBuf};

use augtrain_quality::embedding::knn_probs::knn_pred_probs;
use augtrain_quality::embedding::npy::{NpyError, NpyProblem, npy_bytes, parse_npy, read_npy};
use augtrain_quality::embedding::outliers::{default_k, ood_scores, ood_scores_for};
use augtrain_quality::embedding::{EmbeddingSet, nearest};
use augtrain_quality::label_issues::confident::{Filter, find_label_issues};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/embedding")
        .join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn reads_numpy_files_bit_identically_and_writes_what_numpy_writes() {
    let f32_path = fixture("npy_f32_3x4.npy");
    let a = read_npy(&f32_path).unwrap();
    assert_eq!((a.len(), a.dim), (3, 4));
    let want = [
        0.0f32,
        -0.0,
        1.0 / 3.0,
        1e-45,
        3.4e38,
        -1.5,
        2f32.powi(-130),
        7.0,
    ];
    assert_eq!(bits(&a.values[..8]), bits(&want));
    // np.save's exact bytes, header padding and growth-axis spare space included.
    assert_eq!(npy_bytes(&a), std::fs::read(&f32_path).unwrap());

    // float64 is rounded to f32 as astype(np.float32) rounds (1e300 becomes inf).
    let b = read_npy(&fixture("npy_f64_2x5.npy")).unwrap();
    let b32 = read_npy(&fixture("npy_f64_2x5_as_f32.npy")).unwrap();
    assert_eq!((b.len(), b.dim), (2, 5));
    assert_eq!(bits(&b.values), bits(&b32.values));

    let v2 = read_npy(&fixture("npy_f32_v2.npy")).unwrap();
    assert_eq!(bits(&v2.values), bits(&a.values[..8]));
    let empty = read_npy(&fixture("npy_f32_empty.npy")).unwrap();
    assert_eq!((empty.len(), empty.dim), (0, 3));
    assert_eq!(
        npy_bytes(&empty),
        std::fs::read(fixture("npy_f32_empty.npy")).unwrap()
    );
}

#[test]
fn write_then_read_round_trips() {
    let set = EmbeddingSet::new(3, vec![1.0, -0.0, f32::MIN_POSITIVE, 5.5, 1e-40, -7.25]).unwrap();
    let dir = std::env::temp_dir().join(format!("augtrain-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("e.npy");
    augtrain_quality::embedding::npy::write_npy(&path, &set).unwrap();
    let back = read_npy(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((back.dim, bits(&back.values)), (3, bits(&set.values)));
    assert_eq!(
        npy_bytes(&set).len() % 64,
        24,
        "64-byte aligned header, then 6 × 4 bytes"
    );
}

fn problem(bytes: &[u8]) -> NpyProblem {
    match parse_npy(bytes, "e.npy") {
        Err(NpyError::Format { problem, .. }) => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// A v1.0 file with the given header text (padded as numpy pads) and data bytes.
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A header dict with the three keys.
fn dict(descr: &str, fortran: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

/// Broken framing: magic, version, lengths, dtype, order, shape and data size.
fn framing_cases() -> Vec<(Vec<u8>, NpyProblem)> {
    let good = std::fs::read(fixture("npy_f32_3x4.npy")).unwrap();
    vec![
        (b"".to_vec(), NpyProblem::Truncated),
        (b"\x93NUMPY\x01".to_vec(), NpyProblem::Truncated),
        (b"PK\x03\x04zipfile".to_vec(), NpyProblem::Magic),
        (
            [&good[..6], b"\x04\x00", &good[8..]].concat(),
            NpyProblem::Version(4, 0),
        ),
        (
            [&good[..8], b"\xff\xff"].concat(),
            NpyProblem::HeaderTooLong(65535),
        ),
        (good[..40].to_vec(), NpyProblem::Truncated),
        (good[..good.len() - 1].to_vec(), data_len(3, 4, 4, 47)),
        ([&good[..], b"\0"].concat(), data_len(3, 4, 4, 49)),
        (
            with_header(&dict(">i8", "False", "(2, 2)"), &[0; 32]),
            NpyProblem::Dtype(">i8".into()),
        ),
        (
            with_header(&dict("<f4", "True", "(2, 2)"), &[0; 16]),
            NpyProblem::FortranOrder,
        ),
        (
            with_header(&dict("<f4", "False", "(4,)"), &[0; 16]),
            NpyProblem::Dimensions(1),
        ),
        (
            with_header(&dict("<f4", "False", "(1, 2, 2)"), &[0; 16]),
            NpyProblem::Dimensions(3),
        ),
        (
            with_header(&dict("<f4", "False", "()"), &[0; 4]),
            NpyProblem::Dimensions(0),
        ),
        (
            with_header(&dict("<f4", "False", "(4, 0)"), &[]),
            NpyProblem::NoColumns(4),
        ),
        (
            with_header(&dict("<f4", "False", "(4294967296, 4294967296)"), &[]),
            NpyProblem::TooLarge(1 << 32, 1 << 32),
        ),
        (
            // A header promising 10^12 values in a 100-byte file: rejected before allocating.
            with_header(&dict("<f8", "False", "(1000000, 1000000)"), &[0; 8]),
            data_len(1_000_000, 1_000_000, 8, 8),
        ),
    ]
}

/// Header dicts that are not what numpy writes.
fn header_cases() -> Vec<(Vec<u8>, NpyProblem)> {
    vec![
        (
            with_header(&dict("<f4", "False", "(99999999999999999999, 1)"), &[]),
            header("shape is not a tuple of non-negative integers"),
        ),
        (
            with_header(&dict("<f4", "False", "(2)"), &[0; 8]),
            header("shape is not a tuple of non-negative integers"),
        ),
        (
            with_header(&dict("<f4", "False", "(-2, 1)"), &[0; 8]),
            header("shape is not a tuple of non-negative integers"),
        ),
        (
            with_header(&dict("<f4", "0", "(2, 1)"), &[0; 8]),
            header("fortran_order is not True or False"),
        ),
        (
            with_header("{'descr': '<f4', 'shape': (2, 1)}", &[0; 8]),
            header("missing key (descr, fortran_order and shape are required)"),
        ),
        (
            with_header("{'descr': '<f4', 'descr': '<f4', }", &[]),
            header("repeated key"),
        ),
        (
            with_header("{'descr': '<f4', 'x': 1}", &[]),
            header("unknown key (expected descr, fortran_order, shape)"),
        ),
        (with_header("['descr']", &[]), header("expected '{'")),
        (
            with_header("{'descr': '<f4\n', }", &[]),
            header("string holds a non-printable character or escape"),
        ),
        (
            with_header(&(dict("<f4", "False", "(2, 1)") + " x"), &[0; 8]),
            header("text after the dict"),
        ),
    ]
}

#[test]
fn rejects_malformed_files_with_one_line_messages() {
    for (bytes, want) in framing_cases().into_iter().chain(header_cases()) {
        assert_eq!(
            problem(&bytes),
            want,
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        let message = parse_npy(&bytes, "e.npy").unwrap_err().to_string();
        assert!(
            message.starts_with("e.npy: ") && !message.contains('\n'),
            "{message}"
        );
    }
    assert_eq!(
        parse_npy(
            &with_header(&dict(">i8", "False", "(2, 2)"), &[0; 32]),
            "embeddings.npy"
        )
        .unwrap_err()
        .to_string(),
        "embeddings.npy: dtype '>i8' is not supported; save float32 or float64"
    );
    // Double quotes and a missing trailing comma are valid Python, and accepted.
    let ok = with_header(
        "{\"descr\": \"<f4\", \"shape\": (1, 1), \"fortran_order\": False}",
        &[0; 4],
    );
    assert_eq!(parse_npy(&ok, "e.npy").unwrap().values, vec![0.0]);
}

fn data_len(rows: u64, cols: u64, itemsize: u64, actual: u64) -> NpyProblem {
    NpyProblem::DataLength {
        rows,
        cols,
        itemsize,
        expected: rows * cols * itemsize,
        actual,
    }
}

fn header(what: &'static str) -> NpyProblem {
    NpyProblem::Header(what)
}

/// cleanlab 2.9 `OutOfDistribution().fit_score(features=X)` (cosine metric, k = 10, exact
/// duplicates corrected) on 200 × 32 unit rows, to 1e-6: our similarities are f32 dot products,
/// scikit-learn's cosine distances float64, a difference of ~1e-7 in each average distance.
#[test]
fn ood_scores_match_cleanlab() {
    let set = read_npy(&fixture("ood_x.npy")).unwrap();
    let want: Vec<f64> = serde_json::from_value(json("ood.json")["scores"].clone()).unwrap();
    assert_eq!(default_k(set.len()), 10);
    let got = ood_scores_for(&set);
    // The same from a wider neighbour list, using its first 10.
    assert_eq!(ood_scores(&nearest(&set, 15), 10), got);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "largest difference {worst:e}");
    // The planted outliers (rows 192..200) score lowest; duplicates score as their originals.
    let mut order: Vec<usize> = (0..got.len()).collect();
    order.sort_by(|&a, &b| got[a].total_cmp(&got[b]));
    assert!(order[..8].iter().all(|&i| i >= 192), "{:?}", &order[..8]);
    assert_eq!(got[5], got[10]);
    assert_eq!(got[30], got[40]);
}

/// cleanlab 2.9 Datalab's label check on features only: `KNeighborsClassifier(n_neighbors=11)`
/// pred_probs with the own vote removed, then `CleanLearning.find_label_issues`, whose filter is
/// cleanlab's default `filter_by="prune_by_noise_rate"` (= `Filter::default()`), with
/// `min_examples_per_class=10` (no effect here: every class keeps far more than 10).
#[test]
fn knn_pred_probs_and_label_issues_match_cleanlab_datalab() {
    let set = read_npy(&fixture("label_x.npy")).unwrap();
    let fx = json("label.json");
    let labels: Vec<usize> = serde_json::from_value(fx["labels"].clone()).unwrap();
    let want_probs: Vec<Vec<f64>> = serde_json::from_value(fx["pred_probs"].clone()).unwrap();
    let want_flagged: Vec<usize> = serde_json::from_value(fx["flagged"].clone()).unwrap();
    let k = fx["k"].as_u64().unwrap() as usize;

    let probs = knn_pred_probs(&nearest(&set, k), &labels, 5, k).unwrap();
    for (i, want) in want_probs.iter().enumerate() {
        for (c, w) in want.iter().enumerate() {
            // cleanlab's float64 steps are replayed exactly: equal bit for bit (brief: 1e-12).
            assert_eq!(probs.row(i)[c].to_bits(), w.to_bits(), "row {i} class {c}");
        }
    }
    let mask = find_label_issues(&labels, &probs, Filter::default());
    let flagged: Vec<usize> = (0..labels.len()).filter(|&i| mask[i]).collect();
    assert_eq!(flagged, want_flagged);
}

/// Every truncation and many single-byte changes of a valid file return (an error or a set whose
/// size the input implies) instead of panicking or over-allocating.
#[test]
fn mutated_files_never_panic() {
    let good = std::fs::read(fixture("npy_f32_3x4.npy")).unwrap();
    for len in 0..good.len() {
        assert!(parse_npy(&good[..len], "e.npy").is_err());
    }
    for at in 0..good.len() {
        for byte in [
            0u8, 0xff, b'(', b')', b',', b'9', b' ', b'\'', b'{', b'}', b'\n', 0x80,
        ] {
            let mut bad = good.clone();
            bad[at] = byte;
            if let Ok(set) = parse_npy(&bad, "e.npy") {
                assert!(set.values.len() * 4 <= bad.len());
            }
        }
    }
}
