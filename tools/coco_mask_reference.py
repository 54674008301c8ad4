#!/usr/bin/env python3
"""Reference outputs of pycocotools' mask API (and scipy's assignment) for augtrain's RLE, IoU
and matching code: writes tests/fixtures/annotations/rle_oracle.json, which the unit tests of
crates/augtrain-annotations (rle.rs, iou.rs, matching.rs) read, so they run without Python.

Masks are real-shaped: thresholded photos of the shared test data resized to odd sizes, their
contours (cv2.findContours + approxPolyDP) as COCO polygons, smoothed random blobs, plus the edge
cases (empty, full, 1x1, single pixels at either end, a checkerboard with runs of 1, a first run
of length 0, rectangles in a 4000x6000 image whose counts need 5 characters and negative deltas).
Polygons also include hand-made ones that hit the rasteriser's rounding (x.1, x.3, x.5, negative
fractions), duplicate points, points outside the image and a self-intersecting star.

Every value is what pycocotools 2.0.11 (PyPI) computes: encode, decode (asserted equal to the
input), area, toBbox, frPyObjects (polygons and boxes), merge (union and intersection), iou
(boxes and masks, with iscrowd). Uncompressed counts are computed here with numpy and checked
against pycocotools (frPyObjects of the counts gives pycocotools' own string).

  /work/venv/bin/python tools/coco_mask_reference.py --data ../shared/data \\
      --out tests/fixtures/annotations/rle_oracle.json
"""
import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pycocotools
from pycocotools import mask as maskUtils
from scipy.optimize import linear_sum_assignment

RNG = np.random.default_rng(20261207)


def counts_of(m):
    """Uncompressed COCO counts of a 2-D 0/1 mask (column-major runs, starting with 0s)."""
    flat = m.flatten(order="F").astype(np.uint8)
    counts = []
    change = np.flatnonzero(np.diff(flat.astype(np.int16))) + 1
    edges = [0] + change.tolist() + [flat.size]
    if flat.size and flat[0] == 1:
        counts.append(0)
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            counts.append(b - a)
    if not counts:
        counts = [0]
    return counts


def text(rle):
    """The compressed counts as str (pycocotools returns bytes)."""
    c = rle["counts"]
    return c.decode("ascii") if isinstance(c, bytes) else c


def mask_entry(name, m, store_bits=True, spec=None):
    """Encode one mask with pycocotools; check decode and the uncompressed counts."""
    h, w = m.shape
    f = np.asfortranarray(m.astype(np.uint8).reshape(h, w, 1))
    rle = maskUtils.encode(f)[0]
    back = maskUtils.decode([rle])[:, :, 0]
    assert np.array_equal(back, m.astype(np.uint8)), name
    counts = counts_of(m)
    from_counts = maskUtils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    assert text(from_counts) == text(rle), name
    entry = {
        "name": name,
        "height": h,
        "width": w,
        "counts": counts,
        "string": text(rle),
        "area": int(maskUtils.area([rle])[0]),
        "bbox": maskUtils.toBbox([rle])[0].tolist(),
    }
    if store_bits:
        entry["bits"] = np.packbits(m.flatten(order="F").astype(np.uint8)).tobytes().hex()
    if spec is not None:
        entry["rects"] = spec
    return entry, rle


def photo_mask(data, name, w, h, channel=None):
    """A real photo, resized to w x h and thresholded at its mean: a real-shaped mask."""
    img = cv2.imread(str(data / "photos" / name), cv2.IMREAD_COLOR)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    plane = img[:, :, channel] if channel is not None else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return (plane > plane.mean()).astype(np.uint8)


