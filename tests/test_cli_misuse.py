"""Verbs misused on a real run: ``compare --out`` into a run or onto a directory, ``lineage --data`` naming a
missing or foreign file, ``evaluate --test-data`` with a row that has no label. Each is one clear error with
its documented exit code, and nothing is written (no file in the run, no event, no look in the registry)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, run_train
from medtorch.errors import EXIT_BAD_INPUT, EXIT_INTEGRITY, EXIT_OK

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One small default run (breast cancer data, built into scikit-learn: its source is not a file)."""
    _, rd = run_train(tmp_path_factory.mktemp("misuse"), "trainer.max_epochs=1", "explain=none")
    return rd


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, but the empty lock files verbs take (not evidence)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".lock"}


def test_compare_out_inside_a_run_or_on_a_directory_is_refused(run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run, other)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    (tmp_path / "taken.json").mkdir()
    before, outside = _tree(run), sorted(p.name for p in tmp_path.iterdir())
    cases = {
        run / "report.md": "lies inside the medtorch run directory",  # a recorded file of the run
        run / "cmp.md": "lies inside the medtorch run directory",  # a new, unrecorded file in the run
        other / "plots" / "cmp.md": "lies inside the medtorch run directory",
        blocker / "cmp.md": "is a file, not a folder",
        tmp_path: "is a directory",
        tmp_path / "taken.md": "is a directory",  # its JSON, taken.json, would land on a directory
    }
    for out, says in cases.items():
        p = run_cli("compare", str(run), str(other), "--out", str(out), cwd=tmp_path)
        assert p.returncode == EXIT_BAD_INPUT, (out, p.returncode, p.stderr[-2000:])
        assert says in p.stderr and "Traceback" not in p.stderr, (out, p.stderr)
        assert p.stdout == "", (out, p.stdout[:500])  # refused before anything is compared
    assert _tree(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert run_cli("audit", "verify", str(run)).returncode == EXIT_OK
    ok = run_cli("compare", str(run), str(other), "--out", str(tmp_path / "out" / "cmp.md"), cwd=tmp_path)
    assert ok.returncode == EXIT_OK, ok.stderr[-2000:]
    assert (tmp_path / "out" / "cmp.md").read_text() == ok.stdout and (tmp_path / "out" / "cmp.json").is_file()


def test_lineage_data_must_exist_and_be_the_runs_source(run, tmp_path):
    events = (run / "events.jsonl").read_text()
    missing = tmp_path / "nope.csv"
    for args in (("--replay", "--data", str(missing)), ("--data", str(missing))):
        p = run_cli("lineage", str(run), *args)
        assert p.returncode == EXIT_BAD_INPUT, (args, p.returncode, p.stdout[-500:], p.stderr[-2000:])
        assert f"--data {missing}: no such file" in p.stderr, (args, p.stderr)
    foreign = tmp_path / "unrelated.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}).to_csv(foreign, index=False)
    p = run_cli("lineage", str(run), "--data", str(foreign))  # without --replay it would do nothing with it
    assert p.returncode == EXIT_BAD_INPUT and "only with --replay" in p.stderr, (p.returncode, p.stderr[-2000:])
    assert (run / "events.jsonl").read_text() == events  # nothing recorded for a refused command line
    p = run_cli("lineage", str(run), "--replay", "--data", str(foreign))
    assert p.returncode == EXIT_INTEGRITY, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    assert "matches" not in p.stdout and f"the data file {foreign} is not the run's source" in p.stderr, p.stderr
    last = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "lineage_replayed" and last["details"]["match"] is False, last
    # the run's own source, as a file with the bytes the lineage hashed (the built-in table as CSV), does match
    from sklearn.datasets import load_breast_cancer

    from medtorch.hashing import sha256_file

    same = tmp_path / "breast_cancer.csv"
    same.write_bytes(load_breast_cancer(as_frame=True).frame.to_csv(index=False).encode())
    assert sha256_file(same) == json.loads((run / "lineage.json").read_text())["steps"][0]["sha256"]
    p = run_cli("lineage", str(run), "--replay", "--data", str(same))
    assert p.returncode == EXIT_OK and "matches" in p.stdout, p.stderr[-2000:]


def test_evaluate_new_test_data_with_a_missing_label_is_refused(run, tmp_path):
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    # new cases: every feature of a real row moved 3 % towards the median (no row or near-duplicate of the
    # run's data), those inside the specification's ranges, each with its class name as the label
    x = bunch.data
    frame = (x.median() + 0.97 * (x - x.median())).round(6)
    ranges = {c["name"]: (c["min"], c["max"]) for c in json.loads((run / "data_spec.json").read_text())["columns"]}
    inside = np.logical_and.reduce([frame[c].between(*ranges[c]) for c in frame.columns])
    frame["target"] = np.asarray(bunch.target_names, dtype=object)[bunch.target.to_numpy()]
    frame = frame[inside].iloc[::4].reset_index(drop=True)
    frame.loc[6, "target"] = None  # the 7th data row has no label
    new = tmp_path / "new.csv"
    frame.to_csv(new, index=False)
    registry = tmp_path / "registry.sqlite"
    events, tree = (run / "events.jsonl").read_text(), _tree(run)
    p = run_cli("evaluate", str(run), "--test-data", str(new), "--registry", str(registry))
    assert p.returncode == EXIT_BAD_INPUT, (p.returncode, p.stdout[-1500:], p.stderr[-2000:])
    assert "no label in column 'target'" in p.stderr and "first at data row 7" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert (run / "events.jsonl").read_text() == events and _tree(run) == tree
    if registry.exists():  # a registry opened for the look holds no look
        from medtorch.registry.location import normalise
        from medtorch.registry.store import Registry

        with Registry(normalise(str(registry))).transaction() as tx:
            _, entries = tx.verify()
        assert not [e for e in entries if e["kind"] == "look"], entries


def test_a_look_at_new_test_data_does_not_open_the_sealed_test_rows_to_explain(run, tmp_path):
    """evaluate --test-data records test_evaluated too, for other rows: explain --split test must still be refused, on any
    stack, before anything (a bridge report on another stack) is written."""
    from medtorch.evidence import Run

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    Run.open(copy).event("test_evaluated", {"evaluation": 1, "test_set_sha256": "0" * 64})  # a look at a new file's rows
    before = _tree(copy)
    p = run_cli("explain", str(copy), "--split", "test", "--dtype", "float64", "--name", "peek")
    assert p.returncode == EXIT_BAD_INPUT and "before any governed look at them is recorded" in p.stderr, p.stderr
    assert _tree(copy) == before
