#!/usr/bin/env python3
"""Precision and recall of a label-issues run on a copy of a dataset with planted label flips.

The planted set is every file of NOISY (CLASS/NAME) whose class differs from the class the same
file has in ORIGINAL, where NOISY's NAME is `<split>-<name>` of ORIGINAL/<split>/<class>/<name>
(as tests/testsuite/embed.rs builds it from hymenoptera). Found = the `path` column of
label_issues.csv.

  python tools/planted_noise_score.py ORIGINAL NOISY runs/x/label_issues.csv
prints JSON {flipped, flagged, hits, precision, recall}.
"""
import csv
import json
import os
import sys


def main():
    original, noisy, issues = sys.argv[1:4]
    truth = {}
    for split in sorted(os.listdir(original)):
        for cls in sorted(os.listdir(os.path.join(original, split))):
            for name in os.listdir(os.path.join(original, split, cls)):
                truth[f"{split}-{name}"] = cls
    flipped = set()
    for cls in os.listdir(noisy):
        for name in os.listdir(os.path.join(noisy, cls)):
            if truth[name] != cls:
                flipped.add(f"{cls}/{name}")
    with open(issues, newline="") as f:
        found = {row["path"] for row in csv.DictReader(f)}
    hits = len(found & flipped)
    print(json.dumps({
        "flipped": len(flipped),
        "flagged": len(found),
        "hits": hits,
        "precision": hits / max(len(found), 1),
        "recall": hits / max(len(flipped), 1),
    }))


if __name__ == "__main__":
    main()
