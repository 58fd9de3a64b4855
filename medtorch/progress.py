"""Progress on long steps, on a terminal only; and the known noise of dependencies, silenced at its source.

``progress`` (train.py's config key) and ``--quiet`` (every CLI verb) set one switch:
``on``, ``off`` or ``auto`` (on only when stderr is a terminal, so logs and CI stay clean).
Bars use tqdm (already installed with Lightning) with a 2 s delay: steps shorter than that
never draw anything. ``Steps`` names the stage a long post-training stretch is in and shows
its elapsed time; ``bar`` wraps an iteration (explanation methods); Captum's own
``show_progress`` is switched on for the perturbation methods that support it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import warnings
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
DELAY_S = 2.0  # steps shorter than this draw nothing
_ENV = "MEDTORCH_PROGRESS"  # carries the setting into the modules that draw (explain, bootstrap)
_bars = [0]  # bars drawing now: the status line of Steps waits while one (or Captum's inside it) is shown


def configure(setting: str) -> None:
    """Set the switch for this process: auto | on | off."""
    os.environ[_ENV] = setting


def progress_enabled(setting: str | None = None) -> bool:
    s = setting if setting not in (None, "auto") else os.environ.get(_ENV, "auto")
    if s == "auto":
        return sys.stderr.isatty()
    return s == "on"


def bar(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """``items`` with a tqdm bar when progress is on (drawn only after 2 s)."""
    if not progress_enabled():
        yield from items
        return
    from tqdm.auto import tqdm

    _bars[0] += 1
    try:
        yield from tqdm(items, desc=desc, total=total, delay=DELAY_S, leave=False, file=sys.stderr)
    finally:
        _bars[0] -= 1


class Steps:
    """A one-line status of a sequence of named steps: ``begin(name)`` ends the previous one.

    A thread redraws the elapsed time twice a second; nothing is drawn for a step under 2 s.
    """

    def __init__(self, setting: str | None = None, first: str | None = None) -> None:
        self.enabled = progress_enabled(setting)
        self._name: str | None = None
        self._start = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        if first:
            self.begin(first)

    def begin(self, name: str) -> None:
        if not self.enabled:
            return
        self._name, self._start = name, time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._draw, daemon=True)
            self._thread.start()

    def pause(self) -> None:
        """Draw nothing until the next ``begin`` (while Lightning draws its own progress bar)."""
        self._name = None
        if self.enabled and self._drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._drawn = False

    def end(self) -> None:
        if not self.enabled or self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        if self._drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def _draw(self) -> None:
        while not self._stop.wait(0.5):
            elapsed = time.monotonic() - self._start
            if elapsed >= DELAY_S and self._name and not _bars[0]:
                sys.stderr.write(f"\r\033[Kmedtorch: {self._name} ... {elapsed:4.0f} s")
                sys.stderr.flush()
                self._drawn = True


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def silence_known_noise() -> None:
    """Drop the two messages every training run printed, each by its own message at its own source.

    - Lightning's advert for litlogger, logged through lightning_utilities' rank-zero logger on
      every Trainer (no Trainer flag turns it off): a filter on that logger for that message.
    - torch's FutureWarning that ``LeafSpec`` is deprecated, raised when Lightning's
      ``utilities._pytree`` builds one: ignored for that message from that module only.
    """
    from lightning_utilities.core import rank_zero

    if not any(isinstance(f, _DropMessage) for f in rank_zero.log.filters):
        rank_zero.log.addFilter(_DropMessage("litlogger"))
    warnings.filterwarnings("ignore", message=r".*LeafSpec.* is deprecated", category=FutureWarning,
                            module=r"pytorch_lightning\.utilities\._pytree")
