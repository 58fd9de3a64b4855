"""The governed test set end to end: real training runs, ``medtorch evaluate``, the test-set registry, exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, run_cli, run_train

pytestmark = pytest.mark.slow


def write_cohort(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 700
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({
        "pid": np.arange(n), "x1": x1.round(6), "x2": x2.round(6),
        "sex": rng.choice(["F", "M"], n), "site": rng.choice(["A", "B"], n),
        "visit": (pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")).strftime("%Y-%m-%d"),
        "label": np.where(x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > 0, "disease", "healthy"),
    })
    paths = {"dev": folder / "cohort.csv", "new": folder / "new.csv", "overlap": folder / "new_overlap.csv",
             "dev_d": folder / "cohort_d.csv"}
    frame.iloc[:500].to_csv(paths["dev"], index=False)
    frame.iloc[:500].to_csv(paths["dev_d"], index=False)
    frame.iloc[500:].to_csv(paths["new"], index=False)
    pd.concat([frame.iloc[500:], frame.iloc[10:12].assign(pid=[900, 901])]).to_csv(paths["overlap"], index=False)
    return paths


def table(path: Path) -> list[str]:
    return ["+experiment=table", f"data.path={path}", "data.target=label", "data.id_column=pid",
            "data.subgroup_columns=[sex,site]", "data.time_column=visit", "evaluation.bootstrap_resamples=200",
            "trainer.max_epochs=1", "explain=none"]  # no test here reads explanations


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Runs A and A2 (same development), B (another learning rate) and D (own data file, test look at training end)."""
    tmp = tmp_path_factory.mktemp("governed")
    files = write_cohort(tmp)
    lenient = "acceptance.criteria=['mcc >= -1']"
    runs = {}
    for name, extra in (("A", [lenient]), ("A2", [lenient]), ("B", [lenient, "optim.lr=0.01"])):
        (tmp / name).mkdir()
        _, runs[name] = run_train(tmp / name, *table(files["dev"]), *extra)
    (tmp / "D").mkdir()
    proc_d, runs["D"] = run_train(tmp / "D", *table(files["dev_d"]), "acceptance.criteria=['mcc > 1']",
                                  "evaluation.test_look=true", check=False)
    return {"tmp": tmp, "files": files, "runs": runs, "proc_d": proc_d, "ledger": tmp / "registry.sqlite"}


def evaluate(study, run: str, *args: str, subprocess: bool = False):
    """``medtorch evaluate``: as its own process (exit code as the shell sees it), or through cli.main in this one."""
    argv = ["evaluate", str(study["runs"][run]), "--registry", str(study["ledger"]), *args]
    if subprocess:
        return run_cli(*argv, cwd=study["tmp"])
    from medtorch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return types.SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def registry_looks(url) -> list[dict]:
    from medtorch.registry.location import normalise
    from medtorch.registry.store import Registry

    with Registry(normalise(str(url))).transaction() as tx:
        _, entries = tx.verify()
    return [e for e in entries if e["kind"] == "look"]


def last_evaluation(run_dir: Path) -> dict:
    return read_json(sorted((run_dir / "test_evaluations").glob("*/evaluation.json"))[-1])


def test_acceptance_frozen_before_any_look(study):
    rd = study["runs"]["A"]
    events = [json.loads(x) for x in (rd / "events.jsonl").read_text().splitlines()]
    actions = [e["action"] for e in events]
    assert actions.index("acceptance_frozen") < actions.index("training_started")
    frozen = read_json(rd / "acceptance.json")
    assert events[actions.index("acceptance_frozen")]["details"]["sha256"] == frozen["sha256"]
    assert frozen["criteria"][0]["text"] == "mcc >= -1"
    manifest = read_json(rd / "manifest.json")
    for name in ("acceptance.json", "sealed_test.json", "assessment_val.json"):
        assert name in manifest["artefacts"]
    assert "test_evaluated" not in actions  # training stops at validation by default
    val = read_json(rd / "assessment_val.json")
    assert set(val["subgroups"]) == {"sex", "site"} and val["periods"]["column"] == "visit"
    assert (rd / "plots" / "forest_sex_val.png").is_file() and (rd / "plots" / "reliability_val.png").is_file()


