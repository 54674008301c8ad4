#!/usr/bin/env python3
"""Write a large synthetic COCO file for the annotation memory/speed targets (issue 30:
"`inspect`, `audit`, `convert` of a 100,000-object COCO file: seconds, memory within 3x the
file size").

Default: 10,000 images x 10 objects = 100,000 objects, each with a box and one 8-point polygon
inside it (coordinates with two decimals), 20 categories, fixed seed; about 27 MB. No image
files are written (audit reports them missing, which is part of its work).

Run: python3 tools/coco_scale_file.py OUT.json [--images N] [--objects-per-image K]
"""
import argparse
import json
import math
import random


def polygon(rng, x, y, w, h, n=8):
    """n points on an ellipse inscribed in the box, jittered inwards, clockwise on screen."""
    cx, cy = x + w / 2, y + h / 2
    out = []
    for k in range(n):
        a = 2 * math.pi * k / n
        r = rng.uniform(0.7, 1.0)
        out += [round(cx + r * w / 2 * math.cos(a), 2), round(cy + r * h / 2 * math.sin(a), 2)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--objects-per-image", type=int, default=10)
    args = ap.parse_args()
    rng = random.Random(30)
    categories = [{"id": i + 1, "name": f"class{i:02d}", "supercategory": "thing"} for i in range(20)]
    images, annotations = [], []
    for i in range(args.images):
        width, height = 640, 480
        images.append({"id": i + 1, "file_name": f"images/{i:06d}.jpg", "width": width, "height": height})
        for _ in range(args.objects_per_image):
            w, h = round(rng.uniform(8, 200), 2), round(rng.uniform(8, 200), 2)
            x, y = round(rng.uniform(0, width - w), 2), round(rng.uniform(0, height - h), 2)
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": i + 1,
                "category_id": rng.randint(1, 20),
                "bbox": [x, y, w, h],
                "area": round(w * h * 0.7, 2),
                "iscrowd": 0,
                "segmentation": [polygon(rng, x, y, w, h)],
            })
    with open(args.out, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


if __name__ == "__main__":
    main()
