"""Bridge re-evaluation end to end: real training runs, real stack changes on a CPU.

Stack changes used: intra-op thread count, float64 instead of float32 inference, the CPU
kernel family torch dispatches to (ATEN_CPU_CAPABILITY), and a deliberately perturbed weight.
Two runs are trained once for the module: one with the default tolerances and the
validation rows as bridge set, one with tolerances so tight that float64 inference must fail
them and a configured reference file as bridge set.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, _env, read_json, run_cli, run_train
from medtorch.audit import EventLog
from medtorch.errors import EXIT_INTEGRITY, IntegrityError
from medtorch.hashing import sha256_file
from medtorch.loading import load_run
from medtorch.run import RunDir
from medtorch.stack.bridge import run_bridge
from medtorch.stack.fingerprint import stack_hash
from medtorch.stack.gate import BridgeFailedError, put_on_stack, require_bridged_stack
from medtorch.stack.settings import InferenceSettings

pytestmark = pytest.mark.slow
TIGHT = ["bridge.max_abs_prob_diff=1e-12", "bridge.mean_abs_prob_diff=1e-13"]


@pytest.fixture(scope="module", autouse=True)
def restore_torch_state():
    """put_on_stack puts a run's numeric settings in force; give the rest of the session its own back."""
    saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), torch.get_float32_matmul_precision(),
             torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    yield
    torch.set_num_threads(saved[0])
    torch.use_deterministic_algorithms(saved[1])
    torch.set_float32_matmul_precision(saved[2])
    torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved[3], saved[4]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bridge_runs")
    (root / "default").mkdir()
    (root / "tight").mkdir()
    _, default = run_train(root / "default")
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    ref = bunch.data.iloc[::10].assign(diagnosis=bunch.target_names[bunch.target.iloc[::10]])
    ref.to_csv(root / "reference.csv", index=False)
    _, tight = run_train(root / "tight", *TIGHT, f"bridge.reference_file={root / 'reference.csv'}",
                         "bridge.reference_label=diagnosis")
    return {"root": root, "default": default, "tight": tight}


