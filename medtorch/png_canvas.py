"""A matplotlib canvas (Agg) whose PNGs are written already compact: a 256-colour palette image.

``medtorch.figures.save_png`` saves every figure through it (``savefig(..., backend=BACKEND)``),
so the run's PNG files are the ones the report embeds as they are (``compact_png`` keeps a
palette PNG unchanged) instead of being decoded, quantized and encoded again there.

Matplotlib draws a plot with a few flat colours plus the anti-aliased edges between them (265
to about 1,200 distinct colours in the default run's plots). Pillow's maximum-coverage
quantizer maps those onto 256 colours with at most a few levels of error per channel on an
edge pixel (measured: 0 to 5 of 255), which no reader sees; a plot of 256 colours or fewer is
kept exactly. A figure with transparent pixels (a transparent facecolor) is written as RGBA,
unquantized, as matplotlib would. Imported only when a figure is saved: it loads matplotlib.
"""

from __future__ import annotations

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image, PngImagePlugin

BACKEND = "module://medtorch.png_canvas"  # the ``backend=`` argument of ``Figure.savefig``
COMPRESS_LEVEL = 6  # zlib's default: a fifth larger than level 9 (``optimize``), seven times faster


def encode_compact(rgba: Image.Image, out, dpi: float | None = None) -> None:
    """Write ``rgba`` to ``out`` (a path or a binary file) as a palette PNG (RGBA where any pixel is transparent)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    if rgba.mode == "RGBA" and rgba.getchannel("A").getextrema()[0] < 255:
        rgba.save(out, format="png", pnginfo=info, **extra)
        return
    small = rgba.convert("RGB").quantize(colors=256, method=Image.Quantize.MAXCOVERAGE)
    small.save(out, format="png", pnginfo=info, compress_level=COMPRESS_LEVEL, **extra)


class FigureCanvas(FigureCanvasAgg):
    """Agg, with ``print_png`` writing through ``encode_compact``."""

    def print_png(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_):
        FigureCanvasAgg.draw(self)
        buf = self.buffer_rgba()
        size = (buf.shape[1], buf.shape[0])
        encode_compact(Image.frombuffer("RGBA", size, buf, "raw", "RGBA", 0, 1), filename_or_obj, self.figure.dpi)
