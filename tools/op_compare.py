#!/usr/bin/env python3
"""Join augtrain's per-op timings (`augtrain bench ops --json BURN`) and PyTorch's
(`tools/torch_op_bench.py --json TORCH`) on the cases of tools/op_cases.json into a Markdown
table: per case burn ms, PyTorch ms, ratio (PyTorch time / burn time: above 1 means augtrain is
faster), and per model and direction the sums weighted by each case's `uses`.

  python3 tools/op_compare.py BURN.json TORCH.json [--cases tools/op_cases.json] [--top N]

Run both benches back to back on the same idle machine; only same-run ratios mean anything.
"""
import argparse
import json
from collections import defaultdict
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("burn", type=Path)
    ap.add_argument("torch", type=Path)
    ap.add_argument("--cases", type=Path, default=Path(__file__).parent / "op_cases.json")
    ap.add_argument("--top", type=int, default=0, help="also list the N cases that cost most")
    a = ap.parse_args()
    cases = {c["name"]: c for c in json.loads(a.cases.read_text())["cases"]}
    burn = {m["name"]: m["stats"]["median"] for m in json.loads(a.burn.read_text())["measurements"]
            if m["group"] == "ops"}
    torch = {r["case"]: r["seconds_median"] for r in json.loads(a.torch.read_text())["rows"]}
    names = [n for n in cases if n in burn and n in torch]
    sums = defaultdict(lambda: [0.0, 0.0])
    print("| case | uses | augtrain (burn) ms | PyTorch ms | PyTorch / augtrain |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n in names:
        u = cases[n]["uses"]
        b, t = burn[n], torch[n]
        key = (cases[n]["model"], cases[n]["kind"], cases[n]["direction"])
        sums[key][0] += u * b
        sums[key][1] += u * t
        print(f"| `{n}` | {u} | {b * 1e3:.3f} | {t * 1e3:.3f} | {t / b:.2f}x |")
    print()
    print("| model | op | direction | augtrain ms (sum of uses x median) | PyTorch ms | PyTorch / augtrain |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for (model, kind, direction), (b, t) in sorted(sums.items()):
        print(f"| {model} | {kind} | {direction} | {b * 1e3:.2f} | {t * 1e3:.2f} | {t / b:.2f}x |")
    if a.top:
        print()
        cost = sorted(names, key=lambda n: -(burn[n] - torch[n]) * cases[n]["uses"])
        print(f"The {a.top} cases where augtrain loses most time (uses x (augtrain - PyTorch)):")
        for n in cost[:a.top]:
            u = cases[n]["uses"]
            print(f"- `{n}`: {u} x ({burn[n] * 1e3:.2f} - {torch[n] * 1e3:.2f}) ms")


if __name__ == "__main__":
    main()
