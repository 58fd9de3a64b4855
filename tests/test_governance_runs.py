"""End-to-end: the shipped cohort experiments, an external test file, the leakage stop, lineage replay."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import read_json, run_cli, run_train
from medtorch.data.cohort import generate_cohort

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    _, rd = run_train(tmp_path_factory.mktemp("grouped"), "+experiment=cohort_grouped")
    return rd


@pytest.fixture(scope="module")
def temporal_run(tmp_path_factory):
    _, rd = run_train(tmp_path_factory.mktemp("temporal"), "+experiment=cohort_temporal")
    return rd


def test_grouped_experiment_writes_governance_evidence(grouped_run):
    manifest = read_json(grouped_run / "manifest.json")
    for name in ("lineage.json", "lineage.md", "leakage.json", "eda.json", "eda.md"):
        assert name in manifest["artefacts"]
    lineage = read_json(grouped_run / "lineage.json")
    assert [s["step"] for s in lineage["steps"]] == [
        "source", "clean", "split", "leakage_checks", "fit_preprocessing", "features", "rebalance"]
    steps = {s["step"]: s for s in lineage["steps"]}
    split = read_json(grouped_run / "split.json")
    assert steps["split"]["parts"] == split["parts"]
    assert steps["fit_preprocessing"]["fitted_on"]["ids_sha256"] == split["parts"]["train"]["ids_sha256"]
    assert steps["features"]["order"] == read_json(grouped_run / "model.json")["features"]
    assert steps["rebalance"]["oversample"] == "balanced"
    shares = steps["rebalance"]["class_share_drawn"]
    assert all(v == pytest.approx(1 / 3, abs=1e-3) for v in shares.values())
    # oversampling touched training batches only: validation is scored on its own rows, once each
    preds = pd.read_csv(grouped_run / "predictions_val.csv")
    assert len(preds) == split["parts"]["val"]["rows"] and preds["row_id"].is_unique
    assert read_json(grouped_run / "leakage.json")["status"] == "pass"
    assert (grouped_run / "plots" / "eda_subgroup_site.png").stat().st_size > 1000
    eda = read_json(grouped_run / "eda.json")
    assert sum(s["rows"] for s in eda["splits"].values()) == sum(p["rows"] for p in split["parts"].values())


def test_lineage_replay_reproduces_the_split_hashes(grouped_run):
    proc = run_cli("lineage", str(grouped_run), "--replay")
    assert proc.returncode == 0, proc.stderr
    split = read_json(grouped_run / "split.json")
    for name, part in split["parts"].items():
        assert f"{name:<6} row-id hash {part['ids_sha256'][:16]}... matches the run" in proc.stdout
    assert '"lineage_replayed"' in (grouped_run / "events.jsonl").read_text().splitlines()[-1]


def test_temporal_experiment_trains_on_the_past_and_tests_on_the_future(temporal_run):
    split = read_json(temporal_run / "split.json")
    ranges = {k: v["time_range"] for k, v in split["parts"].items()}
    assert ranges["train"][1] < "2019-07-01" <= ranges["val"][0] and ranges["val"][1] < "2020-03-01" <= ranges["test"][0]
    assert split["excluded_seen_subject_rows"]["val"] > 0
    checks = {c["check"]: c["status"] for c in read_json(temporal_run / "leakage.json")["checks"]}
    assert checks["time_overlap"] == "pass" and checks["subject_overlap"] == "pass"
    assert run_cli("lineage", str(temporal_run), "--replay").returncode == 0


def test_external_test_file_and_replay_on_a_changed_file(tmp_path):
    main = generate_cohort(patients=300, seed=3)
    ext = generate_cohort(patients=120, seed=4, start_year=2021, years=1)
    ext["patient_id"] = "X" + ext["patient_id"]  # new patients, later dates: prospective data
    main.to_csv(tmp_path / "main.csv", index=False)
    ext.to_parquet(tmp_path / "prospective.parquet", index=False)
    args = ["+experiment=table", f"data.path={tmp_path / 'main.csv'}", "data.target=outcome", "data.id_column=visit_id",
            "data.subject_column=patient_id", "data.time_column=visit_date", "data.subgroup_columns=[sex,site]",
            "data.categorical=[smoker]", "split=external", f"split.test_path={tmp_path / 'prospective.parquet'}",
            "balance.class_weights=balanced", "balance.augmentation=gaussian_noise", "trainer.max_epochs=1"]
    _, rd = run_train(tmp_path, *args)
    split = read_json(rd / "split.json")
    assert split["parts"]["test"]["rows"] == len(ext) and split["test_source"]["path"].endswith("prospective.parquet")
    checks = {c["check"]: c["status"] for c in read_json(rd / "leakage.json")["checks"]}
    assert checks["time_overlap"] == "pass" and checks["subject_overlap"] == "pass"
    reb = {s["step"]: s for s in read_json(rd / "lineage.json")["steps"]}["rebalance"]
    assert reb["augmentation"] == "gaussian_noise" and "limitations" in reb
    assert "Limitations of the augmentation" in (rd / "eda.md").read_text()

    assert run_cli("lineage", str(rd), "--replay").returncode == 0
    main.iloc[:-1].to_csv(tmp_path / "changed.csv", index=False)
    proc = run_cli("lineage", str(rd), "--replay", "--data", str(tmp_path / "changed.csv"))
    assert proc.returncode == 3 and "source" in proc.stderr and "does not reproduce" in proc.stderr


def test_a_planted_leak_stops_the_run_before_training(tmp_path):
    proc, rd = run_train(tmp_path, "+experiment=cohort_grouped", "data.cohort.leak_outcome_lab=true", check=False)
    assert proc.returncode == 4, proc.stderr
    assert "single_feature" in proc.stderr and "troponin_peak" in proc.stderr and "stop_on_fail=false" in proc.stderr
    assert read_json(rd / "manifest.json")["status"] == "failed"
    assert (rd / "leakage.json").is_file() and not (rd / "model.pt").exists()
