"""Issue 15, items 1-6: bad tables and bad config keys are refused with one clear message.

Each test runs the real train.py on a small generated table and checks the exit code, the
message a user sees, and what is left on disk.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medtorch.errors import EXIT_BAD_INPUT, EXIT_TRAINING_DIVERGED

from conftest import REPO, run_train

ONE_EPOCH = ["trainer.max_epochs=1", "explain=none"]


def _table(tmp_path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.integers(0, 2, n)})


def _train_table(tmp_path, frame_or_text, *overrides, name="t.csv"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    if isinstance(frame_or_text, str):
        path.write_text(frame_or_text)
    else:
        frame_or_text.to_csv(path, index=False)
    return run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y", *ONE_EPOCH, *overrides, check=False)


@pytest.mark.slow
def test_inf_is_refused_at_load_naming_the_column_and_rows(tmp_path):
    df = _table(tmp_path)
    df.loc[[5, 17], "a"] = np.inf
    proc, run_dir = _train_table(tmp_path, df)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert "non-finite" in proc.stderr and "column 'a': 2 value(s) (rows 6, 18)" in proc.stderr  # the 6th and 18th data rows
    assert "rows numbered from 1" in proc.stderr
    assert "data.nonfinite=missing" in proc.stderr  # how to fix it
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    assert not (run_dir / "model.pt").exists()


@pytest.mark.slow
def test_a_number_beyond_float32_is_refused_like_inf(tmp_path):
    """1e300 is finite in the file but inf in the model's float32: it made NaN probabilities in a run marked complete
    (in validation rows) or a null fitted scale (in training rows). The duration of a survival table likewise."""
    df = _table(tmp_path)
    df.loc[[7], "b"] = 1e300
    df.loc[[3], "a"] = -np.inf
    proc, run_dir = _train_table(tmp_path, df)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert "column 'b': 1 value(s) beyond float32's range, e.g. 1e+300 (rows 8)" in proc.stderr, proc.stderr[-2000:]
    assert "column 'a': 1 value(s) (rows 4)" in proc.stderr and "Traceback" not in proc.stderr
    assert not (run_dir / "model.pt").exists()
    from medtorch.errors import MedtorchError
    from medtorch.survival.data import _check_durations

    assert _check_durations(pd.Series([1.0, 3e38]), "months", "t.csv").tolist() == [1.0, 3e38]
    with pytest.raises(MedtorchError, match=r"beyond float32's range of 3.4e38 \(first at row 2: 1e\+300\)"):
        _check_durations(pd.Series([1.0, 1e300]), "months", "t.csv")

@pytest.mark.slow
def test_inf_as_missing_is_a_recorded_policy_high_cardinality_is_warned_and_wide_tables_do_not_flood(tmp_path):
    df = _table(tmp_path)
    df.loc[[5, 17], "a"] = -np.inf
    df["code"] = [f"P{i:04d}" for i in range(len(df))]  # 300 distinct levels: an identifier in disguise
    # item 6 in the same run: a 2,000-column table trains without a flood of pandas PerformanceWarnings
    wide = pd.DataFrame(np.random.default_rng(2).normal(size=(len(df), 2000)).round(3),
                        columns=[f"w{i}" for i in range(2000)])
    df = pd.concat([df, wide], axis=1)
    proc, run_dir = _train_table(tmp_path, df, "data.nonfinite=missing", "leakage.enabled=false", "eda.enabled=false",
                                 "trainer.checkpoint_every_n_steps=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PerformanceWarning" not in proc.stderr
    # item 7 in the same run: last.ckpt also every N optimizer steps when configured, each write recorded
    saved = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    steps = [r["details"]["global_step"] for r in saved
             if r["action"] == "checkpoint_saved" and "checkpoints/last.ckpt" in r["outputs"]]
    assert 2 in steps and steps == sorted(steps), steps
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["data"]["nonfinite"] == {"policy": "missing", "columns": {"a": 2}}
    prep = json.loads((run_dir / "preprocessing.json").read_text())
    assert np.isfinite(_numbers(prep)).all()  # no null (NaN) mean, scale or median: the inf did not reach the fit
    assert "warning: categorical column 'code' has 300 levels" in proc.stderr
    assert manifest["data"]["warnings"] and "'code'" in manifest["data"]["warnings"][0]


def _numbers(obj):
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    if obj is None:
        return [float("nan")]  # a null where a number was fitted is what the bug wrote
    return [float(obj)] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


@pytest.mark.slow
def test_a_diverging_loss_fails_the_run_with_epoch_and_step(tmp_path):
    proc, run_dir = run_train(tmp_path, "optim.lr=1e10", *ONE_EPOCH, check=False)
    assert proc.returncode == EXIT_TRAINING_DIVERGED, proc.stderr[-3000:]
    assert "training diverged" in proc.stderr and "epoch 0" in proc.stderr and "step" in proc.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "epoch 0, optimizer step" in manifest["error"]
    assert not (run_dir / "model.pt").exists() and not (run_dir / "report.html").exists()
    actions = [json.loads(line)["action"] for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert "checkpoint_saved" not in actions and actions[-1] == "run_failed"  # stopped before a NaN checkpoint


@pytest.mark.slow
def test_numbers_mixed_with_text_are_refused_with_the_text_values_and_counts(tmp_path):
    df = _table(tmp_path)
    df["lab"] = np.round(np.random.default_rng(1).normal(5, 1, len(df)), 2).astype(object)
    df.loc[::7, "lab"] = "high"
    proc, _ = _train_table(tmp_path, df)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert "column 'lab': 257 numbers and 43 text value(s): 'high' x 43" in proc.stderr
    assert "data.categorical=[COLUMN]" in proc.stderr


@pytest.mark.slow
def test_duplicate_column_names_are_refused(tmp_path):
    text = "a,b,a,y\n" + "\n".join(f"{i},{i * 2},{i % 3},{i % 2}" for i in range(60)) + "\n"
    proc, _ = _train_table(tmp_path, text)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert "duplicate column name(s): 'a' at columns 1, 3" in proc.stderr


@pytest.mark.slow
def test_plus_prefixed_unknown_keys_are_refused_all_at_once_and_nothing_is_left_behind(tmp_path):
    run_dir = tmp_path / "run"
    proc, left = run_train(tmp_path, "+model.dropuot=0.3", "+trainer.logger=csv", "model.dropout=1.5",
                           f"hydra.run.dir={run_dir}", check=False)
    assert proc.returncode == EXIT_BAD_INPUT
    err = proc.stderr
    assert "model.dropuot is not a setting of model 'mlp'" in err and "Did you mean 'dropout'?" in err
    assert "trainer.logger is not a setting of trainer" in err
    assert "model.dropout must be in [0, 1); got 1.5" in err  # values too, in the same message
    assert left is None and not run_dir.exists()  # a config error writes nothing (not even train.log)
    assert err.count("dropuot") == 1  # one problem, named once
    # in the default run directory too: no empty runs/<experiment>/ folders are left behind
    import os
    import subprocess
    import sys

    plain = tmp_path / "plain"
    plain.mkdir()
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "+model.dropuot=0.3"], cwd=plain,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path / ".data")}, capture_output=True, text=True)
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr[-2000:]
    assert list(plain.iterdir()) == []


# ---------------------------------------------------------------- the key check at the validation level
class ToyNetwork:
    """A user's network, as a ``_target_`` would name it."""

    def __init__(self, n_features: int, n_outputs: int, width: int, depth: int = 2, dropout: float = 0.0) -> None:
        self.width, self.depth, self.dropout = width, depth, dropout


