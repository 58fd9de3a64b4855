"""Unit tests of the deployment parts: specification, checks, drift and degradation statistics.

Every statistic is compared with an independent reference (SciPy, scikit-learn).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import rel_entr
from sklearn.metrics import matthews_corrcoef

from deploy_data import table
from medtorch.data.sources import RawTable
from medtorch.data.split import make_split
from medtorch.deploy import degradation as deg
from medtorch.deploy import drift
from medtorch.deploy.checks import SpecChecker
from medtorch.deploy.reference import bin_counts, derive_reference
from medtorch.deploy.spec import DataSpec, derive, load_predefined
from medtorch.errors import MedtorchError
from medtorch.evaluation.bootstrap import mcc_many
from medtorch.evaluation.proportions import wilson_interval

SPEC_CFG = SimpleNamespace(range_margin=0.1, limits={}, missing="observed", units={"marker": "ng/mL"}, descriptions={})
PLAN = SimpleNamespace(psi_threshold=0.2, pvalue=0.01, min_effect=0.1, missingness_change=0.1, min_mcc=0.5,
                       min_sensitivity={"disease": 0.8}, alarm_on="estimate", ci_level=0.95, bootstrap=2000)


@pytest.fixture(scope="module")
def splits():
    df = table(600, 1)
    raw = RawTable(frame=df[["age", "marker", "bmi", "sex", "site"]], y=(df["label"] == "healthy").to_numpy().astype(np.int64),
                   classes=["disease", "healthy"], ids=df["pid"].to_numpy(), source={})
    return make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)


@pytest.fixture(scope="module")
def spec(splits):
    return derive(splits.train, SPEC_CFG, ["label", "pid", "visit"])


# ------------------------------------------------------------------ specification
def test_spec_is_derived_from_training_rows_only(splits, spec):
    with pytest.raises(TypeError, match="only the training rows"):
        derive(splits.val, SPEC_CFG, [])
    with pytest.raises(TypeError, match="only the training rows"):
        derive_reference(splits.test, spec, np.zeros(len(splits.test)), ["a", "b"], 10)
    age = {c.name: c for c in spec.columns}["age"]
    train_age = splits.train.frame["age"]
    assert (age.observed_min, age.observed_max) == (train_age.min(), train_age.max())
    pad = 0.1 * (train_age.max() - train_age.min())
    assert age.min == pytest.approx(train_age.min() - pad) and age.max == pytest.approx(train_age.max() + pad)
    cols = {c.name: c for c in spec.columns}
    positive = SimpleNamespace(**{**vars(SPEC_CFG), "range_margin": 5.0})
    assert {c.name: c for c in derive(splits.train, positive, []).columns}["bmi"].min == 0.0  # never negative in training
    assert cols["age"].type == "integer" and cols["marker"].type == "float" and cols["sex"].type == "categorical"
    assert cols["sex"].categories == ["F", "M"] and cols["marker"].units == "ng/mL"
    assert cols["bmi"].nullable and not cols["marker"].nullable  # training had missing BMI only
    assert spec.source["ids_sha256"] == splits.train.ids_sha256


def test_spec_limits_from_config_replace_the_observed_range(splits):
    cfg = SimpleNamespace(**{**vars(SPEC_CFG), "limits": {"age": [18, 100]}})
    age = {c.name: c for c in derive(splits.train, cfg, []).columns}["age"]
    assert (age.min, age.max, age.range_source) == (18, 100, "config")
    bad = SimpleNamespace(**{**vars(SPEC_CFG), "limits": {"weight": [0, 1]}})
    with pytest.raises(MedtorchError, match=r"\['weight'\]"):
        derive(splits.train, bad, [])


def test_checker_reports_every_violation_kind(spec):
    frame = pd.DataFrame({
        "age": pd.array(["50", "300", "x", "40.5", None], dtype="object"),
        "marker": [0.1, 0.2, 0.3, 0.4, 0.5],
        "bmi": [None, 25.0, 26.0, 27.0, 28.0],
        "sex": pd.array(["F", "M", "Q", None, "F"], dtype="string"),
        "site": pd.array(["A", "B", "C", "A", "B"], dtype="string"),
    })
    typed, valid, violations = SpecChecker(spec).check_rows(frame)
    got = {(v.row, v.column, v.rule.split(":")[0].split(" [")[0]) for v in violations}
    assert got == {(2, "age", "range"), (3, "age", "type integer"), (3, "sex", "a category seen in training"),
                   (4, "age", "type integer"), (4, "sex", "missing value not allowed"), (5, "age", "missing value not allowed")}
    assert valid.tolist() == [True, False, False, False, False]  # BMI may be missing: row 1 is valid
    assert typed["age"].dtype == np.float64
    structural = SpecChecker(spec).check_columns(["age", "marker", "sex", "site", "extra", "label"])
    assert {(v.column, v.rule) for v in structural} == {("bmi", "required column"), ("extra", "column not in the specification")}


def test_a_file_read_as_one_column_is_named_by_its_separator(spec, tmp_path):
    """A semicolon-, tab- or pipe-separated file read as CSV is one column named "a;b;c": each refusal says why."""
    from medtorch.data.sources import read_table

    frame = pd.DataFrame({"age": [40, 50], "marker": [0.1, 0.2], "bmi": [25.0, 26.0], "sex": ["F", "M"], "site": ["A", "B"]})
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        (rule,) = {v.rule for v in SpecChecker(spec).check_columns([sep.join(frame.columns)]) if v.value == "<unknown column>"}
        assert f"looks {name}-separated" in rule, rule
        frame.to_csv(tmp_path / "t.csv", sep=sep, index=False)
        with pytest.raises(MedtorchError, match=f"is not a usable table.*looks {name}-separated"):
            read_table(tmp_path / "t.csv")
    structural = SpecChecker(spec).check_columns(["age", "marker", "bmi", "sex", "site", "a;b"])
    assert [v.rule for v in structural] == ["column not in the specification"]  # several columns: no guess


def test_a_whole_file_without_a_column_the_verb_needs_is_refused_for_that_before_its_rows(spec, tmp_path):
    """A new test file without its labels and with a row out of range: the missing labels are named, not the row
    (which would be fixed first, only to be refused again); a semicolon file is named as one either way."""
    from medtorch.deploy.checks import refuse_nonconforming_file

    frame = table(40, 3)[["age", "marker", "bmi", "sex", "site"]]
    frame.loc[3, "age"] = 10_000
    frame.to_csv(tmp_path / "new.csv", index=False)
    need = {"label": "no labels"}
    with pytest.raises(MedtorchError, match="^no labels$"):
        refuse_nonconforming_file(spec, tmp_path / "new.csv", "new", allowed_extra=("label",), required=need)
    with pytest.raises(MedtorchError, match="row 4, column 'age'"):
        refuse_nonconforming_file(spec, tmp_path / "new.csv", "new", allowed_extra=("label",))
    frame.assign(label="disease").to_csv(tmp_path / "semi.csv", index=False, sep=";")
    with pytest.raises(MedtorchError, match="nothing was written .*looks semicolon-separated"):
        refuse_nonconforming_file(spec, tmp_path / "semi.csv", "new", allowed_extra=("label",), required=need)


def test_predefined_spec_is_locked_and_validated(tmp_path, spec):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec.to_dict()))
    from medtorch.hashing import sha256_file

    digest = sha256_file(path)
    loaded = load_predefined(path, digest, spec.names, ["label"])
    assert loaded.origin == "predefined" and loaded.source["sha256"] == digest and loaded.source["locked"]
    with pytest.raises(MedtorchError, match="changed after it was locked"):
        load_predefined(path, "0" * 64, spec.names, [])
    with pytest.raises(MedtorchError, match=r"not specified \['extra'\]"):
        load_predefined(path, None, spec.names + ["extra"], [])
    broken = {"columns": [{"name": "age", "type": "number"}, {"name": "sex", "type": "categorical"}]}
    with pytest.raises(MedtorchError) as e:
        DataSpec.from_dict(broken, "f.json")
    assert "type must be one of" in str(e.value) and "needs a 'categories' list" in str(e.value)


# ------------------------------------------------------------------ drift statistics
def test_psi_matches_symmetrised_kl_from_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.integers(1, 100, 10), rng.integers(1, 100, 10)
    pp, qq = p / p.sum(), q / q.sum()
    assert drift.psi(p, q) == pytest.approx(rel_entr(qq, pp).sum() + rel_entr(pp, qq).sum())
    assert drift.psi(p, p * 3) == pytest.approx(0.0)


def test_bins_are_training_quantiles():
    x = np.arange(1.0, 101.0)
    edges = np.quantile(x, np.linspace(0, 1, 11)[1:-1])
    counts = bin_counts(np.append(x, np.nan), edges)
    assert counts.sum() == 100 and counts.tolist() == np.histogram(x, [-np.inf, *edges, np.inf])[0].tolist()


def test_drift_detected_on_shifted_data_and_not_on_unshifted(splits, spec):
    ref = derive_reference(splits.train, spec, np.zeros(len(splits.train), dtype=int), ["disease", "healthy"], 10)
    marker = next(r for r in ref["columns"] if r["column"] == "marker")
    same, shifted = table(2000, 7)["marker"].to_numpy(), table(2000, 7, shift=0.5)["marker"].to_numpy()
    a = drift.numeric_drift(marker, same, 0.01 / 6, PLAN)
    b = drift.numeric_drift(marker, shifted, 0.01 / 6, PLAN)
    assert not a["drift"] and b["drift"]
    ks = stats.ks_2samp(splits.train.frame["marker"], shifted)  # the reference sample is exact for a small split
    assert b["statistic"] == pytest.approx(ks.statistic) and b["pvalue"] == pytest.approx(ks.pvalue)
    site = next(r for r in ref["columns"] if r["column"] == "site")
    c = drift.categorical_drift(site, table(2000, 8)["site"], 0.01 / 6, PLAN)
    d = drift.categorical_drift(site, pd.Series(["C"] * 1500 + ["A"] * 500 + ["Z"] * 10), 0.01 / 6, PLAN)
    assert not c["drift"] and d["drift"] and d["unseen_levels"] == ["Z"]
    chi2 = stats.chi2_contingency(np.array([d["reference_counts"], d["new_counts"]]), correction=False)
    assert d["pvalue"] == pytest.approx(chi2.pvalue)
    bmi = next(r for r in ref["columns"] if r["column"] == "bmi")
    e = drift.numeric_drift(bmi, np.where(np.arange(1000) < 400, np.nan, 26.0), 0.01, PLAN)
    assert e["missingness_alarm"] and e["missing_new"] == pytest.approx(0.4)


# ------------------------------------------------------------------ degradation statistics
@pytest.mark.parametrize("seed", [0, 1])
def test_mcc_many_matches_sklearn_including_degenerate(seed):
    rng = np.random.default_rng(seed)
    k = 3
    cases = [(rng.integers(0, k, 200), rng.integers(0, k, 200)),
             (rng.integers(0, k, 200), np.zeros(200, dtype=int)),  # constant predictor: 0
             (np.r_[np.zeros(180), np.ones(20)].astype(int), np.zeros(200, dtype=int))]
    for y, p in cases:
        cells = np.bincount(y * k + p, minlength=k * k)[None, :]
        assert mcc_many(cells.reshape(-1, k, k))[0] == pytest.approx(matthews_corrcoef(y, p), abs=1e-12)


def test_wilson_matches_scipy():
    for k, n in [(0, 10), (7, 10), (45, 50), (50, 50)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson_interval(k, n, 0.95) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_mcc_interval_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.where(rng.random(400) < 0.8, y, 1 - y)
    from medtorch.evaluation.metrics import confusion_matrix

    lo, hi = deg.mcc_interval(confusion_matrix(y, p, 2), 0.95, 4000, seed=0)
    ref = stats.bootstrap((y, p), matthews_corrcoef, paired=True, vectorized=False, n_resamples=2000,
                          method="percentile", random_state=0).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.03) and hi == pytest.approx(ref.high, abs=0.03)


def test_degradation_alarm_against_thresholds():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    good = np.where(rng.random(500) < 0.95, y, 1 - y)
    bad = np.where(rng.random(500) < 0.6, y, 1 - y)
    ok = deg.degradation(y, good, ["disease", "healthy"], PLAN)
    assert ok["breaches"] == [] and ok["mcc"]["breach"] is False
    assert ok["mcc"]["estimate"] == pytest.approx(matthews_corrcoef(y, good))
    worse = deg.degradation(y, bad, ["disease", "healthy"], PLAN)
    assert worse["mcc"]["breach"] and worse["sensitivity"]["disease"]["breach"]
    assert worse["sensitivity"]["healthy"]["threshold"] is None and worse["sensitivity"]["healthy"]["breach"] is None
    assert len(worse["breaches"]) == 2
    # alarm on the upper bound: a small sample whose interval still reaches the threshold raises no alarm
    cautious = SimpleNamespace(**{**vars(PLAN), "alarm_on": "upper_bound"})
    small = deg.degradation(y[:20], np.where(np.arange(20) < 16, y[:20], 1 - y[:20]), ["disease", "healthy"], cautious)
    assert small["mcc"]["estimate"] < 0.8 and small["mcc"]["high"] > PLAN.min_mcc and not small["mcc"]["breach"]


def test_a_run_is_recognised_by_its_event_log_not_by_any_manifest_json(tmp_path):
    """Outputs are refused inside a medtorch run or cross-validation root (its event log beside the log's head or
    the run's manifest), not inside any folder where another tool left a manifest.json."""
    from medtorch.deploy.reading import enclosing_run, refuse_writing_into_a_run
    from medtorch.errors import MedtorchError

    web = tmp_path / "webapp"
    (web / "out").mkdir(parents=True)
    (web / "manifest.json").write_text("{}")
    assert enclosing_run(web / "out" / "p.csv") is None
    refuse_writing_into_a_run(web / "out" / "p.csv", "--output")  # allowed
    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "events.jsonl").write_text("")
    assert enclosing_run(run / "plots" / "p.csv") is None  # a log without its head or a manifest: not a run
    (run / "events.head").write_text("{}")
    assert enclosing_run(run / "plots" / "p.csv") == run.resolve()
    with pytest.raises(MedtorchError, match="inside the medtorch run directory"):
        refuse_writing_into_a_run(run / "plots" / "p.csv", "--output")
    (run / "manifest.json").write_text("{}")
    (run / "events.jsonl").unlink()  # a run that lost its event log is still a run: its manifest and the log's head
    assert enclosing_run(run / "plots" / "p.csv") == run.resolve()


