"""New test data is refused when its rows or subjects also occur in the run's data."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medtorch.data import sources
from medtorch.evaluation.test_rows import OverlapError, _refuse_overlap


def _data(path, subject_column=None):
    return {"name": "t", "source": "table", "path": str(path), "target": "label", "format": "auto", "id_column": None,
            "categorical": [], "drop": [], "subject_column": subject_column, "time_column": None,
            "subgroup_columns": [], "description": ""}


def test_overlap_by_rows_and_by_subjects(tmp_path):
    rng = np.random.default_rng(0)
    old = pd.DataFrame({"patient": np.arange(20), "x": rng.normal(size=20).round(4), "label": ["a", "b"] * 10})
    old.to_csv(tmp_path / "old.csv", index=False)
    raw = sources.load(OmegaConf.create(_data(tmp_path / "old.csv", "patient")))
    run = types.SimpleNamespace(config={"data": _data(tmp_path / "old.csv", "patient")}, manifest={"data": {"sha256": raw.source["sha256"]}})
    seal = {"ids": [0, 1, 2]}

    fresh = pd.DataFrame({"patient": [100, 101], "x": [9.0, 8.0], "label": ["a", "b"]})
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    _refuse_overlap(run, seal, sources.load(OmegaConf.create(_data(tmp_path / "fresh.csv", "patient"))), "fresh.csv")  # independent

    same_rows = pd.concat([fresh, old.iloc[[1, 5]]])  # one sealed test row, one development row
    same_rows.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(OverlapError, match=r"2 row\(s\) .* \(1 development, 1 sealed test\)") as e:
        _refuse_overlap(run, seal, sources.load(OmegaConf.create(_data(tmp_path / "rows.csv", "patient"))), "rows.csv")
    assert e.value.exit_code == 8

    same_subject = pd.concat([fresh, pd.DataFrame({"patient": [7], "x": [5.5], "label": ["a"]})])  # new visit, known patient
    same_subject.to_csv(tmp_path / "subj.csv", index=False)
    with pytest.raises(OverlapError, match=r"1 subject\(s\) in column 'patient' .* \['7'\]"):
        _refuse_overlap(run, seal, sources.load(OmegaConf.create(_data(tmp_path / "subj.csv", "patient"))), "subj.csv")


def test_overlapping_rows_are_named_by_their_place_in_the_file_when_unlabelled_rows_were_dropped(tmp_path):
    rng = np.random.default_rng(1)
    old = pd.DataFrame({"x": rng.normal(size=20).round(4), "z": rng.normal(size=20).round(4), "label": ["a", "b"] * 10})
    old.to_csv(tmp_path / "old.csv", index=False)
    raw = sources.load(OmegaConf.create(_data(tmp_path / "old.csv")))
    run = types.SimpleNamespace(config={"data": _data(tmp_path / "old.csv")}, manifest={"data": {"sha256": raw.source["sha256"]}})
    new = pd.DataFrame({"x": [9.0, 8.0, 7.0, old.x[3]], "z": [1.0, 2.0, 3.0, old.z[3]], "label": ["a", None, None, "b"]})
    new.to_csv(tmp_path / "new.csv", index=False)  # file rows 1-4; rows 2 and 3 have no label and are dropped
    loaded = sources.load(OmegaConf.create(_data(tmp_path / "new.csv")))
    assert len(loaded.y) == 2 and loaded.row_number.tolist() == [0, 3]
    with pytest.raises(OverlapError, match=r"1 row\(s\) have the same feature values .* first at data rows 4 "):
        _refuse_overlap(run, {"ids": []}, loaded, "new.csv")
    near = new.copy()
    near.loc[3, "z"] = 123.0  # the same row with one value changed: a near-duplicate, also named by its file row
    near.to_csv(tmp_path / "near.csv", index=False)
    with pytest.raises(OverlapError, match=r"1 row\(s\) equal a row of the run's data in every feature but one.* first at data rows 4 "):
        _refuse_overlap(run, {"ids": []}, sources.load(OmegaConf.create(_data(tmp_path / "near.csv"))), "near.csv")
