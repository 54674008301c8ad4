"""Fixtures for augtrain_quality::embedding, with NumPy, scikit-learn and cleanlab as oracles.

Run from the repository root (numpy 2.4, scikit-learn 1.9, cleanlab 2.9; Datalab also needs
Hugging Face `datasets`, e.g. datasets 3.6.0 with dill 0.3.8 and pyarrow 19 installed with
`pip install --no-deps --target DIR` and put on PYTHONPATH):

    PYTHONPATH=DIR /work/venv/bin/python tools/embedding_oracle.py

It rewrites crates/augtrain-quality/tests/fixtures/embedding/:

- npy_f32_3x4.npy, npy_f64_2x5.npy: `np.save` of a float32 and a float64 array (odd values:
  -0.0, subnormals, 1/3, large magnitudes); npy_f64_2x5_as_f32.npy: the float64 array's
  `astype(np.float32)`, which reading the float64 file must reproduce bit for bit;
  npy_f32_v2.npy: a float32 array saved in format 2.0; npy_f32_empty.npy: shape (0, 3).
- ood_x.npy: 200 × 32 float32 rows, L2-normalized (four clusters, exact duplicates, eight
  uniformly random directions as outliers); ood.json: cleanlab's
  `OutOfDistribution().fit_score(features=X.astype(float64))`.
- label_x.npy: 300 × 16 float32 rows, L2-normalized (five overlapping clusters), and
  label.json: the labels (20 flipped), cleanlab Datalab's feature-based pred_probs and its
  flagged indices from `Datalab(...).find_issues(features=X, issue_types={"label": {}})`.

The data are drawn from fixed seeds; the fixtures are small (< 100 KB together).
"""

import json
import os

import numpy as np
from cleanlab import Datalab
from cleanlab.filter import find_label_issues
from cleanlab.outlier import OutOfDistribution
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import OneHotEncoder

OUT = os.path.join("crates", "augtrain-quality", "tests", "fixtures", "embedding")


def normalized(x):
    x = x.astype(np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def npy_fixtures():
    a = np.array(
        [[0.0, -0.0, 1.0 / 3.0, 1e-45], [3.4e38, -1.5, 2.0**-130, 7.0], [1.0, 2.0, 3.0, 4.0]],
        dtype=np.float32,
    )
    np.save(os.path.join(OUT, "npy_f32_3x4.npy"), a)
    b = np.array([[1.0 / 3.0, -0.0, 1e-300, 1e300, 0.1], [2.0**-149, 1.0 + 2.0**-30, -2.5, 6e-39, 9.0]])
    np.save(os.path.join(OUT, "npy_f64_2x5.npy"), b)
    np.save(os.path.join(OUT, "npy_f64_2x5_as_f32.npy"), b.astype(np.float32))
    with open(os.path.join(OUT, "npy_f32_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a[:2], version=(2, 0))
    np.save(os.path.join(OUT, "npy_f32_empty.npy"), np.zeros((0, 3), dtype=np.float32))


def ood_fixture():
    rng = np.random.default_rng(20240611)
    centers = rng.normal(size=(4, 32))
    x = centers[rng.integers(0, 4, size=192)] + 0.5 * rng.normal(size=(192, 32))
    x = np.vstack([x, rng.normal(size=(8, 32)) * 3.0])  # rows 192..199: outliers
    x[10] = x[5]  # a pair
    x[40] = x[41] = x[42] = x[30]  # a group of four
    x = normalized(x)
    np.save(os.path.join(OUT, "ood_x.npy"), x)
    scores = OutOfDistribution().fit_score(features=x.astype(np.float64), verbose=False)
    with open(os.path.join(OUT, "ood.json"), "w") as f:
        json.dump({"k": 10, "scores": [float(s) for s in scores]}, f)


def datalab_pred_probs(x, labels, k=10):
    """Datalab's label check on features (datalab/internal/issue_manager/label.py), verbatim."""
    knn = KNeighborsClassifier(n_neighbors=k + 1)
    knn.fit(x, labels)
    pred_probs = knn.predict_proba(x)
    one_hot_label = OneHotEncoder().fit_transform(labels.reshape(-1, 1))
    return np.asarray((pred_probs - 1 / (k + 1) * one_hot_label) * (k + 1) / k)


def label_fixture():
    rng = np.random.default_rng(77)
    centers = rng.normal(size=(5, 16))
    true = np.repeat(np.arange(5), 60)
    x = normalized(centers[true] + 0.9 * rng.normal(size=(300, 16)))
    labels = true.copy()
    flipped = np.sort(rng.choice(300, size=20, replace=False))
    labels[flipped] = (labels[flipped] + rng.integers(1, 5, size=20)) % 5
    np.save(os.path.join(OUT, "label_x.npy"), x)
    features = x.astype(np.float64)
    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    lab.find_issues(features=features, issue_types={"label": {}})
    issues = lab.get_issues("label")
    flagged = np.flatnonzero(issues["is_label_issue"].to_numpy())
    pred_probs = datalab_pred_probs(features, labels)
    # The same pred_probs Datalab used: CleanLearning's filter (prune_by_noise_rate,
    # min_examples_per_class=10) on them flags the same rows.
    again = np.flatnonzero(find_label_issues(labels, pred_probs, min_examples_per_class=10))
    assert np.array_equal(again, flagged), (again, flagged)
    with open(os.path.join(OUT, "label.json"), "w") as f:
        json.dump(
            {
                "k": 10,
                "labels": labels.tolist(),
                "flipped": flipped.tolist(),
                "pred_probs": pred_probs.tolist(),
                "flagged": flagged.tolist(),
            },
            f,
        )


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    npy_fixtures()
    ood_fixture()
    label_fixture()
