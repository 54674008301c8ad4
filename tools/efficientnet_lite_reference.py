#!/usr/bin/env python3
"""An independent PyTorch EfficientNet-Lite0, the reference for augtrain's EfficientNet-Lite0.

Written from the facts in ../shared/data/README.md, not from any EfficientNet package:
no squeeze-excitation, ReLU6, batch norm eps 1e-3, TensorFlow "SAME" padding (the extra pixel of
an odd total padding goes right/bottom), blocks (repeats, kernel, stride, expansion, out channels)
(1,3,1,1,16) (2,3,2,6,24) (2,5,2,6,40) (3,3,2,6,80) (3,5,1,6,112) (4,5,2,6,192) (1,3,1,6,320),
stem 3x3 stride 2 to 32, head 1x1 to 1280, global average pool, linear to 1000, inputs
(x - 127) / 128 on the 0..255 scale. A block adds its input when stride is 1 and channels are
unchanged. The module's parameter and buffer names equal the keys of
models/efficientnet-lite0-57934424.pth (EfficientNet-PyTorch layout), so the file loads with
`load_state_dict(strict=True)`:

    _conv_stem.weight                    [32, 3, 3, 3]     (no conv has a bias)
    _bn0.{weight,bias,running_mean,running_var,num_batches_tracked}
    _blocks.N._expand_conv.weight        [C*e, C, 1, 1]    (absent in block 0: expansion 1)
    _blocks.N._bn0.*                     (absent in block 0)
    _blocks.N._depthwise_conv.weight     [C*e, 1, k, k]
    _blocks.N._bn1.*
    _blocks.N._project_conv.weight       [out, C*e, 1, 1]
    _blocks.N._bn2.*
    _conv_head.weight                    [1280, 320, 1, 1]
    _bn1.*
    _fc.{weight,bias}                    [1000, 1280], [1000]
    (N = 0..15: 1+2+2+3+3+4+1 blocks, 296 tensors)

Modes (weights: the .pth by default, or --safetensors; inputs: --photos or --inputs):

  (a) top-5 ImageNet classes of photos, PIL preprocessing (shorter side to 256, bilinear; centre
      crop 224, as torchvision's Resize(256) + CenterCrop(224)):
        /work/venv/bin/python tools/efficientnet_lite_reference.py --photos ../shared/data/photos
  (b) logits of images augtrain already preprocessed: X.npy is uint8 [N, 224, 224, 3] (RGB, HWC);
      writes per image the SHA-256 of its raw bytes (the 224*224*3 HWC uint8 buffer), the 1000
      logits (float64 list), top-5, and with --features the 1280-d pooled features before _fc:
        /work/venv/bin/python tools/efficientnet_lite_reference.py --inputs X.npy --out logits.json [--features]
  (c) check augtrain's export: load a safetensors state dict (PyTorch names; --classes K for a
      K-class _fc, else K is read from _fc.weight) strictly, then run (a) or (b) with it:
        /work/venv/bin/python tools/efficientnet_lite_reference.py --safetensors F.safetensors \
            --classes K --inputs X.npy --out logits.json
  Self-check: mode (a) on the 10 photos, asserting chelsea -> 281..285 (cats), coffee -> 967
  (espresso), rocket -> 657 (missile) as top-1; exit status 1 if not:
        /work/venv/bin/python tools/efficientnet_lite_reference.py --self-check

`--dtype float64` runs the whole network in double precision (a tighter reference than float32).
`--threads N` sets torch's CPU threads (default 2). Other scripts import `EfficientNetLite0`,
`load_pretrained`, `preprocess_pil` and `to_input` from this file.
"""
import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PRETRAINED = DATA / "models" / "efficientnet-lite0-57934424.pth"

# (repeats, kernel, stride, expansion, out channels) per stage.
BLOCKS = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99 in PyTorch's convention; matters only when training


