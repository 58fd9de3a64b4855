"""Cross-validation runs real folds on the development rows only, in process or as a multirun."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, run_cli, run_train

pytestmark = pytest.mark.slow


def _val_ids(fold_dir):
    return set(pd.read_csv(fold_dir / "predictions_val.csv")["row_id"])


def test_folds_cover_the_development_rows_and_never_the_test_rows(tmp_path):
    proc, parent = run_train(tmp_path, "cv.folds=3", "trainer.max_epochs=1", "evaluation.bootstrap_resamples=100",
                             "explain=none")
    folds = [parent / f"fold_{i}" for i in range(3)]
    seals = [read_json(f / "sealed_test.json") for f in folds]
    assert len({s["rows_sha256"] for s in seals}) == 1  # the same sealed test split in every fold
    test_ids = set(seals[0]["ids"])
    vals = [_val_ids(f) for f in folds]
    assert all(not (a & b) for i, a in enumerate(vals) for b in vals[i + 1:])  # folds are disjoint
    dev = set(range(569)) - test_ids
    assert set().union(*vals) == dev  # and together they are the development rows
    for f, v in zip(folds, vals):
        m = read_json(f / "manifest.json")
        assert m["status"] == "complete" and m["cv"]["fold"] in range(3) and m["cv"]["strategy"] == "stratified k-fold"
        assert m["cv"]["val_rows"] == len(v) and m["cv"]["train_rows"] == len(dev) - len(v)
        assert "test_evaluations" not in {p.name for p in f.iterdir()}
    summary = read_json(parent / "cv_summary.json")
    mccs = [read_json(f / "metrics.json")["val"]["mcc"] for f in folds]
    d = summary["distribution"]["mcc"]
    assert d["mean"] == pytest.approx(np.mean(mccs)) and d["sd"] == pytest.approx(np.std(mccs, ddof=1))
    assert d["min"] == pytest.approx(min(mccs)) and d["max"] == pytest.approx(max(mccs))
    assert "sensitivity[malignant]" in summary["distribution"]
    assert (parent / "plots" / "cv_distribution.png").is_file()
    assert "Cross-validation (3 folds" in proc.stdout

    p = run_cli("evaluate", str(folds[0]), "--registry", str(tmp_path / "registry.sqlite"))
    assert p.returncode == 2 and "folds are never evaluated on the test set" in p.stderr

    # a second cross-validation into the same directory is refused and changes nothing
    before = {p: p.read_bytes() for p in parent.rglob("*") if p.is_file() and p.name != "train.log"}
    again, _ = run_train(tmp_path, "cv.folds=3", "trainer.max_epochs=1", check=False)
    assert again.returncode == 2 and "already holds a cross-validation" in again.stderr
    assert {p: p.read_bytes() for p in parent.rglob("*") if p.is_file() and p.name != "train.log"} == before

    # a changed root report is refused before it is filed under versions/ as an earlier version; restored, the
    # report is rewritten and the root still verifies
    html = parent / "report.html"
    good = html.read_bytes()
    tampered = good.replace(b"cross-validation", b"cross-validatioN", 1)
    assert tampered != good
    html.write_bytes(tampered)
    before = {p: p.read_bytes() for p in parent.rglob("*") if p.is_file() and p.name != "train.log"}
    refused = run_cli("report", str(parent))
    assert refused.returncode == 3 and "report.html" in refused.stderr, refused.stderr
    assert {p: p.read_bytes() for p in parent.rglob("*") if p.is_file() and p.name != "train.log"} == before
    html.write_bytes(good)
    assert run_cli("report", str(parent)).returncode == 0
    assert (parent / "versions").is_dir() and run_cli("audit", "verify", str(parent)).returncode == 0


def test_grouped_folds_as_a_multirun_then_summarised(tmp_path):
    rng = np.random.default_rng(1)
    subjects = np.repeat(np.arange(120), 3)  # three visits per patient
    x = rng.normal(size=len(subjects))
    frame = pd.DataFrame({"patient": subjects, "x1": x, "x2": rng.normal(size=len(x)),
                          "label": np.where(x + rng.normal(scale=0.5, size=len(x)) > 0, "a", "b")})
    frame.to_csv(tmp_path / "visits.csv", index=False)
    parent = tmp_path / "cv"
    run_train(tmp_path, "hydra.mode=MULTIRUN", "+experiment=table", f"data.path={tmp_path / 'visits.csv'}", "data.target=label",
              "data.subject_column=patient", "split=grouped", "cv.folds=2", "cv.fold=0,1", "trainer.max_epochs=1",
              "evaluation.bootstrap_resamples=100", "explain=none", f"hydra.sweep.dir={parent}", "hydra.sweep.subdir=fold_${cv.fold}")
    patient = frame["patient"].to_numpy()
    val_subjects = [set(patient[list(_val_ids(parent / f"fold_{i}"))]) for i in range(2)]
    assert not (val_subjects[0] & val_subjects[1])  # no patient in two folds
    assert read_json(parent / "fold_0" / "manifest.json")["cv"]["strategy"] == "stratified group k-fold"
    p = run_cli("cv-summary", str(parent))
    assert p.returncode == 0, p.stderr
    summary = read_json(parent / "cv_summary.json")
    assert [f["fold"] for f in summary["per_fold"]] == [0, 1] and summary["distribution"]["mcc"]["folds_defined"] == 2
    # a fold's metrics changed after its run recorded them are refused, and the summary is left as it was
    from medtorch.errors import EXIT_INTEGRITY

    metrics = parent / "fold_1" / "metrics.json"
    edited = read_json(metrics)
    edited["val"]["mcc"] = 0.99
    metrics.write_text(json.dumps(edited))
    before = (parent / "cv_summary.json").read_bytes()
    p = run_cli("cv-summary", str(parent))
    assert p.returncode == EXIT_INTEGRITY and "fold_1/metrics.json: changed after the run recorded it" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and (parent / "cv_summary.json").read_bytes() == before

    proc, _ = run_train(tmp_path, "cv.folds=2", "evaluation.test_look=true", check=False)
    assert proc.returncode == 2 and "folds never look at the test set" in proc.stderr
