#!/usr/bin/env python3
"""PyTorch training-step throughput on the CPU, the reference for augtrain's `bench train`.

A step = take the next batch from a dataset held in memory as one float32 tensor (random data,
seeded; a fresh permutation per pass, batch gathered by index), forward, mean cross-entropy,
backward, SGD step (lr 0.01, momentum 0.9, PyTorch semantics), reading the loss back as a
Python float (as augtrain reads it with into_scalar). Models, in training mode:
  mlp                 784-128-10 with ReLU on flattened 28x28x1, batch 64, 10 classes
  cnn                 augtrain's LeNet-style CNN (src/model/cnn.rs): conv 5x5 1->32, ReLU,
                      max-pool 2, conv 5x5 32->64, ReLU, max-pool 2, fc 1024->128, ReLU,
                      fc 128->10; 28x28x1, batch 64
  resnet18            torchvision resnet18(weights=None), 224x224x3, batch 32, 1000 classes
  efficientnet-lite0  EfficientNetLite0 of tools/efficientnet_lite_reference.py (random init,
                      no dropout / drop-connect), 224x224x3, batch 32, 1000 classes
Each model: 2 untimed warm-up steps, then steps until --seconds have passed (at least 3).
Reported: img/s over the whole timed run (images / wall seconds) and from the median step time,
plus median / min / max step seconds and the number of steps.

Run (from the repository root):
  /work/venv/bin/python tools/torch_train_bench.py --models mlp,cnn,resnet18,efficientnet-lite0 \
      --seconds 30 --json torch_train.json
Flags: --models (comma list, default all four), --seconds (time budget per model, default 20),
--threads (default 2), --classes (override the 1000 classes of the 224 models), --dataset N
(images held in memory, default 8000 for 28x28 models and 256 for 224 models), --seed, --json.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Mlp(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Cnn(nn.Module):
    """Exactly augtrain's LeNet-style CNN (src/model/cnn.rs), for 28x28x1 inputs."""

    def __init__(self, classes=10, hidden=128):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 5), nn.Conv2d(32, 64, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1, self.fc2 = nn.Linear(64 * 4 * 4, hidden), nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def make(name, classes):
    """(model, input shape CHW, batch, classes)."""
    if name == "mlp":
        return Mlp(10), (1, 28, 28), 64, 10
    if name == "cnn":
        return Cnn(10), (1, 28, 28), 64, 10
    if name == "resnet18":
        import torchvision
        return torchvision.models.resnet18(weights=None, num_classes=classes), (3, 224, 224), 32, classes
    if name == "efficientnet-lite0":
        from efficientnet_lite_reference import EfficientNetLite0
        return EfficientNetLite0(classes), (3, 224, 224), 32, classes
    raise SystemExit(f"unknown model {name!r} (mlp, cnn, resnet18, efficientnet-lite0)")


def bench(name, a):
    torch.manual_seed(a.seed)
    model, chw, batch, classes = make(name, a.classes)
    model.train()
    n = a.dataset or (8000 if chw[1] == 28 else 256)
    n = max(n, batch)
    g = torch.Generator().manual_seed(a.seed)
    data = torch.randn(n, *chw, generator=g)  # the whole dataset in memory, float32 NCHW
    labels = torch.randint(0, classes, (n,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    order, pos = torch.randperm(n, generator=g), 0

    def step():
        nonlocal order, pos
        if pos + batch > n:
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos:pos + batch]
        pos += batch
        x, y = data[idx], labels[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < a.seconds:
        t = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    med = statistics.median(times)
    row = {"model": name, "batch": batch, "input": list(chw), "classes": classes,
           "dataset_images": n, "steps": len(times), "seconds": wall,
           "images_per_second": batch * len(times) / wall,
           "images_per_second_median_step": batch / med,
           "step_seconds_median": med, "step_seconds_min": min(times),
           "step_seconds_max": max(times), "last_loss": loss,
           "parameters": sum(p.numel() for p in model.parameters())}
    print(f"{name:<20} batch {batch:>3}: {row['images_per_second']:9.1f} img/s "
          f"(median step {med * 1e3:8.2f} ms -> {row['images_per_second_median_step']:9.1f} img/s, "
          f"{len(times)} steps in {wall:.1f} s)", flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,cnn,resnet18,efficientnet-lite0")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=1000, help="classes of the 224x224 models")
    ap.add_argument("--dataset", type=int, default=0, help="images in memory (0: per-model default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.seconds} s per model")
    rows = [bench(m.strip(), a) for m in a.models.split(",") if m.strip()]
    if a.json:
        meta = {"tool": "tools/torch_train_bench.py", "torch": torch.__version__,
                "threads": torch.get_num_threads(), "machine": platform.machine(),
                "processor": platform.processor(), "cpu_count": os.cpu_count(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "seconds_per_model": a.seconds, "seed": a.seed,
                "step": "gather batch + forward + cross-entropy + backward + SGD(0.01, momentum 0.9) + loss.item()"}
        a.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
