"""The comparison with the transparent models computed in a child of its own, beside the attributions.

A training run's explanations are forked (medtorch.background); they fork the comparison once more
(``explain_model(..., compare_beside=True)``), so its bootstrap and the attributions' plots each
take a core. These tests hold that it computes what the in-line path computes, that its error
reaches the caller as itself, and that it is stopped, not left running, when the explanations fail.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from conftest import read_json
from medtorch import background
from medtorch.errors import MedtorchError

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not background.can_fork(), reason="forks only on Linux without CUDA or DDP")]



def _settings() -> dict:
    """The explain defaults, made cheap: one method on 20 rows, two transparent models, 200 resamples."""
    from dataclasses import asdict

    from medtorch.config import ExplainConfig

    return {**asdict(ExplainConfig()), "methods": ["feature_ablation"], "max_rows": 20, "sanity": False,
            "transparent": ["logistic", "tree"], "tree_depths": [1, 2], "bootstrap": 200}


@pytest.fixture(scope="module")
def copied(default_run, tmp_path_factory):
    """A copy of the shared default run (these tests add explanations to it) and its validation inputs."""
    from medtorch.explain.rows import inputs_for_run
    from medtorch.loading import load_run

    root = shutil.copytree(default_run, tmp_path_factory.mktemp("beside") / "run")
    loaded = load_run(root)
    return loaded, inputs_for_run(loaded, "val")


def _explain(copied, name: str, beside: bool):
    from medtorch.explain.explanation import explain_model

    loaded, inputs = copied
    out = loaded.rd.later_explanation_dir(name)
    return explain_model(inputs, _settings(), loaded.rd, out, compare_beside=beside), out


def test_the_comparison_computed_beside_is_the_one_computed_in_line(copied):
    inline, a = _explain(copied, "in_line", beside=False)
    beside, b = _explain(copied, "beside", beside=True)
    assert inline["comparison"]["candidates"] and [c["model"] for c in inline["comparison"]["candidates"]] == ["logistic", "tree"]
    assert beside["comparison"] == inline["comparison"]  # every estimate, interval, setting and the verdict
    assert read_json(b / "explanation.json")["comparison"] == read_json(a / "explanation.json")["comparison"]
    for name in ("odds_ratios.csv", "global_importance.csv"):
        assert (b / name).read_bytes() == (a / name).read_bytes(), name
    seconds = re.compile(r"\(\d+\.\d+ s\)")  # how long each method took: the one line allowed to differ
    assert seconds.sub("", (b / "summary.md").read_text()) == seconds.sub("", (a / "summary.md").read_text())


def _recording_starts(monkeypatch) -> list:
    """The children ``background.start`` makes from here on."""
    started = []
    real_start = background.start

    def recording_start(name, work, fork=True):
        pending = real_start(name, work, fork)
        started.append(pending)
        return pending

    monkeypatch.setattr(background, "start", recording_start)
    return started


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True  # reaped: neither running nor a zombie
    return False


def test_an_error_in_the_comparisons_child_reaches_the_caller_as_itself(copied, monkeypatch):
    from medtorch.explain import explanation

    def broken(*args, **kwargs):
        raise MedtorchError("the transparent models could not be fitted (deliberately)")

    started = _recording_starts(monkeypatch)
    monkeypatch.setattr(explanation, "_compare", broken)  # the forked child runs this copy
    with pytest.raises(MedtorchError, match="could not be fitted"):
        _explain(copied, "broken_comparison", beside=True)
    assert len(started) == 1 and started[0].pid is not None  # raised in the child, not in line
    assert _gone(started[0].pid) and started[0].pid not in background._LIVE  # collected
    _nothing_left(copied, "broken_comparison")


def _nothing_left(copied, name: str) -> None:
    """The failed explanation left no file (its plots were written before the error came up) and the run's audit
    trail still matches its files: a file there that no event records would read as one added after the fact."""
    from medtorch.integrity import verify_run

    rd = copied[0].rd
    out = rd.later_explanation_dir(name)
    assert not out.exists()
    assert not [p for p in rd.root.rglob("*") if name in p.name], "the explanation's hidden directory is left"
    assert verify_run(rd.root).problems == []


def test_a_failure_of_the_attributions_stops_the_comparisons_child(copied, monkeypatch):
    from medtorch.explain import explanation

    def failing(*args, **kwargs):
        raise RuntimeError("attributions failed (deliberately)")

    started = _recording_starts(monkeypatch)
    monkeypatch.setattr(explanation, "attribute", failing)
    with pytest.raises(RuntimeError, match="attributions failed"):
        _explain(copied, "broken_attributions", beside=True)
    assert len(started) == 1 and started[0].pid is not None  # the comparison was forked before the attributions
    assert _gone(started[0].pid) and started[0].pid not in background._LIVE  # stopped and reaped, not left computing
    _nothing_left(copied, "broken_attributions")


def test_a_failure_while_writing_leaves_nothing_in_the_run(copied, monkeypatch):
    """In line too: an explanation that fails part-way through its files (here at its summary, after every table
    and plot) removes them."""
    from medtorch.explain import outputs

    def failing(report):
        raise OSError("No space left on device (deliberately)")

    monkeypatch.setattr(outputs, "summary_markdown", failing)
    with pytest.raises(OSError, match="No space left"):
        _explain(copied, "broken_summary", beside=False)
    _nothing_left(copied, "broken_summary")