def same_pad(size, kernel, stride):
    """TensorFlow "SAME" padding along one axis: (before, after), the odd pixel after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A bias-free Conv2d with TF "SAME" padding computed from the input size at each call."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=False)

    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = same_pad(x.shape[-2], k, s)
        left, right = same_pad(x.shape[-1], k, s)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand, BN, ReLU6] -> kxk depthwise, BN, ReLU6 -> 1x1 project, BN."""

    def __init__(self, cin, cout, kernel, stride, expansion, drop_connect=0.0):
        super().__init__()
        mid = cin * expansion
        self.has_expand = expansion != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout
        self.drop_connect = drop_connect

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))  # linear bottleneck: no activation
        if self.residual:
            if self.training and self.drop_connect > 0:
                # Stochastic depth per sample (off by default; eval is unaffected).
                keep = 1.0 - self.drop_connect
                mask = torch.rand(y.shape[0], 1, 1, 1, dtype=y.dtype, device=y.device) < keep
                y = y * mask / keep
            y = y + x
        return y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0; `num_classes` sizes `_fc`. `dropout` (before `_fc`) and
    `drop_connect` (maximum stochastic-depth rate, scaled by block index) default to 0, i.e. the
    plain network; they only act in training mode."""

    def __init__(self, num_classes=1000, dropout=0.0, drop_connect=0.0):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = bn(32)
        blocks, cin = [], 32
        total = sum(b[0] for b in BLOCKS)
        for repeats, kernel, stride, expansion, cout in BLOCKS:
            for r in range(repeats):
                rate = drop_connect * len(blocks) / total
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expansion, rate))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, 1280, 1)
        self._bn1 = bn(1280)
        self._dropout = nn.Dropout(dropout)  # no parameters: not in the state dict
        self._fc = nn.Linear(1280, num_classes)

    def features(self, x):
        """The 1280-d globally average-pooled features before `_fc`; x is already normalized."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        return self._fc(self._dropout(self.features(x)))


def to_input(images_hwc_uint8, dtype=torch.float32):
    """uint8 [N, H, W, 3] (numpy or tensor) -> normalized NCHW tensor, (x - 127) / 128."""
    x = torch.as_tensor(np.asarray(images_hwc_uint8)).permute(0, 3, 1, 2).to(dtype)
    return (x - 127.0) / 128.0


def preprocess_pil(path, resize=256, crop=224):
    """Load a photo as RGB, shorter side to `resize` (bilinear), centre crop `crop`: uint8 HWC.
    Sizes and crop offsets follow torchvision's Resize(int) + CenterCrop on PIL images."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            nw, nh = resize, int(resize * h / w)
        else:
            nw, nh = int(resize * w / h), resize
        im = im.resize((nw, nh), Image.BILINEAR)
        top = int(round((nh - crop) / 2.0))
        left = int(round((nw - crop) / 2.0))
        im = im.crop((left, top, left + crop, top + crop))
        return np.asarray(im, dtype=np.uint8).copy()


def load_pretrained(path=PRETRAINED, num_classes=1000, **kwargs):
    """The model with the ImageNet weights (strict). With num_classes != 1000 the backbone is
    loaded strictly and `_fc` is a fresh nn.Linear(1280, num_classes)."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0(1000, **kwargs)
    model.load_state_dict(sd, strict=True)
    if num_classes != 1000:
        model._fc = nn.Linear(1280, num_classes)
    return model


def load_safetensors(path, classes=None):
    """A state dict exported by augtrain, loaded strictly. Only missing `num_batches_tracked`
    buffers (unused in eval) are tolerated: they are filled with 0 and reported."""
    from safetensors.torch import load_file
    sd = load_file(str(path))
    k = classes if classes is not None else sd["_fc.weight"].shape[0]
    model = EfficientNetLite0(k)
    expected = model.state_dict()
    filled = [n for n in expected if n.endswith("num_batches_tracked") and n not in sd]
    for n in filled:
        sd[n] = torch.zeros((), dtype=torch.int64)
    sd = {n: (t.to(expected[n].dtype) if n in expected else t) for n, t in sd.items()}
    model.load_state_dict(sd, strict=True)
    if filled:
        print(f"note: {len(filled)} num_batches_tracked buffers absent from {path}, filled with 0")
    return model


