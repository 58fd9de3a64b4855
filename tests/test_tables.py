"""Real-world tables: CSV and Parquet, string and integer-coded categories, missing values,
dates, column names with dots or spaces; a clear error naming the column otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medtorch.config import DataConfig
from medtorch.data import sources
from medtorch.data.cohort import generate_cohort
from medtorch.errors import MedtorchError


def cfg(path, **kw):
    base = dict(name="t", source="table", path=str(path), target="outcome", id_column="visit_id",
                subject_column="patient_id", time_column="visit_date", subgroup_columns=["sex"], categorical=["smoker"])
    return OmegaConf.structured(DataConfig(**{**base, **kw}))


@pytest.fixture(scope="module")
def table():
    return generate_cohort(patients=60, seed=5)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cohort_table_round_trips(tmp_path, table, fmt):
    path = tmp_path / f"c.{fmt}"
    table.to_csv(path, index=False) if fmt == "csv" else table.to_parquet(path, index=False)
    raw = sources.load(cfg(path))
    assert {"lab.crp", "heart rate"} <= set(raw.frame.columns)  # dots and spaces kept
    assert pd.api.types.is_datetime64_any_dtype(raw.extra["visit_date"])
    assert str(raw.frame["smoker"].dtype) == "string"  # integer codes declared categorical
    assert raw.frame["hba1c"].isna().sum() == table["hba1c"].isna().sum()
    assert "patient_id" not in raw.frame and "visit_date" not in raw.frame and "sex" in raw.frame
    assert raw.classes == sorted(table["outcome"].unique())
    np.testing.assert_array_equal(raw.ids, table["visit_id"].to_numpy())


def test_missing_labels_are_dropped_and_recorded(tmp_path, table):
    t = table.copy()
    t.loc[:4, "outcome"] = None
    t.to_csv(tmp_path / "c.csv", index=False)
    raw = sources.load(cfg(tmp_path / "c.csv"))
    assert raw.dropped == [{"reason": "label column 'outcome' is missing", "rows": 5}]
    assert len(raw.y) == len(t) - 5


def test_integer_codes_with_gaps_stay_categories(tmp_path, table):
    t = table.copy()
    t.loc[:3, "smoker"] = np.nan  # read back as float
    t.to_csv(tmp_path / "c.csv", index=False)
    raw = sources.load(cfg(tmp_path / "c.csv"))
    assert set(raw.frame["smoker"].dropna().unique()) <= {"0", "1", "2"}


@pytest.mark.parametrize("key, value, needle", [
    ("subject_column", "patient id", "data.subject_column='patient id' is not a column"),
    ("time_column", "visit.day", "data.time_column='visit.day' is not a column"),
    ("subgroup_columns", ["ethnicity"], "data.subgroup_columns='ethnicity' is not a column"),
])
def test_unknown_columns_are_named(tmp_path, table, key, value, needle):
    table.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(MedtorchError, match=needle.replace(".", r"\.")):
        sources.load(cfg(tmp_path / "c.csv", **{key: value}))


def test_bad_dates_are_named_with_the_row(tmp_path, table):
    t = table.copy()
    t.loc[7, "visit_date"] = "31/02/2019x"
    t.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(MedtorchError, match=r"time column 'visit_date'.*'31/02/2019x'.*row 8 .*numbered from 1.*not a date"):
        sources.load(cfg(tmp_path / "c.csv"))
    t.loc[[1, 2], "outcome"] = None  # two rows without a label before it are dropped: still the file's 8th data row
    t.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(MedtorchError, match=r"time column 'visit_date'.*'31/02/2019x'.*row 8 .*numbered from 1.*not a date"):
        sources.load(cfg(tmp_path / "c.csv"))


def test_external_file_with_an_unknown_class_is_refused(tmp_path, table):
    table.to_csv(tmp_path / "c.csv", index=False)
    t = table.copy()
    t.loc[0, "outcome"] = "transferred"
    t.to_csv(tmp_path / "e.csv", index=False)
    raw = sources.load(cfg(tmp_path / "c.csv"))
    with pytest.raises(MedtorchError, match="'transferred'.*not classes of the training table"):
        sources.load_external_test(cfg(tmp_path / "c.csv"), str(tmp_path / "e.csv"), raw.classes)


def test_cohort_is_deterministic_and_leak_switches_add_their_columns():
    a, b = generate_cohort(seed=1, patients=50), generate_cohort(seed=1, patients=50)
    pd.testing.assert_frame_equal(a, b)
    assert not generate_cohort(seed=2, patients=50).equals(a)
    leaky = generate_cohort(seed=1, patients=50, leak_outcome_lab=True, leak_cause_of_death=True,
                            leak_identifier=True, leak_target_copy=True, leak_duplicates=0.1)
    assert {"troponin_peak", "cause_of_death", "record_number", "outcome_code"} <= set(leaky.columns)
    assert len(leaky) == len(a) + round(0.1 * len(a))
    assert leaky["cause_of_death"].notna().eq(leaky["outcome"] == "died").all()
    assert (a.groupby("patient_id").size() > 1).any()  # repeated visits
    assert a["outcome"].value_counts(normalize=True)["died"] < 0.1  # a rare class
