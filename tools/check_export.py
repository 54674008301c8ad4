#!/usr/bin/env python3
"""Check `augtrain export-model` against PyTorch: the exported safetensors loaded STRICTLY into the
matching PyTorch module gives augtrain's own predictions.

Models: torchvision resnet18/resnet34/resnet50(num_classes=K), and EfficientNetLite0(K) of
tools/efficientnet_lite_reference.py (K = rows of fc.weight / _fc.weight). Loading is
`load_state_dict(safetensors.torch.load_file(F), strict=True)`: every name and shape must match,
num_batches_tracked included.

Inputs must be decoded identically on both sides, so the images are PNG files that are already
exactly the run's load size (e.g. 256x256, no resize: augtrain decodes them losslessly), and both
sides take the centre crop of the model card's input size and its normalization. augtrain's
side is `augtrain predict --run RUN --data DIR`, whose predictions.csv holds the softmax
probabilities (p_<class> columns, shortest round-trip f32 text). Prints the largest absolute
difference of the probabilities and of the predicted classes; exit status 1 above --tol (1e-5).

  # 1. images at the load size      /work/venv/bin/python tools/check_export.py --make-images \\
  #                                     ../shared/data/photos --size 256 --out /tmp/png256
  # 2. augtrain                      augtrain export-model --run RUN --out /tmp/m.safetensors
  #                                  augtrain predict --run RUN --data /tmp/png256 --out /tmp/pred
  # 3. PyTorch                       /work/venv/bin/python tools/check_export.py \\
  #                                     --safetensors /tmp/m.safetensors --card RUN/model.json \\
  #                                     --images /tmp/png256 --predictions /tmp/pred/predictions.csv
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_images(src, size, out):
    """Every photo of `src` as a size x size RGB PNG (shorter side to size, centre crop)."""
    from PIL import Image
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for f in sorted(src.iterdir()):
        if f.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        with Image.open(f) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = size / min(w, h)
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im.crop((left, top, left + size, top + size)).save(out / (f.stem + ".png"))
            n += 1
    print(f"wrote {n} {size}x{size} PNGs to {out}")


def build(arch, classes):
    if arch in ("resnet18", "resnet34", "resnet50"):
        import torchvision
        return getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    if arch == "efficientnet-lite0":
        from efficientnet_lite_reference import EfficientNetLite0
        return EfficientNetLite0(classes)
    sys.exit(f"unsupported architecture {arch!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--make-images", type=Path, help="photo folder to convert (step 1)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--safetensors", type=Path)
    ap.add_argument("--card", type=Path, help="the run's model.json")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--predictions", type=Path)
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.make_images:
        make_images(a.make_images, a.size, a.out)
        return
    torch.set_num_threads(a.threads)
    from safetensors.torch import load_file

    card = json.loads(a.card.read_text())
    arch = card["architecture"]
    crop = card["model_input"]["width"], card["model_input"]["height"]
    mean = np.array(card["normalization"]["mean"], dtype=np.float32)
    std = np.array(card["normalization"]["std"], dtype=np.float32)
    sd = load_file(str(a.safetensors))
    head = "_fc.weight" if "_fc.weight" in sd else "fc.weight"
    classes = sd[head].shape[0]
    model = build(arch, classes)
    model.load_state_dict(sd, strict=True)
    model.eval()
    print(f"{a.safetensors}: {len(sd)} tensors loaded strictly into {arch}({classes})")

    from PIL import Image
    worst, disagree, rows = 0.0, 0, list(csv.DictReader(a.predictions.open()))
    names = [k for k in rows[0].keys() if k.startswith("p_")]
    for row in rows:
        with Image.open(a.images / row["path"]) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.uint8)
        h, w = x.shape[:2]
        top, left = round((h - crop[1]) / 2), round((w - crop[0]) / 2)
        x = x[top:top + crop[1], left:left + crop[0]].astype(np.float32) / 255.0
        x = (x - mean) / std
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            p = torch.softmax(model(t), 1)[0].double().numpy()
        ours = np.array([float(row[n]) for n in names])
        worst = max(worst, float(np.abs(p - ours).max()))
        disagree += int(p.argmax() != ours.argmax())
    ok = worst <= a.tol and disagree == 0
    print(f"{len(rows)} images: max |p_torch - p_augtrain| = {worst:.2e}, "
          f"{disagree} different top-1 classes: {'ok' if ok else 'DIFFERENT'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
