"""Issue 19, point 1: a network of the user's own, named by ``_target_``, through the whole lifecycle.

``TinyNet`` below is the user's network. The subprocesses import it as
``test_custom_network.TinyNet`` with this directory on PYTHONPATH, as a user's package would be.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from conftest import read_json, run_cli, run_train

HERE = Path(__file__).resolve().parent
TARGET = "test_custom_network.TinyNet"


class TinyNet(nn.Module):
    """A user's network: one hidden layer of ``width`` units, named arguments as medtorch passes them."""

    def __init__(self, n_features: int, n_outputs: int, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.body(x)


class NoOutputs(nn.Module):
    """Cannot take n_outputs: refused when the config is validated."""

    def __init__(self, n_features: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(n_features, classes)


class Rounded(nn.Module):
    """Rounds its input: no gradient reaches the input, so gradient explanations must be skipped."""

    def __init__(self, n_features: int, n_outputs: int):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.linear(torch.round(x))


@pytest.fixture(scope="module")
def user_path():
    """This directory on PYTHONPATH for the subprocesses (the user's package is importable)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(HERE) + (os.pathsep + before if before else "")
    yield
    if before is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory, user_path) -> Path:
    tmp = tmp_path_factory.mktemp("custom_net")
    _, run_dir = run_train(tmp, "model=custom", f"model._target_={TARGET}", "+model.width=8",
                           "explain.methods=[integrated_gradients,feature_ablation]", "explain.max_rows=20")
    return run_dir


@pytest.mark.slow
def test_user_network_trains_and_model_json_records_target_and_arguments(custom_run):
    spec = read_json(custom_run / "model.json")
    assert spec["model"]["_target_"] == TARGET and spec["model"]["width"] == 8
    state = torch.load(custom_run / "model.pt", weights_only=True)
    assert state["body.0.weight"].shape == (8, spec["n_features"])  # the user's class, with the user's width
    assert read_json(custom_run / "manifest.json")["status"] == "complete"


@pytest.mark.slow
def test_user_network_predicts_bridges_and_explains_from_model_json(custom_run, tmp_path, user_path):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(12)
    frame.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    p = run_cli("predict", str(custom_run), "--input", str(tmp_path / "new.csv"), "--output", str(out),
                "--on-invalid", "quarantine")  # a row outside the data specification is set aside, the rest predicted
    assert p.returncode == 0, p.stderr
    predicted = pd.read_csv(out)
    assert 0 < len(predicted) <= 12 and predicted.filter(like="prob_").sum(axis=1).round(6).eq(1).all()
    b = run_cli("bridge", str(custom_run))
    assert b.returncode == 0, b.stdout + b.stderr
    e = run_cli("explain", str(custom_run), "--method", "feature_ablation", "--max-rows", "10", "--name", "again")
    assert e.returncode == 0, e.stderr
    report = read_json(custom_run / "explanations" / "again" / "explanation.json")
    assert list(report["methods"]) == ["feature_ablation"]
    assert "TinyNet has no attention weights" in report["skipped"]["attention"]  # said, not silently missing
    # the explanation at the end of training ran both configured methods on the user's network
    assert set(read_json(custom_run / "explain" / "explanation.json")["methods"]) == {"integrated_gradients",
                                                                                      "feature_ablation"}


@pytest.mark.slow
def test_unimportable_target_at_load_is_one_clear_error(custom_run, tmp_path):
    # without the user's package on the path (the fixture's PYTHONPATH is not set in this test's env)
    env_before = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in env_before.split(os.pathsep) if p and Path(p) != HERE)
    try:
        frame = pd.DataFrame({"x": [1.0]})
        frame.to_csv(tmp_path / "new.csv", index=False)
        p = run_cli("predict", str(custom_run), "--input", str(tmp_path / "new.csv"), "--output", str(tmp_path / "o.csv"))
    finally:
        os.environ["PYTHONPATH"] = env_before
    assert p.returncode == 2, p.stderr
    assert "cannot import 'test_custom_network.TinyNet'" in p.stderr and "PYTHONPATH" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_class_that_cannot_take_n_outputs_is_refused_before_anything_is_written(tmp_path, user_path):
    p, run_dir = run_train(tmp_path, "model=custom", "model._target_=test_custom_network.NoOutputs", "+model.classes=2",
                           check=False)
    assert p.returncode == 2
    assert "cannot take n_outputs" in p.stderr and "NoOutputs" in p.stderr
    assert run_dir is None or not (run_dir / "model.pt").exists()


def test_signature_problems_name_missing_unknown_and_untakeable_parameters():
    from medtorch.models.targets import network_problems

    assert network_problems({"_target_": TARGET, "name": "custom", "width": 4}) == []
    problems = "\n".join(network_problems({"_target_": "test_custom_network.NoOutputs", "name": "x", "classes": 2}))
    assert "cannot take n_outputs" in problems and "n_features" not in problems.split("cannot take")[1].split(":")[0]
    problems = "\n".join(network_problems({"_target_": TARGET, "widht": 4}))
    assert "widht is not a parameter" in problems
    problems = "\n".join(network_problems({"_target_": "test_custom_network.NoOutputs", "n_features": 3}))
    assert "needs classes" in problems
    assert "cannot import 'no_such_pkg.Net'" in network_problems({"_target_": "no_such_pkg.Net"})[0]
    assert "has no 'Missing'" in network_problems({"_target_": "test_custom_network.Missing"})[0]


def test_each_shipped_networks_schema_matches_its_constructor():
    """Config validation trusts a shipped network's schema instead of importing torch to read its signature."""
    import inspect
    from dataclasses import asdict

    from medtorch.config.schema_model import AttentionConfig, LinearConfig, LogisticConfig, MLPConfig
    from medtorch.models.targets import SHIPPED, arguments, locate, network_problems

    for schema in (MLPConfig, LogisticConfig, LinearConfig, AttentionConfig):
        cfg = asdict(schema())
        assert SHIPPED[cfg["name"]] == cfg["_target_"]
        assert network_problems(cfg) == [], schema
        params = inspect.signature(locate(cfg["_target_"])).parameters
        assert set(arguments(cfg)) | {"n_features", "n_outputs"} == {n for n in params if n != "self"}, schema


def test_model_custom_without_a_target_is_refused_by_validation(tmp_path):
    """Before anything is written: not trusted as a shipped network (its name and _target_ are both unset)."""
    from hydra import compose, initialize_config_dir

    from medtorch.config import register_configs, validate
    from medtorch.errors import MedtorchError

    register_configs()
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "medtorch" / "conf"), version_base=None):
        cfg = compose("config", overrides=["model=custom"])
    with pytest.raises(MedtorchError, match="model._target_ must be the import path of a network class"):
        validate(cfg)