def _copy(run, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(run, dst)
    return dst


def _ref_threads(run) -> int:
    return read_json(run / "manifest.json")["stack"]["threads"]["intra_op"]


def _actions(run, action):
    return [r for r in EventLog(run / "events.jsonl").records() if r["action"] == action]


def test_training_stores_a_hashed_reference_of_raw_validation_rows(runs):
    from sklearn.datasets import load_breast_cancer

    run = runs["default"]
    rd, manifest = RunDir(run), read_json(run / "manifest.json")
    ref = read_json(rd.bridge_reference)
    for path in (rd.bridge_reference, rd.bridge_rows):
        assert manifest["artefacts"][str(path.relative_to(run))] == sha256_file(path)
    # raw form: the rows as loaded, before imputation and scaling
    raw = load_breast_cancer(as_frame=True).data.iloc[ref["row_ids"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(rd.bridge_rows), raw)
    # the reference probabilities are the validation predictions, and so are the metrics
    pred = pd.read_csv(rd.predictions("val"))
    assert pred["row_id"].tolist() == ref["row_ids"]
    np.testing.assert_allclose(np.asarray(ref["probabilities"]), pred[[f"prob_{c}" for c in ref["classes"]]], rtol=1e-6)
    val = read_json(rd.metrics)["val"]
    assert ref["metrics"]["mcc"] == val["mcc"] and ref["metrics"]["confusion_matrix"] == val["confusion_matrix"]
    # the stack the reference was computed on is in the manifest, with a hash that recomputes
    assert manifest["stack"]["hash"] == stack_hash(manifest["stack"]) == ref["stack"]["hash"]
    assert manifest["stack"]["numeric"]["deterministic_algorithms"] is True
    assert _actions(run, "bridge_reference_stored")[0]["details"]["stack_hash"] == manifest["stack"]["hash"]


def test_a_configured_reference_file_is_the_bridge_set(runs):
    rd = RunDir(runs["tight"])
    ref = read_json(rd.bridge_reference)
    expected = pd.read_csv(runs["root"] / "reference.csv")
    assert ref["split"] == f"file:{runs['root'] / 'reference.csv'}" and ref["n"] == len(expected) == 57
    pd.testing.assert_frame_equal(pd.read_parquet(rd.bridge_rows), expected.drop(columns="diagnosis"))
    assert [ref["classes"][k] for k in ref["labels"]] == expected["diagnosis"].tolist()
    assert ref["metrics"]["n"] == 57


def test_bridge_on_the_training_stack_is_bit_identical_and_never_imports_lightning(runs):
    run = runs["default"]
    code = ("import sys\nfrom medtorch.cli import main\nrc = main(['bridge', sys.argv[1]])\n"
            "assert not {'pytorch_lightning', 'lightning'} & set(sys.modules), 'Lightning imported'\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(run)], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    h = read_json(run / "manifest.json")["stack"]["hash"]
    report = read_json(RunDir(run).bridge_report(h, "json"))
    assert report["passed"] and report["stack_hash"] == h and report["stack_changes"] == []
    assert report["result"]["measures"]["max_abs_prob_diff"] == 0.0  # same seed, same stack, same bits
    assert "PASSED" in proc.stdout


def test_thread_count_and_float64_are_new_stacks_that_pass_within_tolerance(runs):
    run = runs["default"]
    threads = 2 if _ref_threads(run) != 2 else 1
    fp = run_cli("fingerprint", "--diff", str(run), "--threads", str(threads), "--dtype", "float64")
    assert fp.returncode == 0, fp.stderr
    assert re.search(r"\* inference\.dtype +'float32'  ->  'float64'", fp.stdout), fp.stdout
    assert re.search(rf"\* threads\.intra_op +{_ref_threads(run)}  ->  {threads}", fp.stdout), fp.stdout

    before = len(_actions(run, "bridge_evaluated"))
    proc = run_cli("bridge", str(run), "--threads", str(threads), "--dtype", "float64")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new_hash = proc.stdout.split("on stack ")[1].split()[0]
    report = read_json(next((run / "bridge").glob(f"report_{new_hash}*.json")))
    assert report["stack_hash"] != read_json(run / "manifest.json")["stack"]["hash"]
    assert {c["field"] for c in report["stack_changes"] if c["hashed"]} == {"inference.dtype", "threads.intra_op"}
    diff = report["result"]["measures"]["max_abs_prob_diff"]
    assert 0.0 < diff < 1e-4  # float64 really computes something else, within the tolerance
    assert report["result"]["flips"] == 0 and report["passed"]
    assert (run / "bridge" / f"report_{new_hash}.md").read_text().startswith("# Bridge re-evaluation: PASSED")
    events = _actions(run, "bridge_evaluated")
    assert len(events) == before + 1 and events[-1]["details"]["stack_hash"] == report["stack_hash"]
    EventLog(run / "events.jsonl").verify_chain()


def test_cpu_kernel_family_is_part_of_the_stack(runs):
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this CPU already runs torch's DEFAULT kernels")
    env = {**_env(), "ATEN_CPU_CAPABILITY": "default"}
    proc = subprocess.run([sys.executable, "-m", "medtorch.cli", "bridge", str(runs["default"])], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new_hash = proc.stdout.split("on stack ")[1].split()[0]
    report = read_json(next((runs["default"] / "bridge").glob(f"report_{new_hash}*.json")))
    assert [c["field"] for c in report["stack_changes"] if c["hashed"]] == ["cpu.torch_capability"]


def test_tolerances_from_the_run_config_fail_float64_inference(runs):
    run = runs["tight"]
    proc = run_cli("bridge", str(run), "--dtype", "float64")
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "FAILED" in proc.stdout and "FAIL max_abs_prob_diff" in proc.stdout
    assert run_cli("bridge", str(run)).returncode == 0  # the training stack itself is bit-identical: passes
    assert _actions(run, "bridge_evaluated")[-2]["details"]["failed_checks"] == ["max_abs_prob_diff", "mean_abs_prob_diff"]


def test_perturbed_weight_passes_within_tolerance_and_fails_outside(runs, tmp_path):
    run = _copy(runs["default"], tmp_path)
    loaded = put_on_stack(load_run(run), InferenceSettings(threads=_ref_threads(run)))
    weight = next(loaded.network.parameters())
    original = weight.detach().clone()
    with torch.no_grad():
        weight += 1e-6 * torch.sign(original)  # a rounding-sized change: within tolerance
    small = run_bridge(loaded)
    assert small.passed and 0 < small.result["measures"]["max_abs_prob_diff"] < 1e-4
    with torch.no_grad():
        weight.copy_(original + 0.5 * torch.randn(original.shape, generator=torch.Generator().manual_seed(0)))
    big = run_bridge(loaded)
    assert not big.passed and big.result["flips"] > 0
    assert {"max_abs_prob_diff", "flip_rate", "max_class_flip_rate"} <= {c["measure"] for c in big.result["checks"]
                                                                          if not c["passed"]}


def test_automatic_bridge_runs_once_per_stack_then_is_remembered(runs, tmp_path, capsys):
    run = _copy(runs["default"], tmp_path)
    before = len(_actions(run, "bridge_evaluated"))  # the copy carries the bridges other tests ran
    same = require_bridged_stack(run, "evaluate", settings=InferenceSettings(threads=_ref_threads(run)))
    assert same.bridge["status"] == "reference_stack" and len(_actions(run, "bridge_evaluated")) == before

    f64 = InferenceSettings(threads=_ref_threads(run), dtype="float64")
    if any(e["details"]["stack_hash"] == put_on_stack(load_run(run), f64).stack["hash"]
           for e in _actions(run, "bridge_evaluated")):
        f64 = InferenceSettings(threads=_ref_threads(run) + 1, dtype="float64")  # a stack not bridged yet
    first = require_bridged_stack(run, "evaluate", settings=f64)
    assert first.bridge["status"] == "passed_now" and next(first.network.parameters()).dtype == torch.float64
    assert "running the bridge re-evaluation before evaluate" in capsys.readouterr().err
    events = _actions(run, "bridge_evaluated")
    assert len(events) == before + 1 and events[-1]["details"]["purpose"] == "automatic, before evaluate"
    second = require_bridged_stack(run, "predict", settings=f64)
    assert second.bridge == {"status": "passed_on_record", "stack_hash": first.stack["hash"], "event": events[-1]["seq"]}
    assert len(_actions(run, "bridge_evaluated")) == before + 1  # remembered: not run again
    # a changed report is not a passed bridge
    md = RunDir(run).bridge_report(first.stack["hash"], "md")
    md.write_text(md.read_text() + "edited\n")
    with pytest.raises(IntegrityError, match="bridge report recorded in the event log"):
        require_bridged_stack(run, "predict", settings=f64)


def test_failed_automatic_bridge_refuses_unless_overridden_with_a_reason(runs, tmp_path):
    run = _copy(runs["tight"], tmp_path)
    f64 = InferenceSettings(threads=_ref_threads(run), dtype="float64")
    with pytest.raises(BridgeFailedError) as e:
        require_bridged_stack(run, "predict", settings=f64)
    assert e.value.exit_code == 7
    assert "failed (max_abs_prob_diff, mean_abs_prob_diff)" in str(e.value) and "--override-bridge" in str(e.value)
    with pytest.raises(BridgeFailedError):
        require_bridged_stack(run, "predict", settings=f64, override_reason="   ")
    loaded = require_bridged_stack(run, "predict", settings=f64, override_reason="QA deviation DV-17: float64 accepted")
    assert loaded.bridge["status"] == "overridden"
    (event,) = _actions(run, "bridge_overridden")
    assert event["details"]["reason"] == "QA deviation DV-17: float64 accepted" and event["details"]["purpose"] == "predict"
    with pytest.raises(BridgeFailedError):  # a failure is not remembered as a pass
        require_bridged_stack(run, "predict", settings=f64)
    EventLog(run / "events.jsonl").verify_chain()


def test_test_rows_added_after_their_evaluation_join_the_bridge_set(runs, tmp_path):
    from omegaconf import OmegaConf

    from medtorch.data import sources
    from medtorch.data.split import make_split
    from medtorch.errors import MedtorchError
    from medtorch.stack.reference import add_rows

    run = _copy(runs["default"], tmp_path)
    loaded = require_bridged_stack(run, "evaluate", settings=InferenceSettings(threads=_ref_threads(run)))
    cfg = OmegaConf.create(loaded.config)
    test = make_split(sources.load(cfg.data), cfg.split.strategy, cfg.split.train, cfg.split.val, cfg.split.test,
                      cfg.seed).test
    assert test.ids_sha256 == read_json(run / "split.json")["parts"]["test"]["ids_sha256"]
    record = add_rows(loaded, "test", test)
    assert record["n"] == len(test) and record["stack"]["hash"] == loaded.stack["hash"]
    with pytest.raises(MedtorchError, match="already holds rows named 'test'"):
        add_rows(loaded, "test", test)
    with pytest.raises(MedtorchError, match="lower-case letters"):
        add_rows(loaded, "Test set", test)

    proc = run_cli("bridge", str(run), "--dtype", "float64")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new_hash = proc.stdout.split("on stack ")[1].split()[0]
    report = read_json(next((run / "bridge").glob(f"report_{new_hash}*.json")))
    n_val = read_json(run / "metrics.json")["val"]["n"]
    assert [(s["set"], s["n"]) for s in report["result"]["sets"]] == [("val", n_val), ("test", len(test))]
    assert report["result"]["n"] == n_val + len(test) and "bridge/reference_test.parquet" in report["inputs"]
    # the added rows are trusted only as recorded
    rows = pd.read_parquet(RunDir(run).bridge_added("test", "parquet"))
    rows.iloc[0, 0] += 1.0
    rows.to_parquet(RunDir(run).bridge_added("test", "parquet"), index=False)
    bad = run_cli("bridge", str(run))
    assert bad.returncode == 3 and "changed since it was added to the bridge set" in bad.stderr


def test_changed_reference_rows_are_refused(runs, tmp_path):
    run = _copy(runs["default"], tmp_path)
    rows = pd.read_parquet(RunDir(run).bridge_rows)
    rows.iloc[0, 0] += 1.0
    rows.to_parquet(RunDir(run).bridge_rows, index=False)
    proc = run_cli("bridge", str(run))
    assert proc.returncode == 3
    assert "reference_rows.parquet was changed after the run wrote it" in proc.stderr


def test_compare_lays_runs_side_by_side(runs, tmp_path):
    out = tmp_path / "cmp.md"
    proc = run_cli("compare", str(runs["default"]), str(runs["tight"]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    (other,) = result["runs"][1:]
    assert {c["key"] for c in other["config_changes"]} == {"bridge.max_abs_prob_diff", "bridge.mean_abs_prob_diff",
                                                           "bridge.reference_file", "bridge.reference_label"}
    assert not [c for c in other["stack_changes"] if c["hashed"]]
    (agree,) = result["agreement"]
    assert agree["shared_rows"] == read_json(runs["default"] / "metrics.json")["val"]["n"]
    assert agree["differ"] == 0 and agree["max_abs_prob_diff"] == 0.0  # same seed, same stack: same model
    assert [m["mcc"]["value"] for m in result["metrics"]["val"]] == [read_json(r / "metrics.json")["val"]["mcc"]
                                                                    for r in (runs["default"], runs["tight"])]
    assert "## Per-sample agreement" in proc.stdout
    # a directory of runs (a multirun sweep) stands for every run in it
    sweep = run_cli("compare", str(runs["root"]))
    assert sweep.returncode == 0 and sweep.stdout.count("| `") >= 2
    one = run_cli("compare", str(runs["default"]))
    assert one.returncode == 2 and "compare needs at least two runs; got 1" in one.stderr


def test_compare_shows_confidence_intervals_where_a_run_has_them(runs, tmp_path):
    from medtorch.stack.compare import compare_runs
    from medtorch.stack.compare_markdown import to_markdown

    run = _copy(runs["default"], tmp_path)
    mcc = read_json(run / "metrics.json")["val"]["mcc"]
    ci = read_json(run / "assessment_val.json")["ci"]["mcc"]
    other = _copy(runs["tight"], tmp_path / "other")
    (other / "assessment_val.json").unlink(missing_ok=True)  # a run without intervals
    result = compare_runs([str(run), str(other)])
    assert result["metrics"]["val"][0]["mcc"] == {"value": mcc, "ci": [ci["lower"], ci["upper"]]}
    assert result["metrics"]["val"][1]["mcc"]["ci"] is None
    assert f"{mcc:.4g} [{ci['lower']:.4g}, {ci['upper']:.4g}]" in to_markdown(result)
    # intervals (or any file compare reads) changed after the run recorded them are refused, not shown
    (run / "assessment_val.json").write_text(json.dumps({"ci": {"mcc": {"estimate": mcc, "lower": 0.81, "upper": 0.99}}}))
    proc = run_cli("compare", str(run), str(other))
    assert proc.returncode == EXIT_INTEGRITY and "assessment_val.json: changed after the run recorded it" in proc.stderr
    assert "0.81" not in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_inference_is_a_new_stack_that_passes_within_tolerance(runs, tmp_path):
    run = _copy(runs["default"], tmp_path)
    loaded = require_bridged_stack(run, "evaluate", settings=InferenceSettings(device="cuda"))
    assert loaded.bridge["status"] == "passed_now" and loaded.stack["inference"]["device"] == "cuda"
    assert loaded.stack["cuda"]["devices"] and loaded.stack["cuda"]["cudnn"]