class ToyCallback:
    def __init__(self, every: int = 1, **options) -> None:  # open keyword arguments: any key is the target's
        self.every = every


def _composed(*overrides):
    from hydra import compose, initialize_config_dir

    from medtorch.config import register_configs

    register_configs()
    with initialize_config_dir(str(REPO / "medtorch" / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_keys_under_a_target_node_are_checked_against_the_targets_signature():
    from medtorch.config_keys import key_problems, target_problems

    from medtorch.models.targets import network_problems

    cfg = _composed()
    OmegaConf.set_struct(cfg, False)
    cfg.model = {"_target_": f"{__name__}.ToyNetwork", "width": 64}
    # a user's network: its keys are checked against its signature where medtorch builds it
    # (n_features and n_outputs supplied), not against a schema
    assert key_problems(cfg) == [] and network_problems(cfg.model) == []  # +model.width=64 is accepted
    cfg.model.widht = 3
    cfg.model.pop("width")
    problems = network_problems(cfg.model)
    assert any("widht is not a parameter of" in p for p in problems)
    assert any("needs width" in p for p in problems)  # all problems at once
    node = OmegaConf.create({"_target_": f"{__name__}.ToyNetwork", "widht": 3})
    problems = target_problems(node, "cb")  # the general check of any _target_ node
    assert any("cb.widht is not a parameter of" in p and "Did you mean 'width'?" in p for p in problems)
    assert any("cb.width is required by" in p for p in problems)
    assert any("cb.n_features is required by" in p for p in problems)
    # a shipped network keeps its schema: a misspelt key is refused by name
    assert any(p.startswith("model.dropuot") for p in key_problems(_composed("+model.dropuot=0.3")))
    assert target_problems(OmegaConf.create({"_target_": f"{__name__}.ToyCallback", "anything": 1}), "cb") == []
    assert "cannot be checked" in target_problems(OmegaConf.create({"_target_": "no.such.Thing"}), "cb")[0]
    # the framework may pass some parameters itself
    assert target_problems(OmegaConf.create({"_target_": f"{__name__}.ToyNetwork"}), "model",
                           supplied=["width", "n_features", "n_outputs"]) == []


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (REPO / "medtorch" / "conf" / "experiment").glob("*.yaml")))
def test_every_shipped_experiment_has_only_known_keys(experiment):
    from medtorch.config_keys import key_problems

    assert key_problems(_composed(f"+experiment={experiment}")) == []


