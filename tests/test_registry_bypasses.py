"""The six ways around the governed test set that the JSONL ledger allowed, end to end with real runs.

Each test runs the real train.py and ``medtorch`` as processes with a registry of its own
(``XDG_DATA_HOME`` and ``MEDTORCH_REGISTRY`` set per process), and fails on the ledger code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, _env, read_json
from registry_backends import drop_postgres, postgres_url

pytestmark = pytest.mark.slow
QUICK = ["trainer=cpu", "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "explain=none",
         "evaluation.bootstrap_resamples=100", "eda.plots=false"]


def _env_for(study, **extra) -> dict[str, str]:
    env = _env()
    env["XDG_DATA_HOME"] = str(study["xdg"])  # each study its own default registry
    env.pop("MEDTORCH_REGISTRY", None)
    env.update(extra)
    return env


def train(study, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    flags = [a for a in args if a.startswith("-")]
    p = subprocess.run([sys.executable, str(REPO / "train.py"), *flags, *QUICK, *[a for a in args if not a.startswith("-")]],
                       cwd=study["tmp"], env=_env_for(study), capture_output=True, text=True, timeout=600)
    assert not check or p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def cli(study, *args: str, cwd: Path | None = None, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medtorch.cli", *args], cwd=cwd or study["tmp"], env=_env_for(study, **env),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Run A (default split) under a registry of its own, and an unevaluated copy of it."""
    tmp = tmp_path_factory.mktemp("bypasses")
    s = {"tmp": tmp, "xdg": tmp / "xdg"}
    train(s, f"hydra.run.dir={tmp / 'A'}")
    shutil.copytree(tmp / "A", tmp / "A_copy")  # an unevaluated copy for the concurrency test
    s["runs"] = {"A": tmp / "A", "A_copy": tmp / "A_copy"}
    return s


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A multirun -m seed=1,2 with a family look at the end of training, under another registry."""
    tmp = tmp_path_factory.mktemp("family")
    s = {"tmp": tmp, "xdg": tmp / "xdg"}
    s["multirun"] = train(s, "-m", "seed=1,2", "evaluation.test_look=true", f"hydra.sweep.dir={tmp / 'M'}")
    s["runs"] = {"M0": tmp / "M" / "job0", "M1": tmp / "M" / "job1"}
    return s


def evaluations(run: Path) -> list[dict]:
    return [read_json(p) for p in sorted((run / "test_evaluations").glob("*/evaluation.json"))]


def test_1_another_directory_another_registry_or_a_deleted_one(study, tmp_path):
    a = str(study["runs"]["A"])
    (tmp_path / "elsewhere").mkdir()
    p = cli(study, "evaluate", a)
    assert p.returncode == 0 and "HOLD-OUT TEST SET (look 1 on it: first look)" in p.stdout, p.stderr
    p = cli(study, "evaluate", a, cwd=tmp_path / "elsewhere")  # the ledger started afresh here
    assert p.returncode == 0 and "(look 2 on it" in p.stdout, p.stderr
    p = cli(study, "evaluate", a, "--registry", str(tmp_path / "new.sqlite"))  # a fresh registry
    assert p.returncode == 3 and "does not know" in p.stderr and "[1, 2]" in p.stderr
    reg = study["xdg"] / "medtorch" / "registry.sqlite"
    shutil.copy(reg, tmp_path / "backup.sqlite")
    for f in reg.parent.glob("registry.sqlite*"):
        f.unlink()  # the registry deleted
    p = cli(study, "evaluate", a)
    assert p.returncode == 3 and "was replaced" in p.stderr
    shutil.copy(tmp_path / "backup.sqlite", reg)  # restored: looks continue
    assert "(look 3 on it" in cli(study, "evaluate", a).stdout
    assert cli(study, "evaluate", a, "--ledger", "x.jsonl").returncode == 2
    p = cli(study, "evaluate", a, MEDTORCH_TEST_LEDGER="x.jsonl")
    assert p.returncode == 2 and "medtorch registry import LEDGER" in p.stderr


def test_2_truncated_registry(study, tmp_path):
    import sqlite3

    a = str(study["runs"]["A"])
    assert cli(study, "evaluate", a).returncode == 0
    reg = study["xdg"] / "medtorch" / "registry.sqlite"
    shutil.copy(reg, tmp_path / "backup.sqlite")
    with sqlite3.connect(reg) as c:  # the last look cut off the end: the chain that is left stays valid
        c.execute("DELETE FROM medtorch_entries WHERE seq = (SELECT max(seq) FROM medtorch_entries)")
    p = cli(study, "evaluate", a)
    assert p.returncode == 3 and "are missing (the registry was truncated)" in p.stderr, p.stderr
    shutil.copy(tmp_path / "backup.sqlite", reg)


def test_new_test_data_with_one_value_shifted_is_not_new(study, tmp_path):
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    rows = bunch.data.iloc[[3, 19, 20]].copy()
    rows["target"] = np.asarray(bunch.target_names)[bunch.target.iloc[[3, 19, 20]]]
    shifted = rows.copy()
    shifted["mean radius"] += 0.0005  # e.g. 13.54 -> 13.5405: another record at 6 significant digits
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    p = cli(study, "evaluate", str(study["runs"]["A"]), "--test-data", str(tmp_path / "shifted.csv"))
    assert p.returncode == 8 and "3 row(s) equal a row of the run's data in every feature but one" in p.stderr, p.stdout + p.stderr


def test_3_a_new_seed_seals_the_same_test_set_and_a_family_look(family):
    m0, m1 = family["runs"]["M0"], family["runs"]["M1"]
    seal0, seal1 = read_json(m0 / "sealed_test.json"), read_json(m1 / "sealed_test.json")
    assert seal0["rows_sha256"] == seal1["rows_sha256"]  # -m seed=1,2 varies training only
    assert read_json(m0 / "split.json")["parts"]["val"]["ids_sha256"] == read_json(m1 / "split.json")["parts"]["val"]["ids_sha256"]
    e0, e1 = evaluations(m0)[0], evaluations(m1)[0]
    assert e0["role"] == e1["role"] == "hold-out test set"  # one family look, whichever job finished first
    assert e0["family"]["id"] == e1["family"]["id"] and {e0["family"]["distribution"]["members"],
                                                         e1["family"]["distribution"]["members"]} == {1, 2}
    assert "Family look" in family["multirun"].stdout


def test_3b_another_split_seed_overlapping_looked_at_rows_is_second_stage(family):
    p = train(family, f"hydra.run.dir={family['tmp'] / 'C'}", "split.seed=7", "evaluation.test_look=true")
    c = family["tmp"] / "C"
    reg = read_json(c / "manifest.json")["registry"]
    assert reg["development_saw"] and reg["development_saw"][0]["rows"] > 40  # development held looked-at rows
    ev = evaluations(c)[0]
    assert ev["role"] == "second-stage validation set" and ev["look_on_test_set"] == 1, ev["role_reason"]
    assert "SECOND-STAGE VALIDATION SET (look 1" in p.stdout


def test_4_unrecorded_criteria_file_is_refused(family):
    from medtorch.evaluation.acceptance import frozen_record

    run = family["runs"]["M1"]
    folder = run / "acceptance_amendments"
    folder.mkdir()
    (folder / "001.json").write_text(json.dumps(frozen_record("lenient", ["mcc >= -1"], "2026-01-01T00:00:00Z")))
    p = cli(family, "evaluate", str(run))
    assert p.returncode == 3 and "no acceptance_changed event records it" in p.stderr, p.stdout + p.stderr
    shutil.rmtree(folder)


def test_5_one_role_everywhere_after_picking_a_family_member(family):
    m0 = str(family["runs"]["M0"])
    p = cli(family, "evaluate", m0)  # picking one member after the family look is development
    assert p.returncode == 0 and "SECOND-STAGE VALIDATION SET (look 3" in p.stdout, p.stdout + p.stderr
    assert "now second-stage validation set: hold-out at the time, superseded by look 3" in p.stdout
    show = cli(family, "show", m0).stdout
    assert "test evaluation 1 (look" in show and "hold-out at the time, superseded by look 3" in show
    assert "as hold-out test set" not in show
    assert cli(family, "report", m0).returncode == 0
    report = (family["runs"]["M0"] / "report.md").read_text()
    assert "| 1 | " in report and "hold-out at the time, superseded by look 3" in report
    assert "test set " in read_json(family["runs"]["M0"] / "test_roles.json")["summary"]
    assert "second-stage validation set (evaluations 1, 2)" in read_json(family["runs"]["M0"] / "test_roles.json")["summary"]
    show1 = cli(family, "show", str(family["runs"]["M1"])).stdout  # the sibling's family look: superseded too
    assert "superseded by look 3" in show1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_6_concurrent_evaluations_with_different_registries(study, tmp_path, backend):
    run = tmp_path / "run"
    shutil.copytree(study["runs"]["A_copy"], run)
    other = str(tmp_path / "other.sqlite") if backend == "sqlite" else postgres_url()
    try:
        results = {}

        def go(name, *args):
            results[name] = cli(study, "evaluate", str(run), *args)

        threads = [threading.Thread(target=go, args=("bound",)), threading.Thread(target=go, args=("other", "--registry", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if backend == "postgresql":
            drop_postgres(other)
    codes = sorted(r.returncode for r in results.values())
    assert codes == [0, 3], {k: r.stderr[-800:] for k, r in results.items()}  # the second one's registry lacks the first look
    evals = evaluations(run)
    assert [e["evaluation"] for e in evals] == list(range(1, codes.count(0) + 1))  # no number shared, no folder overwritten
    assert cli(study, "audit", "verify", str(run)).returncode == 0
    for r in results.values():
        assert r.returncode == 0 or "does not know" in r.stderr or "was replaced" in r.stderr, r.stderr
