"""Misuse of a run's stack evidence, through the real CLI on one small run.

- A bridge reference the run recorded and that is now missing is an integrity failure (exit
  EXIT_INTEGRITY) for ``medtorch bridge`` and for every verb that needs a bridged stack, and no
  ``--override-bridge`` gets past it; only a run whose records never held one is "trained before".
- ``predict`` and ``monitor`` record the fingerprint of the stack their predictions were computed
  on (``--dtype float64``: the float64 stack, the one its bridge report is named after), not the
  training stack's.
- ``predict --chunk-rows N`` gives output bit-identical to the default, also with rejected rows in
  between: the network sees batches of the run's eval batch size over the valid rows, wherever a
  chunk ends.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import read_json, run_cli, run_train
from medtorch.audit import EventLog
from medtorch.errors import EXIT_DEGRADED, EXIT_DRIFT, EXIT_INTEGRITY, EXIT_OK, IntegrityError, MedtorchError
from medtorch.run import RunDir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """One small run, and 50 of its raw validation rows as a CSV a user would hand to predict."""
    tmp = tmp_path_factory.mktemp("stack_misuse")
    _, run = run_train(tmp, "trainer.max_epochs=1", "explain=none")
    rows = pd.read_parquet(RunDir(run).bridge_rows)
    for c in read_json(RunDir(run).data_spec)["columns"]:  # the rows within the specification's ranges
        if c["min"] is not None:
            rows = rows[rows[c["name"]].between(c["min"], c["max"])]
    rows = rows.head(50)
    assert len(rows) == 50
    rows.to_csv(tmp / "rows.csv", index=False)
    return run, tmp / "rows.csv"


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "copy"))


def _events(run: Path, action: str) -> list[dict]:
    return [r for r in EventLog(RunDir(run).events).records() if r["action"] == action]


def test_a_deleted_recorded_bridge_reference_is_an_integrity_failure_no_override_gets_past(trained, tmp_path):
    run, rows = _copy(trained[0], tmp_path), trained[1]
    rd = RunDir(run)
    rd.bridge_reference.unlink()
    proc = run_cli("bridge", str(run), "--dtype", "float64")
    assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
    assert rd.bridge_reference.name in proc.stderr and "missing" in proc.stderr and "trained before" not in proc.stderr
    assert not list(rd.root.glob("bridge/report_*"))  # nothing half-written
    for stack in (["--dtype", "float64", "--override-bridge", "testing"], []):  # another stack, and the run's own
        out = tmp_path / f"out{len(stack)}.csv"
        proc = run_cli("predict", str(run), "--input", str(rows), "--output", str(out), *stack)
        assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
        assert rd.bridge_reference.name in proc.stderr and "trained before" not in proc.stderr
        assert not out.exists()
    proc = run_cli("monitor", str(run), "--input", str(rows), "--dtype", "float64", "--override-bridge", "testing")
    assert proc.returncode == EXIT_INTEGRITY, proc.stdout + proc.stderr
    assert not _events(run, "bridge_overridden") and not _events(run, "predicted") and not _events(run, "monitored")


def test_only_a_run_whose_records_never_held_a_bridge_reference_was_trained_before_one(trained, tmp_path):
    from medtorch.stack import reference

    run = _copy(trained[0], tmp_path)
    rd, manifest = RunDir(run), read_json(RunDir(run).manifest)
    assert reference.exists(rd, manifest)
    rd.bridge_reference.unlink()  # the file whose absence used to mean "trained before references existed"
    with pytest.raises(IntegrityError, match="missing; the run recorded it"):
        reference.exists(rd, manifest)
    with pytest.raises(IntegrityError, match="missing; the run recorded it"):
        reference.load(rd, manifest)
    bare = RunDir(tmp_path / "old")  # no event log, a manifest without the bridge files: a run from before them
    bare.root.mkdir()
    assert not reference.exists(bare, {"artefacts": {}})
    with pytest.raises(MedtorchError, match="trained before") as e:
        reference.load(bare, {"artefacts": {}})
    assert not isinstance(e.value, IntegrityError)


def test_predict_and_monitor_record_the_stack_their_predictions_were_computed_on(trained, tmp_path):
    run, rows = _copy(trained[0], tmp_path), trained[1]
    proc = run_cli("fingerprint", "--diff", str(run), "--dtype", "float64", "--json")
    assert proc.returncode == EXIT_OK, proc.stderr
    float64 = json.loads(proc.stdout)
    assert not float64["same_hash"]
    out = tmp_path / "p.csv"
    proc = run_cli("predict", str(run), "--input", str(rows), "--output", str(out), "--dtype", "float64")
    assert proc.returncode == EXIT_OK, proc.stderr
    bridged = _events(run, "bridge_evaluated")[-1]["details"]["stack_hash"]
    assert bridged == float64["current"]
    assert set(pd.read_csv(out)["stack_fingerprint"]) == {bridged}
    assert f"stack {bridged[:16]}" in proc.stdout
    assert _events(run, "predicted")[-1]["details"]["stack_fingerprint"] == bridged
    proc = run_cli("monitor", str(run), "--input", str(rows), "--dtype", "float64")
    assert proc.returncode in (EXIT_OK, EXIT_DRIFT, EXIT_DEGRADED), proc.stdout + proc.stderr
    assert _events(run, "monitored")[-1]["details"]["stack_fingerprint"] == bridged
    line = json.loads(RunDir(run).monitoring_log.read_text().splitlines()[-1])
    assert line["stack_fingerprint"] == bridged


def test_predict_output_does_not_depend_on_chunk_rows(trained, tmp_path):
    run, rows = _copy(trained[0], tmp_path), trained[1]
    frame = pd.read_csv(rows)
    frame.iloc[[3, 17], 0] = -1e9  # out of range: rejected, the valid rows after them shift between chunks
    frame.to_csv(tmp_path / "bad.csv", index=False)
    outputs = {}
    for name, path, extra in (("default", rows, []), ("7", rows, ["--chunk-rows", "7"]),
                              ("quarantine", tmp_path / "bad.csv", ["--on-invalid", "quarantine"]),
                              ("quarantine 7", tmp_path / "bad.csv", ["--on-invalid", "quarantine", "--chunk-rows", "7"])):
        out = tmp_path / f"{name.replace(' ', '_')}.csv"
        proc = run_cli("predict", str(run), "--input", str(path), "--output", str(out), *extra)
        assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
        outputs[name] = out.read_bytes()
    assert outputs["7"] == outputs["default"]
    assert outputs["quarantine 7"] == outputs["quarantine"]
    assert len(pd.read_csv(tmp_path / "quarantine.csv")) == 48
