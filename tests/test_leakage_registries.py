"""Leakage checks on registry-shaped data: each planted pattern is flagged with evidence, and the
clean coarse cohort (a careful user's setting) passes every check. Both directions, per check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from medtorch.config import DataConfig, LeakageConfig, MedtorchConfig
from medtorch.data import leakage, sources
from medtorch.data.cohort import coarse_diabetes
from medtorch.data.governance import LeakageError, check_leakage
from medtorch.data.leakage_ids import subject_id_columns
from medtorch.data.leakage_probe import MODEL, multivariate_probe
from medtorch.data.leakage_signal import follow_up_names, outcome_levels
from medtorch.data.split import HeldOutRows, make_split
from medtorch.evidence import Run
from medtorch.manifest import Manifest
from medtorch.run import RunDir

LEAK = OmegaConf.structured(LeakageConfig)


def cohort_cfg(**cohort):
    d = OmegaConf.structured(DataConfig(name="c", source="synthetic_cohort", target="outcome", id_column="visit_id",
                                        subject_column="patient_id", time_column="visit_date"))
    for k, v in cohort.items():
        d.cohort[k] = v
    return d


def split(strategy="grouped", subject="patient_id", **cohort):
    raw = sources.load(cohort_cfg(coarse=True, **cohort))
    return raw, make_split(raw, strategy, 0.7, 0.15, 0.15, 0, subject=subject, time="visit_date")


def checks(raw, s, subject="patient_id", cfg=LEAK):
    report = leakage.run_checks(s.parts(), cfg, s.strategy, subject, "visit_date", "outcome", classes=raw.classes)
    return report, {c.check: c for c in report.checks}


@pytest.fixture(scope="module")
def clean():
    raw, s = split()
    return raw, s, *checks(raw, s)


def test_clean_coarse_cohort_passes_every_check_with_coincidences_reported(clean):
    raw, s, report, by = clean
    assert report.status == "pass", {k: (c.status, c.summary) for k, c in by.items() if c.status != "pass"}
    dup = by["duplicate_rows"]
    matched = sum(dup.evidence[n]["rows_identical_to_a_train_row"] for n in ("val", "test"))
    assert matched > 0  # the old check stopped here: identical feature vectors of other patients
    assert "coincidence" in dup.summary
    v = dup.evidence["val"]["verdict"]
    assert not v["same_case"] and v["same_subject"] == 0 and v["expected_rate"] > 0 and v["p_value"] > 0.001
    assert "Fisher" in dup.evidence["method"]


def test_copied_rows_are_the_same_case():
    raw = sources.load(cohort_cfg(leak_duplicates=0.1))  # continuous labs: copies cannot be coincidence
    s = make_split(raw, "grouped", 0.7, 0.15, 0.15, 0, subject="patient_id")
    c = leakage.duplicate_rows(s.parts(), subject="patient_id")
    assert c.status == "fail" and "same case" in c.summary
    v = c.evidence["val"]["verdict"]
    assert v["same_case"] and v["p_value"] < 0.001 and v["observed_rate"] > v["expected_rate"]
    ex = c.evidence["val"]["examples"][0]
    a = s.val.frame[s.val.ids == ex["val_row_id"]].reset_index(drop=True)
    b = s.train.frame[s.train.ids == ex["train_row_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_same_subject_across_splits_is_the_same_case():
    raw, s = split("stratified")  # visits of one patient on both sides, identical coarse features
    c = leakage.duplicate_rows(s.parts(), subject="patient_id")
    assert c.status == "fail" and c.evidence["val"]["verdict"]["same_subject"] > 0


def test_the_same_whole_record_is_the_same_case(clean):
    raw, s, _, _ = clean
    train = s.train
    pick = np.arange(20)  # a test file that re-uses 20 training records (ids and dates included)
    test = HeldOutRows("test", train.frame.iloc[pick].reset_index(drop=True), train.y[pick], train.ids[pick],
                       train.extra.iloc[pick].reset_index(drop=True))
    c = leakage.duplicate_rows({"train": train, "val": s.val, "test": test})  # no subject column declared
    assert c.status == "fail" and c.evidence["test"]["verdict"]["same_record"] == 20
    assert "whole reference record" in c.summary


def test_accept_acknowledges_one_named_check_with_its_reason(tmp_path):
    raw = sources.load(cohort_cfg(leak_duplicates=0.1, leak_outcome_level=True))
    s = make_split(raw, "grouped", 0.7, 0.15, 0.15, 0, subject="patient_id", time="visit_date")
    cfg = OmegaConf.merge(OmegaConf.structured(MedtorchConfig), {"data": cohort_cfg(leak_duplicates=0.1)})
    rd = RunDir(tmp_path / "call3")
    with pytest.raises(LeakageError, match="duplicate_rows"):
        check_leakage(cfg, s, _run(tmp_path / "call1"), raw.classes)
    cfg.leakage.accept.duplicate_rows = "checked: re-entered visits, deduplicated upstream"
    with pytest.raises(LeakageError, match="outcome_levels") as e:  # only the named check is acknowledged
        check_leakage(cfg, s, _run(tmp_path / "call2"), raw.classes)
    assert "duplicate_rows" not in str(e.value).split("Evidence")[0]
    assert "leakage.accept.outcome_levels" in str(e.value)
    cfg.leakage.accept.outcome_levels = "record_status is dropped downstream"
    report = check_leakage(cfg, s, _run(tmp_path / "call3"), raw.classes)
    by = {c.check: c for c in report.checks}
    assert by["duplicate_rows"].status == "accepted" and not report.failed
    assert by["duplicate_rows"].evidence["accepted"]["reason"].startswith("checked")
    assert '"accepted"' in rd.leakage.read_text()


def test_outcome_only_level_is_flagged_where_one_feature_thresholds_miss_it():
    raw, s = split(leak_outcome_level=True)
    _, by = checks(raw, s)
    assert by["single_feature"].status == "pass"  # balanced accuracy below the warning level ...
    c = by["outcome_levels"]
    assert c.status == "fail"  # ... but one level is (almost) only patients who died
    f = c.evidence["flagged"][0]
    assert (f["column"], f["level"], f["class_name"]) == ("record_status", "X", "died")
    table = pd.crosstab(s.train.frame["record_status"], s.train.y)
    assert f["rows"] == int(table.loc["X"].sum()) and f["purity"] == pytest.approx(table.loc["X"].max() / f["rows"], abs=1e-4)


def test_level_check_ignores_small_levels_and_a_majority_class_at_its_own_prevalence():
    rng = np.random.default_rng(0)
    n = 3000
    y = (rng.random(n) < 0.995).astype(np.int64)  # a class so common that pure levels are chance
    frame = pd.DataFrame({"grade": rng.choice(["a", "b", "c"], n), "tiny": np.where(np.arange(n) < 10, "t", "u")})
    y[:10] = 0  # "t": 10 rows, all class 0, below min_level_n
    rows = HeldOutRows("train", frame, y, np.arange(n), pd.DataFrame(index=range(n)))
    assert outcome_levels(rows, 30, 0.99).status == "pass"
    assert outcome_levels(rows, 5, 0.99).status == "fail"  # with a lower support floor the tiny level counts


def test_follow_up_time_is_flagged_by_name_and_by_the_probe():
    raw, s = split(leak_follow_up=True)
    _, by = checks(raw, s)
    assert by["single_feature"].status == "pass"  # a threshold on it alone stays below the warning level
    assert by["follow_up_names"].status == "warn" and "follow_up_days" in by["follow_up_names"].summary
    probe = by["multivariate_probe"]
    assert probe.status == "warn"
    f = [d for d in probe.evidence["flagged"] if d["column"] == "follow_up_days"][0]
    assert f["class"] == "died" and f["solo_auroc"] >= f["all_others_auroc"] - 0.02
    cfg = OmegaConf.merge(LEAK, {"fail_on": ["multivariate_probe"]})
    _, by = checks(raw, s, cfg=cfg)
    assert by["multivariate_probe"].status == "fail"  # warnings stop only when the user says so


def test_probe_solo_auroc_matches_a_pandas_and_scikit_learn_recomputation(clean):
    raw, s, _, _ = clean
    c = multivariate_probe(s.train, 20_000, 0.02, 0, raw.classes)
    y, x = s.train.y, s.train.frame["grade"]  # three grades: one histogram bin each
    scores = np.zeros((len(y), len(raw.classes)))
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
        counts = pd.crosstab(x.iloc[tr], y[tr]).reindex(columns=range(len(raw.classes)), fill_value=0)
        prior = counts.sum() / counts.to_numpy().sum()
        rates = (counts + prior) .div(counts.sum(axis=1) + 1, axis=0)
        scores[te] = rates.loc[x.iloc[te]].to_numpy()
    for k, name in enumerate(raw.classes):
        assert c.evidence["solo_auroc"]["grade"][name] == pytest.approx(roc_auc_score(y == k, scores[:, k]), abs=1e-4)


def test_probe_all_others_auroc_matches_scikit_learn():
    from sklearn.preprocessing import OrdinalEncoder

    raw, s = split(leak_follow_up=True)
    c = multivariate_probe(s.train, 20_000, 0.02, 0, raw.classes)
    row = next(d for d in c.evidence["compared"] if d["column"] == "follow_up_days" and d["class"] == "died")
    others = s.train.frame.drop(columns=["follow_up_days"])
    text = [col for col in others.columns if not pd.api.types.is_numeric_dtype(others[col])]
    x = others.copy()
    filled = others[text].astype(object).where(others[text].notna(), np.nan)
    x[text] = OrdinalEncoder(encoded_missing_value=np.nan).fit_transform(filled)
    model = HistGradientBoostingClassifier(**MODEL, categorical_features=[col in text for col in x.columns],
                                           random_state=0)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    p = cross_val_predict(model, x.to_numpy(dtype=np.float64), s.train.y, cv=folds, method="predict_proba")
    k = raw.classes.index("died")
    assert row["all_others_auroc"] == pytest.approx(roc_auc_score(s.train.y == k, p[:, k]), abs=0.01)


def test_follow_up_name_heuristic():
    names = ["days_to_death", "LengthOfStay", "censored", "discharge_status", "cause_of_death", "FU_months",
             "survival_time", "age", "site", "systolic_bp", "creatinine", "found_in_clinic", "focus"]
    frame = pd.DataFrame({n: [1, 2, 3, 4] for n in names})
    rows = HeldOutRows("train", frame, np.array([0, 1, 0, 1]), np.arange(4), pd.DataFrame(index=range(4)))
    flagged = [d["column"] for d in follow_up_names(rows, "outcome").evidence["flagged"]]
    assert flagged == names[:7]


def test_undeclared_repeating_subject_id_is_flagged_not_sex_site_or_age():
    raw = sources.load(cohort_cfg(coarse=True, leak_subject_id=True))
    s = make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)  # the user declared no subject column
    c = subject_id_columns(s.parts(), None)
    assert c.status == "warn" and [d["column"] for d in c.evidence["flagged"]] == ["enrolment_code"]
    assert "data.subject_column=enrolment_code split=grouped" in c.summary
    assert {"sex", "site"} <= set(c.evidence["flagged"][0]["rows_sharing_a_value_agree_on"])
    clean = sources.load(cohort_cfg(coarse=True))  # age in whole years repeats too, but is no id
    s = make_split(clean, "stratified", 0.7, 0.15, 0.15, 0)
    assert subject_id_columns(s.parts(), None).status == "pass"


def test_subject_overlap_counts_unique_subjects():
    def part(name, subjects):
        n = len(subjects)
        return HeldOutRows(name, pd.DataFrame({"x": np.arange(n)}), np.zeros(n, dtype=np.int64), np.arange(n),
                           pd.DataFrame({"pid": subjects}))

    parts = {"train": part("train", ["a", "b", "c"]), "val": part("val", ["a", "d"]), "test": part("test", ["a", "e"])}
    c = leakage.subject_overlap(parts, "pid")
    assert c.status == "fail" and c.evidence["subjects_in_more_than_one_split"] == 1  # "a", once (pairs: 3)
    assert c.summary.startswith("1 subject(s)")


def test_target_named_column_warned_whatever_its_cardinality():
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({"outcome_score": rng.normal(size=n), "x": rng.normal(size=n)})
    rows = HeldOutRows("train", frame, rng.integers(0, 2, n), np.arange(n), pd.DataFrame(index=range(n)))
    c = leakage.target_copy(rows, "outcome")
    assert c.status == "warn" and c.evidence["named_after_target"] == ["outcome_score"]


def test_coarse_diabetes_copy_is_coarse_and_passes(tmp_path):
    frame = coarse_diabetes()
    assert frame["age"].dtype.kind == "i" and (frame["glucose"] % 5 == 0).all()
    frame.to_csv(tmp_path / "d.csv", index=False)
    raw = sources.load(OmegaConf.structured(DataConfig(name="d", source="table", path=str(tmp_path / "d.csv"),
                                                       target="progression")))
    s = make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)
    report = leakage.run_checks(s.parts(), LEAK, "stratified", None, None, "progression", classes=raw.classes)
    assert report.status == "pass", [(c.check, c.summary) for c in report.checks if c.status != "pass"]


def test_breast_cancer_gets_no_probe_warning():
    raw = sources.load(OmegaConf.create({"source": "breast_cancer"}))
    s = make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)
    assert multivariate_probe(s.train, 20_000, 0.02, 0, raw.classes).status == "pass"


def test_leakage_and_calendar_settings_are_checked_when_composed():
    from test_configs import _compose

    from medtorch.config import validate
    from medtorch.errors import MedtorchError

    cfg = _compose('leakage.accept.duplicate_rows="coarse features; different subjects, checked"')
    validate(cfg)
    assert cfg.leakage.accept.duplicate_rows.startswith("coarse features")
    with pytest.raises(Exception, match="duplicate_row"):  # a misspelt check name is refused
        _compose("leakage.accept.duplicate_row=x")
    cfg = _compose("leakage.fail_on=[multivariate_prob]", "leakage.level_purity=0.4", "leakage.min_level_n=0",
                   "data.time_unit=days", "leakage.accept.target_copy=' '")
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    for key in ("leakage.fail_on", "leakage.level_purity", "leakage.min_level_n", "data.time_unit",
                "leakage.accept.target_copy"):
        assert key in str(e.value)


def _run(root) -> Run:
    """A run directory that records what a step writes (each call its own: leakage.json is write-once)."""
    return Run(RunDir(root), Manifest(run_id=""))
