"""End to end: the GBSG2 survival experiment and a generic survival table through the real train.py,
the evidence they write, and the verbs that refuse survival runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import read_json, run_cli, run_train

pytest.importorskip("lifelines")
pytestmark = pytest.mark.slow
QUICK = ["evaluation.bootstrap_resamples=100", "trainer.max_epochs=4"]


@pytest.fixture(scope="session")
def gbsg2_run(tmp_path_factory):
    _, run_dir = run_train(tmp_path_factory.mktemp("gbsg2"), "+experiment=survival_gbsg2", *QUICK,
                           "survival.min_cindex=0.99",  # a monitoring threshold no model meets: degradation shows
                           "survival.bridge_max_abs_risk_diff=0")  # any change of a risk score fails the bridge
    return run_dir


def test_gbsg2_writes_a_full_evidence_package(gbsg2_run):
    m = read_json(gbsg2_run / "manifest.json")
    assert m["status"] == "complete" and m["task"] == "survival"
    assert m["data"]["rows"] == 686 and m["data"]["events"] == 299  # GBSG2 as shipped, nothing downloaded
    lineage = {s["step"]: s for s in read_json(gbsg2_run / "lineage.json")["steps"]}
    assert lineage["clean"]["column_roles"]["dropped_columns"] == ["time"]  # the duration never becomes a feature
    split = read_json(gbsg2_run / "split.json")
    rates = [p["events"] / p["rows"] for p in split["parts"].values()]
    assert max(rates) - min(rates) < 0.02  # stratified on the event indicator
    metrics = read_json(gbsg2_run / "metrics.json")
    val = metrics["val"]
    assert val["n"] == split["parts"]["val"]["rows"] and val["events"] == split["parts"]["val"]["events"]
    for key in ("cindex", "uno_cindex", "ibs"):
        ci = val["overall"][key]
        assert ci["lower"] <= ci["estimate"] <= ci["upper"], key
    assert [h["horizon"] for h in val["horizons"]] == [1, 3, 5]
    five = val["horizons"][2]
    assert five["horizon_duration"] == pytest.approx(5 * 365.25)
    cm = np.array(five["confusion"]["confusion_matrix"])
    assert cm.sum() == five["confusion"]["n_known"] and five["confusion"]["n_known"] + five["confusion"]["unknown"] == val["n"]
    assert metrics["skipped_batches"] == 0 or metrics["skipped_batches"] > 0  # recorded, a number
    assert isinstance(metrics["skipped_batches"], int)
    cox = metrics["cox_baseline"]["val"]["overall"]["cindex"]
    assert 0.6 < cox["estimate"] < 0.85 and cox["lower"] < cox["estimate"] < cox["upper"]
    assert metrics["val_acceptance"]["judged_on"].startswith("validation")
    assert {r["criterion"] for r in metrics["val_acceptance"]["results"]} == {"cindex_lower_ci >= 0.55", "td_auc_3y >= 0.6"}
    preds = pd.read_csv(gbsg2_run / "predictions_val.csv")
    assert list(preds.columns)[-3:] == ["survival_at_1y", "survival_at_3y", "survival_at_5y"]
    assert (np.diff(preds[["survival_at_1y", "survival_at_3y", "survival_at_5y"]].to_numpy(), axis=1) <= 0).all()
    for name in ("km_splits", "km_subgroup_horTh", "km_risk_groups_val", "calibration_val", "td_auc_val"):
        assert (gbsg2_run / "survival" / f"{name}.png").stat().st_size > 1000, name
    explain = read_json(gbsg2_run / "survival" / "explain.json")
    assert set(explain["methods"]) == {"integrated_gradients", "gradient_shap", "feature_ablation"}
    assert sorted(explain["columns"]) == sorted(["horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec"])
    assert explain["methods"]["integrated_gradients"]["max_abs_convergence_delta"] < 0.05  # completeness holds
    eda = read_json(gbsg2_run / "survival" / "eda.json")
    assert eda["splits"]["train"]["median_follow_up_reverse_km"] > 0
    report = (gbsg2_run / "report.md").read_text()
    assert "Cox PH (lifelines)" in report and "Harrell's C" in report and "Confusion matrix among" in report


def test_survival_run_verifies_and_reports(gbsg2_run):
    assert run_cli("audit", "verify", str(gbsg2_run)).returncode == 0
    proc = run_cli("report", str(gbsg2_run))
    assert proc.returncode == 0, proc.stderr


def test_predict_gives_risk_scores_and_survival_at_the_horizons(gbsg2_run, tmp_path):
    from lifelines.datasets import load_gbsg2

    frame = load_gbsg2().head(20)
    frame.to_csv(tmp_path / "new.csv", index=False)  # time and cens are known columns: accepted, not used
    proc = run_cli("predict", str(gbsg2_run), "--input", str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv"))
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(tmp_path / "p.csv")
    assert len(out) == 20 and np.isfinite(out["risk_score"]).all()
    s = out[["survival_at_1y", "survival_at_3y", "survival_at_5y"]].to_numpy()
    assert ((s > 0) & (s <= 1)).all() and (np.diff(s, axis=1) <= 0).all()
    # higher risk score, lower survival: one baseline, proportional hazards
    assert np.corrcoef(out["risk_score"], s[:, 1])[0, 1] < -0.99
    bad = frame.drop(columns=["age"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    proc = run_cli("predict", str(gbsg2_run), "--input", str(tmp_path / "bad.csv"), "--output", str(tmp_path / "q.csv"))
    assert proc.returncode == 2 and "age" in proc.stderr and not (tmp_path / "q.csv").exists()
    # an output inside the run is refused before anything is read or written: the run's files are its evidence
    metrics = (gbsg2_run / "metrics.json").read_bytes()
    proc = run_cli("predict", str(gbsg2_run), "--input", str(tmp_path / "new.csv"), "--output", str(gbsg2_run / "metrics.json"))
    assert proc.returncode == 2 and "inside the medtorch run directory" in proc.stderr, proc.stderr
    assert (gbsg2_run / "metrics.json").read_bytes() == metrics
    proc = run_cli("monitor", str(gbsg2_run), "--input", str(tmp_path / "new.csv"), "--out", str(gbsg2_run))
    assert proc.returncode == 2 and "inside the medtorch run directory" in proc.stderr and "Traceback" not in proc.stderr


def test_monitor_drift_and_cindex_degradation(gbsg2_run, tmp_path):
    from lifelines.datasets import load_gbsg2

    from medtorch.errors import EXIT_DEGRADED, EXIT_DRIFT

    frame = load_gbsg2()
    frame.to_csv(tmp_path / "same.csv", index=False)
    proc = run_cli("monitor", str(gbsg2_run), "--input", str(tmp_path / "same.csv"), "--out", str(tmp_path / "m1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frame[frame.age > 55].to_csv(tmp_path / "older.csv", index=False)  # in range, but another population
    proc = run_cli("monitor", str(gbsg2_run), "--input", str(tmp_path / "older.csv"), "--out", str(tmp_path / "m2"))
    assert proc.returncode == EXIT_DRIFT and "age" in read_json(tmp_path / "m2" / "report.json")["drifted_columns"]
    proc = run_cli("monitor", str(gbsg2_run), "--input", str(tmp_path / "same.csv"), "--labels", "cens",
                   "--out", str(tmp_path / "m3"))
    report = read_json(tmp_path / "m3" / "report.json")["degradation"]
    from lifelines.utils import concordance_index

    assert proc.returncode == EXIT_DEGRADED and report["alarm"] and report["min_cindex"] == 0.99
    assert report["n"] == 686 and report["events"] == 299
    assert report["cindex"]["lower"] < report["cindex"]["estimate"] < report["cindex"]["upper"] < 0.99
    assert run_cli("audit", "verify", str(gbsg2_run)).returncode == 0


def test_survival_monitoring_appends_the_monitoring_log_and_takes_any_outcome_mix(gbsg2_run, tmp_path):
    import json
    import shutil

    from lifelines.datasets import load_gbsg2

    from medtorch.errors import EXIT_DEGRADED, EXIT_INTEGRITY

    run = tmp_path / "run"
    shutil.copytree(gbsg2_run, run)  # a copy: this test changes the run's monitoring log
    log = run / "monitoring" / "log.jsonl"
    before = log.read_text().splitlines() if log.exists() else []
    frame = load_gbsg2()
    frame.to_csv(tmp_path / "same.csv", index=False)
    proc = run_cli("monitor", str(run), "--input", str(tmp_path / "same.csv"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = log.read_text().splitlines()
    assert len(lines) == len(before) + 1
    line = json.loads(lines[-1])
    assert line["status"] == "ok" and line["exit_code"] == 0 and line["rows"] == 686 and line["task"] == "survival"
    assert read_json(line["report"] + "/report.json")["status"] == "ok"
    # everybody had the event: Harrell's C is defined (comparable pairs need events, not censoring)
    died = frame[frame.cens == 1]
    died.to_csv(tmp_path / "died.csv", index=False)
    proc = run_cli("monitor", str(run), "--input", str(tmp_path / "died.csv"), "--labels", "cens",
                   "--out", str(tmp_path / "m_died"))
    assert proc.returncode == EXIT_DEGRADED, proc.stdout + proc.stderr  # survival.min_cindex=0.99 in this run
    d = read_json(tmp_path / "m_died" / "report.json")["degradation"]
    assert d["n"] == d["events"] == len(died) and 0.5 < d["cindex"]["estimate"] < 0.99
    line = json.loads(log.read_text().splitlines()[-1])  # a report outside the run is logged too
    assert line["status"] == "degraded" and line["exit_code"] == EXIT_DEGRADED and "min_cindex" in line["alarms"][-1]
    # nobody had the event: no comparable pair, refused in monitoring's words
    frame[frame.cens == 0].to_csv(tmp_path / "censored.csv", index=False)
    proc = run_cli("monitor", str(run), "--input", str(tmp_path / "censored.csv"), "--labels", "cens",
                   "--out", str(tmp_path / "m_cens"))
    assert proc.returncode == 2 and "no pair of rows is comparable" in proc.stderr, proc.stderr
    assert "--labels 'cens'" in proc.stderr and "survival model" not in proc.stderr
    assert not (tmp_path / "m_cens").exists()
    died.head(1).to_csv(tmp_path / "one.csv", index=False)  # one row: no pair to compare either
    proc = run_cli("monitor", str(run), "--input", str(tmp_path / "one.csv"), "--labels", "cens",
                   "--out", str(tmp_path / "m_one"))
    assert proc.returncode == 2 and "no pair of the 1 monitored rows is comparable" in proc.stderr, proc.stderr
    assert not (tmp_path / "m_one").exists()
    assert run_cli("audit", "verify", str(run)).returncode == 0
    # a log changed since the run recorded it: refused before anything is written
    log.write_text("\n".join(log.read_text().splitlines()[:-1]) + "\n")
    folders = sorted((run / "monitoring").iterdir())
    proc = run_cli("monitor", str(run), "--input", str(tmp_path / "same.csv"))
    assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
    assert sorted((run / "monitoring").iterdir()) == folders


def test_bridge_reports_risk_score_differences_and_rank_agreement(gbsg2_run):
    from medtorch.errors import EXIT_BRIDGE_FAILED

    same = run_cli("bridge", str(gbsg2_run))
    assert same.returncode == 0 and "bridge passed on 103 rows" in same.stdout, same.stdout + same.stderr
    other = run_cli("bridge", str(gbsg2_run), "--dtype", "float64")  # another stack: float64 inference
    assert other.returncode == EXIT_BRIDGE_FAILED, other.stdout + other.stderr
    reports = [read_json(p) for p in sorted((gbsg2_run / "survival").glob("bridge_*.json")) if p.name != "bridge_reference.json"]
    failed = [r for r in reports if not r["passed"]]
    assert len(failed) == 1 and failed[0]["reference_stack"] != failed[0]["this_stack"]
    checks = failed[0]["checks"]
    assert 0 < checks["max_abs_risk_diff"]["observed"] < 1e-4  # rounding only...
    assert not checks["max_abs_risk_diff"]["passed"] and checks["kendall_tau"]["passed"]  # ...the ranks agree


def test_governed_test_look_under_the_registry(gbsg2_run):
    bound = read_json(gbsg2_run / "manifest.json")["registry"]  # bound at training, like a classification run
    first = run_cli("evaluate", str(gbsg2_run))
    assert first.returncode in (0, 1), first.stdout + first.stderr  # 1: an acceptance criterion failed on test
    ev = read_json(gbsg2_run / "test_evaluations" / "001" / "evaluation.json")
    split = read_json(gbsg2_run / "split.json")["parts"]["test"]
    assert ev["task"] == "survival" and ev["role"] == "hold-out test set" and ev["hold_out_claim"]
    assert ev["registry"]["url"] == bound["url"] and ev["registry"]["override"] is None
    assert ev["assessment"]["n"] == split["rows"] and ev["assessment"]["events"] == split["events"]
    assert ev["cox_baseline"]["overall"]["cindex"]["estimate"] is not None
    # thresholds were fixed on validation, not re-chosen on test
    assert [h["confusion"]["threshold"] for h in ev["assessment"]["horizons"]] == \
        read_json(gbsg2_run / "metrics.json")["thresholds"]["values"]
    assert ev["passed"] == (first.returncode == 0)
    run_cli("evaluate", str(gbsg2_run))
    second = read_json(gbsg2_run / "test_evaluations" / "002" / "evaluation.json")
    assert second["look_on_test_set"] == 2  # the same development looking again keeps the role
    verify = run_cli("registry", "verify", "--registry", bound["url"], str(gbsg2_run))
    assert verify.returncode == 0 and "2 look(s)" in verify.stdout, verify.stdout + verify.stderr
    assert run_cli("audit", "verify", str(gbsg2_run)).returncode == 0


def _gbsg2_rows(path, shift: float):
    from lifelines.datasets import load_gbsg2

    rows = load_gbsg2().iloc[::4].reset_index(drop=True)  # 172 patients, events and censored
    rows["age"] = rows["age"] + shift  # shifted: patients no row of the run's data describes
    rows.to_csv(path, index=False)
    return rows


def test_evaluate_on_new_test_data(gbsg2_run, tmp_path):
    sksurv_metrics = pytest.importorskip("sksurv.metrics")
    overlapping = _gbsg2_rows(tmp_path / "same.csv", 0)  # rows of the run's own data: not independent
    proc = run_cli("evaluate", str(gbsg2_run), "--test-data", str(tmp_path / "same.csv"))
    assert proc.returncode == 8, proc.stderr  # EXIT_NOT_INDEPENDENT
    assert f"{len(overlapping)} row(s) have the same feature values" in proc.stderr
    before = sorted(p.name for p in (gbsg2_run / "test_evaluations").glob("*"))
    bad = _gbsg2_rows(tmp_path / "bad.csv", 1)
    bad.loc[3, "age"] = 500  # outside the data specification: refused, nothing written
    bad.to_csv(tmp_path / "bad.csv", index=False)
    proc = run_cli("evaluate", str(gbsg2_run), "--test-data", str(tmp_path / "bad.csv"))
    assert proc.returncode == 2 and "data specification" in proc.stderr and "'age'" in proc.stderr, proc.stderr
    assert sorted(p.name for p in (gbsg2_run / "test_evaluations").glob("*")) == before

    short = _gbsg2_rows(tmp_path / "short.csv", 2)
    short["time"] = short["time"].clip(upper=1500)  # new patients followed for at most 1,500 days, under 5 years
    short.to_csv(tmp_path / "short.csv", index=False)
    (tmp_path / "amended.yaml").write_text("name: amended\ncriteria: ['cindex_lower_ci >= 0.5']\n")
    events = (gbsg2_run / "events.jsonl").read_text()
    proc = run_cli("evaluate", str(gbsg2_run), "--test-data", str(tmp_path / "short.csv"),
                   "--acceptance", str(tmp_path / "amended.yaml"))
    assert proc.returncode == 2, proc.stdout + proc.stderr  # no score at 5 years about nobody; no look used up
    assert "evaluation.horizons: 5 years (1826.25 days)" in proc.stderr and "longest follow-up is 1500 days" in proc.stderr
    assert sorted(p.name for p in (gbsg2_run / "test_evaluations").glob("*")) == before
    assert (gbsg2_run / "events.jsonl").read_text() == events  # nor the amendment given with the refused data

    rows = _gbsg2_rows(tmp_path / "new.csv", 1)
    proc = run_cli("evaluate", str(gbsg2_run), "--test-data", str(tmp_path / "new.csv"))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    folder = sorted((gbsg2_run / "test_evaluations").glob("*"))[-1]
    ev = read_json(folder / "evaluation.json")
    assert ev["test_set"]["source"] == f"new test data {tmp_path / 'new.csv'}" and ev["test_set"]["rows"] == len(rows)
    assert ev["role"] == "hold-out test set" and ev["look_on_test_set"] == 1 and ev["hold_out_claim"]
    a = ev["assessment"]
    assert a["n"] == len(rows) and a["events"] == int(rows["cens"].sum())
    # the risk scores are the model's (as predict gives them), and the C-index is scikit-survival's on them
    predicted = tmp_path / "pred.csv"
    assert run_cli("predict", str(gbsg2_run), "--input", str(tmp_path / "new.csv"), "--output", str(predicted)).returncode == 0
    table = pd.read_csv(folder / "predictions.csv")
    np.testing.assert_allclose(table["risk_score"], pd.read_csv(predicted)["risk_score"], rtol=1e-6)
    np.testing.assert_array_equal(table["duration"], rows["time"])
    ref = sksurv_metrics.concordance_index_censored(rows["cens"].astype(bool).to_numpy(), rows["time"].to_numpy(float),
                                                    table["risk_score"].to_numpy())[0]
    assert a["overall"]["cindex"]["estimate"] == pytest.approx(ref, abs=1e-9)
    # the new test set is in the registry beside the sealed one, and the chain still verifies
    bound = read_json(gbsg2_run / "manifest.json")["registry"]
    verify = run_cli("registry", "verify", "--registry", bound["url"], str(gbsg2_run))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert run_cli("audit", "verify", str(gbsg2_run)).returncode == 0
    # new patients who all had the event: scored with the training split's censoring distribution, not refused
    died = _gbsg2_rows(tmp_path / "died.csv", 3)
    died[died.cens == 1].to_csv(tmp_path / "died.csv", index=False)
    proc = run_cli("evaluate", str(gbsg2_run), "--test-data", str(tmp_path / "died.csv"))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    a = read_json(sorted((gbsg2_run / "test_evaluations").glob("*"))[-1] / "evaluation.json")["assessment"]
    assert a["n"] == a["events"] == int(died.cens.sum()) and a["overall"]["cindex"]["estimate"] is not None


def test_explain_later_attributes_the_risk_score_like_training(gbsg2_run):
    proc = run_cli("explain", str(gbsg2_run), "--name", "later")  # the run's own explain settings
    assert proc.returncode == 0, proc.stdout + proc.stderr
    later = read_json(gbsg2_run / "explanations" / "later" / "risk_attributions.json")
    trained = read_json(gbsg2_run / "survival" / "explain.json")
    assert later["split"] == "val" and later["rows"] == trained["rows"] and later["columns"] == trained["columns"]
    assert set(later["methods"]) == set(trained["methods"])
    for method in ("integrated_gradients", "feature_ablation"):  # deterministic: the rebuilt rows are the same rows
        for key in ("mean_abs", "mean_signed"):
            for col, value in trained["methods"][method][key].items():
                assert later["methods"][method][key][col] == pytest.approx(value, rel=1e-5, abs=1e-7), (method, col)
    assert (gbsg2_run / "explanations" / "later" / "risk_importance.png").stat().st_size > 1000
    assert not (gbsg2_run / "explain").exists()  # nothing in the classification layout
    refused = run_cli("explain", str(gbsg2_run), "--name", "later")  # an existing name is never overwritten
    assert refused.returncode == 2 and "exists" in refused.stderr
    for extra in (["--compare"], ["--method", "lime"]):
        refused = run_cli("explain", str(gbsg2_run), "--name", "other", *extra)
        assert refused.returncode == 2 and "survival" in refused.stderr, refused.stderr
    assert not (gbsg2_run / "explanations" / "other").exists()
    import json

    events = [json.loads(line) for line in (gbsg2_run / "events.jsonl").read_text().splitlines()]
    explained = [e for e in events if e["action"] == "explained"]
    assert len(explained) == 2 and explained[-1]["details"]["name"] == "later"  # training's and this one
    assert run_cli("audit", "verify", str(gbsg2_run)).returncode == 0


def test_show_prints_the_survival_summary(gbsg2_run):
    proc = run_cli("show", str(gbsg2_run))
    assert proc.returncode == 0, proc.stderr
    assert "Harrell's C" in proc.stdout and "Cox PH baseline" in proc.stdout and "at 5 year" in proc.stdout


def test_options_the_survival_verbs_do_not_apply_are_refused_before_anything_is_done(gbsg2_run, tmp_path):
    """Stack options (--device, --threads, --dtype) and classification-only options are refused (exit 2) on a
    survival run, not ignored: a governed look taken under a --device that was never used would use up a look."""
    import contextlib
    import io

    from lifelines.datasets import load_gbsg2

    from medtorch.cli import main

    load_gbsg2().head(50).to_csv(tmp_path / "new.csv", index=False)
    new = str(tmp_path / "new.csv")
    events = (gbsg2_run / "events.jsonl").read_bytes()
    looks = sorted((gbsg2_run / "test_evaluations").iterdir()) if (gbsg2_run / "test_evaluations").exists() else []
    stack, one_piece = "float32 on the CPU", "refuses a survival run's whole input"
    for args, named, why in ((["evaluate", "--device", "cuda"], "--device cuda", stack),
                             (["evaluate", "--threads", "0"], "--threads 0", stack),
                             (["predict", "--input", new, "--output", str(tmp_path / "p.csv"), "--on-invalid", "quarantine"],
                              "--on-invalid quarantine", one_piece),
                             (["predict", "--input", new, "--output", str(tmp_path / "p.csv"), "--chunk-rows", "0"],
                              "--chunk-rows 0", "reads and checks its input in one piece"),
                             (["monitor", "--input", new, "--window", "M", "--out", str(tmp_path / "m")], "--window M",
                              "no calendar windows"),
                             (["explain", "--dtype", "float64"], "--dtype float64", stack)):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            rc = main([args[0], str(gbsg2_run), *args[1:]])
        message = err.getvalue()
        assert rc == 2 and named in message and f"not supported by {args[0]} on a survival run" in message, (args, message)
        # each option is refused for its own reason: a calendar window is not a float32-on-the-CPU matter
        assert why in next(part for part in message.split("; ") if named in part), (args, message)
        assert (why == stack) == (stack in message), (args, message)
        assert (gbsg2_run / "events.jsonl").read_bytes() == events, args
        assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m").exists()
    assert (sorted((gbsg2_run / "test_evaluations").iterdir()) if (gbsg2_run / "test_evaluations").exists() else []) == looks


@pytest.mark.parametrize("verb", ["compare", "lineage"])
def test_verbs_without_survival_support_refuse_naming_the_verb(gbsg2_run, verb, tmp_path):
    extra = {"predict": ["--input", "x.csv", "--output", str(tmp_path / "p.csv")], "monitor": ["--input", "x.csv"]}
    extra = extra.get(verb, [])
    proc = run_cli(verb, str(gbsg2_run), *extra)
    assert proc.returncode == 2, proc.stderr
    assert f"'{verb}' does not yet handle survival" in proc.stderr


def _survival_table(path, n=300, seed=0, event_values=(0, 1)):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    grp = rng.choice(["a", "b"], size=n)
    t = rng.exponential(np.exp(-(0.9 * x1 - 0.4 * x2))) * 24
    c = rng.uniform(3, 60, size=n)
    event = np.where(t <= c, event_values[1], event_values[0])
    pd.DataFrame({"pid": np.arange(n) // 2, "x1": x1, "x2": x2, "grp": grp, "months": np.round(np.minimum(t, c), 2),
                  "dead": event}).to_csv(path, index=False)  # two rows (e.g. two lesions) per subject
    return path


def test_generic_survival_table_trains_end_to_end(tmp_path):
    data = _survival_table(tmp_path / "cohort.csv")
    proc, run_dir = run_train(tmp_path, "+experiment=table", "task=survival", f"data.path={data}",
                              "data.duration_column=months", "data.event_column=dead", "data.duration_unit=month",
                              "evaluation.horizons=[1,2]", "survival.cox_baseline=false", "data.subject_column=pid",
                              "split=grouped", *QUICK)
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["val"]["bootstrap_unit"] == "subject"
    split = read_json(run_dir / "split.json")
    assert split["stratified_on"] == "event indicator and subjects" and split["parts"]["val"]["subjects"] > 0
    assert metrics["task"] == "survival" and metrics["duration_unit"] == "month"
    assert [h["horizon_duration"] for h in metrics["val"]["horizons"]] == [12.0, 24.0]
    assert "cox_baseline" not in metrics
    assert read_json(run_dir / "model.json")["n_outputs"] == 1
    assert "months" not in read_json(run_dir / "model.json")["features"]  # the duration is never a feature


def test_a_horizon_beyond_the_follow_up_is_refused_before_training(tmp_path):
    data = _survival_table(tmp_path / "cohort.csv")  # censored by 60 months at the latest
    proc, run_dir = run_train(tmp_path, "+experiment=table", "task=survival", f"data.path={data}",
                              "data.duration_column=months", "data.event_column=dead", "data.duration_unit=month",
                              "evaluation.horizons=[1,6]", *QUICK, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "evaluation.horizons: 6 years (72 months) is not within the follow-up of the train split" in proc.stderr
    assert read_json(run_dir / "manifest.json")["status"] == "failed"
    assert not (run_dir / "model.pt").exists() and not (run_dir / "metrics.json").exists()


def test_competing_events_are_refused_with_exit_2(tmp_path):
    data = _survival_table(tmp_path / "cr.csv", event_values=(0, 2))
    proc, _ = run_train(tmp_path, "+experiment=table", "task=survival", f"data.path={data}",
                        "data.duration_column=months", "data.event_column=dead", check=False)
    assert proc.returncode == 2
    assert "Competing events" in proc.stderr and "'dead'" in proc.stderr


def test_calendar_split_with_shorter_follow_up_of_later_patients_is_shown(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    entry = pd.to_datetime("2015-01-01") + pd.to_timedelta(rng.uniform(0, 6 * 365, n), unit="D")
    x1 = rng.normal(size=n)
    t = rng.exponential(np.exp(-0.8 * x1)) * 900
    admin = (pd.to_datetime("2021-06-30") - entry).days.to_numpy().astype(float)  # the study closes on one date
    pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "entry": entry.strftime("%Y-%m-%d"),
                  "days": np.round(np.minimum(t, admin), 1), "event": (t <= admin).astype(int)}).to_csv(tmp_path / "c.csv", index=False)
    common = ("+experiment=table", "task=survival", f"data.path={tmp_path / 'c.csv'}", "data.duration_column=days",
              "data.event_column=event", "data.time_column=entry", "split=temporal", "survival.cox_baseline=false", *QUICK)
    # the latest patients (the test split) were followed for at most 450 days: 2 years cannot be scored on them,
    # which is refused before training rather than found at the run's first test look
    proc, _ = run_train(tmp_path / "too_long", *common, "evaluation.horizons=[1,2]", check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "2 years (730.5 days) is not within the follow-up of the test split" in proc.stderr
    proc, run_dir = run_train(tmp_path, *common, "evaluation.horizons=[0.5,1]")
    checks = {c["check"]: c for c in read_json(run_dir / "leakage.json")["checks"]}
    assert checks["calendar_follow_up"]["status"] == "warn" and "test" in checks["calendar_follow_up"]["summary"]
    periods = read_json(run_dir / "survival" / "eda.json")["periods"]
    follow = [periods[y]["median_follow_up_reverse_km"] for y in sorted(periods)]
    assert follow == sorted(follow, reverse=True)  # later entry years, shorter follow-up
    assert "calendar_follow_up: WARN" in proc.stdout.replace("leakage check ", "")


def test_gbsg2_run_holds_exactly_the_declared_artefacts(gbsg2_run):
    """Every file the survival run (and the verbs run on it above) wrote is declared in the artefact registry,
    and every artefact the registry says a survival run holds is there; the typed records read its files."""
    from medtorch.artefacts import of_path, required
    from medtorch.records import MetricsRecord, ModelSpec, SplitRecord, read_record
    from medtorch.run import RunDir

    files = [p.relative_to(gbsg2_run).as_posix() for p in gbsg2_run.rglob("*") if p.is_file()]
    assert not [f for f in files if of_path(f) is None], "files the registry does not declare"
    missing = [a.path for a in required("survival") if not any(a.regex.match(f) for f in files)]
    assert not missing, f"declared as written by every survival run, but absent: {missing}"
    rd = RunDir(gbsg2_run)
    assert read_record(SplitRecord, rd.split).stratified_on.startswith("event indicator")
    assert read_record(ModelSpec, rd.model_spec).task == "survival"
    assert read_record(MetricsRecord, rd.metrics).task == "survival"
