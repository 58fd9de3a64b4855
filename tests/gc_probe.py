"""Run ``train.py`` as its own ``__main__`` (an entry point, as from the shell) and record, as JSON on the last
line of stderr, what Python's cyclic collector did: full collections before and after the first training
batch, whether it was on when training started and at the end, and how many objects were frozen.

    python tests/gc_probe.py train.py OVERRIDES...
"""

import atexit
import gc
import json
import runpy
import sys

seen = {"full_before_fit": 0, "full_after_fit": 0}
at_fit: dict = {}


def _count(phase, info):
    if phase == "stop" and info["generation"] == 2:
        seen["full_after_fit" if at_fit else "full_before_fit"] += 1


def _report():
    out = {**seen, **at_fit, "enabled_at_exit": gc.isenabled()}
    sys.stderr.write("\n" + json.dumps(out) + "\n")
    sys.stderr.flush()


import pytorch_lightning as pl  # noqa: E402 (imported here to wrap Trainer.fit; counting starts after it)

_fit = pl.Trainer.fit


def fit(self, *args, **kwargs):
    if not at_fit:
        at_fit.update({"enabled_at_fit": gc.isenabled(), "frozen_at_fit": gc.get_freeze_count()})
    return _fit(self, *args, **kwargs)


pl.Trainer.fit = fit
gc.collect()
gc.callbacks.append(_count)
atexit.register(_report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
