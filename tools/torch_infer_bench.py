#!/usr/bin/env python3
"""PyTorch inference on the CPU, the reference for augtrain's `bench inference`.

Two cases, each one timed run per call (`augtrain bench inference --reference PYTHON` calls this
script once per round, alternating with its own runs):

  embed    every image of an image folder (hymenoptera: train/ and val/, 398 photos) from the
           files to L2-normalized EfficientNet-Lite0 features, end to end: a DataLoader
           (--workers processes, batch --batch, torchvision ImageFolder: PIL decode, RGB,
           Resize(256) shorter side bilinear antialiased, CenterCrop(224), ToTensor,
           Normalize to (x - 127) / 128), the ImageNet weights (--weights) in eval mode under
           torch.inference_mode(), `features` (global average pool before `_fc`), L2 normalize,
           rows gathered in one array. Timed from creating the DataLoader to the last row (the
           model is loaded and warmed up on one batch of zeros before the clock starts).
  eval     a trained model evaluated on an image folder (hymenoptera/val: 153 photos), end to
           end as a user's evaluation script does it: the model exported by `augtrain
           export-model` (--safetensors, EfficientNet-Lite0, loaded strictly), the folder through
           the embed case's DataLoader and transform, the forward in eval mode under
           torch.inference_mode(), then the mean cross-entropy, accuracy, scikit-learn's
           classification_report and confusion_matrix. Timed from loading the weights to the
           report (the interpreter's start and the imports are not timed).
  forward  the inference forward pass alone (eval mode, torch.inference_mode(), random input
           already in memory) of each of --models at each of --batches:
             cnn                 augtrain's LeNet-style CNN, 28x28x1, 10 classes
             resnet18            torchvision resnet18(weights=None), 224x224x3, 1000 classes
             efficientnet-lite0  tools/efficientnet_lite_reference.py, 224x224x3, 1000 classes
           2 untimed warm-up calls, then calls until --seconds have passed (at least 3);
           median, min and max seconds per call.

Threads: torch.set_num_threads(--threads) in the main process (default 2); DataLoader workers
(embed) are separate processes, each single-threaded as PyTorch sets them.

Run (from the repository root):
  /work/venv/bin/python tools/torch_infer_bench.py embed --data ../shared/data/hymenoptera --json e.json
  /work/venv/bin/python tools/torch_infer_bench.py eval --data ../shared/data/hymenoptera/val \\
      --safetensors RUN/model.safetensors
  /work/venv/bin/python tools/torch_infer_bench.py forward --models cnn,resnet18 --batches 1,32 --json f.json
Flags: --threads (2), --json OUT; embed: --data DIR, --weights PTH, --batch (32), --workers (2),
--save-npy OUT (the embeddings, rows in the order of the files sorted as augtrain sorts them:
split folder, class, file name); eval: --data DIR, --safetensors F, --batch, --workers;
forward: --models, --batches (1,32), --seconds (3), --seed (0).
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

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficientnet_lite_reference import PRETRAINED, EfficientNetLite0, load_pretrained  # noqa: E402
from torch_train_bench import Cnn  # noqa: E402


def folders(root):
    """The ImageFolder roots of `root`: its split folders (train/, val/, test/) when it has
    them, else `root` itself."""
    splits = [root / s for s in ("train", "val", "test") if (root / s).is_dir()]
    return splits or [root]


def embed(a):
    from torch.utils.data import ConcatDataset, DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                             transforms.ToTensor(),
                             transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)])
    model = load_pretrained(a.weights).eval()
    with torch.inference_mode():
        model.features(torch.zeros(a.batch, 3, 224, 224))  # warm-up, untimed
    start = time.perf_counter()
    ds = ConcatDataset([datasets.ImageFolder(str(f), transform=tf) for f in folders(a.data)])
    loader = DataLoader(ds, batch_size=a.batch, shuffle=False, num_workers=a.workers)
    rows = []
    with torch.inference_mode():
        for x, _ in loader:
            rows.append(F.normalize(model.features(x), dim=1))
    out = torch.cat(rows).numpy()
    seconds = time.perf_counter() - start
    if a.save_npy:
        np.save(a.save_npy, out)
    print(f"embed: {len(out)} images in {seconds:.2f} s ({len(out) / seconds:.1f} images/s), "
          f"batch {a.batch}, {a.workers} workers", flush=True)
    return [{"case": "embed", "images": len(out), "dim": int(out.shape[1]), "batch": a.batch,
             "workers": a.workers, "seconds": seconds}]


def evaluate(a):
    from safetensors.torch import load_file
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                             transforms.ToTensor(),
                             transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)])
    start = time.perf_counter()
    state = load_file(str(a.safetensors))
    model = EfficientNetLite0(state["_fc.weight"].shape[0])
    model.load_state_dict(state, strict=True)
    model.eval()
    ds = datasets.ImageFolder(str(a.data), transform=tf)
    loader = DataLoader(ds, batch_size=a.batch, shuffle=False, num_workers=a.workers)
    logits, labels = [], []
    with torch.inference_mode():
        for x, y in loader:
            logits.append(model(x))
            labels.append(y)
    logits, labels = torch.cat(logits), torch.cat(labels)
    loss = F.cross_entropy(logits, labels).item()
    y_true, y_pred = labels.numpy(), logits.argmax(1).numpy()
    accuracy = accuracy_score(y_true, y_pred)
    report = classification_report(y_true, y_pred, target_names=ds.classes, digits=4,
                                   zero_division=0)
    confusion_matrix(y_true, y_pred)
    seconds = time.perf_counter() - start
    print(report, flush=True)
    print(f"eval: {len(y_true)} images in {seconds:.2f} s ({len(y_true) / seconds:.1f} images/s), "
          f"accuracy {accuracy:.4f}, loss {loss:.4f}, batch {a.batch}, {a.workers} workers",
          flush=True)
    return [{"case": "eval", "images": int(len(y_true)), "accuracy": float(accuracy),
             "loss": loss, "batch": a.batch, "workers": a.workers, "seconds": seconds}]


def make(name):
    """(model, input shape CHW)."""
    if name == "cnn":
        return Cnn(10), (1, 28, 28)
    if name == "resnet18":
        import torchvision
        return torchvision.models.resnet18(weights=None, num_classes=1000), (3, 224, 224)
    if name == "efficientnet-lite0":
        return EfficientNetLite0(1000), (3, 224, 224)
    raise SystemExit(f"unknown model {name!r} (cnn, resnet18, efficientnet-lite0)")


def forward(a):
    rows = []
    for name in [m.strip() for m in a.models.split(",") if m.strip()]:
        torch.manual_seed(a.seed)
        model, chw = make(name)
        model.eval()
        for batch in [int(b) for b in a.batches.split(",")]:
            x = torch.randn(batch, *chw, generator=torch.Generator().manual_seed(a.seed))
            with torch.inference_mode():
                for _ in range(2):
                    model(x)
                times, start = [], time.perf_counter()
                while len(times) < 3 or time.perf_counter() - start < a.seconds:
                    t = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - t)
            med = statistics.median(times)
            print(f"{name:<20} batch {batch:>3}: median {med * 1e3:9.2f} ms "
                  f"({batch / med:8.1f} images/s, {len(times)} calls)", flush=True)
            rows.append({"case": "forward", "model": name, "batch": batch, "calls": len(times),
                         "seconds_median": med, "seconds_min": min(times),
                         "seconds_max": max(times)})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", choices=["embed", "eval", "forward"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--data", type=Path, default=PRETRAINED.parents[1] / "hymenoptera")
    ap.add_argument("--weights", type=Path, default=PRETRAINED)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--save-npy", type=Path)
    ap.add_argument("--safetensors", type=Path, help="eval: a model exported by augtrain")
    ap.add_argument("--models", default="cnn,resnet18,efficientnet-lite0")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = {"embed": embed, "eval": evaluate, "forward": forward}[a.case](a)
    if a.json:
        meta = {"tool": "tools/torch_infer_bench.py", "torch": torch.__version__,
                "threads": torch.get_num_threads(), "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        a.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
