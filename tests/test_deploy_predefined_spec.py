"""A pre-defined, locked data specification: recorded by the run, enforced on its training data."""

from __future__ import annotations

import json

import pytest

from conftest import read_json, run_train
from deploy_data import TRAIN_OVERRIDES, table
from medtorch.hashing import sha256_file

pytestmark = pytest.mark.slow


def _spec(age_max: float) -> dict:
    return {"columns": [
        {"name": "age", "type": "integer", "min": 18, "max": age_max, "units": "years"},
        {"name": "marker", "type": "float", "min": -6, "max": 6, "units": "ng/mL", "description": "serum marker, z-scored"},
        {"name": "bmi", "type": "float", "min": 10, "max": 60, "nullable": True, "units": "kg/m2"},
        {"name": "sex", "type": "categorical", "categories": ["F", "M"]},
        {"name": "site", "type": "categorical", "categories": ["A", "B", "C"]},
    ]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predefined")
    table(400, 1).to_csv(tmp / "train.csv", index=False)
    return tmp


def test_locked_spec_is_recorded_and_used(data, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(120)))
    digest = sha256_file(path)
    _, run = run_train(tmp_path, *TRAIN_OVERRIDES, f"data.path={data / 'train.csv'}", f"spec.path={path}",
                       f"spec.sha256={digest}", "trainer.max_epochs=1")
    spec, manifest = read_json(run / "data_spec.json"), read_json(run / "manifest.json")
    assert spec["origin"] == "predefined" and spec["source"] == {"path": str(path), "sha256": digest, "locked": True}
    assert spec["columns"][0]["max"] == 120 and spec["columns"][1]["units"] == "ng/mL"
    assert manifest["data_spec"]["predefined_file"]["sha256"] == digest


def test_training_data_violating_the_spec_is_refused(data, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(60)))
    proc, run = run_train(tmp_path, *TRAIN_OVERRIDES, f"data.path={data / 'train.csv'}", f"spec.path={path}", check=False)
    assert proc.returncode == 2
    assert "the training data violates the pre-defined specification" in proc.stderr and "| age |" in proc.stderr
    assert "range [18, 60]" in proc.stderr and "nothing was trained" in proc.stderr
    assert read_json(run / "manifest.json")["status"] == "failed" and not (run / "model.pt").exists()


def test_changed_spec_is_refused_and_bad_plan_reported(data, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(120)))
    proc, _ = run_train(tmp_path, *TRAIN_OVERRIDES, f"data.path={data / 'train.csv'}", f"spec.path={path}",
                        "spec.sha256=" + "0" * 64, check=False)
    assert proc.returncode == 2 and "was changed after it was locked" in proc.stderr
    proc, _ = run_train(tmp_path, *TRAIN_OVERRIDES, f"data.path={data / 'train.csv'}", "monitoring.on_drift=stop",
                        "monitoring.pvalue=1.5", "spec.missing=sometimes", check=False)
    assert proc.returncode == 2
    for key in ("monitoring.on_drift", "monitoring.pvalue", "spec.missing"):
        assert key in proc.stderr
