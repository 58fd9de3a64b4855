"""Forest plots (MCC with CI per group) and reliability diagrams (one line per class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medtorch.figures import pyplot, save_png


def plot_forest(table: dict[str, Any], overall: dict[str, Any], path: Path, title: str) -> Path:
    plt = pyplot()
    cells = table["cells"]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(cells)))
    for i, c in enumerate(cells):
        m = c["mcc"]
        y = len(cells) - 1 - i
        colour = "grey" if c["small_n"] else "black"
        if m["lower"] is not None and not np.isnan(m["lower"]):
            ax.plot([m["lower"], m["upper"]], [y, y], color=colour)
        ax.plot([m["estimate"]], [y], "s", color=colour)
    ax.axvline(overall["estimate"], color="tab:blue", linestyle="--", label=f"overall {overall['estimate']:.3f}")
    ax.set_yticks(range(len(cells)), labels=[f"{c['group']} (n={c['n']}{', small' if c['small_n'] else ''})" for c in reversed(cells)])
    ax.set_xlabel("MCC with confidence interval")
    ax.set_xlim(-1.05, 1.05)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


def plot_reliability(calib: dict[str, Any], classes: Sequence[str], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for c in classes:
        r = calib["per_class"][c]
        pred, obs = np.asarray(r["mean_predicted"], dtype=float), np.asarray(r["observed"], dtype=float)
        ok = ~np.isnan(pred)
        ax.plot(pred[ok], obs[ok], marker="o", label=f"{c} (ECE {r['ece']:.3f})")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed share of the class")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


def plot_distribution(values: dict[str, list[float]], path: Path, title: str) -> Path:
    """One strip of per-fold values per metric, with mean and +-1 SD."""
    plt = pyplot()
    names = list(values)
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(names) + 2), 4.5))
    for i, name in enumerate(names):
        v = np.asarray([x for x in values[name] if x is not None], dtype=float)
        v = v[~np.isnan(v)]
        if not v.size:
            continue
        ax.plot(np.full(v.size, i), v, "o", alpha=0.7, color="tab:blue")
        ax.errorbar([i + 0.2], [v.mean()], yerr=[v.std(ddof=1) if v.size > 1 else 0], fmt="s", color="black")
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    ax.set_ylabel("value per fold (square: mean +- SD)")
    ax.set_title(title)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)
