"""``medtorch audit verify`` catches a one-byte change in any artefact and any edited or deleted
log line; commands that load a run or report on it refuse a changed one."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import run_cli
from medtorch.audit import EventLog
from medtorch.errors import IntegrityError
from medtorch.integrity import verify_run


def _log(tmp_path, n=4):
    log = EventLog(tmp_path / "events.jsonl")
    for i in range(n):
        log.append(f"step{i}", {"i": i})
    return log


def test_cutting_lines_off_the_end_is_caught_by_the_head(tmp_path):
    log = _log(tmp_path)
    assert log.verify_head() == 4
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join(lines[:-1]) + "\n")
    log.verify_chain()  # a shorter chain is still a valid chain ...
    with pytest.raises(IntegrityError, match="has 3 lines but its head .* records 4"):
        log.verify_head()  # ... but not the one the head recorded


def test_a_missing_head_is_refused(tmp_path):
    log = _log(tmp_path)
    log.head_path.unlink()
    with pytest.raises(IntegrityError, match="events.head: missing"):
        log.verify_head()


def test_a_file_changed_between_two_acts_is_caught(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    log = EventLog(tmp_path / "events.jsonl")
    log.append("write", outputs={"a.json": "1" * 64})
    log.append("read", inputs={"a.json": "2" * 64})
    v = verify_run(tmp_path)
    assert any("a.json: read at events.jsonl line 2" in p and "changed without an act recording" in p for p in v.problems)


# ------------------------------------------------------------------------------ on a real run
@pytest.fixture(scope="module")
def run_copy(default_run, tmp_path_factory):
    dst = tmp_path_factory.mktemp("audit") / "run"
    shutil.copytree(default_run, dst)
    return dst


@pytest.mark.slow
def test_a_fresh_run_verifies_and_every_artefact_is_covered(run_copy):
    out = run_cli("audit", "verify", str(run_copy))
    assert out.returncode == 0, out.stderr
    assert "hash chain intact" in out.stdout
    v = verify_run(run_copy)
    # every file is covered; Hydra's console log is declared outside the evidence
    assert v.unrecorded == [] and v.outside_evidence == ["train.log"], (v.unrecorded, v.outside_evidence)
    for name in ("model.pt", "preprocessing.json", "model.json", "config.yaml", "split.json", "metrics.json",
                 "checkpoints/best.ckpt", "report.md", "report.html", "plots/confusion_val_counts.png",
                 "manifest.json", "predictions_val.csv", ".hydra/overrides.yaml", "logs/metrics.csv"):
        assert name in v.files, name


@pytest.mark.slow
def test_a_one_byte_change_in_any_artefact_is_caught(run_copy):
    names = sorted(verify_run(run_copy).files)
    assert len(names) >= 15
    for name in names:
        path = run_copy / name
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        try:
            v = verify_run(run_copy)
            assert v.problems and v.problems[0].startswith(f"{name}: changed after it was recorded"), (name, v.problems)
        finally:
            path.write_bytes(original)
    path = run_copy / "model.pt"
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    try:
        out = run_cli("audit", "verify", str(run_copy))
        assert out.returncode == 3 and "model.pt: changed after it was recorded" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    finally:
        path.write_bytes(original)
    assert verify_run(run_copy).ok


@pytest.mark.slow
def test_a_deleted_artefact_is_caught(run_copy):
    path = run_copy / "preprocessing.json"
    original = path.read_bytes()
    path.unlink()
    try:
        v = verify_run(run_copy)
        assert any(p.startswith("preprocessing.json: missing") for p in v.problems), v.problems
    finally:
        path.write_bytes(original)


@pytest.mark.slow
def test_an_appended_event_cannot_excuse_a_changed_artefact_by_calling_it_removed(tmp_path, run_copy):
    """A report may name the earlier PDF it moved to versions/ as removed; a well-formed event appended later that
    names metrics.json or split.json as removed does not stop audit verify from checking them."""
    run = tmp_path / "run"
    shutil.copytree(run_copy, run)
    for action in ("report_written", "checkpoint_removed"):
        EventLog(run / "events.jsonl").append(action, {"removed": ["metrics.json", "split.json"]})
    (run / "metrics.json").write_text((run / "metrics.json").read_text().replace('"mcc"', '"MCC"', 1))
    (run / "split.json").unlink()
    problems = verify_run(run).problems
    assert any(p.startswith("metrics.json: changed") for p in problems), problems
    assert any(p.startswith("split.json: missing") for p in problems), problems


@pytest.mark.slow
def test_any_edited_or_deleted_log_line_is_caught(run_copy):
    log = run_copy / "events.jsonl"
    original = log.read_text()
    lines = original.splitlines()
    try:
        for i in range(len(lines)):
            rec = json.loads(lines[i])
            rec["details"]["edited"] = True  # an edit that keeps the JSON valid
            log.write_text("\n".join([*lines[:i], json.dumps(rec, sort_keys=True, separators=(",", ":")), *lines[i + 1:]]) + "\n")
            v = verify_run(run_copy)
            assert v.problems and f"line {i + 1} was altered" in v.problems[0], (i, v.problems)

            log.write_text("\n".join(lines[:i] + lines[i + 1:]) + "\n")
            v = verify_run(run_copy)
            expected = "lines were removed from" if i == len(lines) - 1 else f"line {i + 1} does not follow"
            assert v.problems and expected in v.problems[0], (i, v.problems)
        log.write_text(original)
        out = run_cli("audit", "verify", str(run_copy))
        assert out.returncode == 0
        log.write_text(original.replace('"action":"split_made"', '"action":"split_redone"'))
        out = run_cli("audit", "verify", str(run_copy))
        n = next(k for k, line in enumerate(lines, 1) if '"action":"split_made"' in line)
        assert out.returncode == 3 and f"line {n} was altered" in out.stderr, out.stderr
    finally:
        log.write_text(original)


@pytest.mark.slow
def test_loading_or_reporting_a_changed_run_is_refused(run_copy):
    from medtorch.loading import load_run

    log = run_copy / "events.jsonl"
    original = log.read_text()
    log.write_text(original.replace('"action":"model_exported"', '"action":"model_swapped"'))
    try:
        with pytest.raises(IntegrityError, match="was altered after it was written"):
            load_run(run_copy)
    finally:
        log.write_text(original)
    weights = run_copy / "model.pt"
    data = weights.read_bytes()
    weights.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    try:
        with pytest.raises(IntegrityError, match="model.pt was changed"):
            load_run(run_copy)
        out = run_cli("report", str(run_copy))
        assert out.returncode == 3 and "model.pt: changed after it was recorded" in out.stderr, out.stderr
    finally:
        weights.write_bytes(data)
    load_run(run_copy)


@pytest.mark.slow
def test_audit_verify_head_option(run_copy):
    head = json.loads((run_copy / "events.head").read_text())["hash"]
    assert run_cli("audit", "verify", str(run_copy), "--head", head).returncode == 0
    out = run_cli("audit", "verify", str(run_copy), "--head", "f" * 64)
    assert out.returncode == 3 and "contains no line with hash" in out.stderr


def test_files_outside_the_run_are_listed_not_checked(tmp_path):
    run = tmp_path / "run"
    (run / "a.json").parent.mkdir(parents=True)
    (run / "a.json").write_text("{}")
    log = EventLog(run / "events.jsonl")
    from medtorch.hashing import sha256_file

    log.append("write", outputs={"a.json": sha256_file(run / "a.json")})
    log.append("predicted", inputs={str(tmp_path / "new.csv"): "1" * 64}, outputs={"../out.csv": "2" * 64})
    (run / "m").mkdir()
    (run / "m" / "log.jsonl").write_text("{}\n")
    log.append("monitored", outputs={str((run / "m" / "log.jsonl").resolve()): sha256_file(run / "m" / "log.jsonl")})
    v = verify_run(run)
    assert v.ok, v.problems
    assert v.external == sorted([str(tmp_path / "new.csv"), "../out.csv"])
    assert sorted(v.files) == ["a.json", "m/log.jsonl"]  # an absolute path into the run is the run's own file
    (run / "m" / "log.jsonl").write_text("{}\n{}\n")
    assert verify_run(run).problems[0].startswith("m/log.jsonl: changed after it was recorded")
