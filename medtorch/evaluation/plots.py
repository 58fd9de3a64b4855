"""Confusion-matrix plots (counts and row-normalised), class names on both axes."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from medtorch.figures import save_png, subplots


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], path: Path, normalized: bool, title: str) -> Path:
    cm = np.asarray(cm, dtype=np.float64)
    k = len(class_names)
    if normalized:
        rows = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    else:
        values = cm
    size = max(4.0, 0.6 * k + 2.5)
    fig, ax = subplots(figsize=(size + 1, size))
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalized else max(values.max(), 1))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class" if normalized else "rows")
    ax.set_xticks(range(k), labels=class_names, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    thresh = (1 if normalized else values.max()) / 2
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalized else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", color="white" if values[i, j] > thresh else "black")
    fig.tight_layout()
    # tight_layout leaves the y-axis label on the figure's edge once long class names fill the
    # left margin (8 classes: "true class" was cut); the tight bounding box keeps a margin round it
    return save_png(fig, path, dpi=120, bbox_inches="tight", pad_inches=0.15)
