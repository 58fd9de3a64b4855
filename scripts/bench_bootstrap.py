"""Time the vectorised bootstrap: row-level vs subject-level, and against a plain per-resample loop.

    python scripts/bench_bootstrap.py [--n 10000] [--resamples 1000] [--classes 2] [--rows-per-subject 5]

All compute MCC, balanced accuracy and AUROC on 1,000 resamples of the same 10,000 predictions:

- row-level: medtorch's class-stratified row bootstrap (``bootstrap_values`` on row indices);
- subject-level: medtorch's cluster bootstrap over 2,000 subjects of 5 rows (subject draws times
  each subject's count tables);
- plain loop: medtorch's NumPy ``classification_metrics`` once per row resample (the baseline
  the vectorised code replaces).

Intervals themselves (BCa: the jackknife and quantiles) are timed separately with ``bootstrap_cis``.
Prints the times and the ratios subject-level / row-level (target: at most 1.5) and loop / vectorised.

    python scripts/bench_bootstrap.py --run RUN_DIR

times, on a finished run's validation predictions, what the intervals cost that run: the
assessment's intervals (``bootstrap_cis`` with the run's settings) and the transparent
comparison (logistic fit over the C grid and the paired bootstrap), against the run's wall time
(the manifest: started to finished).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from medtorch.evaluation.bootstrap import Resampling, bootstrap_cis, bootstrap_values, resample_indices
from medtorch.evaluation.metrics import classification_metrics


def _best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--rows-per-subject", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run", help="a finished run: time its intervals against its wall time")
    a = ap.parse_args()
    if a.run:
        return run_overhead(a.run)
    if min(a.n, a.resamples, a.classes - 1, a.rows_per_subject, a.repeats) < 1:
        ap.error("--n, --resamples, --rows-per-subject and --repeats must be at least 1, --classes at least 2")
    rng = np.random.default_rng(0)
    y = rng.integers(0, a.classes, a.n)
    logits = rng.normal(size=(a.n, a.classes))
    logits[np.arange(a.n), y] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    subjects = np.arange(a.n) // a.rows_per_subject
    classes = [f"c{j}" for j in range(a.classes)]
    classification_metrics(y, probs, classes)  # warm up: import SciPy before any timing

    rows = Resampling(y, a.resamples, 0)
    subj = Resampling(y, a.resamples, 0, subjects=subjects)
    t_rows = _best_of(a.repeats, lambda: (resample_indices(y, a.resamples, 0), bootstrap_values(y, probs, rows)))
    t_subj = _best_of(a.repeats, lambda: (Resampling(y, a.resamples, 0, subjects=subjects), bootstrap_values(y, probs, subj)))
    t_ci_rows = _best_of(a.repeats, lambda: bootstrap_cis(y, probs, classes, a.resamples, 0))
    t_ci_subj = _best_of(a.repeats, lambda: bootstrap_cis(y, probs, classes, a.resamples, 0, subjects=subjects))

    t0 = time.perf_counter()
    vals = {"mcc": [], "balanced_accuracy": [], "auroc": []}
    for idx in rows.idx:
        m = classification_metrics(y[idx], probs[idx], classes)
        for k in vals:
            vals[k].append(m[k])
    t_loop = time.perf_counter() - t0
    fast = bootstrap_values(y, probs, rows)
    diff = max(float(np.max(np.abs(np.asarray(vals[k]) - fast[k]))) for k in vals)

    units = len(np.unique(subjects))
    print(f"{a.resamples} resamples of {a.n} predictions, {a.classes} classes, {units} subjects of {a.rows_per_subject} rows "
          f"(best of {a.repeats})")
    print(f"row-level bootstrap (resample + metrics)     : {t_rows:7.3f} s")
    print(f"subject-level bootstrap (resample + metrics) : {t_subj:7.3f} s")
    print(f"ratio subject-level / row-level              : {t_subj / t_rows:7.2f}x   (target <= 1.5x)")
    print(f"bootstrap_cis, rows (BCa, jackknife, quantiles)     : {t_ci_rows:7.3f} s")
    print(f"bootstrap_cis, subjects (BCa, jackknife, quantiles) : {t_ci_subj:7.3f} s   ratio {t_ci_subj / t_ci_rows:.2f}x")
    print(f"plain loop of classification_metrics (rows)  : {t_loop:7.2f} s")
    print(f"ratio loop / vectorised row-level            : {t_loop / t_rows:7.1f}x   max metric difference {diff:.1e}")


def run_overhead(run_dir: str) -> None:
    from datetime import datetime
    from pathlib import Path

    import pandas as pd

    from medtorch.explain.rows import inputs_for_run
    from medtorch.explain.explanation import _compare
    from medtorch.loading import load_run
    from medtorch.run import RunDir, read_json

    root = Path(run_dir)
    man, cfg = read_json(RunDir(root).manifest), load_run(root).config
    wall = (datetime.fromisoformat(man["finished_utc"].replace("Z", "+00:00"))
            - datetime.fromisoformat(man["started_utc"].replace("Z", "+00:00"))).total_seconds()
    pred = pd.read_csv(RunDir(root).predictions("val"))
    classes = read_json(RunDir(root).model_spec)["classes"]
    y = pred["true_label"].map({c: j for j, c in enumerate(classes)}).to_numpy()
    probs = pred[[f"prob_{c}" for c in classes]].to_numpy()
    ev = cfg["evaluation"]
    t_ci = _best_of(3, lambda: bootstrap_cis(y, probs, classes, int(ev["bootstrap_resamples"]), int(cfg["seed"]),
                                            float(ev["confidence"])))
    loaded = load_run(root)
    inputs = inputs_for_run(loaded, "val")
    settings = {**cfg["explain"], "transparent": ["logistic"]}
    t_cmp = _best_of(3, lambda: _compare(inputs, loaded.network, settings, None))
    print(f"run {root}: wall time {wall:.1f} s (manifest), {len(y)} validation rows")
    print(f"assessment intervals (bootstrap_cis)       : {t_ci:6.3f} s = {100 * t_ci / wall:5.2f}% of the run")
    print(f"transparent comparison (logistic + paired) : {t_cmp:6.3f} s = {100 * t_cmp / wall:5.2f}% of the run")


if __name__ == "__main__":
    main()
