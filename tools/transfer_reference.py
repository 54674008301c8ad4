#!/usr/bin/env python3
"""The PyTorch transfer-learning recipe (the "ants and bees" tutorial) with the ImageNet-pretrained
EfficientNet-Lite0, the reference for augtrain's transfer-learning runs on hymenoptera.

Recipe (as the PyTorch tutorial "Transfer learning for computer vision", with EfficientNet-Lite0
in place of ResNet-18 and its own input scaling):
  data      ../shared/data/hymenoptera: train/ (245 images) for training, val/ (153) as the test
            set; classes ants = 0, bees = 1 (torchvision ImageFolder, PIL, converted to RGB,
            EXIF orientation not applied)
  train     RandomResizedCrop(224) (scale 0.08..1, ratio 3/4..4/3, bilinear) + RandomHorizontalFlip
  eval      Resize(256) (shorter side, bilinear, antialiased) + CenterCrop(224)
  input     ToTensor (x/255) then (x*255 - 127)/128, EfficientNet-Lite0's scaling
  model     tools/efficientnet_lite_reference.py with the .pth weights (strict), a new _fc
            nn.Linear(1280, 2) (PyTorch default init, after seeding), no dropout
  optimizer SGD lr 0.001, momentum 0.9, no weight decay; StepLR(step_size=7, gamma=0.1) stepped
            once per epoch; batch 16, shuffled each epoch; mean cross-entropy; 10 epochs
  --mode head  backbone frozen, batch-norm statistics included: the backbone runs in eval mode
               under no_grad, only _fc is trained (the tutorial's "fixed feature extractor")
  --mode full  every parameter trained, batch norm in training mode (batch statistics; running
               statistics updated with momentum 0.01, TensorFlow's 0.99 decay)
Deterministic for a seed with --workers 0 (the default; the random crops use torch's global RNG).

Output: per epoch train loss/accuracy, test accuracy on val/ (153 images), lr, wall seconds of
the epoch (train + test) and cumulative; then best and final test accuracy, the cumulative time
and epoch at which test accuracy first reached 95 % (null if never), seed. --json writes it all.

Run (from the repository root; a full run takes long on 2 cores):
  /work/venv/bin/python tools/transfer_reference.py --mode head --json transfer_head.json
  /work/venv/bin/python tools/transfer_reference.py --mode full --json transfer_full.json
  /work/venv/bin/python tools/transfer_reference.py --mode full --epochs 1 --limit 8   # smoke test
Flags: --mode head|full, --epochs (10), --batch (16), --lr (0.001), --momentum (0.9), --step (7),
--gamma (0.1), --seed (0), --threads (2), --workers (0), --limit N (use N seeded-random images of
each split), --data DIR, --weights PTH, --json OUT.
"""
import argparse
import datetime
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficientnet_lite_reference import DATA, PRETRAINED, load_pretrained  # noqa: E402

# ToTensor gives x/255; Normalize(127/255, 128/255) then gives (x*255 - 127)/128 exactly.
SCALE = transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)
TRAIN_TF = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                               transforms.ToTensor(), SCALE])
EVAL_TF = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                              transforms.ToTensor(), SCALE])


def subset(ds, limit, seed):
    if not limit or limit >= len(ds):
        return ds
    g = torch.Generator().manual_seed(seed)
    return Subset(ds, torch.randperm(len(ds), generator=g)[:limit].sort().values.tolist())


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
        total += len(y)
    return 100.0 * correct / total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["head", "full"], required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--step", type=int, default=7)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="N random images per split (0: all)")
    ap.add_argument("--data", type=Path, default=DATA / "hymenoptera")
    ap.add_argument("--weights", type=Path, default=PRETRAINED)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)

    train_ds = datasets.ImageFolder(a.data / "train", TRAIN_TF)
    test_ds = datasets.ImageFolder(a.data / "val", EVAL_TF)
    assert train_ds.classes == test_ds.classes == ["ants", "bees"], train_ds.classes
    train_ds, test_ds = subset(train_ds, a.limit, a.seed), subset(test_ds, a.limit, a.seed + 1)
    train_loader = DataLoader(train_ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                              generator=torch.Generator().manual_seed(a.seed))
    test_loader = DataLoader(test_ds, batch_size=a.batch, shuffle=False, num_workers=a.workers)

    model = load_pretrained(a.weights, num_classes=2)  # backbone strict, fresh 2-class _fc
    if a.mode == "head":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model._fc.parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=a.lr, momentum=a.momentum)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=a.step, gamma=a.gamma)
    print(f"mode {a.mode}: {len(train_ds)} train, {len(test_ds)} test images, "
          f"{sum(p.numel() for p in params):,} trained parameters, seed {a.seed}")

    epochs, cumulative, reached = [], 0.0, None
    for epoch in range(1, a.epochs + 1):
        lr = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        loss_sum = correct = seen = 0
        if a.mode == "head":
            model.eval()  # frozen backbone, batch-norm statistics included
        else:
            model.train()
        for x, y in train_loader:
            if a.mode == "head":
                with torch.no_grad():
                    feats = model.features(x)
                logits = model._fc(feats)
            else:
                logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        sched.step()
        train_s = time.perf_counter() - t0
        acc = evaluate(model, test_loader)
        secs = time.perf_counter() - t0
        cumulative += secs
        if reached is None and acc >= 95.0:
            reached = {"epoch": epoch, "seconds": cumulative}
        row = {"epoch": epoch, "lr": lr, "train_loss": loss_sum / seen,
               "train_accuracy": 100.0 * correct / seen, "test_accuracy": acc,
               "train_seconds": train_s, "epoch_seconds": secs, "cumulative_seconds": cumulative}
        epochs.append(row)
        print(f"epoch {epoch:>2}: lr {lr:.0e} train loss {row['train_loss']:.4f} "
              f"acc {row['train_accuracy']:6.2f}%  test acc {acc:6.2f}%  "
              f"{secs:7.1f} s (cumulative {cumulative:8.1f} s)", flush=True)

    accs = [e["test_accuracy"] for e in epochs]
    summary = {"best_test_accuracy": max(accs), "final_test_accuracy": accs[-1],
               "reached_95": reached, "total_seconds": cumulative}
    print(f"best {summary['best_test_accuracy']:.2f}%, final {summary['final_test_accuracy']:.2f}%, "
          + (f"95% at epoch {reached['epoch']} after {reached['seconds']:.1f} s" if reached
             else "95% not reached"))
    if a.json:
        out = {"tool": "tools/transfer_reference.py", "model": "EfficientNet-Lite0, ImageNet weights",
               "weights": str(a.weights), "data": str(a.data), "mode": a.mode, "seed": a.seed,
               "epochs": a.epochs, "batch": a.batch, "limit": a.limit,
               "optimizer": {"name": "sgd", "lr": a.lr, "momentum": a.momentum,
                             "weight_decay": 0.0},
               "schedule": {"name": "step", "step_size": a.step, "gamma": a.gamma},
               "train_images": len(train_ds), "test_images": len(test_ds),
               "threads": torch.get_num_threads(), "torch": torch.__version__,
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "per_epoch": epochs, **summary}
        a.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
