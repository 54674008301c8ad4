#!/usr/bin/env python3
"""Write tests/fixtures/geometry/albumentations.json: boxes (pascal_voc and coco), keypoints and
polygons (passed as keypoints) through deterministic Albumentations 2.0.8 pipelines, with the
augtrain pipeline spec (TOML) that does the same, for crates/augtrain-augment's oracle test.

Conventions (see README "Geometry conventions"): Albumentations' keypoints are pixel indices
(pixel centre at the integer), augtrain's are continuous (pixel centre at +0.5), so keypoints
and polygon vertices go in as `ours - 0.5` and come back as `albumentations + 0.5`. Boxes use
the same continuous convention in both. Each case also records how many keypoints came back
(reflect borders add mirrored copies in Albumentations).

Run: /work/venv/bin/python tools/geometry_oracle.py
"""
import json
import os

import albumentations as A
import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "geometry", "albumentations.json")
W, H = 64, 48
BOXES = [[4.0, 6.0, 20.0, 30.0], [30.5, 10.25, 50.0, 26.75], [22.0, 30.0, 40.0, 44.0]]
KEYPOINTS = [[5.5, 7.5], [31.0, 12.25], [40.5, 40.5], [12.0, 20.0]]
POLYGON = [[8.0, 8.0], [24.0, 10.0], [20.0, 28.0], [10.0, 24.0]]

CASES = [
    ("hflip", A.HorizontalFlip(p=1.0), 'op = "hflip"\np = 1.0'),
    ("vflip", A.VerticalFlip(p=1.0), 'op = "vflip"\np = 1.0'),
    (
        "rotate_20",
        A.Rotate(limit=(20, 20), p=1.0, border_mode=cv2.BORDER_CONSTANT, rotate_method="largest_box"),
        'op = "rotate"\ndegrees = [20.0, 20.0]',
    ),
    (
        "affine_rotate_-35",
        A.Affine(rotate=(-35, -35), p=1.0, border_mode=cv2.BORDER_CONSTANT, fit_output=False),
        'op = "affine"\ndegrees = [-35.0, -35.0]',
    ),
    (
        "crop",
        A.Crop(x_min=3, y_min=5, x_max=43, y_max=37, p=1.0),
        'op = "crop"\nwidth = 40\nheight = 32\nposition = [3, 5]',
    ),
    ("resize", A.Resize(height=72, width=40, p=1.0), 'op = "resize"\nwidth = 40\nheight = 72'),
    (
        "pad",
        A.Pad(padding=(3, 5, 7, 2), fill=0, border_mode=cv2.BORDER_CONSTANT, p=1.0),
        'op = "pad"\npixels = [3, 5, 7, 2]',
    ),
]


def run(transform, fmt, boxes, keypoints):
    pipe = A.Compose(
        [transform],
        bbox_params=A.BboxParams(format=fmt, label_fields=["labels"], min_visibility=0.0, clip=True),
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False, angle_in_degrees=True),
    )
    image = np.zeros((H, W, 3), dtype=np.uint8)
    out = pipe(image=image, bboxes=boxes, labels=list(range(len(boxes))), keypoints=keypoints)
    return out


def main():
    coco = [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in BOXES]
    shifted = [[x - 0.5, y - 0.5] for x, y in KEYPOINTS]
    poly_shifted = [[x - 0.5, y - 0.5] for x, y in POLYGON]
    cases = []
    for name, transform, op in CASES:
        voc = run(transform, "pascal_voc", BOXES, shifted)
        coc = run(transform, "coco", coco, poly_shifted)
        out_h, out_w = voc["image"].shape[:2]
        cases.append(
            {
                "name": name,
                "pipeline": f"version = 1\n[[ops]]\n{op}\n",
                "width": W,
                "height": H,
                "out_width": out_w,
                "out_height": out_h,
                "boxes": BOXES,
                "boxes_out": [list(map(float, b)) for b in voc["bboxes"]],
                "box_labels_out": [int(v) for v in voc["labels"]],
                "coco_out": [list(map(float, b)) for b in coc["bboxes"]],
                "keypoints": KEYPOINTS,
                "keypoints_out": [[float(k[0]) + 0.5, float(k[1]) + 0.5] for k in voc["keypoints"]],
                "polygon": POLYGON,
                "polygon_out": [[float(k[0]) + 0.5, float(k[1]) + 0.5] for k in coc["keypoints"]],
            }
        )
    # Reflect borders: Albumentations adds mirrored copies of keypoints.
    reflect = A.Compose(
        [A.Affine(rotate=(30, 30), p=1.0, border_mode=cv2.BORDER_REFLECT_101)],
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
    )
    got = reflect(image=np.zeros((H, W, 3), dtype=np.uint8), keypoints=shifted)["keypoints"]
    doc = {
        "albumentations": A.__version__,
        "note": "written by tools/geometry_oracle.py; keypoints and polygons in augtrain's continuous convention",
        "cases": cases,
        "reflect_keypoints_in": len(KEYPOINTS),
        "reflect_keypoints_out": len(got),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases; reflect border: {len(KEYPOINTS)} keypoints -> {len(got)}")


if __name__ == "__main__":
    main()
