#!/usr/bin/env python3
"""Per-operation CPU timings in PyTorch for the cases of tools/op_cases.json, the reference that
augtrain's own op bench (reading the same file) is compared against.

For every case (one layer shape of the LeNet-style CNN, ResNet-18 or EfficientNet-Lite0, and one
direction) it times exactly one kernel, with no autograd graph:
  conv2d   forward      F.conv2d (with the bias when the case has one)
           input_grad   torch.nn.grad.conv2d_input    (aten.convolution_backward, dL/dx only)
           weight_grad  torch.nn.grad.conv2d_weight   (aten.convolution_backward, dL/dw only)
  pool     forward      F.max_pool2d / F.avg_pool2d
           backward     aten.max_pool2d_with_indices_backward / aten.avg_pool2d_backward
  linear   forward      F.linear (with bias)
           backward     dL/dx = gy W, dL/dW = gy^T x, dL/db = sum gy (three calls, timed together)
  batchnorm forward     F.batch_norm in training mode (batch statistics, running-stat update)
           backward     aten.native_batch_norm_backward (dL/dx, dL/dgamma, dL/dbeta)
Inputs are random float32 NCHW tensors (seeded). Timing: one untimed call, a calibration call
that sets how many calls make one sample (at least --min-sample seconds, 0.1 s by default), one
warm-up sample, then --reps timed samples; per-call seconds = sample / calls. Reported: median
and min per call, and for conv and linear the work (gflop) and rate (gflops = GFLOP/s at the
median; a conv's three directions each count 2*N*Cout*Hout*Wout*Cin/groups*k*k).
EfficientNet's TF-SAME padding is approximated by symmetric padding (see op_cases.json notes).
A summary adds, per model and direction, the sum of uses x median over the model's cases.

Run (from the repository root):
  /work/venv/bin/python tools/torch_op_bench.py --json torch_ops.json              # all cases
  /work/venv/bin/python tools/torch_op_bench.py --filter 'lenet' --reps 3           # a subset
Flags: --cases FILE (default tools/op_cases.json), --filter REGEX (on case names), --reps N
(default 7), --min-sample S (0.1), --threads N (2), --seed N (0), --json OUT.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
SHAPE_KEYS = ["batch", "in_channels", "out_channels", "height", "width", "kernel", "stride",
              "padding", "groups"]


def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def conv_flop(c):
    ho = out_size(c["height"], c["kernel"], c["stride"], c["padding"])
    wo = out_size(c["width"], c["kernel"], c["stride"], c["padding"])
    return (2.0 * c["batch"] * c["out_channels"] * ho * wo
            * (c["in_channels"] // c["groups"]) * c["kernel"] ** 2)


def build(c, gen):
    """(callable running the case once, op label, flop count or None) for one case."""
    rnd = lambda *shape: torch.randn(*shape, generator=gen)
    n, ci, co, h, w = c["batch"], c["in_channels"], c["out_channels"], c["height"], c["width"]
    k, s, p, g = c["kernel"], c["stride"], c["padding"], c["groups"]
    kind, d = c["kind"], c["direction"]

    if kind == "conv2d":
        x = rnd(n, ci, h, w)
        wt = rnd(co, ci // g, k, k) * (1.0 / math.sqrt(ci // g * k * k))
        b = rnd(co) if c.get("bias") else None
        gy = rnd(n, co, out_size(h, k, s, p), out_size(w, k, s, p))
        flop = conv_flop(c)
        if d == "forward":
            return (lambda: F.conv2d(x, wt, b, s, p, 1, g)), "aten.convolution", flop
        if d == "input_grad":
            return (lambda: torch.nn.grad.conv2d_input(x.shape, wt, gy, s, p, 1, g),
                    "aten.convolution_backward[input]", flop)
        if d == "weight_grad":
            return (lambda: torch.nn.grad.conv2d_weight(x, wt.shape, gy, s, p, 1, g),
                    "aten.convolution_backward[weight]", flop)

    if kind == "pool":
        x = rnd(n, ci, h, w)
        gy = rnd(n, ci, out_size(h, k, s, p), out_size(w, k, s, p))
        if c["pool"] == "max":
            if d == "forward":
                return (lambda: F.max_pool2d(x, k, s, p)), "aten.max_pool2d", None
            _, idx = torch.ops.aten.max_pool2d_with_indices(x, [k, k], [s, s], [p, p])
            return (lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                gy, x, [k, k], [s, s], [p, p], [1, 1], False, idx)), \
                "aten.max_pool2d_with_indices_backward", None
        if d == "forward":
            return (lambda: F.avg_pool2d(x, k, s, p)), "aten.avg_pool2d", None
        return (lambda: torch.ops.aten.avg_pool2d_backward(
            gy, x, [k, k], [s, s], [p, p], False, True, None)), "aten.avg_pool2d_backward", None

    if kind == "linear":
        x, wt, b, gy = rnd(n, ci), rnd(co, ci) / math.sqrt(ci), rnd(co), rnd(n, co)
        flop = 2.0 * n * ci * co
        if d == "forward":
            return (lambda: F.linear(x, wt, b)), "aten.addmm", flop

        def backward():
            return gy @ wt, gy.t() @ x, gy.sum(0)
        return backward, "aten.mm x2 + sum", 2 * flop

    if kind == "batchnorm":
        eps = c.get("eps", 1e-5)
        x, gamma, beta = rnd(n, ci, h, w), 1 + 0.1 * rnd(ci), 0.1 * rnd(ci)
        rm, rv = torch.zeros(ci), torch.ones(ci)
        if d == "forward":
            return (lambda: F.batch_norm(x, rm, rv, gamma, beta, True, 0.1, eps)), \
                "aten.native_batch_norm[train]", None
        gy = rnd(n, ci, h, w)
        _, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, eps)
        return (lambda: torch.ops.aten.native_batch_norm_backward(
            gy, x, gamma, rm, rv, mean, invstd, True, eps, [True, True, True])), \
            "aten.native_batch_norm_backward", None

    raise ValueError(f"case {c['name']}: unknown kind/direction {kind}/{d}")


def measure(fn, reps, min_sample):
    """(median, min, calls per sample) of the per-call seconds of fn."""
    fn()  # first call: allocations, lazy initialisation
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-9)
    calls = max(1, math.ceil(min_sample / once))

    def sample():
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t) / calls

    sample()  # warm-up
    times = [sample() for _ in range(reps)]
    return statistics.median(times), min(times), calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=Path, default=HERE / "op_cases.json")
    ap.add_argument("--filter", default="", help="regex on case names")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--min-sample", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    cases = [c for c in json.loads(a.cases.read_text())["cases"] if re.search(a.filter, c["name"])]
    if not cases:
        sys.exit(f"no case of {a.cases} matches {a.filter!r}")
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(cases)} cases, "
          f"{a.reps} samples of >= {a.min_sample} s each")
    print(f"{'case':<58} {'median ms':>10} {'min ms':>10} {'GFLOP/s':>8}")
    with torch.no_grad():
        for i, c in enumerate(cases):
            gen = torch.Generator().manual_seed(a.seed * 100003 + i)
            fn, op, flop = build(c, gen)
            med, mn, calls = measure(fn, a.reps, a.min_sample)
            del fn  # free the case's tensors before the next one
            rate = flop / med / 1e9 if flop else None
            rows.append({"case": c["name"], "op": op, "model": c["model"], "kind": c["kind"],
                         "direction": c["direction"], "uses": c.get("uses", 1),
                         "shape": {k: c[k] for k in SHAPE_KEYS},
                         "seconds_median": med, "seconds_min": mn, "samples": a.reps,
                         "calls_per_sample": calls,
                         "gflop": flop / 1e9 if flop else None, "gflops": rate})
            print(f"{c['name']:<58} {med * 1e3:>10.3f} {mn * 1e3:>10.3f} "
                  f"{'' if rate is None else f'{rate:8.1f}':>8}", flush=True)

    # Per model and direction: sum of uses x median (what one pass of those kernels costs).
    totals = {}
    for r in rows:
        key = f"{r['model']}.{r['direction']}"
        totals[key] = totals.get(key, 0.0) + r["uses"] * r["seconds_median"]
    print("\nper model and direction, sum of uses x median over the cases run:")
    for key, t in totals.items():
        print(f"  {key:<40} {t * 1e3:10.2f} ms")

    if a.json:
        meta = {"tool": "tools/torch_op_bench.py", "cases_file": str(a.cases), "filter": a.filter,
                "torch": torch.__version__, "threads": torch.get_num_threads(),
                "machine": platform.machine(), "processor": platform.processor(),
                "cpu_count": os.cpu_count(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "reps": a.reps, "min_sample_seconds": a.min_sample, "seed": a.seed,
                "gflops": "GFLOP/s at the median (conv2d and linear only)"}
        a.json.write_text(json.dumps({"meta": meta, "rows": rows, "totals_seconds": totals},
                                     indent=1))
        print(f"wrote {a.json} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
