"""Forest plots (MCC with CI per group) and reliability diagrams (one line per class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medtorch.figures import save_png, subplots


def plot_forest(table: dict[str, Any], overall: dict[str, Any], path: Path, title: str) -> Path:
    cells = table["cells"]
    fig, ax = subplots(figsize=(7, 1.2 + 0.45 * len(cells)))
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # outside the axes: never over an interval
    fig.tight_layout()
    return save_png(fig, path, dpi=110, bbox_inches="tight")


def plot_reliability(calib: dict[str, Any], classes: Sequence[str], path: Path, title: str) -> Path:
    """Quantile bins of at least 10 rows (``calibration.quantile_bins``): each point is one bin at
    its mean predicted probability, with its Wilson interval and its n written beside it. With
    two classes one curve says everything (the other is its mirror image), so only the first is drawn."""
    fig, ax = subplots(figsize=(6.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    diagram = calib.get("diagram_bins") or {}
    shown = list(classes)[:1] if len(classes) == 2 else list(classes)
    for c in shown:
        d = diagram.get(c)
        if not d:
            continue
        pred, obs = np.asarray(d["mean_predicted"]), np.asarray(d["observed"])
        err = np.clip(np.vstack([obs - np.asarray(d["lower"]), np.asarray(d["upper"]) - obs]), 0.0, None)  # float noise at 0 and 1
        line = ax.errorbar(pred, obs, yerr=err, marker="o", capsize=3,
                           label=f"{c} (ECE {calib['per_class'][c]['ece']:.3f}, {len(pred)} bins)")
        for x, yv, n in zip(pred, obs, d["n"]):
            ax.annotate(f"n={n}", (x, yv), textcoords="offset points", xytext=(5, -11), fontsize=7,
                        color=line[0].get_color())
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("mean predicted probability (quantile bins of at least 10 rows)")
    ax.set_ylabel("observed share of the class (95% Wilson interval)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: never over a point
    fig.tight_layout()
    return save_png(fig, path, dpi=110, bbox_inches="tight")


def plot_distribution(values: dict[str, list[float]], path: Path, title: str) -> Path:
    """One strip of per-fold values per metric, with mean and +-1 SD."""
    names = list(values)
    fig, ax = subplots(figsize=(max(5, 1.1 * len(names) + 2), 4.5))
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
