#!/usr/bin/env python3
"""Benchmark (not a test): augmenting an annotated data set on the CPU with boxes attached,
`augtrain augment --data coco.json --copies N` against Albumentations 2.0.8 doing the same work
(decode each image, N copies through hflip + affine rotation/scale + brightness/contrast with
10 boxes per image, encode each copy as PNG, boxes kept in memory). Both sides include image
decoding and PNG encoding; augtrain also writes its files. Pairs are alternated; the median and
range of each side and of the ratio are printed.

Run: /work/venv/bin/python tools/geometry_bench.py [path/to/augtrain] [pairs]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import albumentations as A
import cv2
import numpy as np

N_IMAGES, SIDE, BOXES, COPIES = 64, 224, 10, 4
PIPELINE = """version = 1
[[ops]]
op = "hflip"
[[ops]]
op = "affine"
degrees = [-20.0, 20.0]
scale = [0.9, 1.1]
[[ops]]
op = "brightness"
factor = [0.8, 1.2]
[[ops]]
op = "contrast"
factor = [0.8, 1.2]
"""


def make_data(root):
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i in range(N_IMAGES):
        name = f"{i:03d}.png"
        cv2.imwrite(os.path.join(root, name), rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8))
        images.append({"id": i + 1, "file_name": name, "width": SIDE, "height": SIDE})
        for _ in range(BOXES):
            x, y = rng.uniform(0, SIDE - 40, 2)
            w, h = rng.uniform(8, 40, 2)
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1,
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    coco = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
    path = os.path.join(root, "coco.json")
    with open(path, "w") as f:
        json.dump(coco, f)
    with open(os.path.join(root, "p.toml"), "w") as f:
        f.write(PIPELINE)
    return path, coco


def run_augtrain(exe, root, out):
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([exe, "augment", "--data", os.path.join(root, "coco.json"), "--images", root,
                    "--pipeline", os.path.join(root, "p.toml"), "--copies", str(COPIES), "--out", out,
                    "--quiet"], check=True)
    return time.perf_counter() - t


def run_albumentations(root, coco):
    pipe = A.Compose(
        [A.HorizontalFlip(p=0.5), A.Affine(rotate=(-20, 20), scale=(0.9, 1.1), p=1.0),
         A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=1.0)],
        bbox_params=A.BboxParams(format="coco", label_fields=["labels"]),
    )
    by_image = {}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["bbox"])
    t = time.perf_counter()
    for im in coco["images"]:
        pixels = cv2.imread(os.path.join(root, im["file_name"]))
        boxes = by_image[im["id"]]
        for _ in range(COPIES):
            out = pipe(image=pixels, bboxes=boxes, labels=[0] * len(boxes))
            cv2.imencode(".png", out["image"])
    return time.perf_counter() - t


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else "target/release/augtrain"
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    root = tempfile.mkdtemp(prefix="geometry-bench-")
    _, coco = make_data(root)
    ours, theirs = [], []
    for _ in range(pairs):
        ours.append(run_augtrain(exe, root, os.path.join(root, "out")))
        theirs.append(run_albumentations(root, coco))
    shutil.rmtree(root, ignore_errors=True)
    n = N_IMAGES * COPIES
    ratio = [t / o for o, t in zip(ours, theirs)]
    fmt = lambda v: f"median {statistics.median(v):.3f} s (range {min(v):.3f}-{max(v):.3f})"
    print(f"{n} augmented {SIDE}x{SIDE} images with {BOXES} boxes each, {pairs} alternated pairs")
    print(f"augtrain augment --data: {fmt(ours)}")
    print(f"albumentations 2.0.8:    {fmt(theirs)}")
    print(f"albumentations / augtrain: median {statistics.median(ratio):.2f}x "
          f"(range {min(ratio):.2f}-{max(ratio):.2f})")


if __name__ == "__main__":
    main()
