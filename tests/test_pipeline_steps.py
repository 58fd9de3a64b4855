"""The pipeline's steps called in-process on tmp_path: each with a small config and a Run."""

from __future__ import annotations

import json

import pytest
import torch

from medtorch import pipeline
from medtorch.audit import EventLog
from medtorch.evidence import Run
from medtorch.integrity import verify_run
from medtorch.lifecycle import start
from medtorch.steps import EVERY_RANK, RANK_ZERO, State, run_steps


def compose(*overrides: str):
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from medtorch.config import validate
    from medtorch.launch import CONF_DIR, register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        cfg = hydra_compose("config", overrides=["trainer=cpu", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                                                 "model.hidden=[8]", "progress=off", *overrides])
    GlobalHydra.instance().clear()
    validate(cfg)
    return cfg


def _step(name: str):
    return next(s for s in pipeline.STEPS if s.name == name)


def test_every_rank_runs_exactly_what_training_needs():
    every = [s.name for s in pipeline.STEPS if s.ranks == EVERY_RANK]
    assert every == ["seed and fix the numerics", "load the data", "split early, fit preprocessing on train",
                     "plan rebalancing", "train"]
    rank_zero = {s.name for s in pipeline.STEPS if s.ranks == RANK_ZERO}
    assert {"check for leakage", "explore the data", "start the explanations", "collect the explanations",
            "store the bridge reference",
            "record the lineage", "evaluate on validation"} <= rank_zero


def test_data_steps_write_the_split_and_preprocessing_through_the_run(tmp_path):
    cfg = compose()
    run, state = start(cfg, tmp_path / "run")
    for name in ("load the data", "split early, fit preprocessing on train", "plan rebalancing"):
        state = _step(name).fn(cfg, run, state)
    p = state.prepared
    assert p.preprocessor.fitted_on_ == {"split": "train", "rows": len(p.splits.train), "ids_sha256": p.splits.train.ids_sha256}
    assert run.read_json(run.rd.split)["parts"]["train"]["rows"] == len(p.splits.train) == p.tensors["train"][0].shape[0]
    assert set(run.manifest.splits) == {"train", "val", "test"}
    written = json.loads(run.rd.manifest.read_text())
    assert written["format_version"] == 2 and written["splits"] == run.manifest.splits
    actions = [r["action"] for r in EventLog(run.rd.events).records()]
    assert actions == ["run_started", "data_loaded", "split_made", "preprocessing_fitted", "rebalancing_planned"]
    assert verify_run(run.root).ok


def test_a_resumed_run_refuses_a_split_that_differs_from_the_recorded_one(tmp_path):
    from medtorch.errors import MedtorchError

    cfg = compose()
    run, state = start(cfg, tmp_path / "run")
    state.evidence_before_resume = {"split.json": "0" * 64, "preprocessing.json": "1" * 64}
    state = _step("load the data").fn(cfg, run, state)
    with pytest.raises(MedtorchError, match="differs from the interrupted run's"):
        _step("split early, fit preprocessing on train").fn(cfg, run, state)
    assert not run.rd.split.exists()  # refused before anything was written


def test_validation_steps_compute_the_probabilities_once(tmp_path, monkeypatch):
    import medtorch.models.inference as inference
    from medtorch.models.networks import build_network
    from medtorch.checkpoints import weights_bytes

    cfg = compose("evaluation.bootstrap_resamples=100")
    run, state = start(cfg, tmp_path / "run")
    for name in ("load the data", "split early, fit preprocessing on train", "plan rebalancing"):
        state = _step(name).fn(cfg, run, state)
    torch.manual_seed(0)
    state.network = build_network(cfg.model, state.prepared.tensors["train"][0].shape[1], 2).eval()
    run.record(run.rd.model_weights, weights_bytes(state.network))
    state.metrics["selected_by"] = {"monitor": "val/mcc", "best_epoch": 0}
    calls = []
    real = inference.infer
    monkeypatch.setattr(inference, "infer", lambda *a, **k: calls.append(1) or real(*a, **k))
    for name in ("evaluate on validation", "assess validation"):
        state = _step(name).fn(cfg, run, state)
    assert len(calls) == 1
    metrics = run.read_json(run.rd.metrics)
    assert metrics["selected_epoch"] == {"monitor": "val/mcc", "best_epoch": 0}  # handed over, not read back
    assert metrics["val"]["n"] == len(state.prepared.splits.val)
    assert run.rd.assessment("val").is_file() and verify_run(run.root).ok


def test_a_rank_other_than_zero_runs_the_same_steps_and_writes_nothing(tmp_path, monkeypatch):
    """The whole step list, as a DDP rank other than 0 takes it: it trains, and leaves no file behind."""
    import medtorch.training as training

    cfg = compose()
    root = tmp_path / "rank1"
    ran = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: ran.append("train") or real_train(*a, **k))
    steps = tuple(s.__class__(s.name, (lambda f, n: (lambda c, r, st: ran.append(n) or f(c, r, st)))(s.fn, s.name),
                              s.ranks, s.progress) for s in pipeline.STEPS)
    state = run_steps(cfg, Run.null(root), State(), steps, rank_zero=False)
    assert ran == ["seed and fix the numerics", "load the data", "split early, fit preprocessing on train",
                   "plan rebalancing", "train", "train"]
    assert state.trainer is not None and state.trainer.current_epoch == 1  # it took part in training
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []
    # in one process Lightning takes itself for global rank 0 and writes its own checkpoints and CSV log here (under
    # DDP it writes them on rank 0 only, and _run_other_rank removes this scratch directory); medtorch wrote nothing
    lightning_own = [f for f in files if f.startswith("checkpoints/") or f.startswith("logs/")]
    assert files == lightning_own, files
    for absent in ("events.jsonl", "manifest.json", "split.json", "preprocessing.json", "model.pt", "config.yaml"):
        assert not (root / absent).exists(), absent
