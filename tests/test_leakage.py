"""Each leakage check catches its planted leak (synthetic cohort switches) and passes clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import balanced_accuracy_score

from medtorch.config import DataConfig, LeakageConfig, MedtorchConfig
from medtorch.data import leakage, sources
from medtorch.data.governance import LeakageError, check_leakage
from medtorch.data.split import HeldOutRows, make_split
from medtorch.evidence import Run
from medtorch.manifest import Manifest
from medtorch.run import RunDir

LEAK = OmegaConf.structured(LeakageConfig)


def cohort_cfg(**cohort) -> OmegaConf:
    d = OmegaConf.structured(DataConfig(
        name="c", source="synthetic_cohort", target="outcome", id_column="visit_id", subject_column="patient_id",
        time_column="visit_date", subgroup_columns=["sex", "age_band", "site"], categorical=["smoker"]))
    for k, v in cohort.items():
        d.cohort[k] = v
    return d


def split(strategy="grouped", **cohort):
    d = cohort_cfg(**cohort)
    raw = sources.load(d)
    return raw, make_split(raw, strategy, 0.7, 0.15, 0.15, 0, subject=d.subject_column, time=d.time_column)


@pytest.fixture(scope="module")
def clean():
    raw, s = split("grouped")
    return leakage.run_checks(s.parts(), LEAK, "grouped", "patient_id", "visit_date", "outcome")


def by_name(report):
    return {c.check: c for c in report.checks}


def test_clean_cohort_passes_every_check(clean):
    checks = by_name(clean)
    assert clean.status == "pass"
    assert {k: c.status for k, c in checks.items()} == {
        "duplicate_rows": "pass", "subject_overlap": "pass", "time_overlap": "skipped",
        "single_feature": "pass", "identifier_columns": "pass", "target_copy": "pass", "outcome_levels": "pass",
        "follow_up_names": "pass", "multivariate_probe": "pass", "subject_id_columns": "pass"}


def test_duplicate_rows_caught_with_example_ids():
    raw, s = split("grouped", leak_duplicates=0.1)
    c = leakage.duplicate_rows(s.parts())
    assert c.status == "fail"
    ex = c.evidence["val"]["examples"][0]
    val, train = s.val, s.train
    a = val.frame[val.ids == ex["val_row_id"]].reset_index(drop=True)
    b = train.frame[train.ids == ex["train_row_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)  # the evidence points at truly identical rows
    # the count is exact: compare with a plain pandas merge on all feature columns
    for name in ("val", "test"):
        part = s.parts()[name]
        merged = part.frame.drop_duplicates().merge(train.frame.drop_duplicates(), how="inner")
        want = part.frame.merge(merged, how="inner").shape[0]
        assert c.evidence[name]["rows_identical_to_a_train_row"] == want


def test_subject_overlap_caught_in_a_random_split_and_not_in_a_grouped_one(clean):
    raw, s = split("stratified")
    c = leakage.subject_overlap(s.parts(), "patient_id")
    assert c.status == "fail"
    tr = set(s.train.extra["patient_id"])
    want = len(tr & set(s.val.extra["patient_id"]))
    assert c.evidence["train&val"]["subjects"] == want > 0
    assert set(c.evidence["train&val"]["examples"]) <= tr
    assert by_name(clean)["subject_overlap"].status == "pass"


def test_time_overlap_caught_when_held_out_rows_are_not_later():
    raw, s = split("temporal")
    parts = s.parts()
    assert leakage.time_overlap(parts, "visit_date", "temporal").status == "pass"
    # plant: a validation split holding rows dated inside the training period
    early = s.train
    planted = {"train": s.train, "val": HeldOutRows("val", early.frame[:20], early.y[:20], early.ids[:20],
                                                    early.extra[:20]), "test": s.test}
    c = leakage.time_overlap(planted, "visit_date", "temporal")
    assert c.status == "fail" and c.evidence["val"]["rows_not_later"] == 20
    assert c.evidence["val"]["examples"] == [int(i) for i in early.ids[:5]]
    assert leakage.time_overlap(parts, "visit_date", "grouped").status == "skipped"


@pytest.mark.parametrize("switch, column, source", [
    ("leak_outcome_lab", "troponin_peak", "values"),
    ("leak_cause_of_death", "cause_of_death", "missingness"),
])
def test_single_feature_predictor_caught(switch, column, source):
    raw, s = split("grouped", **{switch: True})
    c = leakage.single_feature(s.train, LEAK.predictive_warn, LEAK.predictive_fail)
    assert c.status == "fail"
    flagged = {(d["column"], d["from"]) for d in c.evidence["flagged"] if d["balanced_accuracy"] >= 0.98}
    assert (column, source) in flagged
    assert {d["column"] for d in c.evidence["flagged"]} == {column}  # nothing clean is flagged beside it


def test_single_feature_balanced_accuracy_matches_scikit_learn():
    raw, s = split("grouped", leak_cause_of_death=True)
    y = s.train.y
    miss = s.train.frame["cause_of_death"].isna().to_numpy().astype(np.int64)
    ours = leakage._one_vs_rest_ba(miss, y, 3)
    for k in range(3):
        ref = max(balanced_accuracy_score(y == k, miss == 0), balanced_accuracy_score(y == k, miss == 1))
        assert ours[k] == pytest.approx(ref, abs=1e-12)
    # a constant feature predicts nothing: balanced accuracy 0.5 for every class
    assert np.allclose(leakage._one_vs_rest_ba(np.zeros(len(y), dtype=np.int64), y, 3), 0.5)
    # a numeric feature binned: the reference is the best per-bin rule, computed by brute force
    x = s.train.frame["creatinine"]
    codes = leakage._codes(x)
    for k in range(3):
        pred = np.array([((y[codes == b] == k).sum() / (y == k).sum()) > ((y[codes == b] != k).sum() / (y != k).sum())
                         for b in range(codes.max() + 1)])
        ref = balanced_accuracy_score(y == k, pred[codes])
        assert leakage._one_vs_rest_ba(codes, y, 3)[k] == pytest.approx(ref, abs=1e-12)


def test_identifier_column_caught():
    raw, s = split("grouped", leak_identifier=True)
    c = leakage.identifier_columns(s.train, LEAK.identifier_unique)
    assert c.status == "fail" and [d["column"] for d in c.evidence["flagged"]] == ["record_number"]


def test_target_copy_caught(clean):
    raw, s = split("grouped", leak_target_copy=True)
    c = leakage.target_copy(s.train, "outcome")
    assert c.status == "fail" and c.evidence["copies"] == ["outcome_code"]
    assert by_name(clean)["target_copy"].status == "pass"


def test_stop_switch(tmp_path):
    raw, s = split("grouped", leak_target_copy=True)
    cfg = OmegaConf.merge(OmegaConf.structured(MedtorchConfig), {"data": cohort_cfg(leak_target_copy=True)})
    rd = RunDir(tmp_path / "call1")
    with pytest.raises(LeakageError, match="target_copy") as e:
        check_leakage(cfg, s, _run(tmp_path / "call1"))
    assert e.value.exit_code == 4 and rd.leakage.is_file()
    cfg.leakage.stop_on_fail = False
    report = check_leakage(cfg, s, _run(tmp_path / "call2"))
    assert report.status == "fail"  # recorded, not stopped


def test_external_test_file_from_the_training_period_is_flagged():
    d = cohort_cfg()
    raw = sources.load(d)
    same_period = sources.load(cohort_cfg(seed=7, patients=40))
    later = sources.load(cohort_cfg(seed=7, patients=40, start_year=2022, years=1))
    for ext, want in ((same_period, "warn"), (later, "pass")):
        s = make_split(raw, "external", 0.85, 0.15, 0.0, 0, subject="patient_id", time="visit_date", external=ext)
        assert leakage.time_overlap(s.parts(), "visit_date", "external").status == want


def test_dropping_the_leaky_column_clears_the_check():
    d = cohort_cfg(leak_outcome_lab=True)
    d.drop = ["troponin_peak"]
    raw = sources.load(d)
    s = make_split(raw, "grouped", 0.7, 0.15, 0.15, 0, subject="patient_id")
    assert leakage.single_feature(s.train, 0.9, 0.98).status == "pass"


def test_breast_cancer_is_not_stopped():
    raw = sources.load(OmegaConf.create({"source": "breast_cancer"}))
    s = make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)
    report = leakage.run_checks(s.parts(), LEAK, "stratified", None, None, None)
    # genuinely strong single predictors (worst perimeter ...) are reported as warnings, not failures
    assert report.status == "warn" and not report.failed
    assert by_name(report)["single_feature"].status == "warn"


def _run(root) -> Run:
    """A run directory that records what a step writes (each call its own: leakage.json is write-once)."""
    return Run(RunDir(root), Manifest(run_id=""))


def test_grouped_aurocs_equal_scikit_learns_roc_auc_score_with_ties():
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from medtorch.data.leakage_probe import grouped_aurocs

    rng = np.random.default_rng(3)
    for n_classes, n_groups in [(2, 5), (3, 40), (4, 300)]:
        y = rng.integers(0, n_classes, 5000)
        group = rng.integers(0, n_groups, 5000)
        scores = rng.integers(0, 7, (n_groups, n_classes)) / 7.0  # few values: many ties, across groups too
        ours = grouped_aurocs(group, scores, y, n_classes)
        ref = [roc_auc_score(y == k, scores[group, k]) for k in range(n_classes)]
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    # a constant score: 0.5
    y = rng.integers(0, 2, 100)
    assert grouped_aurocs(np.zeros(100, dtype=np.int64), np.full((1, 2), 0.3), y, 2).tolist() == [0.5, 0.5]
