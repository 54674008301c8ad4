#!/usr/bin/env python3
"""Write Label Studio brush-mask fixtures with label-studio-converter's own RLE code
(`label_studio_converter.brush`, the reference for Label Studio's RLE of RGBA bytes):

- tests/fixtures/annotations/labelstudio_brush.json: a Label Studio export with two tasks,
  `brushlabels` regions whose `rle` comes from `brush.mask2rle` (a disk and a rectangle, and a
  mask on an image wide enough for runs longer than 65,536 bytes), plus a rectangle;
- tests/fixtures/annotations/labelstudio_brush_oracle.json: for each RLE (those above and one
  from `brush.encode_rle` of arbitrary RGBA bytes, which exercises single values and every run
  size), what `brush.decode_rle` makes of it: the alpha channel (every 4th byte, as
  `decode_from_annotation` takes it), row-major, as [value, count] runs.

Run: /work/venv/bin/python tools/labelstudio_brush_fixture.py
(pip install label-studio-converter into /work/venv first; it is never a runtime dependency).
"""
import itertools
import json
import os

import numpy as np
from label_studio_converter import brush

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "annotations")


def alpha_runs(rle, width, height):
    alpha = brush.decode_rle(rle).reshape(height, width, 4)[:, :, 3].ravel()
    return [[int(v), len(list(g))] for v, g in itertools.groupby(alpha)]


def region(rle, label, width, height):
    return {"id": f"b{len(rle)}", "type": "brushlabels", "from_name": "tag", "to_name": "image",
            "original_width": width, "original_height": height, "image_rotation": 0,
            "value": {"format": "rle", "rle": rle, "brushlabels": [label]}}


def main():
    w, h = 37, 23
    yy, xx = np.mgrid[0:h, 0:w]
    disk = (((xx - 12.0) ** 2 + (yy - 11.0) ** 2) <= 8.0 ** 2).astype(np.uint8) * 255
    rect = np.zeros((h, w), dtype=np.uint8)
    rect[3:9, 24:35] = 255
    wide_w, wide_h = 300, 80  # 96,000 RGBA bytes of background before the mask
    wide = np.zeros((wide_h, wide_w), dtype=np.uint8)
    wide[75:78, 10:20] = 255
    rles = {"disk": brush.mask2rle(disk), "rect": brush.mask2rle(rect), "wide": brush.mask2rle(wide)}
    tasks = [
        {"id": 1, "data": {"image": "/data/local-files/?d=brush/a.png"},
         "annotations": [{"completed_by": 3, "result": [
             region(rles["disk"], "cell", w, h),
             region(rles["rect"], "label", w, h),
             {"id": "r1", "type": "rectanglelabels", "from_name": "box", "to_name": "image",
              "original_width": w, "original_height": h, "image_rotation": 0,
              "value": {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rotation": 0,
                        "rectanglelabels": ["cell"]}}]}],
         "predictions": []},
        {"id": 2, "data": {"image": "/data/local-files/?d=brush/b.png"},
         "annotations": [{"completed_by": 3, "result": [region(rles["wide"], "cell", wide_w, wide_h)]}],
         "predictions": []},
    ]
    rng = np.random.default_rng(30)
    mixed_w, mixed_h = 9, 5
    mixed = rng.integers(0, 4, size=mixed_w * mixed_h * 4).astype(np.uint8) * 60
    mixed[40:120] = 7  # a run of 80 bytes (8-bit run size)
    mixed_rle = brush.encode_rle(mixed)
    oracle = {
        "converter": "label-studio-converter " + __import__("importlib.metadata").metadata.version("label-studio-converter"),
        "cases": [
            {"name": "disk", "width": w, "height": h, "rle": rles["disk"], "alpha_runs": alpha_runs(rles["disk"], w, h)},
            {"name": "rect", "width": w, "height": h, "rle": rles["rect"], "alpha_runs": alpha_runs(rles["rect"], w, h)},
            {"name": "wide", "width": wide_w, "height": wide_h, "rle": rles["wide"], "alpha_runs": alpha_runs(rles["wide"], wide_w, wide_h)},
            {"name": "mixed", "width": mixed_w, "height": mixed_h, "rle": mixed_rle, "alpha_runs": alpha_runs(mixed_rle, mixed_w, mixed_h)},
        ],
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "labelstudio_brush.json"), "w") as f:
        json.dump(tasks, f)
    with open(os.path.join(OUT, "labelstudio_brush_oracle.json"), "w") as f:
        json.dump(oracle, f)
    print("wrote labelstudio_brush.json and labelstudio_brush_oracle.json")


if __name__ == "__main__":
    main()
