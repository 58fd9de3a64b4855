"""Explanations without training: the attention network, Captum attributions per column,
attention rollout, sanity checks, the MCC bootstrap and odds ratios, each against an
independent computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from medtorch.errors import MedtorchError
from medtorch.explain import sanity
from medtorch.explain.attention import attention_maps, attention_weights, rollout
from medtorch.explain.attributions import attribute, make_baselines
from medtorch.explain.columns import ColumnMap
from medtorch.explain.comparison import bootstrap_mcc, odds_ratios
from medtorch.explain.importance import select_rows
from medtorch.explain.settings import METHODS, explain_problems
from medtorch.models.networks import FeatureTokenTransformer, build_network

ATTENTION = dict(name="attention", d_token=16, n_layers=2, n_heads=4, dropout=0.1, attention_dropout=0.1, ffn_factor=2.0)
MODELS = {
    "mlp": dict(name="mlp", hidden=[16, 16], dropout=0.2, activation="relu"),
    "logistic": dict(name="logistic", dropout=0.0),
    "attention": ATTENTION,
}
# inputs 0, 1: numeric columns a, b; inputs 2-4: one-hot parts of categorical column c; input 5: numeric d
SOURCES = ["a", "b", "c", "c", "c", "d"]


def _data(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    level = torch.randint(0, 3, (n,), generator=g)
    x[:, 2:5] = torch.nn.functional.one_hot(level, 3).float()
    return x


def _net(name, n_classes=3, seed=0):
    torch.manual_seed(seed)
    return build_network(MODELS[name], 6, n_classes).eval()


def test_attention_network_returns_every_layer_and_head():
    net = _net("attention")
    x = _data(5)
    logits, weights = net(x, return_attention=True)
    assert isinstance(net, FeatureTokenTransformer)
    assert torch.allclose(logits, net(x), atol=1e-6)
    assert len(weights) == 2 and weights[0].shape == (5, 4, 7, 7)  # (rows, heads, class token + 6 features, same)
    for w in weights:
        assert torch.allclose(w.sum(dim=-1), torch.ones(5, 4, 7), atol=1e-5)  # each query's weights are a distribution
    net.train()
    assert not torch.allclose(net(x), net(x))  # dropout is active in training


def test_column_map_sums_parts_and_takes_groups():
    cmap = ColumnMap.from_sources(SOURCES)
    assert cmap.columns == ["a", "b", "c", "d"]
    v = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert cmap.sum_parts(v).tolist() == [[1.0, 2.0, 12.0, 6.0]]
    assert cmap.take_group(v).tolist() == [[1.0, 2.0, 3.0, 6.0]]
    assert cmap.feature_mask.tolist() == [[0, 1, 2, 2, 2, 3]]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_on_every_model(model, method):
    net, x = _net(model), _data(8)
    base = make_baselines("train_mean", _data(30, seed=1), len(x), 8, 0)
    r = attribute(net, method, x, 3, base, ColumnMap.from_sources(SOURCES), ig_steps=20, gradient_shap_samples=4,
                  perturbation_samples=30)
    assert r.inputs.shape == (3, 8, 6) and r.columns.shape == (3, 8, 4)
    assert np.isfinite(r.columns).all() and np.abs(r.columns).sum() > 0
    if method == "integrated_gradients":
        # completeness: attributions add up to logit(x) - logit(baseline), up to the reported delta
        with torch.no_grad():
            change = (net(x) - net(base.per_row)).T.double().numpy()
        assert np.allclose(r.inputs.sum(axis=2) - change, r.delta, atol=1e-4)
    again = attribute(net, method, x, 3, base, ColumnMap.from_sources(SOURCES), ig_steps=20, gradient_shap_samples=4,
                      perturbation_samples=30)
    assert np.array_equal(r.columns, again.columns)  # seeded: the same numbers twice


def test_feature_ablation_of_a_categorical_column_removes_the_whole_column():
    net, x = _net("mlp"), _data(6)
    base = make_baselines("zeros", x, len(x), 1, 0)
    r = attribute(net, "feature_ablation", x, 3, base, ColumnMap.from_sources(SOURCES))
    ablated = x.clone()
    ablated[:, 2:5] = 0.0
    with torch.no_grad():
        expected = (net(x) - net(ablated)).T.double().numpy()
    assert np.allclose(r.columns[:, :, 2], expected, atol=1e-5)


def test_logistic_integrated_gradients_equal_coefficient_times_input_minus_baseline():
    net = _net("logistic")
    with torch.no_grad():
        net.linear.weight.normal_(0, 2.0)
    x, train = _data(10), _data(40, seed=3)
    base = make_baselines("train_mean", train, len(x), 8, 0)
    r = attribute(net, "integrated_gradients", x, 3, base, ColumnMap.from_sources(SOURCES), ig_steps=50)
    w = net.linear.weight.detach().double().numpy()
    expected = w[:, None, :] * (x.double() - train.double().mean(0)).numpy()[None]
    assert np.allclose(r.inputs, expected, rtol=1e-5, atol=1e-6)
    assert sanity.logistic_ig_check(net, r, x, base.per_row)["passed"]
    r.inputs = r.inputs * 1.01  # a 1 % error must fail the check
    assert not sanity.logistic_ig_check(net, r, x, base.per_row)["passed"]


@pytest.mark.parametrize("model", ["mlp", "attention"])
def test_batched_integrated_gradients_equal_captum_row_by_row(model):
    from captum.attr import IntegratedGradients

    net, x = _net(model), _data(12)
    base = make_baselines("train_sample", _data(40, seed=3), len(x), 8, 0)  # a different baseline per row
    cmap = ColumnMap.from_sources(SOURCES)
    # 12 rows x 20 steps = 240 path points: an internal batch of 64 splits them across rows
    r = attribute(net, "integrated_gradients", x, 3, base, cmap, ig_steps=20, internal_batch=64)
    ig = IntegratedGradients(net)
    rows = np.stack([np.concatenate([ig.attribute(x[i : i + 1], baselines=base.per_row[i : i + 1], target=c, n_steps=20)
                                     .detach().double().numpy() for i in range(len(x))]) for c in range(3)])
    assert np.abs(rows).max() > 1e-3  # not trivially zero
    np.testing.assert_allclose(r.inputs, rows, rtol=1e-4, atol=1e-6)
    whole = attribute(net, "integrated_gradients", x, 3, base, cmap, ig_steps=20, internal_batch=10_000)
    np.testing.assert_allclose(whole.inputs, r.inputs, rtol=1e-5, atol=1e-7)  # the chunking does not change them


def test_model_randomisation_changes_attributions_and_a_constant_method_fails():
    net, x = _net("mlp", n_classes=2), _data(40)
    with torch.no_grad():  # a model with a clear structure: class 1 follows column a
        for p in net.parameters():
            p.mul_(0.01)
        net.net[-1].bias.zero_()
    torch.manual_seed(0)
    cmap = ColumnMap.from_sources(SOURCES)
    base = make_baselines("zeros", x, len(x), 1, 0)
    r = attribute(net, "integrated_gradients", x, 2, base, cmap)
    clone = sanity.randomised_copy(net, seed=1)
    changed = [not torch.equal(a, b) for a, b in zip(net.parameters(), clone.parameters())]
    assert all(changed)
    r2 = attribute(clone, "integrated_gradients", x, 2, base, cmap)
    pred = np.zeros(len(x), dtype=int)
    result = sanity.randomisation_test(r, r2, pred)
    assert result.mean_row_spearman < 0.5 and result.passed
    same = sanity.randomisation_test(r, r, pred)  # attributions that ignore the weights
    assert same.mean_row_spearman == pytest.approx(1.0) and not same.passed


def test_method_agreement_matches_pandas_spearman():
    net, x = _net("mlp"), _data(20)
    base = make_baselines("train_mean", x, len(x), 4, 0)
    cmap = ColumnMap.from_sources(SOURCES)
    rs = [attribute(net, m, x, 3, base, cmap) for m in ("integrated_gradients", "feature_ablation")]
    agree = sanity.method_agreement(rs)
    a, b = (pd.Series(np.abs(r.columns).mean(axis=(0, 1))) for r in rs)
    assert agree["integrated_gradients"]["feature_ablation"] == pytest.approx(a.corr(b, method="spearman"))


def test_rollout_against_a_direct_loop():
    rng = np.random.default_rng(0)
    w = rng.random((3, 2, 4, 5, 5))
    w /= w.sum(axis=-1, keepdims=True)
    for i in range(3):
        joint = np.eye(5)
        for layer in range(2):
            a = w[i, layer].mean(axis=0) * 0.5 + np.eye(5) * 0.5  # rows of w sum to 1, so this is the renormalised form
            joint = a @ joint
        assert np.allclose(rollout(w)[i], joint[0])


def test_attention_maps_per_column():
    net, x = _net("attention"), _data(4)
    maps = attention_maps(net, x, ColumnMap.from_sources(SOURCES))
    w = attention_weights(net, x)
    assert maps.cls_attention.shape == (4, 2, 4, 4)
    assert np.allclose(maps.cls_attention[..., 2], w[:, :, :, 0, 3:6].sum(axis=-1))  # c's three tokens added
    assert np.allclose(maps.rollout.sum(axis=1), 1.0)


def test_paired_bootstrap_mcc_matches_scikit_learn_on_the_same_resamples():
    from sklearn.metrics import matthews_corrcoef

    from medtorch.evaluation.bootstrap import resample_indices

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    good = np.where(rng.random(120) < 0.9, y, 1 - y)
    onehot = lambda p: np.eye(2)[p]  # noqa: E731
    probs = {"good": onehot(good), "const": onehot(np.zeros(120, dtype=int))}
    boot = bootstrap_mcc(y, probs, 200, seed=0)
    assert np.all(boot["const"] == 0.0)  # a constant predictor has MCC 0 on every resample
    idx = resample_indices(y, 200, 0)  # both models see these same rows: the bootstrap is paired
    for b in (0, 7, 199):
        assert boot["good"][b] == pytest.approx(matthews_corrcoef(y[idx[b]], good[idx[b]]))
    assert np.array_equal(boot["good"], bootstrap_mcc(y, probs, 200, seed=0)["good"])


def test_odds_ratios_per_sd_and_against_the_reference_level():
    class Prep:
        feature_names_ = ["age", "site=A", "site=B"]
        feature_sources_ = ["age", "site", "site"]
        numeric_ = ["age"]
        scales_ = {"age": 10.0}
        levels_ = {"site": ["A", "B"]}

    net = build_network(MODELS["logistic"], 3, 2)
    with torch.no_grad():
        net.linear.weight.copy_(torch.tensor([[0.1, 0.2, 0.3], [0.6, -0.2, 0.9]]))
    ors = odds_ratios(net, Prep(), ["no", "yes"])
    assert [o["term"] for o in ors] == ["age", "site=B"]
    assert ors[0]["odds_ratio"] == pytest.approx(np.exp(0.5), rel=1e-6)
    assert ors[1]["odds_ratio"] == pytest.approx(np.exp((0.9 - 0.3) - (-0.2 - 0.2)), rel=1e-6)


def test_local_rows_are_the_extremes_and_the_mistakes():
    probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8], [0.35, 0.65], [0.99, 0.01]])
    y = np.array([0, 0, 1, 0, 1])
    rows = select_rows(probs, y, np.array([10, 11, 12, 13, 14]), 1, [12])
    got = {r.row_id: r.reasons for r in rows}
    assert got == {14: ["most confident", "misclassified"], 11: ["least confident"], 12: ["requested"]}


def test_explain_config_problems_are_reported_together():
    from dataclasses import asdict

    from medtorch.config import ExplainConfig

    bad = {**asdict(ExplainConfig()), "methods": ["integrated_gradient"], "baseline": "median", "ig_steps": 1}
    problems = explain_problems(bad)
    assert len(problems) == 3
    assert any("integrated_gradient" in p and "integrated_gradients" in p for p in problems)
    test_compare = {**asdict(ExplainConfig()), "split": "test", "compare_with": "/no/such/run"}
    problems = explain_problems(test_compare)
    assert any("explain.split" in p for p in problems) and any("/no/such/run" in p for p in problems)
    with pytest.raises(MedtorchError, match="train_mean"):
        make_baselines("median", torch.zeros(3, 2), 2, 1, 0)


def test_cli_options_override_the_runs_explain_settings():
    import argparse

    from medtorch.commands.explain import add_arguments, settings_for

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = {"explain": {"enabled": False, "methods": ["lime"], "compare_with": "runs/baseline", "max_rows": 50}}
    s = settings_for(config, parser.parse_args(["RUN"]))
    assert s["enabled"] and s["methods"] == ["lime"] and s["compare_with"] == "runs/baseline" and s["max_rows"] == 50
    s = settings_for(config, parser.parse_args(["RUN", "--method", "all", "--rows", "3", "4", "--compare", "none",
                                                "--split", "test", "--max-rows", "10"]))
    assert s["methods"] == list(METHODS) and s["rows"] == [3, 4] and s["compare_with"] is None
    assert s["split"] == "test" and s["max_rows"] == 10
    s = settings_for({}, parser.parse_args(["RUN"]))  # a run trained before explanations existed: the defaults
    assert s["methods"] == ["integrated_gradients", "gradient_shap", "feature_ablation"]
