"""End to end: explanations written by train.py and by ``medtorch explain`` on finished runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, _env, read_json, run_cli, run_train

pytestmark = pytest.mark.slow
BREAST_CANCER_COLUMNS = 30


@pytest.fixture(scope="module")
def logistic_run(tmp_path_factory):
    # same seed and split settings as the other runs: the same validation rows
    _, run_dir = run_train(tmp_path_factory.mktemp("logistic"), "+experiment=logistic_baseline", "explain.max_rows=40")
    return run_dir


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory, logistic_run):
    # the shipped experiment, lighter: two cheap methods on 40 rows
    _, run_dir = run_train(tmp_path_factory.mktemp("attention"), "+experiment=attention_vs_logistic",
                           f"explain.compare_with={logistic_run}", "explain.max_rows=40",
                           "explain.methods=[integrated_gradients,feature_ablation]")
    return run_dir


def _events(run_dir):
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_default_run_explains_itself(default_run):
    ex = default_run / "explain"
    report = read_json(ex / "explanation.json")
    assert list(report["methods"]) == ["integrated_gradients", "gradient_shap", "feature_ablation"]
    assert report["split"] == "val" and report["rows_explained"] == report["split_rows"] > 0
    assert len(report["columns"]) == BREAST_CANCER_COLUMNS
    assert report["methods"]["integrated_gradients"]["convergence_delta"]["max_abs"] < 0.1
    assert report["sanity"]["randomisation"]["passed"]
    assert report["sanity"]["agreement"]["integrated_gradients"]["gradient_shap"] > 0.5
    imp = pd.read_csv(ex / "global_importance.csv")
    assert len(imp) == 3 * 2 * BREAST_CANCER_COLUMNS and (imp["mean_abs"] >= 0).all()
    local = pd.read_csv(ex / "local_explanations.csv")
    assert {"most confident", "least confident"} <= {r for v in local["reasons"] for r in v.split("; ")}
    for name in report["files"]["plots"].values():
        assert (ex / name).stat().st_size > 10_000  # a real PNG, not an empty figure
    manifest = read_json(default_run / "manifest.json")
    assert "explain/explanation.json" in manifest["artefacts"]
    event = [e for e in _events(default_run) if e["action"] == "explanation_written"][0]
    assert "explain/summary.md" in event["outputs"] and "model.pt" in event["inputs"]


def test_attention_run_has_attention_plots_and_tables(attention_run):
    ex = attention_run / "explain"
    report = read_json(ex / "explanation.json")
    assert report["model"] == "attention" and report["rows_explained"] == 40
    assert report["attention"]["layers"] == 2 and report["attention"]["heads"] == 4
    att = pd.read_csv(ex / "attention.csv")
    assert len(att) == BREAST_CANCER_COLUMNS and {"layer1_head1", "layer2_head4", "rollout"} <= set(att.columns)
    assert att["rollout"].sum() == pytest.approx(1.0, abs=1e-6)
    plots = report["files"]["plots"]
    assert {"attention_global", "attention_layer_head"} <= set(plots)
    assert any(k.startswith("attention_row") for k in plots)
    summary = (ex / "summary.md").read_text()
    assert "## Attention" in summary and "## Transparent models versus this model" in summary
    assert report["comparison"]["transparent"]["model"] == "logistic" and (ex / "odds_ratios.csv").is_file()


def test_logistic_run_passes_the_integrated_gradients_identity(logistic_run):
    report = read_json(logistic_run / "explain" / "explanation.json")
    check = report["sanity"]["logistic_ig_equals_coef_times_input"]
    assert check["passed"] and check["max_abs_error"] < 1e-4


def test_cli_explains_a_finished_run_and_compares_with_the_transparent_baseline(attention_run, logistic_run):
    proc = run_cli("explain", str(attention_run), "--method", "feature_permutation", "integrated_gradients",
                   "--max-rows", "30", "--compare", str(logistic_run), "--name", "vs_logistic")
    assert proc.returncode == 0, proc.stderr
    out = attention_run / "explanations" / "vs_logistic"
    report = read_json(out / "explanation.json")
    assert list(report["methods"]) == ["feature_permutation", "integrated_gradients"]
    c = report["comparison"]
    assert c["rows"] == report["split_rows"]  # the comparison uses every validation row
    assert c["black_box"]["ci"][0] <= c["black_box"]["mcc"] <= c["black_box"]["ci"][1]
    assert c["difference"]["mcc"] == pytest.approx(c["black_box"]["mcc"] - c["transparent"]["mcc"])
    assert c["justified"] == (c["difference"]["ci"][0] > 0) and c["verdict"] in proc.stdout
    ors = pd.read_csv(out / "odds_ratios.csv")
    assert len(ors) == BREAST_CANCER_COLUMNS and (ors["odds_ratio"] > 0).all()
    # the explanation made at training time is left as the manifest recorded it
    manifest = read_json(attention_run / "manifest.json")
    from medtorch.hashing import sha256_file

    assert sha256_file(attention_run / "explain" / "explanation.json") == manifest["artefacts"]["explain/explanation.json"]


@pytest.fixture(scope="module")
def default_copy(default_run, tmp_path_factory):
    """A copy of the shared default run, so that later explanations leave the original as trained."""
    import shutil

    copy = tmp_path_factory.mktemp("default_copy") / "run"
    shutil.copytree(default_run, copy)
    return copy


def test_cli_explain_does_not_import_lightning(default_copy):
    default_run = default_copy
    code = ("import sys; from medtorch.cli import main; "
            f"rc = main(['explain', {str(default_run)!r}, '--method', 'feature_ablation', '--rows', "
            f"{str(_a_val_id(default_run))!r}, '--name', 'no_lightning']); "
            "assert rc == 0; assert 'pytorch_lightning' not in sys.modules and 'lightning' not in sys.modules, 'Lightning imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    local = pd.read_csv(default_run / "explanations" / "no_lightning" / "local_explanations.csv")
    assert _a_val_id(default_run) in set(local["row_id"])


def _a_val_id(run_dir) -> int:
    return int(pd.read_csv(run_dir / "predictions_val.csv")["row_id"].iloc[3])


def test_cli_explain_refuses_bad_input(default_copy, attention_run, tmp_path):
    default_run = default_copy
    proc = run_cli("explain", str(default_run), "--rows", "999999", "--name", "bad_rows")
    assert proc.returncode == 2 and "999999" in proc.stderr and "val split" in proc.stderr
    assert not (default_run / "explanations" / "bad_rows").exists()
    proc = run_cli("explain", str(default_run), "--compare", str(attention_run), "--name", "bad_compare")
    assert proc.returncode == 2 and "logistic" in proc.stderr
    proc = run_cli("explain", str(default_run), "--name", "no_lightning")
    assert proc.returncode == 2 and "exists" in proc.stderr
    proc = run_cli("explain", str(default_run), "--method", "shap")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_cli_explain_refuses_a_tampered_model(default_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(default_run, copy)
    (copy / "model.pt").write_bytes((copy / "model.pt").read_bytes()[:-8] + b"\0" * 8)
    proc = run_cli("explain", str(copy))
    assert proc.returncode == 3 and "model.pt" in proc.stderr


def test_bad_explain_config_fails_before_training(tmp_path):
    proc, run_dir = run_train(tmp_path, "explain.methods=[integrated_gradient]", "model=attention", "model.d_token=30",
                              check=False)
    assert proc.returncode == 2
    assert "explain.methods" in proc.stderr and "model.d_token" in proc.stderr
    assert run_dir is None or not (run_dir / "model.pt").exists()
    proc, _ = run_train(tmp_path / "vs", "+experiment=attention_vs_logistic", check=False)  # baseline not named
    assert proc.returncode == 2 and "explain.compare_with" in proc.stderr


def test_every_method_on_a_table_with_a_categorical_column(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    n = 240
    site = rng.choice(["north", "south", "east"], n)
    age = rng.normal(60, 10, n).round(3)
    dose = rng.normal(5, 2, n).round(3)
    dose[::17] = np.nan  # missing values are imputed, and still explained
    risk = 0.08 * (age - 60) + 1.2 * (site == "south") - 0.9 * (site == "east") + rng.normal(0, 1, n)
    frame = pd.DataFrame({"age": age, "dose": dose, "site": site, "outcome": np.where(risk > 0, "event", "none")})
    csv = tmp_path / "cohort.csv"
    frame.to_csv(csv, index=False)
    _, run_dir = run_train(tmp_path, "+experiment=table", f"data.path={csv}", "data.target=outcome", "model=logistic",
                           "optim.lr=0.05", "explain=all", "explain.max_rows=24", "explain.perturbation_samples=40")
    report = read_json(run_dir / "explain" / "explanation.json")
    assert report["columns"] == ["age", "dose", "site"]  # three one-hot inputs of site, reported as one column
    assert len(read_json(run_dir / "model.json")["feature_sources"]) == 5
    assert set(report["methods"]) == {"integrated_gradients", "gradient_shap", "kernel_shap", "lime",
                                      "feature_ablation", "feature_permutation"}
    assert report["sanity"]["logistic_ig_equals_coef_times_input"]["passed"]
    imp = pd.read_csv(run_dir / "explain" / "global_importance.csv")
    assert set(imp["column"]) == {"age", "dose", "site"} and len(imp) == 6 * 2 * 3
    local = pd.read_csv(run_dir / "explain" / "local_explanations.csv")
    assert set(local.loc[local["column"] == "site", "value"]) <= {"north", "south", "east"}
    # site is a real effect: Integrated Gradients ranks it above dose, which has none
    ig = imp[(imp["method"] == "integrated_gradients") & (imp["class"] == "event")].set_index("column")["mean_abs"]
    assert ig["site"] > ig["dose"]
