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


def test_threads_of_one_process_exclude_each_other_too(tmp_path):
    import threading

    log = EventLog(tmp_path / "events.jsonl")
    threads = [threading.Thread(target=lambda w=w: [log.append("threaded_write", {"writer": w, "i": i}) for i in range(25)])
               for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify_head() == 100 and len((tmp_path / "events.jsonl").read_text().splitlines()) == 100


def test_folder_lock_excludes_another_process_and_leaves_nothing_in_the_folder(tmp_path):
    """``folder_lock`` locks the folder's own descriptor: another process waits for it, no file is added to the
    folder, and a folder it created is removed again when the block fails before writing anything."""
    import time

    import pytest

    from medtorch.locking import folder_lock

    folder = tmp_path / "reports"
    probe = textwrap.dedent(f"""
        import time
        from medtorch.locking import folder_lock
        print("waiting", flush=True)
        started = time.perf_counter()
        with folder_lock({str(folder)!r}):
            print(time.perf_counter() - started)
    """)
    with folder_lock(folder):
        other = subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True, env=_env())
        assert other.stdout.readline() == "waiting\n"
        time.sleep(1.5)
        assert other.poll() is None  # still waiting
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0 and float(out) >= 1.4, out
    assert list(folder.iterdir()) == []
    fresh = tmp_path / "new" / "reports"
    with pytest.raises(RuntimeError), folder_lock(fresh):
        assert fresh.is_dir()
        raise RuntimeError("refused before writing")
    assert not fresh.exists()
    with pytest.raises(RuntimeError), folder_lock(fresh):
        (fresh / "partial.json").write_text("{}")
        raise RuntimeError("failed after writing")
    assert (fresh / "partial.json").exists()  # what was written is left for the user to see, not deleted