def test_shipped_networks_are_target_configs_and_older_model_json_still_builds():
    from medtorch.models.networks import MLP, FeatureTokenTransformer, Logistic, build_network

    old = build_network({"name": "mlp", "hidden": [4], "dropout": 0.0, "activation": "relu"}, 5, 3)  # pre-_target_ spec
    new = build_network({"_target_": "medtorch.models.networks.MLP", "name": "mlp", "hidden": [4], "dropout": 0.0}, 5, 3)
    assert type(old) is type(new) is MLP and old.state_dict().keys() == new.state_dict().keys()
    assert isinstance(build_network({"name": "logistic", "dropout": 0.0}, 5, 2), Logistic)
    assert FeatureTokenTransformer.supports_attention and not getattr(MLP, "supports_attention", False)


def test_gradient_methods_are_skipped_with_a_reason_for_a_network_without_input_gradients():
    from medtorch.explain.support import attention_skip_reason, skipped_methods

    x = torch.randn(4, 3)
    skipped = skipped_methods(Rounded(3, 2), ["integrated_gradients", "feature_ablation", "gradient_shap"], x)
    assert set(skipped) == {"integrated_gradients", "gradient_shap"} and "has no gradient" in skipped["gradient_shap"]
    assert skipped_methods(TinyNet(3, 2), ["integrated_gradients"], x) == {}
    # the exported two-class logistic holds -w/2 and +w/2: its logits sum to a constant, yet each has a gradient
    from medtorch.models.networks import Logistic

    lin, w = Logistic(3, 2), torch.randn(1, 3)
    with torch.no_grad():
        lin.linear.weight[:] = torch.cat([-w / 2, w / 2])
        lin.linear.bias.zero_()
    assert skipped_methods(lin, ["integrated_gradients", "gradient_shap"], x) == {}
    assert "has no attention weights" in attention_skip_reason(TinyNet(3, 2))