def test_free_form_dicts_keep_their_keys_and_unknown_nested_keys_are_named():
    from medtorch.config_keys import key_problems

    cfg = _composed("+eda.reference.sex.F=0.5", "+monitoring.min_sensitivity.malignant=0.9", "+data.cohort.pateints=5")
    assert key_problems(cfg) == [p for p in key_problems(cfg) if p.startswith("data.cohort.pateints")]
    assert len(key_problems(cfg)) == 1


# ---------------------------------------------------------------- item 6: wide tables
def test_a_2000_column_table_is_hashed_without_a_performance_warning():
    from medtorch.evaluation.development import row_keys

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 2000)), columns=[f"f{i}" for i in range(2000)])
    frame["site"] = "A"
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        keys = row_keys(frame)
    assert keys.shape == (50,) and len(set(keys.tolist())) == 50


def test_a_few_numeric_codes_beside_a_text_level_stay_categorical():
    from medtorch.data.table_checks import mixed_types

    rng = np.random.default_rng(0)
    coded = pd.DataFrame({"stage": rng.choice(["1.0", "2.0", "x"], 300).astype(object)})
    mixed_types(coded, [], REPO / "t.csv")  # accepted: three levels, as before
    lab = pd.DataFrame({"lab": np.round(rng.normal(5, 1, 300), 2).astype(object)})
    lab.loc[::7, "lab"] = "high"
    with pytest.raises(Exception, match="'high' x 43"):
        mixed_types(lab, [], REPO / "t.csv")
    mixed_types(lab, ["lab"], REPO / "t.csv")  # declared categorical: the user's decision
