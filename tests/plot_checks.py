"""Check a drawn matplotlib figure for the two faults a reader notices: a legend over the data,
and data drawn beyond its axes (a bar cut at the top, a point outside the frame).

Everything is measured in display coordinates after ``fig.canvas.draw()``: each legend's
window extent against every data artist of every axes in the figure (lines and their markers,
bars and other patches, error bars, scatter points), and each data artist against its own
axes' frame. ``capture_figures`` records every figure a plotting function saves, so the real
plotting code is checked unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np

TOLERANCE_PX = 1.5  # anti-aliasing and rounding of the frame; a clipped bar misses by far more


def _canvas(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _densify(points: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Points along a polyline every ``step`` display pixels, so a line crossing a box is caught."""
    if len(points) < 2:
        return points
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
            continue
        k = max(1, int(np.hypot(*(b - a)) / step))
        out.append(a + (b - a) * np.linspace(0, 1, k + 1)[1:, None])
    return np.vstack(out)


def _data_artists(ax, renderer) -> Iterator[tuple[str, str, np.ndarray, bool]]:
    """(kind, label, display points or box corners, is_box) for each visible data artist of ``ax``."""
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.patches import Rectangle

    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = np.asarray(line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float)))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        pts = _densify(xy) if line.get_linestyle() not in ("None", "none", "", " ") else xy
        yield "line", line.get_label(), pts, False
    for patch in ax.patches:
        if not patch.get_visible() or not isinstance(patch, Rectangle):
            continue
        box = patch.get_window_extent(renderer)
        if box.width < 0.5 and box.height < 0.5:
            continue
        yield "bar", patch.get_label(), np.array([[box.x0, box.y0], [box.x1, box.y1]]), True
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, LineCollection):  # error bars
            for seg in coll.get_segments():
                pts = coll.get_transform().transform(np.asarray(seg, dtype=float))
                yield "errorbar", coll.get_label(), _densify(pts[np.all(np.isfinite(pts), axis=1)]), False
        elif isinstance(coll, PathCollection):  # scatter
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            pts = coll.get_offset_transform().transform(offsets) if len(offsets) else offsets
            yield "scatter", coll.get_label(), pts[np.all(np.isfinite(pts), axis=1)], False
        elif isinstance(coll, PolyCollection):  # fill_between bands
            for path in coll.get_paths():
                pts = coll.get_transform().transform(path.vertices)
                yield "band", coll.get_label(), pts[np.all(np.isfinite(pts), axis=1)], False


def _inside(box, pts: np.ndarray, is_box: bool, margin: float = 0.0) -> bool:
    """Whether ``pts`` (a polyline's points, or a box's two corners) touch the inside of ``box``."""
    if not len(pts):
        return False
    x0, y0, x1, y1 = box.x0 + margin, box.y0 + margin, box.x1 - margin, box.y1 - margin
    if is_box:
        (a0, b0), (a1, b1) = np.min(pts, axis=0), np.max(pts, axis=0)
        return a0 < x1 and x0 < a1 and b0 < y1 and y0 < b1
    return bool(np.any((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)))


def _outside(frame, pts: np.ndarray) -> bool:
    if not len(pts):
        return False
    t = TOLERANCE_PX
    return bool(np.any((pts[:, 0] < frame.x0 - t) | (pts[:, 0] > frame.x1 + t)
                       | (pts[:, 1] < frame.y0 - t) | (pts[:, 1] > frame.y1 + t)))


def figure_problems(fig) -> list[str]:
    """What is wrong with ``fig``: legends over data, data beyond its axes' limits. Empty: none."""
    renderer = _canvas(fig)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    legends = [lg for lg in (*[ax.get_legend() for ax in axes], *fig.legends) if lg is not None and lg.get_visible()]
    problems = []
    for ax in axes:
        name = ax.get_title() or fig.get_suptitle() or "axes"
        frame = ax.get_window_extent(renderer)
        for kind, label, pts, is_box in _data_artists(ax, renderer):
            for legend in legends:
                # the legend's own frame padding may graze a line's end: a pixel inside its box is an overlap
                if _inside(legend.get_window_extent(renderer), pts, is_box, margin=1.0):
                    problems.append(f"{name}: the legend covers a {kind} ({label})")
            if _outside(frame, pts):
                problems.append(f"{name}: a {kind} ({label}) lies beyond the axes' limits "
                                f"(x {ax.get_xlim()}, y {ax.get_ylim()})")
    return problems


@contextmanager
def capture_figures(monkeypatch) -> Iterator[list[tuple[str, list[str]]]]:
    """Record (name, problems) for every figure saved while the block runs (``Figure.savefig``
    is wrapped: the plotting code is the real one), then let the save go ahead."""
    from pathlib import Path

    from matplotlib.figure import Figure

    seen: list[tuple[str, list[str]]] = []
    original = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        name = Path(str(fname)).name if isinstance(fname, (str, Path)) else (fig.get_suptitle() or "buffer")
        if fig.axes and fig.axes[0].get_title():
            name += f" [{fig.axes[0].get_title()}]"
        seen.append((name, figure_problems(fig)))
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    yield seen
