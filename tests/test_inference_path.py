"""One inference path, and the model used only on a bridged stack, asked for explicitly.

- ``medtorch predict`` on the bridge rows gives the bridge reference's stored probabilities
  bit for bit: the bridge certifies exactly the batch path predict runs. The run is trained
  with ``trainer.eval_batch_size=7``, a batch size whose float32 sums differ in their last
  bits from one large batch, so a predict that batched otherwise would not match.
- ``load_run`` only loads and verifies: no settings put in force, no bridge, no event.
- predict, evaluate, explain and monitor, on a stack the run has not been bridged to, each
  see the automatic bridge run first (its event precedes the verb's in events.jsonl).
- ``medtorch.loading`` imports nothing of ``medtorch.stack`` (the old cycle loading -> gate ->
  bridge -> reference -> loading), function-local and TYPE_CHECKING imports included.
"""

from __future__ import annotations

import ast
import contextlib
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, read_json, run_train
from deploy_data import TRAIN_OVERRIDES, table
from medtorch.audit import EventLog
from medtorch.errors import EXIT_CRITERIA_FAILED, EXIT_DEGRADED, EXIT_DRIFT, EXIT_OK, MedtorchError
from medtorch.models.inference import eval_batch_size, infer, predict_proba
from medtorch.run import RunDir

BATCH = 7


# ------------------------------------------------------------------ in-process units (fast)
def _net(n_in: int = 5, n_out: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(n_in, 16), torch.nn.ReLU(), torch.nn.Linear(16, n_out))


def test_infer_is_softmax_in_float64_in_eval_mode_and_restores_the_mode():
    net = _net().train()
    x = np.random.default_rng(0).normal(size=(23, 5)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
    got = infer(net, x, 23)
    assert got.dtype == np.float64 and np.array_equal(got, expected) and net.training
    assert np.allclose(infer(net, x, 4), expected, rtol=0, atol=1e-7)
    assert np.array_equal(predict_proba(net, x, 23), got)  # the thin alias validation still imports
    assert infer(net, x[:0], 4).shape == (0, 0)


def test_infer_risk_output_is_the_single_output_of_a_survival_network():
    net = _net(n_out=1)
    x = np.random.default_rng(1).normal(size=(9, 5)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).reshape(-1).double().numpy()
    assert np.array_equal(infer(net, x, 9, output="risk"), expected)
    assert infer(net, x[:0], 9, output="risk").shape == (0,)


def test_raw_rows_need_the_fitted_preprocessor_and_bad_settings_are_refused():
    net = _net()
    with pytest.raises(MedtorchError, match="need the run's fitted preprocessor"):
        infer(net, pd.DataFrame({"a": [1.0]}), 4)
    with pytest.raises(MedtorchError, match="batch size must be >= 1"):
        infer(net, np.zeros((2, 5), np.float32), 0)
    with pytest.raises(MedtorchError, match="output must be one of"):
        infer(net, np.zeros((2, 5), np.float32), 2, output="logits")


def test_the_batch_size_is_one_setting_with_one_default():
    from medtorch.config import TrainerConfig

    assert eval_batch_size({"trainer": {"eval_batch_size": 9}}) == 9
    assert eval_batch_size({"trainer": {}}) == eval_batch_size({}) == eval_batch_size() == TrainerConfig.eval_batch_size
    # the default's number appears in medtorch only where TrainerConfig declares it
    default = TrainerConfig.eval_batch_size
    found = []
    for path in sorted((REPO / "medtorch").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        if rel == "medtorch/config/schema_model.py":  # where TrainerConfig declares it
            continue
        found += [f"{rel}:{n.lineno}" for n in ast.walk(ast.parse(path.read_text()))
                  if isinstance(n, ast.Constant) and type(n.value) is int and n.value in (default, 8192)]
    assert found == []


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every medtorch module ``path`` imports: top level, inside functions and under TYPE_CHECKING."""
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
            names = [f"{n.module}.{a.name}" if f"{n.module}.{a.name}" in modules else n.module for a in n.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def test_loading_imports_nothing_of_the_stack_package():
    modules = {}
    for p in (REPO / "medtorch").rglob("*.py"):
        name = ".".join(p.relative_to(REPO).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = p
    seen, todo = {"medtorch.loading"}, ["medtorch.loading"]
    while todo:
        for dep in _imports(modules[todo.pop()], modules) - seen:
            seen.add(dep)
            todo.append(dep)
    assert sorted(m for m in seen if m.startswith("medtorch.stack")) == []
    assert "medtorch.loading" in _imports(modules["medtorch.stack.gate"], modules)  # the gate builds on loading


# ------------------------------------------------------------------ end to end (one small run)
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inference_path")
    table(800, 1).to_csv(tmp / "train.csv", index=False)
    _, run_dir = run_train(tmp, *TRAIN_OVERRIDES, f"data.path={tmp / 'train.csv'}", f"trainer.eval_batch_size={BATCH}",
                           "explain.enabled=false")
    table(300, 2).to_csv(tmp / "new.csv", index=False)
    return run_dir, tmp


@pytest.fixture(autouse=True)
def restore_torch_state():
    """The verbs put a run's numeric settings in force; give the rest of the session its own back."""
    saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), torch.get_float32_matmul_precision())
    yield
    torch.set_num_threads(saved[0])
    torch.use_deterministic_algorithms(saved[1])
    torch.set_float32_matmul_precision(saved[2])


def _cli(*args) -> subprocess.CompletedProcess:
    """The real CLI entry point, in this process (a subprocess start-up of torch costs seconds per call)."""
    from medtorch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "copy"))


