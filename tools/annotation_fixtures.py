#!/usr/bin/env python3
"""Write tests/fixtures/annotations/coco_small.json: a small COCO file whose masks, areas and
mask boxes come from pycocotools itself (the reference implementation), used by the annotation
crate's round-trip and conversion tests.

Images: boxes (non-contiguous category ids 3 and 7, flags in CVAT-style attributes), polygons
(bbox = pycocotools' box of the polygon mask), keypoints (a person with 4 keypoints, one
unlabelled), an RLE mask stored compressed and the same mask uncompressed (iscrowd), and an
image without objects.

Run: /work/venv/bin/python tools/annotation_fixtures.py
"""
import json
import os

import numpy as np
from pycocotools import mask as mask_utils

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "annotations")


def uncompressed(m):
    """Column-major runs starting with 0s, as pycocotools' uncompressed RLE."""
    flat = np.asfortranarray(m).flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return counts


def main():
    h, w = 48, 64
    images = [
        {"id": 11, "file_name": "boxes/a.jpg", "width": 64, "height": 48},
        {"id": 12, "file_name": "poly/b.png", "width": 80, "height": 60},
        {"id": 13, "file_name": "pose/c.jpg", "width": 100, "height": 120},
        {"id": 14, "file_name": "masks/d.png", "width": w, "height": h},
        {"id": 15, "file_name": "empty/e.jpg", "width": 32, "height": 32},
    ]
    categories = [
        {"id": 3, "name": "cat", "supercategory": "animal"},
        {"id": 7, "name": "dog", "supercategory": "animal"},
        {"id": 1, "name": "person", "supercategory": "person",
         "keypoints": ["nose", "left_eye", "right_eye", "tail"], "skeleton": [[1, 2], [1, 3]]},
    ]
    anns = []

    def add(**kw):
        kw.setdefault("iscrowd", 0)
        kw["id"] = 100 + len(anns)
        anns.append(kw)

    add(image_id=11, category_id=3, bbox=[1.5, 2.25, 20.0, 10.5], area=210.0, segmentation=[],
        attributes={"occluded": True})
    add(image_id=11, category_id=7, bbox=[0.0, 0.0, 64.0, 48.0], area=3072.0, segmentation=[])
    add(image_id=11, category_id=3, bbox=[40.1, 30.7, 3.3, 2.9], area=9.57, segmentation=[])
    polys = [
        [[10.0, 10.0, 30.5, 12.0, 25.0, 40.25, 8.0, 30.0]],
        [[50.0, 5.0, 70.0, 5.0, 60.0, 20.0], [52.0, 30.0, 75.5, 31.0, 70.0, 55.0]],
    ]
    for cat, poly in zip([3, 7], polys):
        rles = mask_utils.frPyObjects(poly, 60, 80)
        rle = mask_utils.merge(rles)
        xs = [x for p in poly for x in p[0::2]]
        ys = [y for p in poly for y in p[1::2]]
        add(image_id=12, category_id=cat, segmentation=poly, area=float(mask_utils.area(rle)),
            bbox=[min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
    add(image_id=13, category_id=1, bbox=[20.0, 10.0, 50.0, 100.0], area=5000.0, segmentation=[],
        keypoints=[45, 20, 2, 40, 18, 1, 0, 0, 0, 50, 100, 2], num_keypoints=3)
    m = np.zeros((h, w), dtype=np.uint8)
    m[5:20, 10:30] = 1
    m[30:40, 35:60] = 1
    enc = mask_utils.encode(np.asfortranarray(m))
    box = [float(v) for v in mask_utils.toBbox(enc)]
    area = float(mask_utils.area(enc))
    add(image_id=14, category_id=7, segmentation={"size": [h, w], "counts": enc["counts"].decode()},
        area=area, bbox=box, iscrowd=1)
    add(image_id=14, category_id=3, segmentation={"size": [h, w], "counts": uncompressed(m)},
        area=area, bbox=box, iscrowd=1)
    coco = {"info": {"description": "augtrain annotation fixture (pycocotools " +
                     getattr(__import__("pycocotools"), "__version__", "?") + ")"},
            "images": images, "annotations": anns, "categories": categories}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "coco_small.json"), "w") as f:
        json.dump(coco, f, indent=1)
    # The decoded mask as pycocotools sees it, for the bitmap conversion test.
    dec = mask_utils.decode(enc)
    assert (dec == m).all()
    print("wrote", os.path.join(OUT, "coco_small.json"))


if __name__ == "__main__":
    main()
