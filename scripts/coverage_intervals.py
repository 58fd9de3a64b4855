"""Coverage of medtorch's intervals, measured against known truth.

    python scripts/coverage_intervals.py [--sims 1000] [--n 300] [--resamples 1000] [--seed 0]

1. Proportions (exact, no simulation): the coverage of the Wilson and Clopper-Pearson
   intervals for every n from 20 to 2,000, over p in [0.05, 0.95] (181 values).
2. Bootstrap (simulation): ``--sims`` data sets of ``--n`` rows from a binormal model whose
   MCC, balanced accuracy and AUROC are known exactly; each gets medtorch's interval (BCa
   where stable, class-stratified row bootstrap); the share of intervals that contain the
   truth should be 95% within 3 Monte Carlo standard errors.
3. Clustered rows (simulation): 5 rows per subject that share a subject effect; the row
   bootstrap and the subject-level bootstrap on the same data sets.

Prints one table per part; the README quotes its output.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import norm

from medtorch.evaluation.bootstrap import bootstrap_cis
from medtorch.evaluation.metrics import auroc, balanced_accuracy, confusion_matrix, mcc
from medtorch.evaluation.proportions import exact_coverage

PREVALENCE, SEPARATION, THRESHOLD = 0.4, 1.5, 0.75  # class 1 share; mean score shift; predict 1 above


def truth_binormal() -> dict[str, float]:
    """Exact population metrics of the binormal model: score ~ N(SEPARATION * y, 1), predicted 1 above THRESHOLD."""
    sens, spec = 1 - norm.cdf(THRESHOLD - SEPARATION), norm.cdf(THRESHOLD)
    p = PREVALENCE
    cm = np.array([[(1 - p) * spec, (1 - p) * (1 - spec)], [p * (1 - sens), p * sens]])
    return {"mcc": mcc(cm), "balanced_accuracy": (sens + spec) / 2, "auroc": float(norm.cdf(SEPARATION / np.sqrt(2)))}


def binormal(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < PREVALENCE).astype(np.intp)
    score = SEPARATION * y + rng.normal(size=n) - THRESHOLD
    p1 = 1 / (1 + np.exp(-score))
    return y, np.c_[1 - p1, p1]


def clustered(subjects: int, per: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels share a subject propensity, scores a subject offset: a subject's rows are right or wrong together."""
    u, offset = rng.normal(0, 1.5, subjects), rng.normal(0, 1.0, subjects)
    sid = np.repeat(np.arange(subjects), per)
    y = (u[sid] + rng.normal(0, 0.5, len(sid)) > 0).astype(np.intp)
    score = SEPARATION * y - SEPARATION / 2 + offset[sid] + rng.normal(0, 0.4, len(sid))
    p1 = 1 / (1 + np.exp(-score))
    return y, np.c_[1 - p1, p1], sid


def truth_clustered(rng, rows: int = 2_000_000) -> dict[str, float]:
    """The population metrics of the clustered model, from one very large sample (one row per subject)."""
    y, probs, _ = clustered(rows, 1, rng)
    cm = confusion_matrix(y, probs.argmax(axis=1), 2)
    return {"mcc": mcc(cm), "balanced_accuracy": balanced_accuracy(cm), "auroc": auroc(y, probs)}


def exact_part() -> None:
    p = np.linspace(0.05, 0.95, 181)
    t = time.perf_counter()
    for method in ("wilson", "clopper_pearson"):
        covs = [exact_coverage(n, p, 0.95, method) for n in range(20, 2001)]
        means, mins = np.array([c.mean() for c in covs]), np.array([c.min() for c in covs])
        print(f"  {method:<16} mean coverage over p: {means.min():.4f} .. {means.max():.4f}   "
              f"minimum over n and p: {mins.min():.4f} (n={20 + int(mins.argmin())})")
    print(f"  ({time.perf_counter() - t:.1f} s for n = 20..2000, 181 values of p)")


def simulate(make, truth: dict[str, float], sims: int, resamples: int, seed: int, kinds) -> dict[str, dict[str, float]]:
    hits = {k: {m: 0 for m in truth} for k in kinds}
    width = {k: {m: 0.0 for m in truth} for k in kinds}
    bca = {k: 0 for k in kinds}
    rng = np.random.default_rng(seed)
    for s in range(sims):
        data = make(rng)
        for kind in kinds:
            subjects = data[2] if kind == "subjects" else None
            ci = bootstrap_cis(data[0], data[1], ["0", "1"], resamples, seed=s, subjects=subjects)
            for m, v in truth.items():
                hits[kind][m] += ci[m]["lower"] <= v <= ci[m]["upper"]
                width[kind][m] += (ci[m]["upper"] - ci[m]["lower"]) / sims
            bca[kind] += ci["mcc"]["method"] == "bca"
    se = np.sqrt(0.95 * 0.05 / sims)
    print(f"  {sims} data sets; Monte Carlo SE {se:.4f}; 95% +- 3 SE = [{0.95 - 3 * se:.3f}, {0.95 + 3 * se:.3f}]")
    for kind in kinds:
        for m in truth:
            cov = hits[kind][m] / sims
            ok = "within" if abs(cov - 0.95) <= 3 * se else "OUTSIDE"
            print(f"  {kind:<9} {m:<18} truth {truth[m]:.4f}  coverage {cov:.3f} ({ok} 3 SE)  mean width {width[kind][m]:.3f}")
        print(f"  {kind:<9} BCa used for MCC in {bca[kind]}/{sims} data sets (percentile otherwise)")
    return hits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if min(a.sims, a.n, a.resamples) < 1:
        ap.error("--sims, --n and --resamples must be at least 1")
    print("1. Proportions, exact coverage (nominal 95%)")
    exact_part()
    t = time.perf_counter()
    print(f"\n2. Bootstrap, binormal model, n={a.n} rows, {a.resamples} resamples, BCa where stable")
    simulate(lambda rng: binormal(a.n, rng), truth_binormal(), a.sims, a.resamples, a.seed, ["rows"])
    subjects = max(a.n // 5, 2)
    print(f"\n3. Clustered rows: {subjects} subjects x 5 rows; row bootstrap vs subject-level bootstrap")
    truth = truth_clustered(np.random.default_rng(a.seed + 12345))
    simulate(lambda rng: clustered(subjects, 5, rng), truth, a.sims, a.resamples, a.seed + 1, ["rows", "subjects"])
    print(f"\n({time.perf_counter() - t:.0f} s of simulation)")


if __name__ == "__main__":
    main()
