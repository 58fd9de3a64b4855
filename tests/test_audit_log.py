"""The event log is append-only and hash-chained: edits and deletions are detected."""

import json

import pytest

from medtorch.audit import EventLog
from medtorch.errors import IntegrityError


def _log(tmp_path, n=4):
    log = EventLog(tmp_path / "events.jsonl")
    for i in range(n):
        log.append(f"step{i}", {"i": i}, outputs={"f": "0" * 64})
    return log


def test_chain_verifies_and_links(tmp_path):
    log = _log(tmp_path)
    assert log.verify_chain() == 4
    recs = log.records()
    assert all(recs[i]["prev_hash"] == recs[i - 1]["hash"] for i in range(1, 4))
    assert {"time_utc", "user", "host", "action", "inputs", "outputs"} <= set(recs[0])


def test_edited_line_is_detected(tmp_path):
    log = _log(tmp_path)
    lines = log.path.read_text().splitlines()
    rec = json.loads(lines[2])
    rec["details"]["i"] = 99
    lines[2] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IntegrityError, match="line 3 was altered"):
        log.verify_chain()


def test_deleted_line_is_detected(tmp_path):
    log = _log(tmp_path)
    lines = log.path.read_text().splitlines()
    del lines[1]
    log.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IntegrityError, match="line 2 does not follow"):
        log.verify_chain()
