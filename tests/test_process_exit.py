"""medtorch.process_exit: the entry points end without module teardown, but after everything CPython
does first (non-daemon threads joined, atexit handlers run, streams flushed), with the right status."""

import subprocess
import sys

import pytest

SCRIPT = """
import atexit, sys, threading, time
from medtorch.process_exit import run_then_finish
atexit.register(lambda: print("atexit ran", flush=False))
def slow():
    time.sleep(0.3)
    open(sys.argv[1], "w").write("thread finished")
def work():
    threading.Thread(target=slow).start()
    sys.stdout.write("unflushed output")
    return {ret}
run_then_finish(work)
"""


@pytest.mark.parametrize("ret, code", [("0", 0), ("7", 7), ("None", 0), ("sys.exit(3)", 3), ("sys.exit('bad')", 1)])
def test_status_threads_atexit_and_output_survive(tmp_path, ret, code):
    marker = tmp_path / "thread"
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(ret=ret), str(marker)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == code, proc.stderr
    assert "unflushed output" in proc.stdout and "atexit ran" in proc.stdout
    assert marker.read_text() == "thread finished"  # the non-daemon thread was joined, not cut off
    if ret == "sys.exit('bad')":
        assert "bad" in proc.stderr
