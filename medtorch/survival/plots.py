"""Survival plots: Kaplan-Meier curves with numbers at risk under the axis (per split, per subgroup,
per predicted risk group), calibration at each horizon, and the time-dependent AUC over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medtorch.artefacts import artefact
from medtorch.survival.km import kaplan_meier


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    import os

    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _plt().close(fig)
    return path


def km_plot(groups: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str, unit: str) -> Path:
    """Kaplan-Meier curve per group, numbers at risk at each tick under the axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2 + 0.25 * len(groups)))
    t_max = max((float(np.max(t)) for t, _ in groups.values() if len(t)), default=1.0)
    ticks = np.linspace(0, t_max, 6)
    rows = []
    for name, (t, e) in groups.items():
        if len(t) == 0:
            continue
        km = kaplan_meier(t, e)
        xs = np.concatenate([[0.0], km.times])
        ys = np.concatenate([[1.0], km.values])
        ax.step(xs, ys, where="post", label=f"{name} (n={len(t)}, events={int(np.sum(e))})")
        rows.append((name, [int((t >= x).sum()) for x in ticks]))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, t_max)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{x:.0f}" for x in ticks])
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("survival probability (Kaplan-Meier)")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    for k, (name, counts) in enumerate(rows):  # the numbers-at-risk table under the axis
        y = -0.22 - 0.07 * k
        ax.text(-0.07, y, name[:14], transform=ax.transAxes, ha="right", va="center", fontsize=8)
        for x, c in zip(ticks, counts):
            ax.text(x / t_max if t_max else 0, y, str(c), transform=ax.transAxes, ha="center", va="center", fontsize=8)
    ax.text(-0.07, -0.15, "at risk", transform=ax.transAxes, ha="right", va="center", fontsize=8, style="italic")
    return _save(fig, path)


def plot_assessment(result: dict, time, event, eta, baseline, censoring, cfg, out: Path, split: str) -> list[Path]:
    from medtorch.survival import metrics as SM

    plt = _plt()
    unit, dunit = cfg.evaluation.horizon_unit, cfg.data.duration_unit
    paths = []
    hs = result["horizons"]
    fig, axes = plt.subplots(1, len(hs), figsize=(4.2 * len(hs), 4), squeeze=False)
    for ax, h in zip(axes[0], hs):
        cal = h["calibration"]
        p = [c["predicted"] for c in cal]
        o = [c["observed"] for c in cal]
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.plot(p, o, "o-")
        top = max(max(p, default=0), max(o, default=0), 0.05) * 1.1
        ax.set_xlim(0, min(top, 1))
        ax.set_ylim(0, min(top, 1))
        ax.set_xlabel(f"predicted risk by {h['horizon']:g} {unit}")
        ax.set_ylabel("observed risk (Kaplan-Meier)")
        ax.set_title(f"{h['horizon']:g} {unit}: calibration per risk decile", fontsize=9)
    paths.append(_save(fig, out / artefact("survival_calibration_plot").file_name(split=split)))

    grid = np.quantile(np.asarray(time)[np.asarray(event) == 1], np.linspace(0.1, 0.9, 17))
    aucs = [SM.td_auc(time, event, eta, t, censoring) for t in grid]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, aucs, "o-")
    ax.axhline(0.5, ls="--", color="grey", lw=1)
    ax.set_xlabel(f"time ({dunit})")
    ax.set_ylabel("cumulative/dynamic AUC")
    ax.set_ylim(0.3, 1.0)
    ax.set_title(f"Time-dependent AUC ({split})")
    paths.append(_save(fig, out / artefact("survival_td_auc_plot").file_name(split=split)))

    k = int(cfg.survival.risk_groups)
    cuts = np.quantile(eta, np.linspace(0, 1, k + 1)[1:-1])
    group = np.searchsorted(cuts, eta, side="right")
    names = ["low risk", "middle risk", "high risk"] if k == 3 else [f"risk group {i + 1}" for i in range(k)]
    groups = {names[i]: (np.asarray(time)[group == i], np.asarray(event)[group == i]) for i in range(k)}
    paths.append(km_plot(groups, out / artefact("survival_risk_groups_plot").file_name(split=split),
                         f"Kaplan-Meier by predicted risk group ({split}; groups by risk-score {k}-tiles)", dunit))
    return paths