def blob_mask(w, h, sigma):
    noise = RNG.standard_normal((h, w)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    return (smooth > 0.05 * smooth.std()).astype(np.uint8)


def contour_polygons(m, count):
    """COCO polygons (flat x, y lists) of the largest outer contours of a mask, with fractional
    offsets so the rasteriser sees non-integer coordinates."""
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = sorted(contours, key=cv2.contourArea, reverse=True)[:count]
    polys = []
    for c in contours:
        approx = cv2.approxPolyDP(c, 0.8, True).reshape(-1, 2).astype(np.float64)
        if len(approx) < 3:
            continue
        approx += RNG.choice([0.0, 0.5, 0.25, 0.1, 0.7], size=approx.shape)
        polys.append([round(float(v), 3) for v in approx.flatten()])
    return polys


def rects_mask(h, w, rects):
    m = np.zeros((h, w), np.uint8)
    for r0, r1, c0, c1 in rects:
        m[r0:r1, c0:c1] = 1
    return m


def masks(data):
    out, by_size = [], {}

    def add(name, m, **kw):
        entry, rle = mask_entry(name, m, **kw)
        out.append(entry)
        by_size.setdefault(m.shape, []).append((name, rle))

    add("camera_97x131", photo_mask(data, "camera.png", 131, 97))
    add("coffee_97x131", photo_mask(data, "coffee.png", 131, 97, channel=2))
    add("blob_97x131", blob_mask(131, 97, 6.0))
    add("chelsea_53x67", photo_mask(data, "chelsea.png", 67, 53, channel=1))
    add("astronaut_200x151", photo_mask(data, "astronaut.png", 151, 200))
    add("blob_61x83", blob_mask(83, 61, 3.0))
    add("blob_fine_61x83", blob_mask(83, 61, 1.0))
    add("empty_7x5", np.zeros((7, 5), np.uint8))
    add("full_5x7", np.ones((5, 7), np.uint8))
    add("empty_1x1", np.zeros((1, 1), np.uint8))
    add("full_1x1", np.ones((1, 1), np.uint8))
    first = np.zeros((9, 11), np.uint8)
    first[0, 0] = 1
    add("first_pixel_9x11", first)
    last = np.zeros((9, 11), np.uint8)
    last[-1, -1] = 1
    add("last_pixel_9x11", last)
    col = np.zeros((9, 11), np.uint8)
    col[:, 0] = 1
    col[:, 5] = 1
    add("columns_9x11", col)
    wrap = np.zeros((9, 11), np.uint8)
    wrap[6:, 2] = 1
    wrap[:3, 3] = 1
    add("run_across_columns_9x11", wrap)
    yy, xx = np.mgrid[0:13, 0:17]
    add("checkerboard_13x17", ((yy + xx) % 2).astype(np.uint8))
    big = [(100, 2900, 50, 58), (3000, 3990, 4500, 4503), (0, 4000, 5999, 6000)]
    add("rects_4000x6000", rects_mask(4000, 6000, big), store_bits=False, spec=big)
    big2 = [(0, 4000, 0, 100), (3999, 4000, 100, 104), (1, 2, 5000, 5001)]
    add("rects2_4000x6000", rects_mask(4000, 6000, big2), store_bits=False, spec=big2)
    return out, by_size


def polygon_cases(data):
    cases = []
    cam = photo_mask(data, "camera.png", 131, 97)
    coffee = photo_mask(data, "coffee.png", 131, 97, channel=2)
    chelsea = photo_mask(data, "chelsea.png", 67, 53, channel=1)
    cases.append(("camera_contours", 97, 131, contour_polygons(cam, 4)))
    cases.append(("coffee_contours", 97, 131, contour_polygons(coffee, 3)))
    cases.append(("chelsea_contours", 53, 67, contour_polygons(chelsea, 3)))
    cases.append(("triangle", 20, 30, [[2.0, 3.0, 25.5, 7.25, 10.1, 18.9]]))
    cases.append(("rounding_edges", 16, 16, [[0.1, 0.3, 10.5, 0.5, 12.3, 9.9, 3.7, 14.5, 0.5, 7.1]]))
    cases.append(("negative_fractions", 12, 12, [[-0.1, -0.3, 6.0, -0.5, 11.9, 5.0, 5.0, 11.7, -0.7, 4.0]]))
    cases.append(("outside_image", 20, 25, [[-10.0, -5.0, 40.0, 3.0, 30.0, 30.0, 5.0, 28.0]]))
    cases.append(("duplicate_points", 20, 20, [[3.0, 3.0, 3.0, 3.0, 15.0, 4.0, 15.02, 4.01, 9.0, 17.0, 3.0, 3.0]]))
    star = []
    for i in range(5):
        a = np.pi / 2 + i * 4 * np.pi / 5
        star += [round(20 + 15 * np.cos(a), 4), round(20 - 15 * np.sin(a), 4)]
    cases.append(("self_intersecting_star", 41, 39, [star]))
    cases.append(("sub_pixel", 10, 10, [[4.2, 4.2, 4.6, 4.2, 4.4, 4.7]]))
    cases.append(("thin_vertical", 30, 10, [[5.0, 1.0, 5.2, 1.0, 5.2, 28.0, 5.0, 28.0]]))
    cases.append(("two_parts", 40, 50, [[1.5, 1.5, 20.0, 2.0, 18.0, 15.0], [30.0, 20.0, 48.5, 21.0, 45.0, 39.0, 31.0, 35.0]]))
    cases.append(("odd_coordinate_count", 20, 20, [[1.0, 1.0, 15.0, 2.0, 8.0, 16.0, 4.0]]))
    out = []
    for name, h, w, polys in cases:
        rles = maskUtils.frPyObjects(polys, h, w)
        merged = maskUtils.merge(rles)
        out.append({
            "name": name,
            "height": h,
            "width": w,
            "polygons": polys,
            "strings": [text(r) for r in rles],
            "merged": text(merged),
            "area": int(maskUtils.area([merged])[0]),
            "bbox": maskUtils.toBbox([merged])[0].tolist(),
        })
    return out


def bbox_cases():
    boxes = [[2.0, 3.0, 10.0, 5.0], [0.4, 0.6, 3.3, 7.7], [-3.0, -2.0, 8.0, 6.0], [25.0, 10.0, 20.0, 30.0],
             [5.5, 5.5, 0.0, 4.0], [10.2, 1.1, 0.3, 0.3]]
    h, w = 30, 37
    rles = maskUtils.frPyObjects(np.array(boxes, dtype=np.float64), h, w)
    return {
        "height": h,
        "width": w,
        "boxes": boxes,
        "strings": [text(r) for r in rles],
        "areas": [int(a) for a in maskUtils.area(rles)],
    }


def merge_cases(by_size):
    out = []
    for shape, items in sorted(by_size.items()):
        if len(items) < 2 or shape[0] * shape[1] > 10**6:
            continue
        names = [n for n, _ in items]
        rles = [r for _, r in items]
        groups = [list(range(len(rles)))] + [[i, j] for i in range(len(rles)) for j in range(i + 1, len(rles))]
        groups.append([0])
        for g in groups:
            chosen = [rles[i] for i in g]
            out.append({
                "height": shape[0],
                "width": shape[1],
                "names": [names[i] for i in g],
                "union": text(maskUtils.merge(chosen, intersect=0)),
                "intersection": text(maskUtils.merge(chosen, intersect=1)),
            })
    return out


def box_iou_cases(polys):
    cases = []
    dt = RNG.uniform(0, 50, size=(7, 2))
    dt = np.hstack([dt, RNG.uniform(0.5, 30, size=(7, 2))])
    gt = RNG.uniform(0, 50, size=(5, 2))
    gt = np.hstack([gt, RNG.uniform(0.5, 30, size=(5, 2))])
    dt = np.round(dt, 2)
    gt = np.round(gt, 2)
    cases.append((dt.tolist(), gt.tolist(), [0, 1, 0, 0, 1]))
    edge_dt = [[0, 0, 10, 10], [10, 0, 10, 10], [5, 5, 0, 3], [2, 2, 4, 4], [0.1, 0.2, 0.30000000000000004, 0.7]]
    edge_gt = [[0, 0, 10, 10], [2, 2, 4, 4], [0.1, 0.2, 0.3, 0.7], [-5, -5, 30, 30]]
    cases.append((edge_dt, edge_gt, [0, 0, 0, 1]))
    boxes = [p["bbox"] for p in polys]
    cases.append((boxes, boxes[::-1], [i % 2 for i in range(len(boxes))]))
    out = []
    for dt, gt, crowd in cases:
        iou = maskUtils.iou(np.array(dt, dtype=np.float64), np.array(gt, dtype=np.float64), crowd)
        out.append({"dt": dt, "gt": gt, "iscrowd": crowd, "iou": np.asarray(iou).tolist()})
    return out


def mask_iou_cases(mask_entries, polys):
    out = []
    same = [m for m in mask_entries if (m["height"], m["width"]) == (97, 131)]
    poly97 = [p for p in polys if (p["height"], p["width"]) == (97, 131)]
    strings = [m["string"] for m in same] + [s for p in poly97 for s in p["strings"]]
    dt = strings[: len(strings) // 2 + 1]
    gt = strings[len(strings) // 2 - 1:]
    crowd = [i % 2 for i in range(len(gt))]
    rl = lambda s: {"size": [97, 131], "counts": s}
    iou = maskUtils.iou([rl(s) for s in dt], [rl(s) for s in gt], crowd)
    out.append({"height": 97, "width": 131, "dt": dt, "gt": gt, "iscrowd": crowd,
                "iou": np.asarray(iou).tolist()})
    small = [m for m in mask_entries if (m["height"], m["width"]) == (9, 11)]
    s = [m["string"] for m in small]
    rl = lambda x: {"size": [9, 11], "counts": x}
    iou = maskUtils.iou([rl(x) for x in s], [rl(x) for x in s], [0, 1] * (len(s) // 2) + [0] * (len(s) % 2))
    out.append({"height": 9, "width": 11, "dt": s, "gt": s,
                "iscrowd": [0, 1] * (len(s) // 2) + [0] * (len(s) % 2), "iou": np.asarray(iou).tolist()})
    return out


def assignment_cases():
    out = []
    for rows, cols, kind in [(5, 5, "float"), (4, 7, "float"), (7, 4, "float"), (12, 12, "float"),
                             (6, 6, "int"), (3, 8, "int"), (1, 1, "float"), (30, 25, "float")]:
        if kind == "float":
            c = RNG.uniform(0, 1, size=(rows, cols))
        else:
            c = RNG.integers(0, 4, size=(rows, cols)).astype(np.float64)
        r, k = linear_sum_assignment(c)
        entry = {"cost": c.tolist(), "total": float(c[r, k].sum()), "maximize": False}
        if kind == "float":
            entry["rows"] = r.tolist()
            entry["cols"] = k.tolist()
        out.append(entry)
        r, k = linear_sum_assignment(c, maximize=True)
        entry = {"cost": c.tolist(), "total": float(c[r, k].sum()), "maximize": True}
        if kind == "float":
            entry["rows"] = r.tolist()
            entry["cols"] = k.tolist()
        out.append(entry)
    return out


def random_polygon_cases():
    """200 random polygons (3 to 12 vertices, fractional, some outside the image) on small odd
    grids, with pycocotools' strings, and the mask IoU matrix of the first 24 (iscrowd mixed)."""
    rng = np.random.default_rng(7)
    h, w = 23, 31
    polys = []
    for _ in range(200):
        k = int(rng.integers(3, 13))
        xs = np.round(rng.uniform(-4, w + 4, size=k), int(rng.integers(0, 4)))
        ys = np.round(rng.uniform(-4, h + 4, size=k), int(rng.integers(0, 4)))
        polys.append([float(v) for xy in zip(xs, ys) for v in xy])
    rles = maskUtils.frPyObjects(polys, h, w)
    crowd = [int(c) for c in rng.integers(0, 2, size=12)]
    iou = maskUtils.iou(rles[:12], rles[12:24], crowd)
    return {"height": h, "width": w, "polygons": polys, "strings": [text(r) for r in rles],
            "iou": {"height": h, "width": w, "dt": [text(r) for r in rles[:12]],
                    "gt": [text(r) for r in rles[12:24]], "iscrowd": crowd,
                    "iou": np.asarray(iou).tolist()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/annotations/rle_oracle.json"))
    args = ap.parse_args()
    mask_entries, by_size = masks(args.data)
    polys = polygon_cases(args.data)
    fixture = {
        "generator": "tools/coco_mask_reference.py",
        "pycocotools": pycocotools.__version__ if hasattr(pycocotools, "__version__") else "2.0.11",
        "masks": mask_entries,
        "polygons": polys,
        "boxes": bbox_cases(),
        "merges": merge_cases(by_size),
        "box_iou": box_iou_cases(polys),
        "mask_iou": mask_iou_cases(mask_entries, polys),
        "assignments": assignment_cases(),
        "random_polygons": random_polygon_cases(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"{args.out}: {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
