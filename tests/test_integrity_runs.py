"""Issue 15, items 7-10, 12-14: crashes, resume, tampering and the audit trail, on real runs.

One uninterrupted reference run and one run killed with ``kill -9`` (by PID, from this test,
after the process stopped itself at a chosen point) are shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import stat

import pytest
import torch

from medtorch.audit import EventLog
from medtorch.errors import EXIT_BAD_INPUT, EXIT_CODES, EXIT_INTEGRITY, EXIT_OK, EXIT_RUN_NOT_COMPLETE, exit_code_table
from medtorch.hashing import sha256_file

from conftest import REPO, run_cli
from faults import events, kill_when_stopped, launch, train

KILL_AFTER_EPOCH = 3  # the process stops one step into epoch 4 and is killed there


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    rd = tmp_path_factory.mktemp("reference") / "run"
    proc = train(rd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return rd


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed -9 one step into epoch 4, and an untouched copy of it for the tampering test."""
    base = tmp_path_factory.mktemp("killed")
    rd = base / "run"
    kill_when_stopped(launch(rd, env={"MEDTORCH_FAULT_STOP_AFTER_EPOCH": str(KILL_AFTER_EPOCH)}))
    copy = base / "copy"
    shutil.copytree(rd, copy)
    return rd, copy


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _checkpoint_epochs(records, name="checkpoints/last.ckpt"):
    return [r["details"]["epoch"] for r in records if r["action"] == "checkpoint_saved" and name in r["outputs"]]


