"""The transparent side: a converged, validation-tuned logistic regression (and EBM, tree), and the comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from conftest import read_json, run_cli, run_train
from medtorch.data.sources import RawTable
from medtorch.data.split import make_split
from medtorch.data.transforms import TabularPreprocessor
from medtorch.explain.comparison import Candidate, compare, odds_ratios
from medtorch.models.inference import predict_proba
from medtorch.models.transparent import fit_logistic, fit_transparent, to_network

GRID = [0.01, 0.1, 1.0, 10.0]


def _split(x, y, seed=0):
    idx = np.random.default_rng(seed).permutation(len(y))
    a, b = idx[: int(0.7 * len(y))], idx[int(0.7 * len(y)):]
    sc = StandardScaler().fit(x[a])
    return sc.transform(x[a]), y[a], sc.transform(x[b]), y[b]


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine])
def test_coefficients_equal_scikit_learn_at_the_chosen_c(loader):
    xtr, ytr, xva, yva = _split(*loader(return_X_y=True))
    k = len(np.unique(ytr))
    fit = fit_logistic(xtr, ytr, xva, yva, k, GRID)
    c = fit.settings["C"]
    assert fit.settings["converged"] and len(fit.settings["grid"]) == len(GRID)
    assert c == min(fit.settings["grid"], key=lambda g: g["val_log_loss"])["C"]  # the validation split chose C
    ref = LogisticRegression(C=c, tol=1e-10, max_iter=100_000).fit(xtr, ytr)
    if k == 2:  # one row of log-odds of class 1 in scikit-learn; softmax rows [0, w] here
        np.testing.assert_allclose(fit.coef[1] - fit.coef[0], ref.coef_[0], atol=1e-4)
        np.testing.assert_allclose(fit.intercept[1] - fit.intercept[0], ref.intercept_[0], atol=1e-4)
    else:
        np.testing.assert_allclose(fit.coef, ref.coef_, atol=1e-4)
        np.testing.assert_allclose(fit.intercept, ref.intercept_, atol=1e-4)
    net = to_network(fit)  # the exported linear layer gives scikit-learn's probabilities
    np.testing.assert_allclose(predict_proba(net, xva.astype(np.float32)), ref.predict_proba(xva), atol=1e-4)


def test_odds_ratios_are_exp_of_scikit_learns_coefficients_per_sd_and_per_level():
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"age": rng.normal(60, 10, n), "site": rng.choice(["a", "b", "c"], n)})
    risk = 0.05 * (frame["age"] - 60) + 0.8 * (frame["site"] == "b") - 0.5 * (frame["site"] == "c") + rng.logistic(size=n)
    y = (risk > 0).astype(np.int64).to_numpy()
    raw = RawTable(frame, y, ["0", "1"], np.arange(n, dtype=np.int64), {"sha256": "x"})
    splits = make_split(raw, "stratified", 0.6, 0.2, 0.2, 0)
    prep = TabularPreprocessor().fit(splits.train)
    xtr, xva = (prep.transform(p.frame).astype(np.float64) for p in (splits.train, splits.val))
    fit = fit_logistic(xtr, splits.train.y, xva, splits.val.y, 2, [1.0])
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=100_000).fit(xtr, splits.train.y)
    ors = {o["term"]: o for o in odds_ratios(to_network(fit), prep, ["0", "1"])}
    names = prep.feature_names_
    assert ors["age"]["odds_ratio"] == pytest.approx(np.exp(ref.coef_[0][names.index("age")]), rel=1e-4)
    b = ref.coef_[0][names.index("site=b")] - ref.coef_[0][names.index("site=a")]
    assert ors["site=b"]["odds_ratio"] == pytest.approx(np.exp(b), rel=1e-4) and ors["site=b"]["per"] == "vs site=a"


def test_unpenalised_fit_equals_statsmodels_on_data_that_do_not_separate():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 3))
    y = (x @ [0.8, -0.5, 0.2] + rng.logistic(size=800) > 0).astype(int)  # noisy: no separation, the MLE exists
    fit = fit_logistic(x, y, x, y, 2, [1e12], tol=1e-10, max_iter=100_000)
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(fit.coef[1] - fit.coef[0], ref.params[1:], atol=1e-4)
    np.testing.assert_allclose(fit.intercept[1] - fit.intercept[0], ref.params[0], atol=1e-4)


def test_tree_and_ebm_fit_on_the_same_inputs():
    pytest.importorskip("interpret")
    xtr, ytr, xva, yva = _split(*load_breast_cancer(return_X_y=True))
    fits = fit_transparent(["tree", "ebm"], xtr, ytr, xva, yva, 2, c_grid=GRID, tol=1e-8, max_iter=1000,
                           tree_depths=[1, 2, 3], seed=0, feature_names=[f"f{i}" for i in range(30)],
                           ebm={"interactions": 0, "outer_bags": 2})
    tree, ebm = fits
    assert tree.settings["max_depth"] in (1, 2, 3) and ebm.settings["options"]["interactions"] == 0
    for f in fits:
        p = f.predict_proba(xva)
        assert p.shape == (len(yva), 2) and np.allclose(p.sum(axis=1), 1)
        assert roc_auc_score(yva, p[:, 1]) > 0.9


def test_comparison_verdict_is_against_the_best_transparent_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.c_[1 - (0.8 * y + 0.1), 0.8 * y + 0.1]  # always right
    weak = np.c_[np.full(400, 0.5), np.full(400, 0.5)] + np.c_[-0.1, 0.1] * rng.choice([-1, 1], 400)[:, None]
    c = compare("mlp", good, [Candidate("tree", "here", weak), Candidate("logistic", "here", good)], y, "val", 300, 0.95, 0)
    assert c.transparent["model"] == "logistic"  # the best: the same MCC as the black box
    assert c.difference["mcc"] == 0.0 and not c.justified
    c = compare("mlp", good, [Candidate("tree", "here", weak)], y, "val", 300, 0.95, 0)
    assert c.justified and c.difference["ci"][0] > 0 and c.difference["auroc_ci"][0] > 0
    assert c.black_box["mcc_interval"]["n"] == 400 and c.resampled == "rows"
    subjects = np.repeat(np.arange(80), 5)
    c = compare("mlp", good, [Candidate("tree", "here", weak)], y, "val", 300, 0.95, 0, subjects=subjects)
    assert c.resampled == "subjects" and c.subjects == 80 and c.difference["mcc_interval"]["subjects"] == 80


# ------------------------------------------------------------------ end to end (real train.py and CLI)
def _rows(run_dir):
    from omegaconf import OmegaConf

    from medtorch.data import sources
    from medtorch.data.governance import split_table
    from medtorch.loading import load_run

    loaded = load_run(run_dir)
    cfg = OmegaConf.create(loaded.config)
    splits = split_table(cfg, sources.load(cfg.data))
    return loaded, splits


@pytest.fixture(scope="module")
def logistic_runs(tmp_path_factory):
    runs = {}
    # the cohort run (visits grouped by patient) also fits an EBM and a tree at training time, as
    # explain.transparent asks, and compares itself with them over patients (cheap EBM settings)
    cohort = ["data=synthetic_cohort", "split=grouped", "model=logistic", "data.cohort.patients=400", "explain.transparent=[ebm,tree]",
              "+explain.ebm={interactions:0,outer_bags:2}", "explain.methods=[feature_ablation]", "explain.max_rows=20"]
    for name, overrides in (("breast_cancer", ["+experiment=logistic_baseline", "explain=none"]), ("cohort", cohort)):
        _, runs[name] = run_train(tmp_path_factory.mktemp(f"logistic_{name}"), *overrides)
    return runs


@pytest.mark.slow
def test_a_run_fits_the_ebm_and_tree_it_is_asked_for_and_compares_over_subjects(logistic_runs):
    pytest.importorskip("interpret")
    run_dir = logistic_runs["cohort"]
    c = read_json(run_dir / "explain" / "explanation.json")["comparison"]
    assert [x["model"] for x in c["candidates"]] == ["ebm", "tree"]  # not the logistic: the run is that model
    assert c["resampled"] == "subjects" and c["subjects"] > 0
    assert c["transparent"]["model"] == max(c["candidates"], key=lambda x: (x["mcc"], x["auroc"]))["model"]
    a = read_json(run_dir / "assessment_val.json")["ci"]
    assert a["resampled"] == "subjects" and a["mcc"]["subjects"] == a["subjects"]
    report = (run_dir / "report.md").read_text()
    assert f"Rows of one subject are resampled together ({a['subjects']} subjects)" in report
    assert "validation figures are optimistic" in report and "C = " in report  # the C chosen on validation


@pytest.mark.slow
def test_logistic_baseline_run_is_the_converged_fit_and_matches_scikit_learn(logistic_runs):
    run_dir = logistic_runs["breast_cancer"]
    loaded, splits = _rows(run_dir)
    spec = read_json(run_dir / "model.json")
    assert spec["model"]["name"] == "logistic" and spec["selected_by"]["converged"]
    state = torch.load(run_dir / "model.pt", weights_only=True)
    assert set(state) == {"linear.weight", "linear.bias"}  # one linear layer, like any run's model.pt
    prep = loaded.preprocessor
    xtr = prep.transform(splits.train.frame).astype(np.float64)  # float32 input would make scikit-learn fit in float32
    ref = LogisticRegression(C=spec["selected_by"]["C"], tol=1e-10, max_iter=100_000).fit(xtr, splits.train.y)
    w = state["linear.weight"].double().numpy()
    np.testing.assert_allclose(w[1] - w[0], ref.coef_[0], atol=1e-4)
    assert read_json(run_dir / "metrics.json")["epochs_trained"] is None  # no Lightning epochs: a converged fit


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["breast_cancer", "cohort"])
def test_transparent_logistic_auroc_matches_scikit_learns_independent_fit(logistic_runs, dataset):
    """Independent preprocessing (scikit-learn's imputers, scaler, encoder) and fit on the same rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    run_dir = logistic_runs[dataset]
    loaded, splits = _rows(run_dir)
    prep = loaded.preprocessor
    spec = read_json(run_dir / "model.json")
    cols = ColumnTransformer([("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(prep.numeric_)),
                              *([("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                       OneHotEncoder(handle_unknown="ignore")), list(prep.categorical_))]
                                if prep.categorical_ else [])])
    ref = make_pipeline(cols, LogisticRegression(C=spec["selected_by"]["C"], max_iter=100_000))
    ref.fit(splits.train.frame, splits.train.y)
    p = ref.predict_proba(splits.val.frame)
    theirs = roc_auc_score(splits.val.y, p[:, 1]) if p.shape[1] == 2 else roc_auc_score(splits.val.y, p, multi_class="ovr")
    ours = read_json(run_dir / "metrics.json")["val"]["auroc"]
    assert abs(ours - theirs) <= 0.005, (ours, theirs)


@pytest.mark.slow
def test_cli_compare_fits_transparent_models_and_names_the_best(default_run):
    proc = run_cli("explain", str(default_run), "--method", "feature_ablation", "--max-rows", "20", "--compare",
                   "--transparent", "logistic", "tree", "--name", "vs_transparent")
    assert proc.returncode == 0, proc.stderr
    c = read_json(default_run / "explanations" / "vs_transparent" / "explanation.json")["comparison"]
    assert [x["model"] for x in c["candidates"]] == ["logistic", "tree"]
    best = max(c["candidates"], key=lambda x: (x["mcc"], x["auroc"]))
    assert c["transparent"]["model"] == best["model"] and c["difference"] == best["difference"]
    assert c["verdict"] in proc.stdout and c["rows"] == read_json(default_run / "metrics.json")["val"]["n"]
    summary = (default_run / "explanations" / "vs_transparent" / "summary.md").read_text()
    assert "(best)" in summary and "AUROC gain" in summary
    # train.py fitted its logistic baseline beside training, in a forked child (medtorch.background); fitted
    # again here in line, it is the same model with the same validation figures
    at_training = read_json(default_run / "explain" / "explanation.json")["comparison"]["candidates"][0]
    again = c["candidates"][0]
    assert at_training["model"] == again["model"] == "logistic"
    assert at_training["settings"] == again["settings"]
    assert (at_training["mcc"], at_training["auroc"]) == (again["mcc"], again["auroc"])


def test_bad_interval_and_transparent_settings_are_refused_together():
    from test_configs import _compose

    from medtorch.config import validate
    from medtorch.errors import MedtorchError

    cfg = _compose("model=logistic", "evaluation.proportion_interval=wald", "evaluation.bootstrap_interval=bc",
                   "explain.transparent=[logistic,xgboost]", "model.c_grid=[0.0,1.0]", "model.dropout=0.2")
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    msg = str(e.value)
    for expected in ("evaluation.proportion_interval must be 'wilson' or 'clopper_pearson'; got 'wald'",
                     "evaluation.bootstrap_interval must be 'bca' or 'percentile'; got 'bc'",
                     "explain.transparent must be a list without repeats drawn from ('logistic', 'ebm', 'tree')",
                     "model.c_grid must be a non-empty list of C > 0", "model.dropout must be 0 for model=logistic"):
        assert expected in msg
    validate(_compose("model=linear", "model.dropout=0.2"))  # the gradient-trained linear layer keeps its dropout