@pytest.mark.slow
def test_predict_on_the_bridge_rows_gives_the_bridge_reference_bit_for_bit(trained, tmp_path):
    run, _ = trained
    rd = RunDir(run)
    ref = read_json(rd.bridge_reference)
    assert ref["inference"]["batch_size"] == BATCH and ref["n"] > 3 * BATCH
    rows = pd.read_parquet(rd.bridge_rows)
    rows.to_csv(tmp_path / "rows.csv", index=False)  # as a user hands rows to predict
    proc = _cli("predict", run, "--input", tmp_path / "rows.csv", "--output", tmp_path / "out.csv")
    assert proc.returncode == EXIT_OK, proc.stderr
    out = pd.read_csv(tmp_path / "out.csv", float_precision="round_trip")
    got = out[[f"prob_{c}" for c in ref["classes"]]].to_numpy()
    want = np.asarray(ref["probabilities"], dtype=np.float64)
    assert got.shape == want.shape and np.array_equal(got, want), np.abs(got - want).max()
    # and the same rows in one batch differ in their last bits: the batch size is really what is certified
    from medtorch.loading import load_run

    loaded = load_run(run)
    one_batch = infer(loaded.network, rows, len(rows), preprocessor=loaded.preprocessor)
    assert not np.array_equal(one_batch, want) and np.allclose(one_batch, want, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_load_run_only_loads_and_verifies(trained, tmp_path):
    from medtorch.loading import load_run

    run = _copy(trained[0], tmp_path)
    events = (run / "events.jsonl").read_bytes()
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # a stack the run was never bridged to, were the model used on it
    loaded = load_run(run)
    assert loaded.settings is None and loaded.stack is None and loaded.bridge is None
    assert torch.get_num_threads() == threads + 1  # no settings were put in force
    assert (run / "events.jsonl").read_bytes() == events  # nothing recorded, no bridge run
    assert loaded.eval_batch_size == BATCH


VERBS = {
    "predict": (lambda run, tmp: ["predict", run, "--input", tmp / "new.csv", "--output", tmp / "p.csv"],
                "predicted", (EXIT_OK,)),
    "evaluate": (lambda run, tmp: ["evaluate", run], "test_evaluated", (EXIT_OK, EXIT_CRITERIA_FAILED)),
    "explain": (lambda run, tmp: ["explain", run, "--method", "integrated_gradients", "--max-rows", "20", "--name", "x"],
                "explanation_written", (EXIT_OK,)),
    "monitor": (lambda run, tmp: ["monitor", run, "--input", tmp / "new.csv", "--labels", "label"],
                "monitored", (EXIT_OK, EXIT_DRIFT, EXIT_DEGRADED)),
}


@pytest.mark.slow
@pytest.mark.parametrize("verb", list(VERBS))
def test_each_verb_that_uses_the_model_on_an_unbridged_stack_sees_the_bridge_run_first(trained, tmp_path, verb):
    run, tmp = trained[0], trained[1]
    run = _copy(run, tmp_path)
    n_before = len(EventLog(run / "events.jsonl").records())
    ref_threads = read_json(run / "manifest.json")["stack"]["threads"]["intra_op"]
    args, action, codes = VERBS[verb]
    proc = _cli(*args(run, tmp), "--threads", str(ref_threads + 1))  # another thread count: another stack
    assert proc.returncode in codes, proc.stdout + proc.stderr
    assert f"running the bridge re-evaluation before {verb}" in proc.stderr
    new = [(r["action"], r["details"]) for r in EventLog(run / "events.jsonl").records()[n_before:]]
    actions = [a for a, _ in new]
    assert "bridge_evaluated" in actions and action in actions, actions
    first = actions.index("bridge_evaluated")
    assert first < actions.index(action), actions
    details = new[first][1]
    assert details["purpose"] == f"automatic, before {verb}" and details["passed"]
    assert details["settings"]["threads"] == ref_threads + 1


def test_the_pyarrow_csv_reader_types_cells_as_pandas_does_and_rounds_decimals_exactly(tmp_path):
    from medtorch.deploy.reading import read_chunks

    rows = [f"{i},{i / 3!r},{'FM'[i % 2]},{i}" for i in range(9)] + ["9,abc,M,9", "10,NA,,10", '11,1e3,"F,x",11']
    (tmp_path / "in.csv").write_text("age,marker,sex,extra\n" + "\n".join(rows) + "\n")
    chunks = list(read_chunks(tmp_path / "in.csv", ["sex"], 4, ["age", "marker"]))
    assert [len(c) for c in chunks] == [4, 4, 4]
    ours = pd.concat(chunks, ignore_index=True)
    ref = pd.read_csv(tmp_path / "in.csv", dtype={"sex": "string"})
    assert list(ours.columns) == list(ref.columns) == ["age", "marker", "sex", "extra"]
    assert np.array_equal(ours["age"].to_numpy(float), ref["age"].to_numpy(float))
    exact = [float(r.split(",")[1]) if r.split(",")[1] not in ("abc", "NA") else np.nan for r in rows]  # Python's float()
    assert np.array_equal(chunks[0]["marker"].to_numpy(float), exact[:4])  # every decimal rounded correctly
    assert np.array_equal(pd.to_numeric(ours["marker"], errors="coerce").to_numpy(float)[:8], exact[:8])
    assert chunks[2]["marker"].tolist()[1] == "abc"  # kept, so the specification check reports the cell
    assert ours["sex"].tolist()[-3:] == ["M", pd.NA, "F,x"] and ours["extra"].tolist() == ref["extra"].tolist()
    (tmp_path / "twice.csv").write_text("age,marker,sex,age\n" + "\n".join(rows) + "\n")  # pandas would say "age.1"
    with pytest.raises(MedtorchError, match=r"duplicate column name\(s\): 'age' at columns 1, 4"):
        next(read_chunks(tmp_path / "twice.csv", ["sex"], 4, ["age", "marker"]))