def test_messages_quote_values_as_python_writes_them_not_numpy_reprs():
    from medtorch.data.calendar import to_dates
    from medtorch.survival.data import _check_durations

    for call, value in ((lambda: to_dates(pd.Series([2020.5, 2021.0]), "visit", None, None), "2020.5"),
                        (lambda: to_dates(pd.Series([True, False]), "visit", None, None), "value True"),
                        (lambda: _check_durations(pd.Series([1.0, np.inf]), "months", "x.csv"), "row 2: inf")):
        with pytest.raises(MedtorchError) as e:
            call()
        assert value in str(e.value) and "np." not in str(e.value), str(e.value)


def test_a_file_that_is_no_text_gets_a_readable_reason(tmp_path):
    """A Parquet file under a CSV name is named as such; other bytes are not echoed back to the terminal."""
    from medtorch.data.sources import read_table
    from medtorch.deploy.reading import read_chunks

    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_parquet(tmp_path / "data.csv")
    for read in (lambda p: read_table(p, "auto", text_columns=[]), lambda p: list(read_chunks(p, []))):
        with pytest.raises(MedtorchError) as e:
            read(tmp_path / "data.csv")
        assert "is a Parquet file" in str(e.value) and "Rename it with a .parquet suffix" in str(e.value)
        assert str(e.value).isprintable(), repr(str(e.value))
    (tmp_path / "noise.csv").write_bytes(b"a,b\n" + bytes(range(1, 32)) * 20 + b"\n1,2\n")
    with pytest.raises(MedtorchError) as e:
        read_table(tmp_path / "noise.csv", "auto", text_columns=[])
    assert str(e.value).isprintable() and "noise.csv" in str(e.value), repr(str(e.value))
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_parquet(tmp_path / "broken.parquet")
    (tmp_path / "broken.parquet").write_bytes((tmp_path / "broken.parquet").read_bytes()[:-40])
    with pytest.raises(MedtorchError) as e:
        read_table(tmp_path / "broken.parquet", "auto", text_columns=[])
    assert "is a Parquet file" not in str(e.value) and "Parquet" in str(e.value)


