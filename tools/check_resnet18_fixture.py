#!/usr/bin/env python3
"""Recompute the ResNet-18 exactness fixture with torchvision, to document how it is made.

The fixture ../shared/data/models/resnet18-random-seed0.{pth,expected.json} is torchvision's
resnet18(weights=None) layout with random weights and non-trivial batch-norm statistics; the JSON
holds the eval-mode logits (first 10 per image, argmax, sum over the 1000) for the input
    x[n,c,h,w] = sin(0.1*(n+1)*(h+1)) * cos(0.07*(c+1)*(w+1)),  shape [2,3,64,64], float32
This script builds that input (as float32 torch ops on float32 index grids, and as a float64
computation rounded to float32 once; both are printed), loads the .pth into
torchvision.models.resnet18() with load_state_dict(strict=True, weights_only=True), runs it in
eval mode and prints the max abs difference from the fixture's numbers (logits_sum is a float32
sum, logits.sum(1)). Exit status 1 if the float32-formula difference exceeds --tol (1e-4) or an
argmax differs. With torch 2.15.0 / torchvision 0.29.2 on the CPU the float32 formula reproduces
the fixture bit for bit (max abs difference 0).

Run: /work/venv/bin/python tools/check_resnet18_fixture.py [--dir ../shared/data/models] [--threads 2]
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import torchvision

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def fixture_input(dtype):
    """x[n,c,h,w] = sin(0.1*(n+1)*(h+1)) * cos(0.07*(c+1)*(w+1)), computed in `dtype`, as float32."""
    n, c, h, w = torch.meshgrid(*[torch.arange(s, dtype=dtype) for s in (2, 3, 64, 64)],
                                indexing="ij")
    x = torch.sin(0.1 * (n + 1) * (h + 1)) * torch.cos(0.07 * (c + 1) * (w + 1))
    return x.to(torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=DATA / "models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    expected = json.loads((a.dir / "resnet18-random-seed0.expected.json").read_text())
    print(f"fixture input: {expected['input']}")
    print(f"fixture model: {expected['model']} (torch {expected['torch']}, "
          f"torchvision {expected['torchvision']}); here torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}")
    model = torchvision.models.resnet18(weights=None)
    sd = torch.load(a.dir / "resnet18-random-seed0.pth", map_location="cpu", weights_only=True)
    model.load_state_dict(sd, strict=True)
    model.eval()
    print(f"loaded resnet18-random-seed0.pth strictly: {len(sd)} tensors")

    ok = True
    for label, dtype in [("float32 formula", torch.float32), ("float64 formula -> float32", torch.float64)]:
        x = fixture_input(dtype)
        with torch.no_grad():
            logits = model(x)
        first10 = logits[:, :10].double()
        d_first = (first10 - torch.tensor(expected["logits_first10"], dtype=torch.float64)).abs().max().item()
        # The fixture's sums are float32 sums (logits.sum(1)), so they are compared as such.
        d_sum = (logits.sum(1).double() - torch.tensor(expected["logits_sum"], dtype=torch.float64)).abs().max().item()
        argmax = logits.argmax(1).tolist()
        good = d_first <= a.tol and d_sum <= a.tol and argmax == expected["argmax"]
        if label.startswith("float32"):
            ok = good
        print(f"{label:<28} max |d logits_first10| = {d_first:.3e}, max |d logits_sum| = {d_sum:.3e}, "
              f"argmax {argmax} (fixture {expected['argmax']}): {'ok' if good else 'DIFFERENT'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