def categories():
    """ImageNet class names (torchvision ships them; no download)."""
    try:
        from torchvision.models import ResNet18_Weights
        return ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    except Exception:
        return None


@torch.no_grad()
def run(model, images, dtype, batch=16, want_features=False):
    """Logits (and features) for uint8 HWC images, in batches."""
    logits, feats = [], []
    for s in range(0, len(images), batch):
        x = to_input(images[s:s + batch], dtype)
        f = model.features(x)
        logits.append(model._fc(f))
        if want_features:
            feats.append(f)
    return torch.cat(logits), (torch.cat(feats) if want_features else None)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", type=Path, help="folder of photos: print top-5 classes")
    p.add_argument("--inputs", type=Path, help="uint8 [N,224,224,3] .npy, already preprocessed")
    p.add_argument("--out", type=Path, help="write the results as JSON")
    p.add_argument("--features", action="store_true", help="also write the 1280-d features")
    p.add_argument("--weights", type=Path, default=PRETRAINED, help="the .pth state dict")
    p.add_argument("--safetensors", type=Path, help="augtrain's exported state dict instead")
    p.add_argument("--classes", type=int, help="K of the safetensors _fc (default: from the file)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--self-check", action="store_true", help="mode (a) on the 10 photos, asserted")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    if a.self_check and a.photos is None:
        a.photos = DATA / "photos"
    if (a.photos is None) == (a.inputs is None):
        p.error("give exactly one of --photos, --inputs (or --self-check)")

    if a.safetensors:
        model = load_safetensors(a.safetensors, a.classes)
        source = str(a.safetensors)
    else:
        model = load_pretrained(a.weights)
        source = str(a.weights)
        print(f"loaded {a.weights.name} with load_state_dict(strict=True): "
              f"{len(model.state_dict())} tensors, "
              f"{sum(t.numel() for t in model.parameters()):,} parameters")
    model = model.to(dtype).eval()
    names = categories() if model._fc.out_features == 1000 else None
    k = min(5, model._fc.out_features)

    if a.photos:
        files = sorted(f for f in a.photos.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
        images = np.stack([preprocess_pil(f) for f in files])
        ids = [f.name for f in files]
    else:
        images = np.load(a.inputs)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
            sys.exit(f"{a.inputs}: expected uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
        ids = list(range(len(images)))

    logits, feats = run(model, images, dtype, want_features=a.features)
    rows = []
    for i, ident in enumerate(ids):
        top = torch.topk(logits[i], k)
        row = {"image": ident,
               "sha256": hashlib.sha256(np.ascontiguousarray(images[i]).tobytes()).hexdigest(),
               "top5": top.indices.tolist(),
               "logits": logits[i].double().tolist()}
        if feats is not None:
            row["features"] = feats[i].double().tolist()
        rows.append(row)
        label = ", ".join(f"{c}" + (f" {names[c]}" if names else "") + f" ({v:.2f})"
                          for c, v in zip(top.indices.tolist(), top.values.tolist()))
        print(f"{str(ident):<24} top-{k}: {label}")

    if a.out:
        out = {"model": "EfficientNet-Lite0 (tools/efficientnet_lite_reference.py)",
               "weights": source, "dtype": a.dtype, "torch": torch.__version__,
               "input": "uint8 HWC RGB -> (x - 127) / 128, NCHW",
               "images": rows}
        a.out.write_text(json.dumps(out))
        print(f"wrote {a.out} ({len(rows)} images)")

    if a.self_check:
        top1 = {r["image"].rsplit(".", 1)[0]: r["top5"][0] for r in rows}
        checks = [("chelsea", lambda c: 281 <= c <= 285, "281..285 (cats)"),
                  ("coffee", lambda c: c == 967, "967 (espresso)"),
                  ("rocket", lambda c: c == 657, "657 (missile)")]
        ok = True
        for name, test, want in checks:
            got = top1.get(name)
            good = got is not None and test(got)
            ok &= good
            print(f"self-check {name}: top-1 {got}, want {want}: {'ok' if good else 'FAILED'}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
