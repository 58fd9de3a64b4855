"""Concurrent writers of the test-set ledger: no look is lost and no two share a look number."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from medtorch.evaluation.ledger import TestLedger
from medtorch.locking import exclusive, fcntl, lock_path

LOOKS_PER_WRITER = 60

pytestmark = pytest.mark.skipif(fcntl is None, reason="the ledger lock needs fcntl (POSIX)")


def _writer(path: str, name: str, start, looks: int) -> None:
    ledger = TestLedger(path)
    start.wait()
    for i in range(looks):
        with ledger.locked():  # as governed_test_look does: read the earlier looks, then record the next
            n = len(ledger.looks("set"))
            ledger.record({"writer": name, "i": i, "look_on_test_set": n + 1, "test_set": {"sha256": "set"}},
                          inputs={}, outputs={})


def _run_writers(path: Path, writers: int) -> None:
    ctx = mp.get_context("spawn")  # fresh interpreters, as two `medtorch evaluate` calls are
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(path), f"w{k}", start, LOOKS_PER_WRITER)) for k in range(writers)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"writer {p.name} exited with {p.exitcode}"


def test_concurrent_looks_are_all_recorded_with_distinct_numbers(tmp_path):
    path = tmp_path / "ledger.jsonl"
    _run_writers(path, writers=2)
    ledger = TestLedger(path)
    assert ledger.log.verify_head() == 2 * LOOKS_PER_WRITER  # every line present, chain and head intact
    looks = ledger.looks("set")
    for w in ("w0", "w1"):
        assert sorted(r["details"]["i"] for r in looks if r["details"]["writer"] == w) == list(range(LOOKS_PER_WRITER))
    assert [r["details"]["look_on_test_set"] for r in looks] == list(range(1, 2 * LOOKS_PER_WRITER + 1))
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert lock_path(path).is_file() and lock_path(path).stat().st_size == 0


def test_lock_is_reentrant_within_a_process(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = TestLedger(path)
    with ledger.locked(), exclusive(path):  # record() takes the lock again inside
        ledger.record({"test_set": {"sha256": "set"}}, inputs={}, outputs={})
    assert ledger.log.verify_head() == 1
