"""medtorch.heap: the cyclic collector is held while a training command imports, then its objects are frozen."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from conftest import FAST, REPO, _env
from medtorch import heap


@pytest.fixture
def collector():
    was = gc.isenabled()
    yield
    heap._held = False
    gc.unfreeze()
    gc.enable() if was else gc.disable()


def test_hold_then_release_freezes_and_turns_the_collector_back_on(collector):
    heap.hold()
    assert heap.held() and not gc.isenabled()
    frozen = gc.get_freeze_count()
    heap.release()
    assert not heap.held() and gc.isenabled() and gc.get_freeze_count() > frozen
    heap.release()  # a second release does nothing
    assert gc.isenabled()


def test_a_callers_own_setting_is_left_alone(collector):
    heap.release()  # nothing held: no freeze
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.disable()
    heap.hold()  # already off: not taken over, so release does not turn it on
    assert not heap.held()
    heap.release()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


def _probe(tmp_path, *overrides):
    args = [sys.executable, str(REPO / "tests" / "gc_probe.py"), str(REPO / "train.py"), *FAST, "trainer.max_epochs=1",
            "explain=none", f"hydra.run.dir={tmp_path / 'run'}", *overrides]
    proc = subprocess.run(args, cwd=tmp_path, env={**_env(), "XDG_DATA_HOME": str(tmp_path / "d")}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 or overrides, proc.stderr[-3000:]
    return proc, json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.slow
def test_train_py_runs_no_full_collection_before_training_and_collects_after(tmp_path):
    proc, seen = _probe(tmp_path)
    assert seen["full_before_fit"] == 0, seen  # 1 here without the hold (7 in a default run, which also imports Lightning)
    assert seen["enabled_at_fit"] and seen["frozen_at_fit"] > 100_000, seen  # torch, pandas, Lightning ... frozen
    assert seen["enabled_at_exit"], seen


@pytest.mark.slow
def test_a_run_refused_before_training_ends_with_the_collector_on(tmp_path):
    proc, seen = _probe(tmp_path, "data=table", f"data.path={tmp_path / 'absent.csv'}", "data.target=y")
    assert proc.returncode == 2 and "data file not found" in proc.stderr
    assert "enabled_at_fit" not in seen and seen["enabled_at_exit"], seen