def test_ledger_story_demotion_new_data_overlap_and_criteria_change(study):
    runs, ledger = study["runs"], study["ledger"]
    explain_test = ("explain", str(runs["A"]), "--split", "test", "--method", "feature_ablation", "--max-rows", "5",
                    "--compare", "none")
    events = (runs["A"] / "events.jsonl").read_text()
    p = run_cli(*explain_test, "--name", "before")  # it would show the test rows, labels and errors: an unrecorded look
    assert p.returncode == 2 and "before any governed look at them is recorded" in p.stderr, p.stderr
    assert (runs["A"] / "events.jsonl").read_text() == events and not (runs["A"] / "explanations").exists()
    p = evaluate(study, "A", subprocess=True)
    assert p.returncode == 0, p.stderr
    assert "HOLD-OUT TEST SET (look 1" in p.stdout and "PASS  mcc >= -1" in p.stdout
    first = last_evaluation(runs["A"])
    assert first["role"] == "hold-out test set" and first["hold_out_claim"] and first["passed"]

    p = evaluate(study, "A2")  # retrained with the same config, code and data: development unchanged
    assert p.returncode == 0 and "HOLD-OUT TEST SET (look 2" in p.stdout, p.stdout + p.stderr

    p = evaluate(study, "B")  # another learning rate: development changed after the test set was looked at
    assert p.returncode == 0, p.stderr
    assert "SECOND-STAGE VALIDATION SET (look 3" in p.stdout and "config changed" in p.stdout
    assert "--test-data NEW_FILE" in p.stdout
    ev = last_evaluation(runs["B"])
    assert ev["role"] == "second-stage validation set" and not ev["hold_out_claim"]

    p = evaluate(study, "A")  # the demotion sticks, also for the original development
    assert "SECOND-STAGE VALIDATION SET (look 4" in p.stdout

    p = evaluate(study, "B", "--test-data", str(study["files"]["new"]))
    assert p.returncode == 0, p.stderr
    assert "HOLD-OUT TEST SET (look 1" in p.stdout and "200 rows" in p.stdout

    amended = study["tmp"] / "amended.yaml"
    amended.write_text("name: amended\ncriteria:\n  - mcc > 0\n")
    log_before = (runs["B"] / "events.jsonl").read_text()
    p = evaluate(study, "B", "--test-data", str(study["files"]["overlap"]), "--acceptance", str(amended), subprocess=True)
    assert p.returncode == 8
    assert "not independent" in p.stderr and "2 row(s) have the same feature values" in p.stderr
    assert (runs["B"] / "events.jsonl").read_text() == log_before  # refused data: the amendment was not recorded either

    lines = registry_looks(ledger)
    assert [x["details"]["role"] for x in lines] == ["hold-out test set"] * 2 + ["second-stage validation set"] * 2 + ["hold-out test set"]
    assert lines[0]["details"]["test_set"]["sha256"] == lines[3]["details"]["test_set"]["sha256"] != lines[4]["details"]["test_set"]["sha256"]

    strict = study["tmp"] / "strict.yaml"
    strict.write_text("name: strict\ncriteria:\n  - mcc > 1\n  - max_subgroup_mcc_gap <= 0.5\n")
    p = evaluate(study, "A", "--acceptance", str(strict), subprocess=True)
    assert p.returncode == 1
    assert "criteria of this run were changed after a test look" in p.stdout
    assert "FAIL  mcc > 1" in p.stdout and "NOT ACCEPTED" in p.stdout
    p = evaluate(study, "A")  # the amended criteria stay in force and the run stays marked
    assert p.returncode == 1 and "changed after a test look" in p.stdout
    ev = last_evaluation(runs["A"])
    assert ev["criteria_changed_after_test_look"] and ev["criteria"]["name"] == "strict"
    assert registry_looks(ledger)[-1]["details"]["criteria_changed_after_test_look"]
    p = run_cli(*explain_test, "--name", "after")  # once the look is recorded, its rows may be examined
    assert p.returncode == 0 and "explained 5 test rows" in p.stdout, p.stderr[-2000:]


def test_test_look_at_end_of_training_and_changed_data(study):
    proc, rd = study["proc_d"], study["runs"]["D"]
    assert proc.returncode == 1, proc.stderr[-2000:]  # the one recorded look failed its criterion
    assert "FAIL  mcc > 1" in proc.stdout
    assert (rd / "test_evaluations" / "001" / "evaluation.json").is_file()
    assert read_json(rd / "manifest.json")["status"] == "complete"
    url = read_json(rd / "manifest.json")["registry"]["url"]  # the registry the run was bound to at training
    assert registry_looks(url)[0]["details"]["role"] == "hold-out test set"

    with open(study["files"]["dev_d"], "a") as f:
        f.write("999,0.1,0.2,F,A,2020-01-01,disease\n")
    p = evaluate(study, "D", subprocess=True)
    assert p.returncode == 3 and "has changed since the run was trained" in p.stderr


