"""Figures are written compact once: ``save_png`` writes a 256-colour palette PNG of the figure's
pixel size (within a few levels of the figure as drawn), and the report embeds such a PNG as it
is instead of decoding, quantizing and encoding it again; older RGBA figures are still compacted."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image as PILImage

from medtorch.figures import figure, png_bytes, pyplot, save_png, subplots


def _chart():
    fig, ax = subplots(figsize=(4, 3), layout="constrained")
    ax.barh(range(5), [3, 1, 4, 1, 5], color="#4c72b0", xerr=[0.5] * 5)
    ax.set_yticks(range(5), labels=[f"column {i}" for i in range(5)])
    ax.set_title("mean |attribution|")
    return fig


def _drawn(fig, dpi: int) -> np.ndarray:
    """The figure as Agg draws it (RGB), for comparison with what was written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def test_save_png_writes_a_palette_png_of_the_figures_pixel_size_close_to_the_drawing(tmp_path):
    path = save_png(_chart(), tmp_path / "chart.png", dpi=110)
    with PILImage.open(path) as im:
        assert im.format == "PNG" and im.mode == "P"  # palette: what the report embeds
        assert im.size == (440, 330)  # 4 x 3 inches at 110 dpi
        written = np.asarray(im.convert("RGB")).astype(int)
    assert not list(tmp_path.glob(".*.tmp*")), "the atomic write left a temporary file"
    drawn = _drawn(_chart(), 110)
    assert drawn.shape == written.shape
    err = np.abs(drawn - written).max(axis=2)
    assert err.max() <= 8 and err.mean() < 0.5, (err.max(), err.mean())


def test_a_plot_of_256_colours_or_fewer_is_written_exactly(tmp_path):
    fig = figure(figsize=(2, 1), dpi=50)
    fig.patch.set_facecolor("#d0e4f5")  # a flat figure: one colour, no anti-aliased edge
    with PILImage.open(io.BytesIO(png_bytes(fig, dpi=50))) as im:
        assert im.mode == "P" and im.size == (100, 50)
        assert set(map(tuple, np.asarray(im.convert("RGB")).reshape(-1, 3))) == {(0xd0, 0xe4, 0xf5)}


def test_tight_bounding_box_and_pyplot_figures_still_save_and_close(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_ylabel("a label that the tight box keeps")
    before = len(plt.get_fignums())
    save_png(fig, tmp_path / "tight.png", dpi=100, bbox_inches="tight")
    assert len(plt.get_fignums()) == before - 1  # closed in pyplot's figure manager
    with PILImage.open(tmp_path / "tight.png") as im:
        assert im.mode == "P" and im.size != (400, 300) and 200 < im.size[0] < 420


def test_a_transparent_figure_keeps_its_alpha(tmp_path):
    fig = figure(figsize=(2, 2))
    fig.patch.set_alpha(0.0)
    fig.subplots().plot([0, 1], [1, 0])
    with PILImage.open(save_png(fig, tmp_path / "clear.png", dpi=50)) as im:
        assert im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 0


def test_the_report_embeds_a_compact_figure_as_written_and_still_compacts_an_rgba_one(tmp_path):
    from medtorch.report.blocks import Image
    from medtorch.report.writers import _html_block, compact_png

    written = png_bytes(_chart(), dpi=110)
    assert compact_png(written) is written  # not decoded, quantized and encoded again
    assert base64.b64encode(written).decode() in _html_block(Image("plots/chart.png", written, "chart"))
    old = io.BytesIO()  # a figure as earlier medtorch wrote it: RGBA
    fig = _chart()
    fig.savefig(old, format="png", dpi=110)
    small = compact_png(old.getvalue())
    with PILImage.open(io.BytesIO(small)) as im:
        assert im.mode == "P" and im.size == (440, 330) and len(small) < len(old.getvalue())
    assert compact_png(b"not a png") == b"not a png"


@pytest.mark.parametrize("name", ["plot_global", "plot_local", "plot_agreement"])
def test_explanation_plots_are_written_as_compact_pngs(tmp_path, name):
    from medtorch.explain import plots

    rng = np.random.default_rng(0)
    cols = [f"x{i}" for i in range(20)]
    mean = np.abs(rng.normal(size=(2, 20)))
    call = {"plot_global": lambda p: plots.plot_global(mean, 0.3 * mean, cols, ["a", "b"], "global", p),
            "plot_local": lambda p: plots.plot_local(rng.normal(size=20), cols, "row 1", p),
            "plot_agreement": lambda p: plots.plot_agreement(np.eye(3), ["IG", "SHAP", "ablation"], "agreement", p)}
    path = call[name](tmp_path / f"{name}.png")
    with PILImage.open(path) as im:
        assert im.mode == "P" and min(im.size) > 200


@pytest.mark.parametrize("colours", [2, 200, 256])
def test_an_image_of_256_colours_or_fewer_round_trips_exactly(colours):
    from medtorch.png_canvas import encode_compact

    rng = np.random.default_rng(colours)
    palette = rng.integers(0, 256, size=(colours, 3), dtype=np.uint8)
    rgb = palette[rng.permutation(np.arange(300 * 40) % colours).reshape(300, 40)]
    rgba = np.concatenate([rgb, np.full((300, 40, 1), 255, np.uint8)], axis=2)
    out = io.BytesIO()
    encode_compact(PILImage.fromarray(rgba, "RGBA"), out)
    with PILImage.open(io.BytesIO(out.getvalue())) as im:
        assert im.mode == "P" and np.array_equal(np.asarray(im.convert("RGB")), rgb)