@pytest.mark.slow
def test_last_checkpoint_every_epoch_resume_from_the_epoch_before_the_kill_bitwise(reference, killed):
    rd, _ = killed
    before = events(rd)
    best = json.loads((reference / "model.json").read_text())["selected_by"]["best_epoch"]
    assert best == 0  # the best epoch lies well before the kill
    assert _checkpoint_epochs(before) == [0, 1, 2, 3]  # written every epoch, not only when the best improved
    assert torch.load(rd / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == KILL_AFTER_EPOCH
    assert json.loads((rd / "manifest.json").read_text())["status"] == "running"

    # the resume is killed in turn while it writes the report (item 9)
    proc = launch(rd, "ckpt_path=last", env={"MEDTORCH_FAULT_STOP_AT": "report"})
    kill_when_stopped(proc)
    after = events(rd)[len(before):]
    assert after[0]["action"] == "run_resumed"
    assert _checkpoint_epochs(after) == [4, 5]  # started from epoch 3's checkpoint: nothing recomputed
    assert not (rd / "report.html").exists()
    # ckpt_path=last finishes the missing step instead of refusing a complete run
    finish = train(rd, "ckpt_path=last")
    assert finish.returncode == 0, finish.stderr[-3000:]
    assert (rd / "report.html").is_file() and (rd / "report.md").is_file()
    assert run_cli("audit", "verify", str(rd)).returncode == EXIT_OK

    for name in ("model.pt",):
        a, b = _state(rd / name), _state(reference / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    a, b = _state(rd / "checkpoints" / "last.ckpt")["state_dict"], _state(reference / "checkpoints" / "last.ckpt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise-identical final weights


class _Payload:
    """A pickle that runs code when loaded without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
def test_a_replaced_checkpoint_is_refused_before_it_is_unpickled(killed, tmp_path):
    _, rd = killed
    marker = tmp_path / "code_ran"
    with open(rd / "checkpoints" / "last.ckpt", "wb") as f:
        pickle.dump({"state_dict": _Payload(marker)}, f)
    log_before = (rd / "events.jsonl").read_bytes()
    proc = train(rd, "ckpt_path=last", env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert proc.returncode == EXIT_INTEGRITY, proc.stderr[-3000:]
    assert "checkpoints/last.ckpt: checkpoint changed after it was written" in proc.stderr
    assert not marker.exists()  # nothing was unpickled
    assert (rd / "events.jsonl").read_bytes() == log_before  # refused before anything was written
    assert json.loads((rd / "manifest.json").read_text())["status"] == "running"  # still resumable once restored


@pytest.mark.slow
def test_every_checkpoint_hash_is_recorded_when_written(reference):
    log = EventLog(reference / "events.jsonl")
    saved = {}
    for r in log.records():
        if r["action"] == "checkpoint_saved":
            saved.update(r["outputs"])
    for ckpt in (reference / "checkpoints").glob("*.ckpt"):
        assert saved[f"checkpoints/{ckpt.name}"] == sha256_file(ckpt)


def _copy(run, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(run, dst)
    return dst


@pytest.mark.slow
def test_a_model_swapped_after_hand_over_is_caught_by_head(reference, tmp_path):
    rd = _copy(reference, tmp_path, "swapped")
    head = EventLog(rd / "events.jsonl").records()[-1]["hash"]
    assert run_cli("audit", "verify", str(rd), "--head", head).returncode == EXIT_OK
    # another model's weights, the manifest updated, and one well-formed event appended with the library
    state = {k: v + 1 for k, v in _state(rd / "model.pt").items()}
    torch.save(state, rd / "model.pt")
    manifest = json.loads((rd / "manifest.json").read_text())
    manifest["artefacts"]["model.pt"] = sha256_file(rd / "model.pt")
    (rd / "manifest.json").write_text(json.dumps(manifest, indent=2))
    EventLog(rd / "events.jsonl").append("model_updated", {}, outputs={"model.pt": sha256_file(rd / "model.pt"),
                                                                      "manifest.json": sha256_file(rd / "manifest.json")})
    assert run_cli("audit", "verify", str(rd)).returncode == EXIT_OK  # without the head the log vouches for it
    proc = run_cli("audit", "verify", str(rd), "--head", head)
    assert proc.returncode == EXIT_INTEGRITY
    assert "model.pt: changed after hand-over" in proc.stderr
    assert re.search(r"events after the head \(line \d+\): 1\n  line \d+ .*model_updated", proc.stdout)
    short = run_cli("audit", "verify", str(rd), "--head", head[:12])
    assert short.returncode == EXIT_BAD_INPUT and "give the full hash" in short.stderr


@pytest.mark.slow
def test_a_new_report_after_hand_over_is_a_new_version_not_a_problem(reference, tmp_path):
    rd = _copy(reference, tmp_path, "rereported")
    head = EventLog(rd / "events.jsonl").records()[-1]["hash"]
    first = sha256_file(rd / "report.md")
    assert run_cli("report", str(rd)).returncode == EXIT_OK
    proc = run_cli("audit", "verify", str(rd), "--head", head)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert "report_written" in proc.stdout and "new version of a versioned artefact: report.md" in proc.stdout
    kept = rd / "versions" / f"report.md@{first[:16]}"  # the old version stays, and verifies
    assert sha256_file(kept) == first
    assert f"versions/report.md@{first[:16]}" in proc.stdout
    kept.write_text("edited")
    assert run_cli("audit", "verify", str(rd)).returncode == EXIT_INTEGRITY


@pytest.mark.slow
def test_files_no_event_records_have_their_own_section_and_fail_where_evidence_lives(reference, tmp_path):
    rd = _copy(reference, tmp_path, "extra")
    (rd / "notes.txt").write_text("added later\n")
    proc = run_cli("audit", "verify", str(rd))
    assert proc.returncode == EXIT_OK
    assert "files no event records (1" in proc.stdout and "notes.txt" in proc.stdout
    assert "outside the evidence by declaration" in proc.stdout and "train.log" in proc.stdout
    shutil.copy(rd / "checkpoints" / "last.ckpt", rd / "checkpoints" / "epoch=9.ckpt")
    proc = run_cli("audit", "verify", str(rd))
    assert proc.returncode == EXIT_INTEGRITY
    assert "checkpoints/epoch=9.ckpt: no event of the run records this file" in proc.stderr


@pytest.mark.slow
def test_evidence_files_honour_the_umask(reference):
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("manifest.json", "events.jsonl", "events.head", "report.html", "metrics.json", "model.pt"):
        assert stat.S_IMODE((reference / name).stat().st_mode) == 0o666 & ~mask, name


# ---------------------------------------------------------------- item 14: the one exit-code table
def test_the_readme_exit_code_table_is_the_one_in_errors():
    readme = (REPO / "README.md").read_text()
    assert exit_code_table() in readme
    assert len({e.code for e in EXIT_CODES}) == len(EXIT_CODES)


@pytest.mark.slow
def test_each_documented_code_is_what_the_verb_returns(reference, killed, tmp_path):
    from medtorch.data.governance import LeakageError
    from medtorch.deploy.block import PredictionBlockedError as BlockedError
    from medtorch.evaluation.test_rows import OverlapError
    from medtorch.stack.gate import BridgeFailedError

    documented = {e.name: e.code for e in EXIT_CODES}
    # the error types each verb raises carry the documented code
    assert LeakageError.exit_code == documented["EXIT_LEAKAGE"] == 4
    assert BlockedError.exit_code == documented["EXIT_BLOCKED"] == 6
    assert BridgeFailedError.exit_code == documented["EXIT_BRIDGE_FAILED"] == 7
    assert OverlapError.exit_code == documented["EXIT_NOT_INDEPENDENT"] == 8
    # end to end where it is cheap: bad input, integrity, an unfinished run
    assert run_cli("show", str(tmp_path / "nope")).returncode == documented["EXIT_BAD_INPUT"]
    rd = _copy(reference, tmp_path, "edited")
    (rd / "metrics.json").write_text("{}")
    assert run_cli("audit", "verify", str(rd)).returncode == documented["EXIT_INTEGRITY"]
    shown = run_cli("show", str(rd))  # the manifest still says complete: nothing is printed from the run
    assert shown.returncode == documented["EXIT_INTEGRITY"] and "status complete" not in shown.stdout, shown.stdout
    manifest = json.loads((rd / "manifest.json").read_text())
    manifest["status"] = "failed"
    (rd / "manifest.json").write_text(json.dumps(manifest))
    assert run_cli("show", str(rd)).returncode == documented["EXIT_INTEGRITY"]  # an edited status is tampering
    unfinished = _copy(killed[1], tmp_path, "unfinished")  # killed in training, before it could record its manifest
    shown = run_cli("show", str(unfinished))
    assert shown.returncode == documented["EXIT_RUN_NOT_COMPLETE"] == EXIT_RUN_NOT_COMPLETE, shown.stderr
    assert "status running" in shown.stdout and "has not ended" in shown.stdout


def test_show_on_a_resumed_run_and_on_an_edited_one(reference, tmp_path):
    """A resumed run rewrites its manifest (status running) and records it only when it ends: show
    shows it as not ended; once a run ended, a manifest that differs from the recorded one is tampering."""
    from medtorch.evidence import Run
    from medtorch.lifecycle import finish, utc_now

    rd = _copy(reference, tmp_path, "requeued")
    run = Run.open(rd)
    finish(run, status="interrupted", error="SIGUSR2: time limit")  # recorded, as a requeued SLURM job records it
    run = Run.open(rd)
    run.manifest.status = "running"  # what lifecycle.resume does when the job starts again
    run.manifest.resumed.append({"time_utc": utc_now(), "from": "checkpoints/last.ckpt"})
    run.save_manifest()
    run.event("run_resumed", {"run_id": run.manifest.run_id, "checkpoint": "checkpoints/last.ckpt"})
    shown = run_cli("show", str(rd))
    assert shown.returncode == EXIT_RUN_NOT_COMPLETE and "status running" in shown.stdout, shown.stderr
    assert "has not ended" in shown.stdout
    ended = _copy(reference, tmp_path, "ended")
    run = Run.open(ended)
    finish(run, status="interrupted", error="SIGUSR2: time limit")
    manifest = json.loads((ended / "manifest.json").read_text())
    manifest["status"] = "running"  # made to look live after it ended: the log's last run event is its end
    (ended / "manifest.json").write_text(json.dumps(manifest))
    assert run_cli("show", str(ended)).returncode == EXIT_INTEGRITY
    (ended / "manifest.json").write_text("[]")  # valid JSON, not a manifest: changed since recorded
    shown = run_cli("show", str(ended))
    assert shown.returncode == EXIT_INTEGRITY and "Traceback" not in shown.stderr, shown.stderr
    verified = run_cli("audit", "verify", str(ended))
    assert verified.returncode == EXIT_INTEGRITY and "Traceback" not in verified.stderr, verified.stderr
    # the prose of the README quotes the table's codes, never the old 4 for drift, bridge or overlap
    readme = (REPO / "README.md").read_text()
    for stale in ("**4** drift", "exits 0 on pass, 4 on fail", "refused with exit 4 if any"):
        assert stale not in readme


def test_no_literal_exit_codes_in_medtorch():
    anywhere = re.compile(r"exit_code\s*=\s*\d|sys\.exit\(\d|EXIT_\w+\s*=\s*\d")
    returned = re.compile(r"^\s*return\s+\d+\b")  # a verb's run() returns its exit code
    offenders = []
    for path in (REPO / "medtorch").rglob("*.py"):
        if path.name == "errors.py":
            continue
        verb = "commands" in path.parts or path.name == "cli.py"
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if anywhere.search(line) or (verb and returned.search(line)):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_lineage_and_fingerprint_read_only_what_the_run_recorded(reference, tmp_path):
    """``medtorch lineage`` prints the lineage summary, ``lineage --replay`` splits again with the run's config and
    ``fingerprint --diff`` reads its manifest and config: each refuses a file changed after the run recorded it."""
    rd = _copy(reference, tmp_path, "edited")
    summary = rd / "lineage.md"
    summary.write_text(summary.read_text() + "\nAll rows were checked by hand.\n")
    proc = run_cli("lineage", str(rd))
    assert proc.returncode == EXIT_INTEGRITY and "lineage.md: changed after the run recorded it" in proc.stderr
    assert "checked by hand" not in proc.stdout and "Traceback" not in proc.stderr
    shutil.copy2(reference / "lineage.md", summary)
    assert run_cli("lineage", str(rd)).returncode == EXIT_OK
    config = rd / "config.yaml"
    config.write_text(config.read_text().replace("seed: ", "seed: 1", 1))  # another split seed
    events = (rd / "events.jsonl").read_bytes()
    for args in (["lineage", str(rd), "--replay"], ["fingerprint", "--diff", str(rd)]):
        proc = run_cli(*args)
        assert proc.returncode == EXIT_INTEGRITY and "config.yaml: changed after the run recorded it" in proc.stderr, args
    assert (rd / "events.jsonl").read_bytes() == events  # tampering, not a replay that did not match
    shutil.copy2(reference / "config.yaml", config)
    (rd / "lineage.json").unlink()  # a recorded file removed is an integrity problem too, as audit verify says
    proc = run_cli("lineage", str(rd))
    assert proc.returncode == EXIT_INTEGRITY and "lineage.json: missing; the run recorded it" in proc.stderr


def test_a_run_without_its_manifest_is_damaged_a_cv_root_is_no_run(tmp_path):
    """RunDir.require: a directory whose log records a run's start but has no manifest lost it (EXIT_INTEGRITY); a
    cross-validation root keeps a log of the same name and no manifest, and is simply not a run (EXIT_BAD_INPUT)."""
    from medtorch.errors import IntegrityError, MedtorchError
    from medtorch.run import RunDir

    cv, run = tmp_path / "cv", tmp_path / "run"
    EventLog(RunDir(cv).events).append("cv_started", {"folds": 3})
    EventLog(RunDir(run).events).append("run_started", {"run_id": "x"})
    with pytest.raises(MedtorchError, match="this is not a medtorch run directory") as refused:
        RunDir(cv).require()
    assert not isinstance(refused.value, IntegrityError)
    with pytest.raises(IntegrityError, match="manifest.json: missing, though the run's event log"):
        RunDir(run).require()