def test_exit_codes_for_bad_input_and_tampering(study, tmp_path):
    p = evaluate(study, "A2", "--test-data", str(tmp_path / "missing.csv"), subprocess=True)
    assert p.returncode == 2 and f"--test-data {tmp_path / 'missing.csv'}: no such file" in p.stderr, p.stderr
    copy = tmp_path / "A2"
    shutil.copytree(study["runs"]["A2"], copy)
    frozen = read_json(copy / "acceptance.json")
    frozen["criteria"][0]["threshold"] = -2.0
    (copy / "acceptance.json").write_text(json.dumps(frozen))
    study = {**study, "runs": {"copy": copy}}
    p = evaluate(study, "copy")
    assert p.returncode == 3 and "acceptance.json: changed after it was recorded" in p.stderr, p.stderr


def test_a_look_is_refused_on_a_run_that_does_not_verify(study, tmp_path):
    """A look is recorded for good, so it is taken only on a run whose every file is as the run recorded it: a changed
    split record (which the look itself does not read) or an edited status is tampering (exit 3), and nothing of the
    look is written, in the run or in the registry."""
    looks = len(registry_looks(study["ledger"]))
    for name, edit in (("split", lambda rd: (rd / "split.json").write_text((rd / "split.json").read_text() + "\n")),
                       ("status", lambda rd: (rd / "manifest.json").write_text(
                           (rd / "manifest.json").read_text().replace('"status": "complete"', '"status": "failed"')))):
        copy = tmp_path / name
        shutil.copytree(study["runs"]["A2"], copy)
        edit(copy)
        events, looked = (copy / "events.jsonl").read_bytes(), sorted((copy / "test_evaluations").glob("*"))
        p = evaluate({**study, "runs": {name: copy}}, name)
        changed = "split.json" if name == "split" else "manifest.json"
        assert p.returncode == 3 and f"{changed}: changed after" in p.stderr, p.stderr
        assert sorted((copy / "test_evaluations").glob("*")) == looked and (copy / "events.jsonl").read_bytes() == events
    assert len(registry_looks(study["ledger"])) == looks


def test_new_test_data_is_checked_against_the_runs_data_specification(study, tmp_path):
    """A governed look at new data the model was never specified for is refused, as predict refuses
    such input: exit 2 naming the column and row, no look in the registry, nothing in the run."""
    new = pd.read_csv(study["files"]["new"])
    bad = {"range": new.assign(x1=new["x1"].where(new.index != 3, 1e6)),
           "category": new.assign(site=new["site"].where(new.index != 3, "Z")),
           "unknown_column": new.assign(extra=1.0),
           "missing_value": new.assign(x1=new["x1"].where(new.index != 3, np.nan)),
           "missing_column": new.drop(columns=["x1", "label"])}  # named for the feature, not for the label
    rd = study["runs"]["A2"]
    looks = len(registry_looks(study["ledger"]))
    folders = sorted((rd / "test_evaluations").glob("*")) if (rd / "test_evaluations").exists() else []
    events = (rd / "events.jsonl").read_text()
    for name, frame in bad.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        p = evaluate(study, "A2", "--test-data", str(path))
        assert p.returncode == 2, (name, p.stderr[-1500:])
        assert "violates the run's data specification" in p.stderr, (name, p.stderr)
        column = "extra" if name == "unknown_column" else ("site" if name == "category" else "x1")
        assert f"'{column}'" in p.stderr, (name, p.stderr)
        if name not in ("unknown_column", "missing_column"):
            assert "row 4," in p.stderr, (name, p.stderr)  # the 4th data row, numbered from 1
        assert "data.target" not in p.stderr, (name, p.stderr)  # the column named is the one missing, not the label
    unlabelled = tmp_path / "unlabelled.csv"
    new.drop(columns=["label"]).to_csv(unlabelled, index=False)  # conforms to the specification, but has no labels
    p = evaluate(study, "A2", "--test-data", str(unlabelled))
    assert p.returncode == 2 and "no column 'label' with the true labels" in p.stderr, p.stderr
    assert len(registry_looks(study["ledger"])) == looks
    assert (sorted((rd / "test_evaluations").glob("*")) if (rd / "test_evaluations").exists() else []) == folders
    assert (rd / "events.jsonl").read_text() == events


def test_bad_criterion_is_refused_when_the_config_is_composed(tmp_path):
    proc, _ = run_train(tmp_path, "acceptance.criteria=['mcc >> 0.5']", check=False)
    assert proc.returncode == 2
    assert "acceptance.criteria" in proc.stderr and "not of the form" in proc.stderr
