"""A careful user's runs on registry-shaped data, end to end: the real train.py and CLI.

Coarse features, day-number and integer-year calendar columns, the subject column declared and
the follow-up leak dropped: the run trains with every check on and nothing to acknowledge; the
calendar analyses see real years; ``evaluate --test-data`` takes a file without the dropped
columns; a planted leak acknowledged by name (``leakage.accept.CHECK="reason"``) trains with the
reason on record."""

from __future__ import annotations

import contextlib
import io
import json
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, run_train
from medtorch.data.cohort import generate_cohort

pytestmark = pytest.mark.slow

DROP = "data.drop=[visit_date,visit_year,follow_up_days]"


def registry_table(seed: int, prefix: str, id_offset: int):
    frame = generate_cohort(seed=seed, patients=500, coarse=True, calendar_ints=True, leak_follow_up=True)
    frame["patient_id"] = prefix + frame["patient_id"].str[1:]
    frame["visit_id"] += id_offset
    return frame


def careful(path: Path) -> list[str]:
    return ["+experiment=table", f"data.path={path}", "data.target=outcome", "data.id_column=visit_id",
            "data.subject_column=patient_id", "split=grouped", "data.time_column=study_day", "data.time_unit=day",
            "data.time_origin=2015-01-01", DROP, "data.subgroup_columns=[sex,site]", "trainer.max_epochs=2",
            "evaluation.bootstrap_resamples=100", "acceptance.criteria=['mcc >= -1']"]


def cli(*args: str, cwd: Path):
    from medtorch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(cwd):
        rc = main([str(a) for a in args])
    return types.SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    old = registry_table(0, "P", 0)
    old.to_csv(tmp / "registry.csv", index=False)
    new = registry_table(5, "N", 100_000)
    # evaluate --test-data refuses rows whose features repeat development rows (the test-set
    # registry's own rule); keep this file to rows with new feature vectors
    features = [c for c in new.columns if c not in ("outcome", "visit_id", "patient_id", "study_day", "visit_date",
                                                    "visit_year", "follow_up_days")]
    seen = new[features].merge(old[features].drop_duplicates(), how="left", indicator=True)["_merge"] == "both"
    new = new[~seen.to_numpy()]
    # and, as for predict, to rows inside the run's data specification (no number outside the range
    # the development rows showed: the specification's range is that range widened by a margin)
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(old[c])]
    inside = np.all([new[c].between(old[c].min(), old[c].max()) | new[c].isna() for c in numeric], axis=0)
    new = new[inside]
    new.drop(columns=["visit_date", "visit_year", "follow_up_days"]).to_csv(tmp / "new.csv", index=False)
    new.drop(columns=["visit_date", "follow_up_days"]).to_csv(tmp / "monitor.csv", index=False)
    proc, run_dir = run_train(tmp / "careful", *careful(tmp / "registry.csv"))
    return {"tmp": tmp, "run": run_dir, "proc": proc}


def test_careful_run_on_coarse_data_trains_with_every_check_on(registry):
    leak = read_json(registry["run"] / "leakage.json")
    assert leak["stop_on_fail"] is True
    status = {c["check"]: c["status"] for c in leak["checks"]}
    assert set(status.values()) <= {"pass", "skipped"}, status
    dup = next(c for c in leak["checks"] if c["check"] == "duplicate_rows")
    assert "coincidence" in dup["summary"]  # identical vectors of other patients, reported as information


def test_validation_periods_are_calendar_years_of_the_day_numbers(registry):
    periods = read_json(registry["run"] / "assessment_val.json")["periods"]
    groups = [c["group"] for c in periods["cells"]]
    assert len(groups) >= 2 and all(g.startswith("20") for g in groups), groups
    eda = (registry["run"] / "eda.md").read_text()
    assert "Label rates by sex" in eda and "## Label rates across splits" in eda


def test_evaluate_new_data_without_the_dropped_columns(registry):
    p = cli("evaluate", registry["run"], "--test-data",
            registry["tmp"] / "new.csv", cwd=registry["tmp"])
    assert p.returncode == 0, p.stderr
    assert "data.drop" not in p.stderr


def test_monitor_windows_from_integer_years_and_day_numbers(registry):
    for column in ("visit_year", "study_day"):
        out = registry["tmp"] / f"mon_{column}"
        p = cli("monitor", registry["run"], "--input", registry["tmp"] / "monitor.csv", "--labels", "outcome", "--time",
                column, "--window", "Y", "--out", out, cwd=registry["tmp"])
        assert p.returncode in (0, 5, 9), p.stderr
        report = json.loads((out / "report.json").read_text())
        windows = [w["window"] for w in report["windows"]]
        assert len(windows) >= 2 and "1970" not in windows and all(w.startswith("20") for w in windows), windows


def test_coarse_copy_of_a_shipped_real_table_trains_with_every_check_on(tmp_path):
    from medtorch.data.cohort import coarse_diabetes

    coarse_diabetes().to_csv(tmp_path / "diabetes.csv", index=False)
    _, run_dir = run_train(tmp_path, "+experiment=table", f"data.path={tmp_path / 'diabetes.csv'}",
                           "data.target=progression", "trainer.max_epochs=1", "evaluation.bootstrap_resamples=100")
    leak = read_json(run_dir / "leakage.json")
    assert leak["status"] == "pass", [(c["check"], c["summary"]) for c in leak["checks"] if c["status"] != "pass"]


def test_day_numbers_without_a_unit_stop_before_training(registry, tmp_path):
    args = [a for a in careful(registry["tmp"] / "registry.csv") if not a.startswith(("data.time_unit", "data.time_origin"))]
    proc, _ = run_train(tmp_path, *args, check=False)
    assert proc.returncode == 2
    assert "not calendar years (1800-2200)" in proc.stderr + proc.stdout and "data.time_unit=day" in proc.stderr + proc.stdout


def test_a_planted_leak_acknowledged_by_name_trains_with_the_reason_on_record(registry, tmp_path):
    reason = "record_status checked with the registry: not a leak"
    proc, run_dir = run_train(tmp_path, "+experiment=cohort_grouped", "data.cohort.coarse=true",
                              "data.cohort.leak_outcome_level=true", "trainer.max_epochs=1",
                              "evaluation.bootstrap_resamples=100", f"leakage.accept.outcome_levels='{reason}'")
    leak = read_json(run_dir / "leakage.json")
    levels = next(c for c in leak["checks"] if c["check"] == "outcome_levels")
    assert levels["status"] == "accepted" and levels["evidence"]["accepted"]["reason"] == reason
    assert levels["evidence"]["flagged"][0]["level"] == "X"
    assert "ACCEPTED" in proc.stdout
