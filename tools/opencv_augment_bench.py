#!/usr/bin/env python3
"""Benchmark (not a test): the CPU augmentation target pipeline written by hand with OpenCV, the
reference for `augtrain bench augment --device cpu`'s "224x224 RGB full pipeline" case.

Per image, as augtrain's benchmark pipeline (src/bench/augment.rs, `full_pipeline`):
horizontal flip (p = 0.5) -> rotate by U(-15, 15) degrees about the centre, bilinear, constant
border 0 (cv2.warpAffine) -> random resized crop (scale U(0.5, 1), log-uniform aspect ratio in
[3/4, 4/3], as torchvision) resized back to 224x224 bilinear (cv2.resize) -> f32 -> additive
gaussian noise, sigma U(0.01, 0.05) of the [0, 1] range, clipped -> scaled to [0, 1] and
normalized with the ImageNet mean / std into one f32 NCHW batch. 256 random 224x224x3 u8
images. Every batch is timed whole; the median and range are printed.

Two threads, two ways (`--mode`):
- `pool` (default, the faster here): the batch split over 2 Python threads (OpenCV and numpy
  release the GIL), each op single-threaded (cv2.setNumThreads(1)), noise from cv2.randn (each
  thread has its own OpenCV generator).
- `serial`: one Python thread, OpenCV's own threads (cv2.setNumThreads(2)), noise from
  numpy's generator (`rng.standard_normal`, float32).

Run: /work/venv/bin/python tools/opencv_augment_bench.py [--mode pool|serial] [batches] [batch size]
"""
import math
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

SIDE, CHANNELS, THREADS = 224, 3, 2
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
# v / 255 normalized = v * SCALE + BIAS, v on the 0..255 scale.
SCALE = (1.0 / (255.0 * STD)).astype(np.float32)
BIAS = (-MEAN / STD).astype(np.float32)


def crop_window(rng, w, h):
    """A random resized crop window (x, y, cw, ch), torchvision's rule with scale [0.5, 1]."""
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(0.5, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw = int(round(math.sqrt(target * ratio)))
        ch = int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)), cw, ch
    return 0, 0, w, h


def geometry(img, rng):
    """Flip, rotate, random resized crop: a 224x224x3 u8 image."""
    if rng.random() < 0.5:
        img = cv2.flip(img, 1)
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), rng.uniform(-15.0, 15.0), 1.0)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    x, y, cw, ch = crop_window(rng, w, h)
    return cv2.resize(img[y:y + ch, x:x + cw], (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)


def finish(v, noise, out):
    """Add `noise` to `v` (f32 HWC, 0..255 scale), clip, normalize, write CHW into `out`."""
    cv2.add(v, noise, dst=v)
    np.clip(v, 0.0, 255.0, out=v)
    v *= SCALE
    v += BIAS
    out[...] = v.transpose(2, 0, 1)


def augment_cv(img, rng, noise, out):
    """One image, noise from cv2.randn into the thread's buffer `noise`."""
    v = geometry(img, rng).astype(np.float32)
    cv2.randn(noise, 0.0, 255.0 * rng.uniform(0.01, 0.05))
    finish(v, noise, out)


def augment_np(img, rng, out):
    """One image, noise from numpy's generator."""
    v = geometry(img, rng).astype(np.float32)
    noise = rng.standard_normal(v.shape, dtype=np.float32)
    noise *= np.float32(255.0 * rng.uniform(0.01, 0.05))
    finish(v, noise, out)


def batch_pool(pool, images, out, rngs, noises):
    """The batch on THREADS Python threads, a contiguous share each."""
    n = len(images)

    def share(t):
        for i in range(t * n // THREADS, (t + 1) * n // THREADS):
            augment_cv(images[i], rngs[t], noises[t], out[i])

    list(pool.map(share, range(THREADS)))


def main():
    args = sys.argv[1:]
    mode = "pool"
    if args[:1] == ["--mode"]:
        mode, args = args[1], args[2:]
    batches = int(args[0]) if args else 9
    n = int(args[1]) if len(args) > 1 else 256
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (SIDE, SIDE, CHANNELS), dtype=np.uint8) for _ in range(n)]
    out = np.empty((n, CHANNELS, SIDE, SIDE), np.float32)
    if mode == "pool":
        cv2.setNumThreads(1)
        pool = ThreadPoolExecutor(THREADS)
        rngs = [np.random.default_rng(1 + t) for t in range(THREADS)]
        noises = [np.empty((SIDE, SIDE, CHANNELS), np.float32) for _ in range(THREADS)]
        run = lambda: batch_pool(pool, images, out, rngs, noises)  # noqa: E731
    elif mode == "serial":
        cv2.setNumThreads(THREADS)
        run = lambda: [augment_np(img, rng, out[i]) for i, img in enumerate(images)]  # noqa: E731
    else:
        sys.exit(f"unknown mode {mode}: use pool or serial")
    times = []
    for b in range(batches + 1):
        t = time.perf_counter()
        run()
        if b > 0:  # the first batch warms up
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"opencv full pipeline ({mode}) 224x224 RGB batch {n}: median {med * 1e3:.1f} ms "
          f"({min(times) * 1e3:.1f}-{max(times) * 1e3:.1f}), {n / med:.0f} images/s "
          f"(cv2 {cv2.__version__}, {THREADS} threads)")


if __name__ == "__main__":
    main()
