"""medtorch.background: a step in a forked child, its result or its error handed back, never left running."""

import os
import signal
import time

import pytest
import torch

from medtorch import background
from medtorch.errors import EXIT_INTEGRITY, IntegrityError, MedtorchError

pytestmark = pytest.mark.skipif(not background.can_fork(), reason="forks only on Linux without CUDA or DDP")


def test_the_child_computes_with_torch_and_hands_back_its_result():
    threads = torch.get_num_threads()  # the process's setting: part of its stack fingerprint, put back below
    try:
        torch.set_num_threads(2)
        torch.ones(256, 256) @ torch.ones(256, 256)  # the parent has used its thread pool before the fork
        parent = os.getpid()
        pending = background.start("work", lambda: (os.getpid(), float((torch.ones(64, 64) @ torch.ones(64, 64)).sum())))
        assert pending.pid is not None
        pid, total = background.collect(pending)
        assert pid != parent and total == 64.0 * 64 * 64
    finally:
        torch.set_num_threads(threads)


def test_an_error_in_the_child_is_raised_in_the_parent_with_its_type_and_exit_code():
    def fail():
        raise IntegrityError("model.pt: sha256 differs from the recorded one")

    with pytest.raises(IntegrityError, match="sha256 differs") as caught:
        background.collect(background.start("explanations", fail))
    assert caught.value.exit_code == EXIT_INTEGRITY


def test_a_child_that_dies_is_an_error_naming_the_signal():
    pending = background.start("explanations", lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(MedtorchError, match="killed by signal 9"):
        background.collect(pending)


def test_in_line_when_background_is_off():
    pending = background.start("work", lambda: os.getpid(), background=False)
    assert pending.pid is None and background.collect(pending) == os.getpid()


def test_a_failed_run_abandons_its_children(tmp_path):
    marker = tmp_path / "late"
    pending = background.start("work", lambda: (time.sleep(0.5), marker.write_text("written after the failure")))
    background.abandon_all()
    time.sleep(1.0)  # long enough for a child left running to write
    assert not marker.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pending.pid, 0)  # reaped: no zombie left behind


def test_the_child_does_not_run_the_parents_signal_handlers():
    import signal as sig

    calls = []
    previous = sig.signal(sig.SIGUSR2, lambda *a: calls.append("parent handler"))  # e.g. a scheduler's requeue
    try:
        pending = background.start("work", lambda: (os.kill(os.getpid(), sig.SIGUSR2), time.sleep(5)))
        with pytest.raises(MedtorchError, match=f"killed by signal {int(sig.SIGUSR2)}"):
            background.collect(pending)
    finally:
        sig.signal(sig.SIGUSR2, previous)
    assert calls == []


def test_the_child_writes_through_its_own_streams_even_when_a_thread_held_stderrs_lock(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys, threading, time\n"
        "from medtorch import background\n"
        "stop = threading.Event()\n"
        "def spam():\n"
        "    while not stop.is_set():\n"
        "        sys.stderr.write('.' * 4096); sys.stderr.flush()\n"
        "threading.Thread(target=spam, daemon=True).start()\n"
        "time.sleep(0.2)\n"
        "for i in range(20):\n"
        "    p = background.start('work', lambda: (print('child says hi', file=sys.stderr), 42)[1])\n"
        "    assert background.collect(p) == 42\n"
        "stop.set(); print('done')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done" and proc.stderr.count("child says hi") == 20
