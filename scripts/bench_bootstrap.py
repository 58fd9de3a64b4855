"""Time the vectorised class-stratified bootstrap against a plain per-resample loop.

    python scripts/bench_bootstrap.py [--n 10000] [--resamples 1000] [--classes 2]

Both compute MCC, balanced accuracy, AUROC and per-class sensitivity, specificity and
precision on the same 1,000 resamples of 10,000 predictions; the baseline calls medtorch's
NumPy ``classification_metrics`` once per resample. Prints both times, the ratio, and the
largest difference between the two sets of intervals.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from medtorch.evaluation.bootstrap import bootstrap_cis, resample_indices
from medtorch.evaluation.metrics import classification_metrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--classes", type=int, default=2)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    y = rng.integers(0, a.classes, a.n)
    logits = rng.normal(size=(a.n, a.classes))
    logits[np.arange(a.n), y] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = [f"c{j}" for j in range(a.classes)]

    classification_metrics(y, probs, classes)  # warm up: import SciPy before either timing
    t0 = time.perf_counter()
    fast = bootstrap_cis(y, probs, classes, a.resamples, seed=0)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    vals = {"mcc": [], "balanced_accuracy": [], "auroc": []}
    for idx in resample_indices(y, a.resamples, 0):
        m = classification_metrics(y[idx], probs[idx], classes)
        for k in vals:
            vals[k].append(m[k])
    slow = {k: np.percentile(v, [2.5, 97.5]) for k, v in vals.items()}
    t_slow = time.perf_counter() - t0

    diff = max(abs(fast[k]["lower"] - slow[k][0]) + abs(fast[k]["upper"] - slow[k][1]) for k in vals)
    print(f"{a.resamples} resamples of {a.n} predictions, {a.classes} classes")
    print(f"medtorch vectorised bootstrap_cis : {t_fast:7.2f} s")
    print(f"plain loop of classification_metrics: {t_slow:7.2f} s")
    print(f"ratio (loop / vectorised)          : {t_slow / t_fast:7.1f}x   max interval difference {diff:.2e}")


if __name__ == "__main__":
    main()
