"""Issue 19, points 2 and 3: logger / callbacks / scheduler groups and Lightning's trainer flags.

The stores are read back with TensorBoard's and MLflow's own reader APIs, not by parsing files.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO, read_json, run_cli, run_train
from medtorch.config import register_configs, validate
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_file

CONF = REPO / "medtorch" / "conf"
EPOCHS = 3
LR = 1e-3


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> tuple[Path, Path]:
    """One run with CSV, TensorBoard and MLflow loggers, a cosine schedule and the LR monitor."""
    tmp = tmp_path_factory.mktemp("tracked")
    _, run_dir = run_train(tmp, "logger=many", "callbacks=lr_monitor", "scheduler=cosine", "explain=none",
                           f"trainer.max_epochs={EPOCHS}", "early_stopping.enabled=false")
    return tmp, run_dir


def _val_history(run_dir: Path) -> list[float]:
    return [h["val_mcc"] for h in read_json(run_dir / "metrics.json")["history"]]


@pytest.mark.slow
def test_tensorboard_store_reads_back_with_tensorboards_reader(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = tracked_run
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    logged = [e.value for e in acc.Scalars("val/mcc")]
    assert len(logged) == EPOCHS
    assert logged == pytest.approx(_val_history(run_dir), abs=1e-6)  # float32 in the event file


@pytest.mark.slow
def test_mlflow_sqlite_store_holds_metrics_tags_and_the_report(tracked_run):
    from mlflow.tracking import MlflowClient

    tmp, run_dir = tracked_run
    assert (tmp / "mlflow.db").is_file()  # the default store: SQLite in the working directory
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    manifest = read_json(run_dir / "manifest.json")
    exp = client.get_experiment_by_name("medtorch-default")
    runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`medtorch.run_id` = '{manifest['run_id']}'")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["medtorch.manifest_sha256"] == sha256_file(run_dir / "manifest.json")
    assert Path(run.data.tags["medtorch.run_dir"]) == run_dir.resolve()
    history = sorted(client.get_metric_history(run.info.run_id, "val/mcc"), key=lambda m: m.step)
    assert [m.value for m in history] == pytest.approx(_val_history(run_dir), abs=1e-6)  # Lightning logs float32
    artefacts = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "medtorch")}
    assert {"report.html", "report.md", "manifest.json"} <= artefacts
    events = [line for line in (run_dir / "events.jsonl").read_text().splitlines() if "tracker_linked" in line]
    assert len(events) == 1 and run.info.run_id in events[0]
    assert run_cli("audit", "verify", str(run_dir)).returncode == 0  # the extra event keeps the chain intact


@pytest.mark.slow
def test_cosine_schedule_and_lr_monitor_callback_beside_medtorchs_own(tracked_run):
    _, run_dir = tracked_run
    log = pd.read_csv(run_dir / "logs" / "metrics.csv")
    lrs = log["lr-AdamW"].dropna().tolist()
    expected = [LR * (1 + math.cos(math.pi * e / EPOCHS)) / 2 for e in range(EPOCHS)]  # CosineAnnealingLR, eta_min 0
    assert lrs == pytest.approx(expected, rel=1e-6)
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()  # medtorch's checkpoint callback is still there


def _compose(*overrides):
    register_configs()
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("medtorch_uid", lambda: "test", replace=True)
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_trainer_flags_are_accepted_and_checked_by_type():
    cfg = _compose("trainer.limit_train_batches=2", "trainer.limit_val_batches=0.5", "trainer.fast_dev_run=true",
                   "trainer.accumulate_grad_batches=4", "trainer.val_check_interval=1.0", "trainer.log_every_n_steps=5",
                   "trainer.profiler=simple")
    validate(cfg)
    from medtorch.extensions import trainer_flags

    assert trainer_flags(cfg.trainer) == {"fast_dev_run": True, "limit_train_batches": 2, "limit_val_batches": 0.5,
                                          "profiler": "simple"}
    from medtorch.models.module import Unprofiled

    assert isinstance(trainer_flags(_compose().trainer)["profiler"], Unprofiled)  # none named: the no-op one, cheaper
    bad = _compose("trainer.limit_train_batches=1.5", "trainer.fast_dev_run=-1", "trainer.profiler=fancy",
                   "trainer.limit_val_batches=lots")
    with pytest.raises(MedtorchError) as e:
        validate(bad)
    text = str(e.value)
    for key in ("trainer.limit_train_batches", "trainer.fast_dev_run", "trainer.profiler", "trainer.limit_val_batches"):
        assert key in text
    with pytest.raises(Exception, match="accumulate_grad_batches"):
        _compose("trainer.accumulate_grad_batches=two")  # the schema's int type, at compose time


def test_group_problems_are_named_with_the_fix():
    cfg = _compose("scheduler=reduce_on_plateau", "scheduler.monitor=val/acc", "+logger.x._target_=no_such.Logger",
                   "+callbacks.y._target_=pytorch_lightning.callbacks.NoSuchCallback", "progress=sometimes",
                   "trainer.fast_dev_run=true", "evaluation.test_look=true")
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    text = str(e.value)
    assert "scheduler.monitor must be one of" in text and "logger.x._target_: cannot import 'no_such.Logger'" in text
    assert "callbacks.y._target_: module 'pytorch_lightning.callbacks' has no 'NoSuchCallback'" in text
    assert "progress must be one of" in text and "evaluation.test_look must be false with trainer.fast_dev_run" in text


@pytest.mark.slow
def test_fast_dev_run_is_marked_not_evidence_and_never_looks_at_the_test_set(tmp_path):
    proc, run_dir = run_train(tmp_path, "trainer.fast_dev_run=true", "scheduler=one_cycle",
                              "trainer.accumulate_grad_batches=2", "trainer.enable_progress_bar=true")
    assert "smoke run" in proc.stdout
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["evidence"] is False and "fast_dev_run" in manifest["not_evidence_reason"]
    assert "NOT evidence" in (run_dir / "NOT_EVIDENCE.txt").read_text()
    assert "NOT EVIDENCE" in (run_dir / "report.md").read_text()
    assert not (run_dir / "explain").exists()
    registry = tmp_path / "registry.sqlite"
    p = run_cli("evaluate", str(run_dir), "--registry", str(registry))
    assert p.returncode == 2 and "is not evidence" in p.stderr
    assert not registry.exists()  # the test-set registry was never touched, neither by the look...
    assert "registry" not in manifest and not (tmp_path / ".data" / "medtorch" / "registry.sqlite").exists()  # ...nor by training
    assert "Tip" not in proc.stderr + proc.stdout and "LeafSpec" not in proc.stderr  # the dependencies' noise
    assert "\r" not in proc.stderr  # progress=auto without a terminal: no progress bars in logs


def _without_importing(code: str, *heavy: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, then fail there if it imported any of ``heavy``."""
    check = f"import sys\nheavy = [m for m in {heavy!r} if m in sys.modules]\nassert not heavy, heavy\n"
    p = subprocess.run([sys.executable, "-c", code + check], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    return p


def test_medtorch_help_imports_neither_torch_nor_lightning():
    p = _without_importing("from medtorch.cli import main\n"
                           "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n",
                           "torch", "pytorch_lightning", "lightning", "hydra")
    _without_importing("import medtorch; assert callable(medtorch.open_run)\n", "torch")
    assert "train" in p.stdout and "--quiet" not in p.stdout  # the verb is listed; --quiet belongs to each verb


def test_a_config_error_is_reported_without_importing_torch_or_lightning():
    """Their imports were most of a refused run's time. The Lightning targets trusted without the import are each
    a real Lightning class, and any other target is still imported (a shipped network's schema is checked against
    its constructor in tests/test_custom_network.py)."""
    from medtorch.extensions import LIGHTNING_TARGETS
    from medtorch.models.targets import locate

    for target in sorted(LIGHTNING_TARGETS):
        assert isinstance(locate(target, "test"), type), target
    _without_importing("from hydra import compose, initialize_config_dir\n"
                       "from medtorch.config import register_configs, validate\n"
                       "register_configs()\n"
                       f"with initialize_config_dir(config_dir={str(CONF)!r}, version_base=None):\n"
                       "    cfg = compose('config', overrides=['logger=many', 'callbacks=lr_monitor', 'progress=sometimes'])\n"
                       "try:\n    validate(cfg)\nexcept Exception as e:\n    assert 'progress must be one of' in str(e), e\n"
                       "else:\n    raise AssertionError('accepted')\n",
                       "torch", "pytorch_lightning", "lightning")


def test_a_logger_whose_package_is_missing_is_refused_with_the_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(MedtorchError, match=r'logger.mlflow needs the mlflow package.*pip install "medtorch\[mlflow\]"'):
        validate(_compose("logger=mlflow"))
    validate(_compose("logger=tensorboard"))  # installed here: accepted


@pytest.mark.slow
def test_a_bug_in_a_run_exits_with_the_internal_error_code_and_marks_the_run_failed(tmp_path, monkeypatch):
    """An exception that is not the input's fault (here a user's callback that raises) is neither exit 1
    (a failed acceptance criterion) nor a refusal: EXIT_INTERNAL_ERROR, with the traceback, and the run failed."""
    from medtorch.errors import EXIT_CRITERIA_FAILED, EXIT_INTERNAL_ERROR

    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "boom.py").write_text(
        "import pytorch_lightning as pl\n\n\nclass Boom(pl.Callback):\n"
        "    def on_train_epoch_end(self, trainer, pl_module):\n        raise RuntimeError('boom in a callback')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    proc, run_dir = run_train(tmp_path / "t", "+callbacks.boom._target_=boom.Boom", "trainer.max_epochs=1",
                              "explain=none", check=False)
    assert proc.returncode == EXIT_INTERNAL_ERROR != EXIT_CRITERIA_FAILED, proc.stderr[-3000:]
    assert "Traceback" in proc.stderr and "boom in a callback" in proc.stderr and "unexpected error" in proc.stderr
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "failed" and "boom in a callback" in manifest["error"]


def test_a_bug_in_a_verb_exits_with_the_internal_error_code(monkeypatch, capsys, tmp_path):
    import medtorch.commands.show as show
    from medtorch.cli import main
    from medtorch.errors import EXIT_INTERNAL_ERROR

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(show, "run", broken)
    assert main(["show", str(tmp_path)]) == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a bug'" in err and "medtorch show: unexpected error" in err
