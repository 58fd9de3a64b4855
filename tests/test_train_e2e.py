"""The real train.py, end to end on CPU: artefacts, numbers, determinism, experiments, multirun."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

from conftest import read_json, run_train
from medtorch.extensions import AUTO_STEPS_PER_EXECUTION
from medtorch.run import RunDir

pytestmark = pytest.mark.slow


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_default_run_writes_a_complete_run_directory(default_run):
    rd = default_run
    from medtorch.artefacts import required

    for art in required("classification"):  # the registry's list of what every default classification run holds
        if art.fields:
            assert list(rd.glob(art.glob)), art.path
        else:
            assert (rd / art.path).is_file(), art.path
    assert RunDir(rd).predictions("val").is_file() and RunDir(rd).confusion_plot("val", normalized=True).is_file()
    m = read_json(rd / "manifest.json")
    assert m["status"] == "complete" and m["seed"] == 0
    for key in ("run_id", "started_utc", "finished_utc", "git", "config_sha256", "packages", "device", "data", "splits"):
        assert m[key] is not None, key
    assert set(m["splits"]) == {"train", "val", "test"} and m["data"]["sha256"]
    assert "commit" in m["git"] and "dirty" in m["git"]
    for rel, digest in m["artefacts"].items():
        assert _sha(rd / rel) == digest, rel
    assert not list(rd.rglob("*.tmp")), "temporary files left behind"
    png = (rd / "plots/confusion_val_counts.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_metrics_json_matches_sklearn_on_the_written_predictions(default_run):
    metrics = read_json(default_run / "metrics.json")
    val = metrics["val"]
    preds = pd.read_csv(default_run / "predictions_val.csv")
    classes = val["classes"]
    assert classes == ["malignant", "benign"]
    y = preds["true_label"].map(classes.index).to_numpy()
    p = preds["predicted_label"].map(classes.index).to_numpy()
    probs = preds[[f"prob_{c}" for c in classes]].to_numpy()
    assert np.allclose(probs.sum(1), 1.0) and (probs.argmax(1) == p).all()
    assert val["n"] == len(preds) == read_json(default_run / "split.json")["parts"]["val"]["rows"]
    assert val["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()
    assert val["mcc"] == pytest.approx(skm.matthews_corrcoef(y, p), abs=1e-9)
    assert val["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, p), abs=1e-9)
    assert val["auroc"] == pytest.approx(skm.roc_auc_score(y, probs[:, 1]), abs=1e-6)
    for j, c in enumerate(classes):
        assert val["per_class"][c]["sensitivity"] == pytest.approx(skm.recall_score(y == j, p == j), abs=1e-9)
        assert val["per_class"][c]["precision"] == pytest.approx(skm.precision_score(y == j, p == j), abs=1e-9)
    assert metrics["test"] is None  # the test split is sealed, not evaluated by training
    assert val["mcc"] > 0.5  # three epochs on this data already separate the classes
    assert len(metrics["history"]) == metrics["epochs_trained"] == 3


def test_weights_load_with_weights_only_and_reproduce_predictions(default_run):
    from medtorch.loading import load_run
    from medtorch.models.inference import predict_proba

    state = torch.load(default_run / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    run = load_run(default_run)
    raw = pd.read_csv(default_run / "predictions_val.csv")
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).data
    probs = predict_proba(run.network, run.preprocessor.transform(frame.iloc[raw["row_id"]]))
    assert np.allclose(probs, raw[[f"prob_{c}" for c in run.classes]].to_numpy(), atol=1e-6)


def test_event_log_is_hash_chained_and_covers_each_step(default_run):
    from medtorch.audit import EventLog

    log = EventLog(default_run / "events.jsonl")
    assert log.verify_chain() >= 8
    actions = [r["action"] for r in log.records()]
    assert actions[0] == "run_started" and actions[-2:] == ["run_complete", "report_written"]
    for a in ("data_loaded", "split_made", "preprocessing_fitted", "training_started", "training_finished",
              "model_exported", "validation_evaluated"):
        assert a in actions
    assert actions.index("split_made") < actions.index("preprocessing_fitted") < actions.index("training_started")
    started = next(r for r in log.records() if r["action"] == "training_started")
    assert started["details"]["steps_per_execution"] == AUTO_STEPS_PER_EXECUTION  # trainer.steps_per_execution=auto


def test_same_seed_gives_bitwise_identical_predictions_and_seed_zero_is_honoured(tmp_path, default_run):
    _, again = run_train(tmp_path / "a")  # seed 0 again
    assert (again / "predictions_val.csv").read_bytes() == (default_run / "predictions_val.csv").read_bytes()
    assert _sha(again / "model.pt") == _sha(default_run / "model.pt")
    _, other = run_train(tmp_path / "b", "seed=1", "explain=none")
    assert _sha(other / "model.pt") != _sha(default_run / "model.pt")
    assert read_json(other / "manifest.json")["seed"] == 1


def test_console_shows_summary_and_run_directory(tmp_path):
    proc, rd = run_train(tmp_path, "model.dropout=0.3", "trainer.max_epochs=2", "trainer.gradient_clip_val=1.0",
                         "optim.weight_decay=0.05")
    assert "Validation (n=86)" in proc.stdout and "MCC" in proc.stdout
    assert f"Run directory: {rd}" in proc.stdout
    cfg = (rd / "config.yaml").read_text()
    assert "dropout: 0.3" in cfg and "gradient_clip_val: 1.0" in cfg and "weight_decay: 0.05" in cfg
    assert read_json(rd / "metrics.json")["epochs_trained"] == 2


def test_logistic_baseline_experiment(tmp_path):
    _, rd = run_train(tmp_path, "+experiment=logistic_baseline")
    spec = read_json(rd / "model.json")
    assert spec["model"]["name"] == "logistic"
    state = torch.load(rd / "model.pt", weights_only=True)
    assert set(state) == {"linear.weight", "linear.bias"} and state["linear.weight"].shape == (2, 30)
    assert read_json(rd / "manifest.json")["experiment"] == "logistic_baseline"


def _messy_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    df = pd.DataFrame({
        "patient age": rng.normal(60, 12, n).round(1),
        "lab.value": score + rng.normal(0, 0.3, n),
        "site": rng.choice(["north", "south", "east"], n),
        "stage": rng.choice([1, 2, 3, 4], n),
    })
    df.loc[rng.random(n) < 0.1, "lab.value"] = np.nan
    df.loc[rng.random(n) < 0.1, "site"] = None
    df["outcome"] = np.select([score < -0.5, score < 0.5], ["low", "mid"], "high")
    return df


def test_table_experiment_csv_multiclass_strings_missing_values(tmp_path):
    path = tmp_path / "cohort.csv"
    _messy_table().to_csv(path, index=False)
    _, rd = run_train(tmp_path, "+experiment=table", f"data.path={path}", "data.target=outcome",
                      "data.categorical=[stage]", "trainer.max_epochs=5")
    val = read_json(rd / "metrics.json")["val"]
    assert val["classes"] == ["high", "low", "mid"] and len(val["confusion_matrix"]) == 3
    prep = read_json(rd / "preprocessing.json")
    assert {d["column"] for d in prep["categorical"]} == {"site", "stage"}
    assert {d["column"] for d in prep["numeric"]} == {"patient age", "lab.value"}
    assert read_json(rd / "manifest.json")["data"]["path"] == str(path.resolve())


def test_table_experiment_parquet_integer_labels(tmp_path):
    df = _messy_table(seed=1)
    df["outcome"] = (df["outcome"] == "high").astype(int)
    path = tmp_path / "cohort.parquet"
    df.to_parquet(path)
    _, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=outcome")
    assert read_json(rd / "metrics.json")["val"]["classes"] == ["0", "1"]


def test_multirun_over_seeds_writes_one_run_directory_per_job(tmp_path):
    proc, _ = run_train(tmp_path, "-m", "seed=1,2", "trainer.max_epochs=1", "explain=none",
                        f"hydra.sweep.dir={tmp_path / 'sweep'}")
    jobs = sorted((tmp_path / "sweep").glob("job*"))
    assert [j.name for j in jobs] == ["job0", "job1"]
    seeds = [read_json(j / "manifest.json")["seed"] for j in jobs]
    assert seeds == [1, 2]
    assert all(read_json(j / "manifest.json")["status"] == "complete" for j in jobs)
    ids = {read_json(j / "manifest.json")["run_id"] for j in jobs}
    assert len(ids) == 2
