#!/usr/bin/env python3
"""Reference label masks from Albumentations 2.0.8 for augtrain's mask warping
(crates/augtrain-augment/src/masks.rs): writes tests/fixtures/augment/masks_albumentations.json,
which tests/testsuite/augment.rs reads, so the test runs without Python.

Two masks at odd sizes: a photo of the shared test data (camera.png) resized to 97x71 and cut
into four classes by grey level (real, ragged region borders), and simple shapes (a disc, a
rectangle and a triangle, labels 1 to 3, on background 0) at 83x61. Each deterministic pipeline
is applied by Albumentations with nearest interpolation for the mask, the spec augtrain should
run for it is written beside it (a pipeline TOML), and the output is stored. Masks are stored as
row-major runs, [label, length, label, length, ...].

Pipelines: HorizontalFlip p=1, VerticalFlip p=1, Rotate by a fixed 30 and -17 degrees (constant
border 0), a fixed Crop, Resize down and up (mask_interpolation INTER_NEAREST_EXACT, the
pixel-centre convention augtrain uses, and OpenCV's default INTER_NEAREST, which is offset by
half a source pixel), Pad with a constant border and with reflect-101.

  /work/venv/bin/python tools/albumentations_mask_reference.py --data ../shared/data \\
      --out tests/fixtures/augment/masks_albumentations.json
"""
import argparse
import json
from pathlib import Path

import albumentations as A
import cv2
import numpy as np


def photo_mask(data: Path) -> np.ndarray:
    gray = cv2.imread(str(data / "photos" / "camera.png"), cv2.IMREAD_GRAYSCALE)
    small = cv2.resize(gray, (97, 71), interpolation=cv2.INTER_AREA)
    return np.digitize(small, [64, 128, 192]).astype(np.uint8)


def shapes_mask() -> np.ndarray:
    h, w = 61, 83
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (24, 22), 15, 1, -1)
    cv2.rectangle(m, (45, 8), (75, 30), 2, -1)
    cv2.fillPoly(m, [np.array([[10, 55], [40, 38], [70, 57]], np.int32)], 3)
    return m


def cases(w: int, h: int):
    """(name, Albumentations transform, augtrain pipeline TOML) for a w x h mask."""
    near = dict(interpolation=cv2.INTER_NEAREST, mask_interpolation=cv2.INTER_NEAREST)
    exact = dict(interpolation=cv2.INTER_NEAREST_EXACT, mask_interpolation=cv2.INTER_NEAREST_EXACT)
    head = 'version = 1\ninterpolation = "nearest"\n'
    out = [
        ("hflip", A.HorizontalFlip(p=1), head + '[[ops]]\nop = "hflip"\np = 1.0\n'),
        ("vflip", A.VerticalFlip(p=1), head + '[[ops]]\nop = "vflip"\np = 1.0\n'),
    ]
    for deg in (30, -17):
        out.append((
            f"rotate {deg}",
            A.Rotate(limit=(deg, deg), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0,
                     p=1, **near),
            head + f'[[ops]]\nop = "rotate"\ndegrees = [{deg}.0, {deg}.0]\n',
        ))
    x0, y0, cw, ch = 7, 5, w - 20, h - 13
    out.append((
        "crop",
        A.Crop(x_min=x0, y_min=y0, x_max=x0 + cw, y_max=y0 + ch, p=1),
        head + f'[[ops]]\nop = "crop"\nwidth = {cw}\nheight = {ch}\nposition = [{x0}, {y0}]\n',
    ))
    for label, rw, rh in (("down", w * 2 // 3, h * 3 // 4), ("up", w * 3 // 2 + 1, h * 5 // 3)):
        spec = head + f'[[ops]]\nop = "resize"\nwidth = {rw}\nheight = {rh}\n'
        out.append((f"resize {label} exact", A.Resize(rh, rw, p=1, **exact), spec))
        out.append((f"resize {label} opencv-nearest", A.Resize(rh, rw, p=1, **near), spec))
    l, t, r, b = 3, 1, 2, 4
    for border, mode in (("constant", cv2.BORDER_CONSTANT), ("reflect", cv2.BORDER_REFLECT_101)):
        out.append((
            f"pad {border}",
            A.Pad(padding=(l, t, r, b), border_mode=mode, fill=0, fill_mask=0, p=1),
            head + f'border = "{border}"\n[[ops]]\nop = "pad"\npixels = [{l}, {t}, {r}, {b}]\n',
        ))
    return out


def runs(a: np.ndarray) -> list:
    """Row-major runs as a flat list [label, length, label, length, ...]."""
    flat = np.ascontiguousarray(a, np.uint8).ravel()
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    lengths = np.diff(np.r_[starts, flat.size])
    return [int(v) for pair in zip(flat[starts], lengths) for v in pair]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    masks = []
    for name, m in (("camera 4 classes", photo_mask(args.data)), ("shapes", shapes_mask())):
        h, w = m.shape
        image = np.stack([m * 60] * 3, axis=-1).astype(np.uint8)
        results = []
        for case, transform, spec in cases(w, h):
            got = A.Compose([transform])(image=image, mask=m)["mask"]
            results.append({
                "case": case,
                "pipeline": spec,
                "width": int(got.shape[1]),
                "height": int(got.shape[0]),
                "runs": runs(got),
            })
        masks.append({"name": name, "width": w, "height": h, "runs": runs(m), "results": results})
    doc = {
        "generator": "tools/albumentations_mask_reference.py",
        "albumentations": A.__version__,
        "opencv": cv2.__version__,
        "masks": masks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(',', ':')) + "\n")
    print(f"wrote {args.out}: {sum(len(m['results']) for m in masks)} cases")


if __name__ == "__main__":
    main()
