"""Compare `augtrain split` on annotated data with scikit-multilearn's IterativeStratification
(order 1) and with random splits: the worst deviation, over labels (classes present per image,
plus "no objects") and splits, between the images carrying a label in a split and that split's
share of them.

    augtrain split instances.json --val 0.2 --test 0.2 --seed S --out out
    python tools/multilabel_split_reference.py instances.json out/split.csv [more split.csv ...]

Needs numpy and scikit-multilearn (reference only, never a runtime dependency).
"""
import csv
import json
import sys

import numpy as np
from skmultilearn.model_selection import IterativeStratification

SHARES = {"train": 0.6, "val": 0.2, "test": 0.2}


def label_matrix(path):
    coco = json.load(open(path))
    cats = [c["id"] for c in coco["categories"]]
    ids = [im["id"] for im in coco["images"]]
    row = {i: k for k, i in enumerate(ids)}
    y = np.zeros((len(ids), len(cats) + 1), int)
    for a in coco["annotations"]:
        y[row[a["image_id"]], cats.index(a["category_id"])] = 1
    y[y[:, :-1].sum(1) == 0, -1] = 1  # "no objects" as one more label, as augtrain does
    return ids, y


def worst(y, assign):
    out = 0.0
    for split, share in SHARES.items():
        m = np.array([a == split for a in assign])
        out = max(out, float(np.abs(y[m].sum(0) - share * y.sum(0)).max()))
    return out


def skmultilearn_split(y, seed):
    np.random.seed(seed)
    st = IterativeStratification(
        n_splits=3, order=1, sample_distribution_per_fold=[0.2, 0.2, 0.6]
    )
    folds = [test for _, test in st.split(np.zeros((len(y), 1)), y)]
    order = sorted(range(3), key=lambda j: -len(folds[j]))
    names = dict(zip(order, ["train", "val", "test"]))
    assign = [None] * len(y)
    for j, test in enumerate(folds):
        for i in test:
            assign[i] = names[j]
    return assign


def main():
    ids, y = label_matrix(sys.argv[1])
    for path in sys.argv[2:]:
        split = {int(r["id"]): r["split"] for r in csv.DictReader(open(path))}
        print(f"augtrain {path}: {worst(y, [split[i] for i in ids]):.1f}")
    sk = [worst(y, skmultilearn_split(y, s)) for s in range(10)]
    print("scikit-multilearn, seeds 0-9:", [round(x, 1) for x in sk])
    rng = np.random.default_rng(0)
    rand = [worst(y, rng.choice(list(SHARES), size=len(y), p=list(SHARES.values()))) for _ in range(10)]
    print("random, 10 draws:", [round(x, 1) for x in rand])


if __name__ == "__main__":
    main()
