"""The stack fingerprint, its hash and diff, and the bridge's arithmetic (no training needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import matthews_corrcoef, recall_score

from conftest import REPO, _env
from medtorch.config import BridgeConfig
from medtorch.errors import MedtorchError
from medtorch.stack import fingerprint
from medtorch.stack.bridge import compare, tolerances
from medtorch.stack.settings import InferenceSettings
from medtorch.evaluation.metrics import classification_metrics


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_fingerprint_holds_every_field_the_issue_names():
    fp = fingerprint.collect(trainer_precision="32-true")
    for dotted in ("python.version", "os.system", "os.release", "cpu.model", "cpu.isa_flags", "cpu.torch_capability",
                   "threads.intra_op", "torch.version", "torch.build", "cuda.runtime", "cuda.cudnn", "cuda.devices",
                   "cuda.count", "cuda.driver", "packages.numeric.medtorch", "packages.numeric.numpy",
                   "packages.other.pytorch-lightning", "numeric.deterministic_algorithms", "numeric.cudnn_benchmark",
                   "numeric.cudnn_allow_tf32", "numeric.cuda_matmul_allow_tf32", "numeric.float32_matmul_precision",
                   "numeric.default_dtype", "numeric.trainer_precision", "inference.dtype"):
        assert fingerprint._get(fp, dotted) is not None or dotted.startswith("cuda."), dotted
    assert fp["numeric"]["trainer_precision"] == "32-true"
    assert fp["hash"] == fingerprint.stack_hash(fp) and len(fp["hash"]) == 64
    json.dumps(fp)  # plain JSON, as stored in the manifest


def test_hash_is_stable_and_moves_with_real_settings_only(restore_threads):
    a, b = fingerprint.collect(), fingerprint.collect()
    assert a["hash"] == b["hash"]
    torch.set_num_threads(1 if torch.get_num_threads() != 1 else 2)  # a real change of the stack
    c = fingerprint.collect()
    assert c["hash"] != a["hash"]
    assert [d["field"] for d in fingerprint.diff(a, c)] == ["threads.intra_op"]
    assert fingerprint.collect(inference_dtype="float64")["hash"] != c["hash"]
    # fields that identify the machine but not its arithmetic are shown, not hashed
    d = json.loads(json.dumps(c))
    d["os"]["host"], d["os"]["release"], d["numeric"]["trainer_precision"] = "elsewhere", "0.0.1", "64-true"
    assert fingerprint.stack_hash(d) == c["hash"]
    changes = fingerprint.diff(c, d)
    assert {x["field"] for x in changes} == {"os.host", "os.release", "numeric.trainer_precision"}
    assert not any(x["hashed"] for x in changes)
    text = fingerprint.format_diff(fingerprint.diff(a, c), "run", "here")
    assert "* threads.intra_op" in text


def test_fingerprint_verb_prints_json_without_importing_lightning():
    code = ("import sys, contextlib, io\nfrom medtorch.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf): rc = main(['fingerprint', '--json', '--dtype', 'float64'])\n"
            "print(buf.getvalue())\n"
            "assert rc == 0 and not {'pytorch_lightning', 'lightning'} & set(sys.modules), 'Lightning imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    fp = json.loads(proc.stdout)
    assert fp["inference"]["dtype"] == "float64" and fp["hash"] == fingerprint.stack_hash(fp)


def test_bad_inference_settings_are_refused():
    with pytest.raises(MedtorchError, match="dtype must be one of"):
        InferenceSettings(dtype="float16")
    with pytest.raises(MedtorchError, match="--threads must be >= 1"):
        InferenceSettings(threads=0)


def _probs(rng, n, k):
    logits = rng.normal(size=(n, k)) * 3
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 3])
def test_bridge_measures_match_independent_references(k):
    rng = np.random.default_rng(k)
    n, classes = 200, [f"c{j}" for j in range(k)]
    y = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    ref = _probs(rng, n, k)
    new = ref.copy()
    moved = rng.choice(n, 15, replace=False)
    new[moved] = _probs(rng, 15, k)  # some rows change their prediction, some may not
    ids = np.arange(1000, 1000 + n)
    res = compare(ref, new, y, classes, classification_metrics(y, ref, classes), ids, tolerances({}))

    ref_pred, new_pred = ref.argmax(1), new.argmax(1)
    flips = ref_pred != new_pred
    assert res["flips"] == flips.sum() and res["measures"]["flip_rate"] == pytest.approx(flips.mean())
    assert res["measures"]["max_abs_prob_diff"] == pytest.approx(np.abs(new - ref).max())
    assert res["measures"]["mean_abs_prob_diff"] == pytest.approx(np.abs(new - ref).mean())
    assert res["measures"]["mcc_delta"] == pytest.approx(abs(matthews_corrcoef(y, new_pred) - matthews_corrcoef(y, ref_pred)))
    sens_delta = np.abs(recall_score(y, new_pred, average=None) - recall_score(y, ref_pred, average=None))
    assert res["measures"]["max_sensitivity_delta"] == pytest.approx(sens_delta.max())
    for j, name in enumerate(classes):
        assert res["per_class"][name]["flip_rate"] == pytest.approx(flips[y == j].mean())
        # specificity of class j is the recall of "not j"
        spec = [recall_score(y != j, p != j) for p in (ref_pred, new_pred)]
        assert res["per_class"][name]["specificity_delta"] == pytest.approx(abs(spec[1] - spec[0]))
    assert flips.sum() > 0 and res["passed"] is False  # default tolerances allow no label change
    assert res["largest_differences"][0]["row_id"] == ids[np.abs(new - ref).max(1).argmax()]


def test_bridge_passes_within_tolerance_and_fails_outside():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    ref = _probs(rng, 100, 2)
    ref_metrics = classification_metrics(y, ref, ["a", "b"])
    small = ref + rng.uniform(-1e-7, 1e-7, size=ref.shape)
    ids = np.arange(100)
    assert compare(ref, small, y, ["a", "b"], ref_metrics, ids, tolerances({}))["passed"]
    tight = tolerances({"bridge": {"max_abs_prob_diff": 1e-9}})
    res = compare(ref, small, y, ["a", "b"], ref_metrics, ids, tight)
    assert not res["passed"]
    assert [c["measure"] for c in res["checks"] if not c["passed"]] == ["max_abs_prob_diff"]
    assert compare(ref, ref, y, ["a", "b"], ref_metrics, ids, {k: 0.0 for k in tolerances({})})["passed"]


def test_constant_predictor_and_absent_class_do_not_break_the_deltas():
    y = np.array([0, 0, 0, 1])
    ref = np.tile([0.9, 0.1], (4, 1))  # constant predictor: MCC 0, sensitivity of class 1 is 0
    new = ref.copy()
    res = compare(ref, new, y, ["a", "b"], classification_metrics(y, ref, ["a", "b"]), np.arange(4), tolerances({}))
    assert res["passed"] and res["measures"]["mcc_delta"] == 0.0
    y2 = np.zeros(4, dtype=int)  # class b absent: its sensitivity is undefined on both sides -> no change
    res2 = compare(ref, new, y2, ["a", "b"], classification_metrics(y2, ref, ["a", "b"]), np.arange(4), tolerances({}))
    assert res2["per_class"]["b"]["sensitivity_delta"] == 0.0 and res2["passed"]


def test_bridge_tolerances_are_validated_in_the_config():
    from hydra import compose, initialize_config_dir

    from medtorch.config import register_configs, validate

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "medtorch" / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["bridge.max_flip_rate=1.5", "bridge.max_abs_prob_diff=-1",
                                           "bridge.reference_file=/no/such/file.csv"])
    with pytest.raises(MedtorchError) as e:
        validate(cfg)
    assert "bridge.max_flip_rate must be in [0, 1]; got 1.5" in str(e.value)
    assert "bridge.max_abs_prob_diff must be >= 0; got -1" in str(e.value)
    assert "bridge.reference_file must be an existing CSV or Parquet file (or null); got '/no/such/file.csv'" in str(e.value)
    assert set(tolerances({})) == {k for k in BridgeConfig.__dataclass_fields__ if not k.startswith("reference_")}


def test_reference_file_is_checked_column_by_column(tmp_path):
    from medtorch.stack.reference import rows_from_file

    f = tmp_path / "ref.csv"
    f.write_text("a,b,label\n1.0,x,yes\n2.0,y,no\n")
    rows = rows_from_file(str(f), "label", ["a", "b"], ["no", "yes"])
    assert rows.y.tolist() == [1, 0] and list(rows.frame.columns) == ["a", "b"] and rows.name == f"file:{f}"
    with pytest.raises(MedtorchError, match=r"lacks column\(s\) \['c'\]"):
        rows_from_file(str(f), "label", ["a", "c"], ["no", "yes"])
    with pytest.raises(MedtorchError, match=r"holds \['no'\], which are not classes of this run"):
        rows_from_file(str(f), "label", ["a", "b"], ["yes", "maybe"])
    with pytest.raises(MedtorchError, match="set bridge.reference_label=COLUMN"):
        rows_from_file(str(f), None, ["a", "b"], ["no", "yes"])
