"""Python's cyclic garbage collector in a training command: held while the libraries import, then their objects frozen.

A full collection walks every object the collector tracks. A training run imports torch, pandas,
Hydra, Lightning, scikit-learn and matplotlib one after another, about 400,000 long-lived objects,
and each import that grows the heap by a quarter triggers another full walk. In a default run that
was 7 full collections before the first training step, 1.0 s of a 2-core machine, and one more
of 0.45 s during the validation plots, which walked all of them again (measured with
``gc.callbacks``). Imports make next to no cyclic garbage.

``hold`` turns the collector off at the start of a ``train.py`` or ``medtorch train`` process;
``release`` moves every object alive then to the permanent generation (``gc.freeze``, which CPython
provides for exactly this) and turns the collector back on, just before the first training batch,
once Lightning and the data steps' libraries are in (a logistic run, which has no Lightning loop, at
its fit). A child forked while the collector is held releases it for itself (medtorch.background). Later collections walk only what was made
after that. Reference counting frees objects as always, held or not; what the hold delays is only
the collection of reference cycles made before the release (a few figures of the data steps), which
are then kept until the process ends. A library caller (``medtorch.train``, notebooks, tests) is
never held: only the entry points hold, and ``release`` is also called when the run ends however
it ends, so a held collector never outlives the run.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """Turn the cyclic collector off until ``release`` (only if it is on: a caller's own setting is left alone)."""
    global _held
    if not _held and gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """After ``hold``: freeze the objects alive now and turn the collector back on. Does nothing otherwise."""
    global _held
    if _held:
        gc.freeze()
        gc.enable()
        _held = False


def held() -> bool:
    return _held
