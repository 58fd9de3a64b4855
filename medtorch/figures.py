"""Matplotlib for writing figures to files: the non-interactive backend and atomic PNG saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.run import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, which needs no display (servers, CI).

    Imported on first use, so that commands that draw nothing never load matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, dpi: int, **savefig: Any) -> Path:
    """Write ``fig`` to ``path`` as PNG through ``atomic_path`` (never half a file) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, **savefig)
    pyplot().close(fig)
    return path
