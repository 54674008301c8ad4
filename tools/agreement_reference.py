"""Reference statistics for `augtrain agreement` (crates/augtrain-quality/src/agreement/).

Simulates annotators from the real out-of-sample CIFAR-10 probabilities in
../shared/data/label-errors (the test set's given labels stand for the truth), then records
every statistic the Rust code reproduces, from the Python packages that define them:
scikit-learn (`cohen_kappa_score`), statsmodels (`fleiss_kappa`), krippendorff (`alpha`),
crowd-kit (`DawidSkene`) and cleanlab 2.9 (`get_majority_vote_label`,
`get_label_quality_multiannotator`, `get_active_learning_scores`).

    /work/venv/bin/python tools/agreement_reference.py [LABEL_ERRORS_DIR]

writes tests/fixtures/agreement/cifar10_annotators.json (1,000 images, 5 simulated annotators)
and tests/fixtures/agreement/edge_cases.json (small hand-made matrices: a class nobody used, an
annotator with one label, ties). With `--bench N [LABELS.u8]` it instead times the references on
N images x 5 annotators (printed as JSON), for `augtrain bench agreement --reference`, which
passes the labels it timed itself (raw uint8, N x 5).
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "agreement")
NAMES = ["careful", "good", "cat_dog", "spammer", "model_like"]
CAT, DOG = 3, 5


def clean(v):
    v = float(v)
    return None if np.isnan(v) else v


def simulate(truth, probs, rng, coverage=0.6):
    """Five annotators of known accuracy and bias; each labels an image with p = `coverage`."""
    n, k = probs.shape
    labels = np.full((n, 5), np.nan)

    def noisy(acc):
        wrong = (truth + rng.integers(1, k, n)) % k
        return np.where(rng.random(n) < acc, truth, wrong)

    labels[:, 0] = noisy(0.92)
    labels[:, 1] = noisy(0.80)
    cd = noisy(0.90)
    swap = rng.random(n) < 0.6
    cd = np.where(swap & (truth == CAT), DOG, np.where(swap & (truth == DOG), CAT, cd))
    labels[:, 2] = cd
    labels[:, 3] = rng.integers(0, k, n)
    # Errors a model would make: sampled from the model's probabilities without the truth.
    p = probs + 1e-3
    p[np.arange(n), truth] = 0
    p = p / p.sum(1, keepdims=True)
    confused = np.array([rng.choice(k, p=row) for row in p])
    labels[:, 4] = np.where(rng.random(n) < 0.7, truth, confused)
    missing = rng.random((n, 5)) >= coverage
    none = missing.all(1)
    missing[none, rng.integers(0, 5, none.sum())] = False
    labels[missing] = np.nan
    return labels


def agreement_stats(labels):
    from krippendorff import alpha
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    n, a = labels.shape
    cohen = []
    for i in range(a):
        for j in range(i + 1, a):
            both = ~np.isnan(labels[:, i]) & ~np.isnan(labels[:, j])
            y1, y2 = labels[both, i].astype(int), labels[both, j].astype(int)
            row = {"a": i, "b": j, "n": int(both.sum()),
                   "percent": clean(np.mean(y1 == y2)) if both.any() else None}
            for w in [None, "linear", "quadratic"]:
                row[w or "none"] = clean(cohen_kappa_score(y1, y2, weights=w)) if both.any() else None
            cohen.append(row)
    counts = (~np.isnan(labels)).sum(1)
    complete = np.where(counts == a)[0]
    table, _ = aggregate_raters(labels[complete].astype(int))
    fleiss = float(fleiss_kappa(table, method="fleiss"))
    out = {"cohen": cohen, "fleiss_complete_rows": complete.tolist(), "fleiss": fleiss,
           "alpha": float(alpha(reliability_data=labels.T, level_of_measurement="nominal"))}
    per_class = []
    for c in range(int(np.nanmax(labels)) + 1):
        binary = np.where(np.isnan(labels), np.nan, (labels == c).astype(float))
        try:
            per_class.append(float(alpha(reliability_data=binary.T, level_of_measurement="nominal")))
        except ValueError:
            per_class.append(None)
    out["alpha_per_class"] = per_class
    pairs = agree = 0
    for row in labels:
        v = row[~np.isnan(row)].astype(int)
        m = len(v)
        if m >= 2:
            pairs += m * (m - 1) // 2
            _, c = np.unique(v, return_counts=True)
            agree += int((c * (c - 1) // 2).sum())
    out["percent_agreement"] = agree / pairs
    return out


def long_frame(labels):
    rows = [(i, NAMES[j] if labels.shape[1] == 5 else f"a{j}", int(labels[i, j]))
            for i in range(labels.shape[0]) for j in range(labels.shape[1]) if not np.isnan(labels[i, j])]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def dawid_skene(labels, full_rows=None):
    from crowdkit.aggregation import DawidSkene

    ds = DawidSkene(n_iter=100, tol=1e-5)
    ds.fit(long_frame(labels))
    probas = ds.probas_.sort_index()
    classes = [int(c) for c in probas.columns]
    labs = ds.labels_.sort_index()
    pr = probas.to_numpy()
    chosen = pr[np.arange(len(pr)), [classes.index(int(l)) for l in labs]]
    rows = range(len(pr)) if full_rows is None else range(min(full_rows, len(pr)))
    return {"classes_present": classes, "labels": [int(x) for x in labs], "label_probability": chosen.tolist(),
            "probas_head": [pr[i].tolist() for i in rows], "iterations": len(ds.loss_history_),
            "loss_history": [float(x) for x in ds.loss_history_], "priors": ds.priors_.tolist()}


def majority(labels, pred_probs):
    from cleanlab.multiannotator import get_majority_vote_label

    out = {}
    for name, pp in [("with_pred_probs", pred_probs), ("without", None)]:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            np.random.seed(0)
            mv = get_majority_vote_label(labels, pred_probs=pp, verbose=False)
            random_ties = [str(x.message) for x in w if "random" in str(x.message)]
        out[name] = {"labels": mv.tolist(), "random_ties": random_ties}
    return out


def crowdlab(labels, pred_probs):
    from cleanlab.multiannotator import get_label_quality_multiannotator

    df = pd.DataFrame(labels, columns=[f"a{j}" for j in range(labels.shape[1])])
    res = get_label_quality_multiannotator(df, pred_probs, verbose=False, return_weights=True)
    lq = res["label_quality"]
    st = res["annotator_stats"].loc[df.columns]
    det = res["detailed_label_quality"].to_numpy()
    return {
        "consensus_label": lq["consensus_label"].tolist(),
        "consensus_quality_score": lq["consensus_quality_score"].tolist(),
        "annotator_agreement": lq["annotator_agreement"].tolist(),
        "num_annotations": lq["num_annotations"].tolist(),
        "detailed_label_quality_head": [[clean(v) for v in row] for row in det[:100]],
        "annotator_quality": st["annotator_quality"].tolist(),
        "agreement_with_consensus": st["agreement_with_consensus"].tolist(),
        "worst_class": [int(x) for x in st["worst_class"]],
        "num_examples_labeled": [int(x) for x in st["num_examples_labeled"]],
        "model_weight": float(res["model_weight"]),
        "annotator_weight": res["annotator_weight"].tolist(),
    }


def activelab(labels, pred_probs, pred_probs_unlabeled):
    from cleanlab.multiannotator import get_active_learning_scores

    labelled, unlabelled = get_active_learning_scores(labels, pred_probs, pred_probs_unlabeled)
    return {"labelled": labelled.tolist(), "unlabelled": unlabelled.tolist()}


def everything(labels, pred_probs, pred_probs_unlabeled, ds_rows=None):
    out = agreement_stats(labels)
    out["dawid_skene"] = dawid_skene(labels, ds_rows)
    out["majority_vote"] = majority(labels, pred_probs)
    out["crowdlab"] = crowdlab(labels, pred_probs)
    out["activelab"] = activelab(labels, pred_probs, pred_probs_unlabeled)
    return out


def cifar_fixture(label_errors):
    df = pd.read_csv(os.path.join(label_errors, "cifar10-test-pred-probs.csv"))
    rng = np.random.default_rng(20261207)
    pick = rng.choice(len(df), 1300, replace=False)
    # Rounded to 4 decimals so that the fixture stays small; the references use these exact values.
    probs = np.round(df[[f"p{c}" for c in range(10)]].to_numpy()[pick], 4)
    truth = df["given_label"].to_numpy()[pick]
    labelled, unlabelled = slice(0, 1000), slice(1000, 1300)
    labels = simulate(truth[labelled], probs[labelled], rng)
    out = {"source": "cifar10-test-pred-probs.csv rows (index column)", "index": df["index"].to_numpy()[pick].tolist(),
           "annotators": NAMES, "classes": 10, "truth": truth[labelled].tolist(),
           "labels": [[None if np.isnan(v) else int(v) for v in row] for row in labels],
           "pred_probs": probs[labelled].tolist(), "pred_probs_unlabelled": probs[unlabelled].tolist()}
    out.update(everything(labels, probs[labelled], probs[unlabelled], ds_rows=50))
    single = np.full_like(labels, np.nan)
    who = np.array([rng.choice(np.where(~np.isnan(r))[0]) for r in labels])
    single[np.arange(len(labels)), who] = labels[np.arange(len(labels)), who]
    out["single"] = {"labels": [[None if np.isnan(v) else int(v) for v in row] for row in single],
                     "activelab": activelab(single, probs[labelled], probs[unlabelled])}
    return out


def edge_fixture():
    """Hand-made: class 3 of 5 never used, annotator a3 labels one image, ties everywhere."""
    nan = np.nan
    labels = np.array([
        [0, 0, 1, nan], [1, 1, 1, nan], [2, 2, nan, nan], [0, 1, nan, nan], [4, 4, 0, nan],
        [2, 0, 0, nan], [1, 2, 4, 4], [0, nan, 0, nan], [nan, 4, 4, nan], [2, 1, 0, nan],
        [1, 1, 2, nan], [4, nan, nan, nan], [0, 2, nan, nan], [2, 2, 2, nan],
    ])
    rng = np.random.default_rng(7)
    pred_probs = np.round(rng.dirichlet(np.ones(5), len(labels)), 4)
    pred_probs[3] = [0.3, 0.3, 0.2, 0.1, 0.1]  # tie between the two modes: falls to frequencies
    unl = np.round(rng.dirichlet(np.ones(5), 4), 4)
    out = {"classes": 5, "labels": [[None if np.isnan(v) else int(v) for v in row] for row in labels],
           "pred_probs": pred_probs.tolist(), "pred_probs_unlabelled": unl.tolist()}
    out.update(everything(labels, pred_probs, unl))
    return out


def bench(n, labels_file=None):
    """Times the references on n images x 5 annotators (every image fully labelled): the
    labels `augtrain bench agreement` wrote (raw uint8, n x 5, row-major) when given, else a
    simulation of the same shape."""
    from crowdkit.aggregation import DawidSkene
    from krippendorff import alpha
    from sklearn.metrics import cohen_kappa_score

    if labels_file:
        labels = np.fromfile(labels_file, dtype=np.uint8).reshape(-1, 5).astype(float)
        n = len(labels)
    else:
        rng = np.random.default_rng(1)
        truth = rng.integers(0, 10, n)
        labels = np.stack([np.where(rng.random(n) < acc, truth, rng.integers(0, 10, n))
                           for acc in [0.9, 0.8, 0.7, 0.6, 0.1]], 1).astype(float)
    t = time.perf_counter()
    for i in range(5):
        for j in range(i + 1, 5):
            cohen_kappa_score(labels[:, i], labels[:, j])
    t_cohen = time.perf_counter() - t
    t = time.perf_counter()
    alpha(reliability_data=labels.T, level_of_measurement="nominal")
    t_alpha = time.perf_counter() - t
    frame = pd.DataFrame({"task": np.repeat(np.arange(n), 5), "worker": np.tile(np.arange(5), n),
                          "label": labels.ravel().astype(int)})
    t = time.perf_counter()
    ds = DawidSkene(n_iter=100, tol=1e-5).fit(frame)
    t_ds = time.perf_counter() - t
    print(json.dumps({"images": n, "annotators": 5, "cohen_10_pairs_s": t_cohen, "krippendorff_alpha_s": t_alpha,
                      "dawid_skene_s": t_ds, "dawid_skene_iterations": len(ds.loss_history_)}))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--bench":
        bench(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        return
    label_errors = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "label-errors")
    os.makedirs(OUT, exist_ok=True)
    for name, data in [("cifar10_annotators.json", cifar_fixture(label_errors)), ("edge_cases.json", edge_fixture())]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, separators=(",", ":"))
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
