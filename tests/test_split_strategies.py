"""Split strategies: grouped keeps subjects whole, temporal orders time, external uses the file;
every strategy yields TrainRows only from make_split, and only TrainRows can be fitted on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medtorch.config import DataConfig, MedtorchConfig, MLPConfig, validate
from medtorch.data import sources
from medtorch.data.balance import plan_balance
from medtorch.data.split import HeldOutRows, TrainRows, make_split
from medtorch.data.transforms import TabularPreprocessor
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_ids


def cohort(**kw):
    d = OmegaConf.structured(DataConfig(
        name="c", source="synthetic_cohort", target="outcome", id_column="visit_id", subject_column="patient_id",
        time_column="visit_date", subgroup_columns=["sex", "site"], categorical=["smoker"]))
    for k, v in kw.items():
        d.cohort[k] = v
    return sources.load(d)


@pytest.fixture(scope="module")
def raw():
    return cohort()


def split(raw, strategy, **kw):
    return make_split(raw, strategy, 0.7, 0.15, 0.15, 0, subject="patient_id", time="visit_date", **kw)


def test_grouped_split_keeps_every_subject_on_one_side_and_stratifies(raw):
    s = split(raw, "grouped")
    subjects = [set(p.extra["patient_id"]) for p in s.parts().values()]
    assert not (subjects[0] & subjects[1]) and not (subjects[0] & subjects[2]) and not (subjects[1] & subjects[2])
    assert sum(len(p) for p in s.parts().values()) == len(raw.y)
    overall = np.bincount(raw.y) / len(raw.y)
    for p in s.parts().values():
        assert np.abs(np.bincount(p.y, minlength=3) / len(p) - overall).max() < 0.03  # stratified as far as possible
        assert abs(len(p) / len(raw.y) - {"train": 0.7, "val": 0.15, "test": 0.15}[p.name]) < 0.04
    assert split(raw, "grouped").train.ids_sha256 == s.train.ids_sha256  # same seed, same split
    other = make_split(raw, "grouped", 0.7, 0.15, 0.15, 1, subject="patient_id")
    assert other.train.ids_sha256 != s.train.ids_sha256


def test_temporal_split_by_fraction_and_by_dates(raw):
    s = split(raw, "temporal", new_subjects_only=False)
    t = {n: p.extra["visit_date"] for n, p in s.parts().items()}
    assert t["train"].max() < t["val"].min() and t["val"].max() < t["test"].min()
    assert sum(len(p) for p in s.parts().values()) == len(raw.y)
    assert abs(len(s.train) / len(raw.y) - 0.7) < 0.01  # cut at a date boundary, so close to but not exactly 0.7
    d = split(raw, "temporal", train_end="2018-01-01", val_end="2019-01-01", new_subjects_only=False)
    dates = raw.extra["visit_date"]
    assert len(d.train) == int((dates < "2018-01-01").sum())
    assert len(d.test) == int((dates >= "2019-01-01").sum())
    kept = split(raw, "temporal", train_end="2018-01-01", val_end="2019-01-01")
    seen = set(kept.train.extra["patient_id"])
    assert not seen & set(kept.val.extra["patient_id"])
    assert len(kept.val) + kept.options["excluded_seen_subject_rows"]["val"] == len(d.val)


def test_temporal_cut_outside_the_data_is_refused(raw):
    with pytest.raises(MedtorchError, match="leaves the val split empty"):
        split(raw, "temporal", train_end="2030-01-01", val_end="2031-01-01")


def test_external_test_split_is_the_external_table(raw):
    ext = cohort(seed=9, patients=50, start_year=2022, years=1)
    s = make_split(raw, "external", 0.85, 0.15, 0.0, 0, subject="patient_id", external=ext)
    assert len(s.test) == len(ext.y) and s.test.ids_sha256 == sha256_ids(ext.ids)
    assert len(s.train) + len(s.val) == len(raw.y)
    assert s.record(raw.classes)["test_source"]["kind"] == "synthetic"


@pytest.mark.parametrize("strategy", ["stratified", "grouped", "temporal", "external"])
def test_only_make_split_creates_training_rows_for_every_strategy(raw, strategy):
    ext = cohort(seed=9, patients=50, start_year=2022, years=1) if strategy == "external" else None
    s = make_split(raw, strategy, 0.7, 0.15, 0.15 if ext is None else 0.0, 0, subject="patient_id",
                   time="visit_date", external=ext)
    assert type(s.train) is TrainRows and type(s.val) is HeldOutRows and type(s.test) is HeldOutRows
    prep = TabularPreprocessor().fit(s.train)
    assert prep.fitted_on_["ids_sha256"] == s.train.ids_sha256
    for held in (s.val, s.test):
        with pytest.raises(TypeError, match="TrainRows"):
            TabularPreprocessor().fit(held)
        with pytest.raises(TypeError):
            plan_balance(OmegaConf.create({"class_weights": "none", "oversample": "balanced",
                                           "oversample_subgroups": {}, "augmentation": "none"}), held, raw.classes, 3)
    with pytest.raises(TypeError, match="only be created by"):
        TrainRows("train", s.val.frame, s.val.y, s.val.ids, s.val.extra)


def test_config_problems_are_reported_together():
    cfg = OmegaConf.merge(OmegaConf.structured(MedtorchConfig), {
        "data": OmegaConf.structured(DataConfig(name="x", source="table", path="f.csv", target="y",
                                                subgroup_columns=["site"])),
        "model": OmegaConf.structured(MLPConfig),
        "split": {"strategy": "grouped"},
        "balance": {"oversample": "smote", "oversample_subgroups": {"site": {"E": 0.5}, "sex": {"F": 2.0}}},
        "leakage": {"predictive_warn": 0.99, "predictive_fail": 0.9},
    })
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    msg = str(e.value)
    for key in ("data.subject_column", "balance.oversample", "balance.oversample_subgroups.site.E", "balance.oversample_subgroups.sex",
                "leakage.predictive_warn/predictive_fail"):
        assert key in msg


def test_unknown_strategy_is_refused_at_composition(tmp_path):
    from conftest import run_train

    proc, _ = run_train(tmp_path, "split.strategy=random", check=False)
    assert proc.returncode != 0 and "split.strategy" in proc.stderr and "random" in proc.stderr


def test_governance_options_compose_from_the_command_line():
    from hydra import compose, initialize_config_dir

    from conftest import REPO
    from medtorch.config import register_configs

    register_configs()
    with initialize_config_dir(str(REPO / "medtorch" / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=cohort_temporal", "+balance.oversample_subgroups.sex.F=2",
                                           "+eda.reference.site.E=0.1", "leakage.stop_on_fail=false"])
    validate(cfg)
    assert cfg.balance.oversample_subgroups == {"site": {"E": 3.0}, "sex": {"F": 2.0}}
    assert cfg.eda.reference.site.E == 0.1 and cfg.split.strategy == "temporal" and cfg.split.train_end == "2019-07-01"


def test_a_label_with_a_value_per_row_is_refused_with_a_short_message_that_says_so():
    """An identifier named as the label: 200 classes of one row each. The message stays short (the 20 rarest
    classes, scikit-learn's list cut) and asks whether data.target is the outcome."""
    from medtorch.data.sources import RawTable
    from medtorch.data.split import make_split
    from medtorch.errors import MedtorchError

    n = 200
    raw = RawTable(frame=pd.DataFrame({"x": np.arange(n, dtype=float)}), y=np.arange(n, dtype=np.int64),
                   classes=[f"id{i}" for i in range(n)], ids=np.arange(n, dtype=np.int64), source={})
    with pytest.raises(MedtorchError) as e:
        make_split(raw, "stratified", 0.7, 0.15, 0.15, 0)
    text = str(e.value)
    assert len(text) < 1200 and "(the 20 rarest of 200 classes)" in text and "id199" not in text
    assert "200 distinct values in 200 rows: is data.target the outcome" in text
    few = RawTable(frame=pd.DataFrame({"x": np.arange(n, dtype=float)}), y=(np.arange(n) == 0).astype(np.int64),
                   classes=["a", "b"], ids=np.arange(n, dtype=np.int64), source={})
    with pytest.raises(MedtorchError) as e:
        make_split(few, "stratified", 0.7, 0.15, 0.15, 0)
    assert "class counts: a: 199, b: 1" in str(e.value) and "distinct values" not in str(e.value)
