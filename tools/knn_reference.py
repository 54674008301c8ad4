"""NumPy/BLAS reference for augtrain's exact k-NN (crates/augtrain-quality/examples/knn_scale.rs).

Same job: n random Gaussian rows of `dim` values, L2-normalized float32; for each row its k most
similar other rows by cosine similarity, computed blockwise as `A[block] @ A.T` (BLAS sgemm), the
row itself excluded (its similarity set to -inf), `np.argpartition` for the top k, then sorted.
The random rows differ from the Rust example's (different generators); timing does not depend on
the values. Threads: BLAS threads are set through the environment before numpy is imported.

    /work/venv/bin/python tools/knn_reference.py --n 10000 --dim 1280 --k 10 --threads 2

Prints one JSON line: {"n", "dim", "k", "seconds", "peak_rss_mb", "threads", "block"}; seconds
covers the search only, peak_rss_mb is the process's peak resident memory in MiB.
"""

import argparse
import json
import os
import resource
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=1_280)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--block", type=int, default=1024, help="query rows per A[block] @ A.T")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    assert "numpy" not in sys.modules
    import numpy as np

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = min(args.k, args.n - 1)

    start = time.perf_counter()
    indices = np.empty((args.n, k), dtype=np.int64)
    sims = np.empty((args.n, k), dtype=np.float32)
    for q0 in range(0, args.n, args.block):
        q1 = min(q0 + args.block, args.n)
        s = x[q0:q1] @ x.T
        s[np.arange(q1 - q0), np.arange(q0, q1)] = -np.inf
        part = np.argpartition(s, -k, axis=1)[:, -k:]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        indices[q0:q1] = np.take_along_axis(part, order, axis=1)
        sims[q0:q1] = np.take_along_axis(top, order, axis=1)
    seconds = time.perf_counter() - start

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"n": args.n, "dim": args.dim, "k": k, "seconds": round(seconds, 3),
                      "peak_rss_mb": round(peak, 1), "threads": args.threads,
                      "block": args.block}))


if __name__ == "__main__":
    main()