def test_a_file_given_for_a_run_directory_is_named_as_a_file(tmp_path):
    from medtorch.run import RunDir

    (tmp_path / "metrics.csv").write_text("a\n")
    with pytest.raises(MedtorchError, match="is a file, not a run directory"):
        RunDir(tmp_path / "metrics.csv").require()
    with pytest.raises(MedtorchError, match="no such run directory"):
        RunDir(tmp_path / "nothing").require()


def test_a_column_without_bounds_still_refuses_inf_and_numbers_beyond_float32():
    """A predefined specification may leave a column unbounded: inf and 1e300 then passed in_range(-inf, inf) and became
    inf in the model's float32, NaN probabilities."""
    from medtorch.deploy.checks import FINITE_RULE, SpecChecker
    from medtorch.deploy.spec import ColumnSpec, DataSpec

    spec = DataSpec(origin="predefined", columns=[ColumnSpec("x", "float", nullable=False, min=0.0),
                                                  ColumnSpec("z", "float", nullable=False)])
    frame = pd.DataFrame({"x": [1.0, np.inf, 2.0, 3e38], "z": [1.0, 2.0, 1e300, -np.inf]})
    _, valid, violations = SpecChecker(spec).check_rows(frame)
    assert valid.tolist() == [True, False, False, False]
    assert sorted((v.column, v.row) for v in violations) == [("x", 2), ("z", 3), ("z", 4)]
    assert {v.rule for v in violations if v.column == "z"} == {FINITE_RULE}
