"""Plots of explanations, written as PNG through ``medtorch.figures.save_png``; labels sized to be read.

Every plot names its model, method, class and split in the title, and the columns on the
axis; long lists show the top ``TOP`` columns and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from medtorch.figures import save_png, subplots

TOP = 15


def _top(values: np.ndarray, labels: Sequence[str], k: int = TOP) -> tuple[np.ndarray, list[str]]:
    order = np.argsort(-np.abs(values), kind="stable")[:k]
    return order, [labels[i] for i in order]


def _bars(ax, values: np.ndarray, names: list[str], xlabel: str, **barh: Any) -> None:
    """Horizontal bars, the first at the top, each labelled with its column."""
    ax.barh(range(len(values)), values, **barh)
    ax.set_yticks(range(len(values)), labels=names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def _suptitle(fig, title: str, n: int, columns: list[str]) -> None:
    more = f" (top {n} of {len(columns)} columns)" if len(columns) > n else ""
    fig.suptitle(title + more, fontsize=11)


def plot_global(mean_abs: np.ndarray, std_abs: np.ndarray, columns: list[str], classes: list[str], title: str,
                path: Path) -> Path:
    """Bars of mean |attribution| (with its standard deviation) per column, one panel per class."""
    k = len(classes)
    n = min(TOP, len(columns))
    ncols = min(k, 3)
    nrows = -(-k // ncols)
    fig, axes = subplots(nrows, ncols, figsize=(5.2 * ncols + 1.5, (0.38 * n + 1.4) * nrows + 0.4), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel()[k:]:
        ax.set_visible(False)
    for c, ax in enumerate(axes.ravel()[:k]):
        order, labels = _top(mean_abs[c], columns, n)
        m, sd = mean_abs[c][order], std_abs[c][order]
        _bars(ax, m, labels, "mean |attribution| (whiskers: ±1 SD over rows, cut at 0)",
              xerr=[np.minimum(m, sd), sd], color="#4c72b0", ecolor="#999999", capsize=2)
        ax.set_title(f"class {classes[c]}", fontsize=10)
    _suptitle(fig, title, n, columns)
    return save_png(fig, path, dpi=110)


def plot_local(values: np.ndarray, labels: list[str], title: str, path: Path) -> Path:
    """Signed attributions of one row's predicted class: red pushes towards it, blue away."""
    order, names = _top(values, labels)
    v = values[order]
    fig, ax = subplots(figsize=(8.5, 0.38 * len(order) + 1.8), layout="constrained")
    _bars(ax, v, names, "attribution to the predicted class (red: towards it, blue: against it)",
          color=np.where(v >= 0, "#c44e52", "#4c72b0"))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(title, fontsize=10)
    return save_png(fig, path, dpi=110)


def plot_agreement(matrix: np.ndarray, labels: list[str], title: str, path: Path) -> Path:
    k = len(labels)
    fig, ax = subplots(figsize=(1.3 * k + 3, 1.1 * k + 2), layout="constrained")
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Spearman rank correlation")
    ax.set_xticks(range(k), labels=labels, rotation=30, ha="right", fontsize=9)
    ax.set_yticks(range(k), labels=labels, fontsize=9)
    for i in range(k):
        for j in range(k):
            txt = "n/a" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.2f}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=9,
                    color="white" if abs(np.nan_to_num(matrix[i, j])) > 0.6 else "black")
    ax.set_title(title, fontsize=10)
    return save_png(fig, path, dpi=110)


def plot_attention_bars(cls_mean: np.ndarray, rollout: np.ndarray, columns: list[str], title: str, path: Path) -> Path:
    """Two panels: class-token attention (mean over heads and layers) and attention rollout."""
    n = min(TOP, len(columns))
    fig, axes = subplots(1, 2, figsize=(12, 0.38 * n + 1.8), layout="constrained")
    for ax, values, label in ((axes[0], cls_mean, "class-token attention (mean over heads and layers)"),
                              (axes[1], rollout, "attention rollout (share of the class token)")):
        order, names = _top(values, columns, n)
        _bars(ax, values[order], names, label, color="#55a868")
    _suptitle(fig, title, n, columns)
    return save_png(fig, path, dpi=110)


def plot_layer_head(cls_attention: np.ndarray, columns: list[str], title: str, path: Path) -> Path:
    """Heatmap: one line per (layer, head), one column per feature column; class-token attention."""
    layers, heads, n_cols = cls_attention.shape
    order = np.argsort(-cls_attention.mean(axis=(0, 1)), kind="stable")[: min(25, n_cols)]
    grid = cls_attention[:, :, order].reshape(layers * heads, len(order))
    fig, ax = subplots(figsize=(0.42 * len(order) + 3.5, 0.42 * layers * heads + 3.2), layout="constrained")
    im = ax.imshow(grid, cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="attention weight from the class token")
    ax.set_xticks(range(len(order)), labels=[columns[i] for i in order], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(layers * heads), labels=[f"layer {l + 1} head {h + 1}" for l in range(layers) for h in range(heads)],
                  fontsize=8)
    for l in range(1, layers):
        ax.axhline(l * heads - 0.5, color="white", lw=1.5)
    if len(order) < n_cols:
        title += f" (top {len(order)} of {n_cols} columns)"
    ax.set_title(title, fontsize=10)
    return save_png(fig, path, dpi=110)
