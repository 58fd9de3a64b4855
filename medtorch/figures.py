"""Matplotlib for writing figures to files: figures without pyplot, compact atomic PNG saves.

Matplotlib is imported on first use, so that commands that draw nothing never load it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from medtorch.run import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, which needs no display (servers, CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(**kwargs: Any):
    """A ``matplotlib.figure.Figure`` (``Figure(**kwargs)``) outside pyplot: no global figure
    manager to register it in or close it from, nothing kept once it is dropped."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def subplots(nrows: int = 1, ncols: int = 1, *, squeeze: bool = True, **fig_kw: Any):
    """``pyplot.subplots`` on a ``figure(**fig_kw)``: (figure, axes)."""
    fig = figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _save(fig, target, dpi: int, savefig: dict[str, Any]) -> None:
    from medtorch.png_canvas import BACKEND

    fig.savefig(target, format="png", dpi=dpi, backend=BACKEND, **savefig)


def save_png(fig, path: Path, dpi: int, **savefig: Any) -> Path:
    """Write ``fig`` to ``path`` as a compact PNG (``medtorch.png_canvas``: a 256-colour palette,
    the form the report embeds) through ``atomic_path`` (never half a file); close it if pyplot holds it."""
    with atomic_path(path) as tmp:
        _save(fig, tmp, dpi, savefig)
    if getattr(fig.canvas, "manager", None) is not None:
        pyplot().close(fig)
    return path


def png_bytes(fig, dpi: int, **savefig: Any) -> bytes:
    """``fig`` as the bytes ``save_png`` would write."""
    buf = io.BytesIO()
    _save(fig, buf, dpi, savefig)
    return buf.getvalue()
