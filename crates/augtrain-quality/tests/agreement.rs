//! The agreement module against its Python references, on the fixtures
//! `tools/agreement_reference.py` writes: 1,000 CIFAR-10 test images with five simulated
//! annotators (real out-of-sample probabilities) and a small hand-made matrix of edge cases.

use augtrain_quality::agreement::LabelMatrix;
use augtrain_quality::agreement::active::activelab;
use augtrain_quality::agreement::consensus::majority_vote;
use augtrain_quality::agreement::crowdlab::crowdlab;
use augtrain_quality::agreement::dawid_skene::{self, Settings};
use augtrain_quality::agreement::kappa;
use augtrain_quality::label_issues::confident::PredProbs;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/agreement")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn matrix(v: &Value, k: usize) -> LabelMatrix {
    let rows: Vec<Vec<Option<usize>>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().map(|c| c as usize))
                .collect()
        })
        .collect();
    LabelMatrix::from_dense(&rows, k).unwrap()
}

fn probs(v: &Value, k: usize) -> PredProbs {
    PredProbs {
        k,
        values: v
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect(),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn ints(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    let ok = (got.is_nan() && want.is_nan()) || (got - want).abs() <= tol;
    assert!(ok, "{what}: {got} vs reference {want} (tolerance {tol})");
}

fn all_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(&format!("{what}[{i}]"), *g, *w, tol);
    }
}

fn check_agreement(f: &Value, m: &LabelMatrix) {
    let pairs = kappa::pairs(m);
    for (p, r) in pairs.iter().zip(f["cohen"].as_array().unwrap()) {
        let pair = (r["a"].as_u64().unwrap(), r["b"].as_u64().unwrap());
        assert_eq!((p.a as u64, p.b as u64), pair);
        let name = format!("annotators {} and {}", p.a, p.b);
        assert_eq!(p.images as u64, r["n"].as_u64().unwrap(), "{name}");
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        close(&format!("{name} kappa"), p.kappa, f("none"), 1e-12);
        close(
            &format!("{name} linear"),
            p.kappa_linear,
            f("linear"),
            1e-12,
        );
        close(
            &format!("{name} quadratic"),
            p.kappa_quadratic,
            f("quadratic"),
            1e-12,
        );
        close(&format!("{name} percent"), p.percent, f("percent"), 1e-12);
    }
    assert_eq!(pairs.len(), f["cohen"].as_array().unwrap().len());
    let rows = ints(&f["fleiss_complete_rows"]);
    assert_eq!(kappa::complete_images(m), rows);
    close(
        "fleiss",
        kappa::fleiss_kappa(m, &rows).unwrap(),
        f["fleiss"].as_f64().unwrap(),
        1e-12,
    );
    close(
        "alpha",
        kappa::krippendorff_alpha(m).unwrap(),
        f["alpha"].as_f64().unwrap(),
        1e-12,
    );
    let per_class = kappa::krippendorff_alpha_per_class(m);
    for (c, (got, want)) in per_class
        .iter()
        .zip(f["alpha_per_class"].as_array().unwrap())
        .enumerate()
    {
        match (got, want.as_f64()) {
            (Some(g), Some(w)) => close(&format!("alpha of class {c}"), *g, w, 1e-12),
            (None, None) => {}
            other => panic!("alpha of class {c}: {other:?}"),
        }
    }
    let pa = kappa::percent_agreement(m).unwrap();
    close(
        "percent agreement",
        pa,
        f["percent_agreement"].as_f64().unwrap(),
        1e-12,
    );
}

fn check_consensus(f: &Value, m: &LabelMatrix, p: &PredProbs) {
    check_majority_vote(f, m, p);
    check_dawid_skene(&f["dawid_skene"], m);
    check_crowdlab(&f["crowdlab"], m, p);
}

fn check_majority_vote(f: &Value, m: &LabelMatrix, p: &PredProbs) {
    for (key, pp) in [("with_pred_probs", Some(p)), ("without", None)] {
        let r = &f["majority_vote"][key];
        assert!(
            r["random_ties"].as_array().unwrap().is_empty(),
            "fixture used random ties"
        );
        assert_eq!(
            majority_vote(m, pp),
            ints(&r["labels"]),
            "majority vote {key}"
        );
    }
}

fn check_dawid_skene(r: &Value, m: &LabelMatrix) {
    let ds = dawid_skene::fit(m, Settings::default());
    assert_eq!(
        ds.loss_history.len(),
        r["iterations"].as_u64().unwrap() as usize
    );
    all_close(
        "DS loss",
        &ds.loss_history,
        &floats(&r["loss_history"]),
        1e-6,
    );
    assert_eq!(ds.labels, ints(&r["labels"]), "Dawid-Skene labels");
    let present = ints(&r["classes_present"]);
    let k = ds.k;
    let chosen: Vec<f64> = (0..m.n_images())
        .map(|i| ds.probs[i * k + ds.labels[i]])
        .collect();
    all_close(
        "DS label probability",
        &chosen,
        &floats(&r["label_probability"]),
        1e-6,
    );
    for (i, row) in r["probas_head"].as_array().unwrap().iter().enumerate() {
        let got: Vec<f64> = present.iter().map(|&c| ds.probs[i * k + c]).collect();
        all_close(
            &format!("DS probabilities of image {i}"),
            &got,
            &floats(row),
            1e-6,
        );
    }
    let priors: Vec<f64> = present.iter().map(|&c| ds.priors[c]).collect();
    all_close("DS priors", &priors, &floats(&r["priors"]), 1e-6);
}

