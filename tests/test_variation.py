"""Seed-to-seed variation beside differences between stacks (``medtorch compare``)."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from conftest import read_json, run_cli, run_train
from medtorch.stack.variation import variation


def _run(i, seed, stack, mcc, **config):
    return {"index": i, "seed": seed, "stack_hash": stack, "config": {"model.dropout": 0.1, "seed": seed, **config},
            "metrics": {"val": {"mcc": mcc, "balanced_accuracy": 0.9, "auroc": None}}}


def test_groups_by_configuration_and_stack_and_checks_against_numpy():
    a, b = [0.80, 0.84, 0.79], [0.83, 0.86, 0.78]
    runs = [_run(i, s, "A", m, **{"trainer.num_threads": 1}) for i, (s, m) in enumerate(zip([1, 2, 3], a))]
    runs += [_run(3 + i, s, "B", m, **{"trainer.num_threads": 2}) for i, (s, m) in enumerate(zip([1, 2, 3], b))]
    runs.append(_run(6, 1, "A", 0.5, **{"model.dropout": 0.5}))  # another configuration: its own group of one
    (g,) = variation(runs)
    sa, sb = g["stacks"]
    assert sa["runs"] == [0, 1, 2] and sb["seeds"] == [1, 2, 3]
    assert sa["metrics"]["mcc"]["mean"] == pytest.approx(np.mean(a))
    assert sa["metrics"]["mcc"]["sd"] == pytest.approx(statistics.stdev(a))
    assert (sa["metrics"]["mcc"]["min"], sa["metrics"]["mcc"]["max"]) == (min(a), max(a))
    assert sa["metrics"]["auroc"]["n"] == 0  # no value recorded: summarised as absent, not as zero
    mcc = next(x for x in g["between_stacks"] if x["metric"] == "mcc")
    assert mcc["mean_difference"] == pytest.approx(np.mean(b) - np.mean(a))
    diffs = np.array(b) - np.array(a)
    assert mcc["same_seed"]["seeds"] == [1, 2, 3]
    assert mcc["same_seed"]["mean_difference"] == pytest.approx(diffs.mean())
    assert mcc["same_seed"]["max_abs_difference"] == pytest.approx(np.abs(diffs).max())
    pooled = np.sqrt((2 * np.var(a, ddof=1) + 2 * np.var(b, ddof=1)) / 4)
    assert mcc["seed_sd"] == pytest.approx(pooled)


def test_a_metric_missing_for_one_seed_is_left_out_of_the_same_seed_differences():
    runs = [_run(0, 1, "A", 0.8), _run(1, 2, "A", 0.7), _run(2, 1, "B", float("nan")), _run(3, 2, "B", 0.75)]
    (g,) = variation(runs)
    mcc = next(x for x in g["between_stacks"] if x["metric"] == "mcc")
    assert mcc["same_seed"]["seeds"] == [2] and mcc["same_seed"]["mean_difference"] == pytest.approx(0.05)
    assert g["stacks"][1]["metrics"]["mcc"]["n"] == 1


def test_a_single_seed_has_no_sd_and_lone_runs_make_no_group():
    runs = [_run(0, 1, "A", 0.8), _run(1, 1, "B", 0.7)]
    (g,) = variation(runs)
    assert all(s["metrics"]["mcc"]["sd"] is None for s in g["stacks"])
    assert g["between_stacks"][0]["seed_sd"] is None
    assert variation([_run(0, 1, "A", 0.8), _run(1, 1, "A", 0.7, **{"model.dropout": 0.3})]) == []


@pytest.mark.slow
def test_a_multirun_over_seeds_and_thread_counts_feeds_compare(tmp_path):
    """Two seeds on each of two stacks (the thread count is part of the stack fingerprint)."""
    sweep = tmp_path / "sweep"
    run_train(tmp_path, "-m", "seed=1,2", "trainer.num_threads=1,2", "trainer.max_epochs=2", "explain=none",
              f"hydra.sweep.dir={sweep}")
    out = tmp_path / "cmp.md"
    proc = run_cli("compare", str(sweep), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    (g,) = [g for g in result["variation"] if g["split"] == "val"]
    assert len(g["stacks"]) == 2 and all(sorted(s["seeds"]) == [1, 2] for s in g["stacks"])
    jobs = sorted((p for p in sweep.glob("job*") if p.is_dir()), key=lambda p: int(p.name[3:]))
    by_stack: dict[str, list[float]] = {}
    for j in jobs:
        by_stack.setdefault(read_json(j / "manifest.json")["stack"]["hash"], []).append(read_json(j / "metrics.json")["val"]["mcc"])
    for s in g["stacks"]:
        assert s["metrics"]["mcc"]["mean"] == pytest.approx(np.mean(by_stack[s["stack_hash"]]))
    assert "## Seeds and stacks: val" in proc.stdout and "seed-to-seed SD (pooled)" in proc.stdout
