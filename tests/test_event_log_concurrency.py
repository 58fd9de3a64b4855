"""Issue 15, item 11: appends to the event log from concurrent processes lose nothing.

Real processes (not threads) append to one run's event log at the same time; the log must end
with exactly N x M lines, every line in the chain, and a head that matches.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from medtorch.audit import EventLog

from conftest import _env

WRITER = textwrap.dedent("""
    import sys
    from medtorch.audit import EventLog
    log = EventLog(sys.argv[1])
    for i in range(int(sys.argv[3])):
        log.append("concurrent_write", {"writer": int(sys.argv[2]), "i": i})
""")


def test_n_concurrent_writers_leave_n_times_m_lines_and_a_valid_chain(tmp_path):
    n, m = 4, 50
    path = tmp_path / "events.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(m)], env=_env())
             for w in range(n)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    log = EventLog(path)
    assert len(path.read_text().splitlines()) == n * m
    assert log.verify_head() == n * m  # chain intact, head at the last line
    seen = {(r["details"]["writer"], r["details"]["i"]) for r in log.records()}
    assert seen == {(w, i) for w in range(n) for i in range(m)}  # every event of every writer, once