fn check_crowdlab(r: &Value, m: &LabelMatrix, p: &PredProbs) {
    let c = crowdlab(m, p).unwrap();
    assert_eq!(
        c.consensus,
        ints(&r["consensus_label"]),
        "CROWDLAB consensus"
    );
    all_close(
        "consensus quality",
        &c.consensus_quality,
        &floats(&r["consensus_quality_score"]),
        1e-6,
    );
    all_close(
        "annotator agreement",
        &c.annotator_agreement,
        &floats(&r["annotator_agreement"]),
        1e-6,
    );
    close(
        "model weight",
        c.model_weight,
        r["model_weight"].as_f64().unwrap(),
        1e-6,
    );
    all_close(
        "annotator weight",
        &c.annotator_weight,
        &floats(&r["annotator_weight"]),
        1e-6,
    );
    let q: Vec<f64> = c.annotators.iter().map(|a| a.quality).collect();
    all_close(
        "annotator quality",
        &q,
        &floats(&r["annotator_quality"]),
        1e-6,
    );
    let ac: Vec<f64> = c
        .annotators
        .iter()
        .map(|a| a.agreement_with_consensus)
        .collect();
    all_close(
        "agreement with consensus",
        &ac,
        &floats(&r["agreement_with_consensus"]),
        1e-6,
    );
    let worst: Vec<usize> = c.annotators.iter().map(|a| a.worst_class).collect();
    assert_eq!(worst, ints(&r["worst_class"]), "worst class");
    let labelled: Vec<usize> = c.annotators.iter().map(|a| a.labelled).collect();
    assert_eq!(labelled, ints(&r["num_examples_labeled"]));
    let detailed = r["detailed_label_quality_head"].as_array().unwrap();
    for (i, row) in detailed.iter().enumerate() {
        let got: Vec<f64> = (0..m.n_annotators())
            .map(|a| m.get(i, a).map_or(f64::NAN, |l| c.posterior[i * p.k + l]))
            .collect();
        all_close(
            &format!("label quality of image {i}"),
            &got,
            &floats(row),
            1e-6,
        );
    }
}

fn check_active(r: &Value, m: &LabelMatrix, p: &PredProbs, unlabelled: &PredProbs) {
    let s = activelab(m, p, unlabelled).unwrap();
    all_close(
        "ActiveLab labelled",
        &s.labelled,
        &floats(&r["labelled"]),
        1e-6,
    );
    all_close(
        "ActiveLab unlabelled",
        &s.unlabelled,
        &floats(&r["unlabelled"]),
        1e-6,
    );
}

#[test]
fn cifar10_annotators_match_the_python_references() {
    let f = fixture("cifar10_annotators.json");
    let k = f["classes"].as_u64().unwrap() as usize;
    let m = matrix(&f["labels"], k);
    assert_eq!(m.n_images(), 1000);
    let p = probs(&f["pred_probs"], k);
    let u = probs(&f["pred_probs_unlabelled"], k);
    check_agreement(&f, &m);
    check_consensus(&f, &m, &p);
    check_active(&f["activelab"], &m, &p, &u);
    let single = matrix(&f["single"]["labels"], k);
    check_active(&f["single"]["activelab"], &single, &p, &u);
}

#[test]
fn edge_cases_match_the_python_references() {
    let f = fixture("edge_cases.json");
    let m = matrix(&f["labels"], 5);
    assert_eq!(m.classes_used(), vec![0, 1, 2, 4], "class 3 is never used");
    let p = probs(&f["pred_probs"], 5);
    let u = probs(&f["pred_probs_unlabelled"], 5);
    check_agreement(&f, &m);
    check_consensus(&f, &m, &p);
    check_active(&f["activelab"], &m, &p, &u);
}

/// Dawid-Skene and CROWDLAB find the true (given) CIFAR-10 labels more often than the
/// majority vote of the same annotators, because they learn who is careful and who guesses.
#[test]
fn consensus_recovers_the_truth_better_than_majority_vote() {
    let f = fixture("cifar10_annotators.json");
    let m = matrix(&f["labels"], 10);
    let truth = ints(&f["truth"]);
    let p = probs(&f["pred_probs"], 10);
    let accuracy = |l: &[usize]| {
        l.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
    };
    let mv = accuracy(&majority_vote(&m, None));
    let ds = accuracy(&dawid_skene::fit(&m, Settings::default()).labels);
    let cl = accuracy(&crowdlab(&m, &p).unwrap().consensus);
    assert!(ds > mv + 0.03, "Dawid-Skene {ds} vs majority vote {mv}");
    assert!(cl > ds, "CROWDLAB {cl} vs Dawid-Skene {ds}");
    // The spammer (annotator 3) is found: lowest CROWDLAB quality, near-uniform DS confusion.
    let c = crowdlab(&m, &p).unwrap();
    let worst = (0..5)
        .min_by(|&a, &b| c.annotators[a].quality.total_cmp(&c.annotators[b].quality))
        .unwrap();
    assert_eq!(worst, 3);
    // The cat/dog confuser's worst class is cat or dog.
    assert!([3, 5].contains(&c.annotators[2].worst_class));
}
