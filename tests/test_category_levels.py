"""Integer-coded categories keep one level ("1") through training, the specification, the
monitoring reference, predict and monitor, whether or not a file or chunk has missing values
(pandas writes such a column as 1.0, 2.0, ...)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, run_train
from medtorch.data.levels import level_text

pytestmark = pytest.mark.slow


def test_level_text_writes_whole_numbers_without_decimals():
    s = pd.Series(["1.0", "1", "2.", "-3.00", "007", "1.5", "A", None, "-0.0"], dtype=object)
    assert level_text(s).tolist() == ["1", "1", "2", "-3", "007", "1.5", "A", pd.NA, "0"]
    assert level_text(pd.Series([1.0, np.nan, 2.5])).tolist() == ["1", pd.NA, "2.5"]
    assert level_text(pd.Series([1, 2])).tolist() == ["1", "2"]
    # a boolean column (pandas parses true/TRUE/True as bool) and the same values read as text
    assert level_text(pd.Series([True, False, None])).tolist() == ["True", "False", pd.NA]
    assert level_text(pd.Series(["true", "TRUE", "False", "truthy"])).tolist() == ["True", "True", "False", "truthy"]


def _cli(*args) -> tuple[int, str]:
    from medtorch.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = main([str(a) for a in args])
    return rc, out.getvalue()


def _table(n: int, seed: int, gaps: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grade = rng.integers(1, 4, n).astype(float)  # declared categorical; floats once it has gaps
    grade[rng.random(n) < gaps] = np.nan
    stage = rng.choice(["1.0", "2.0", "x"], n)  # a text column whose codes were written as floats
    marker = rng.normal(0, 1, n)
    smoker = rng.random(n) < 0.3  # undeclared; pandas writes True/False and reads it back as bool
    label = np.where(marker + (grade == 3) + rng.logistic(0, 0.5, n) > 0.5, "yes", "no")
    return pd.DataFrame({"marker": marker, "grade": grade, "stage": stage, "smoker": smoker, "label": label})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("levels")
    _table(300, 0, gaps=0.1).to_csv(tmp / "train.csv", index=False)  # grade written as 1.0, 2.0, 3.0 and blanks
    _, run = run_train(tmp, "data=table", f"data.path={tmp / 'train.csv'}", "data.target=label",
                       "data.categorical=[grade]", "trainer.max_epochs=1")
    return run


def test_training_spec_and_reference_record_integer_levels(run_dir):
    spec = {c["name"]: c for c in read_json(run_dir / "data_spec.json")["columns"]}
    assert spec["grade"]["categories"] == ["1", "2", "3"] and spec["grade"]["nullable"] is True
    assert spec["stage"]["categories"] == ["1", "2", "x"]
    assert spec["smoker"]["categories"] == ["False", "True"]
    ref = {c["column"]: c for c in read_json(run_dir / "monitoring_reference.json")["columns"]}
    assert sorted(ref["grade"]["counts"]) == ["1", "2", "3"] and sorted(ref["stage"]["counts"]) == ["1", "2", "x"]


def test_predict_and_monitor_accept_1_and_1_0_in_any_chunk(run_dir, tmp_path):
    new = _table(60, 1, gaps=0.0).drop(columns="label")
    new["grade"] = new["grade"].astype(int)
    new["stage"] = new["stage"].str.replace(".0", "", regex=False)
    lines = new.to_csv(index=False).splitlines()
    # rows 1-20 as integers; rows 21-40 as pandas writes a column with gaps; rows 41-60 integers again
    for i in range(1, 61):
        m, g, s, k = lines[i].split(",")
        k = k.lower() if i % 2 else k.upper()  # another writer's booleans: true / FALSE
        if 21 <= i <= 40:
            g = "" if i % 5 == 0 else g + ".0"
            s = s if s == "x" else s + ".0"
        lines[i] = f"{m},{g},{s},{k}"
    src = tmp_path / "new.csv"
    src.write_text("\n".join(lines) + "\n")
    rc, out = _cli("predict", run_dir, "--input", src, "--output", tmp_path / "p.csv", "--chunk-rows", "20")
    assert rc == 0, out
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60
    rc, out = _cli("monitor", run_dir, "--input", src, "--out", tmp_path / "rep")
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["rows_violating_spec"] == 0, report["spec_violations"]
    feats = {f["column"]: f for f in report["overall"]["features"]}
    assert feats["grade"]["unseen_levels"] == [] and feats["stage"]["unseen_levels"] == []
    assert feats["smoker"]["unseen_levels"] == []
    assert set(feats["grade"]["levels"]) == {"1", "2", "3"}


def test_parquet_with_gaps_matches_the_csv_levels(run_dir, tmp_path):
    new = _table(40, 2, gaps=0.2).drop(columns="label")  # grade is float64 in the Parquet file
    new.to_parquet(tmp_path / "new.parquet")
    rc, out = _cli("predict", run_dir, "--input", tmp_path / "new.parquet", "--output", tmp_path / "p.csv")
    assert rc == 0, out
    assert len(pd.read_csv(tmp_path / "p.csv")) == 40
