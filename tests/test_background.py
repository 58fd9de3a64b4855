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


def _reaped(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_sibling_receives_a_childs_result_and_the_parent_reaps_both():
    first = background.start("transparent models", lambda: [os.getpid(), 41])
    background.pause(first)
    second = background.start("explanations", lambda: background.receive(first) + [os.getpid()])
    background.hand_over(first, second)
    a, value, b = background.collect(second)
    assert (a, b) == (first.pid, second.pid) and value == 41
    assert _reaped(first.pid) and _reaped(second.pid)  # no zombie: the parent reaped the one it did not read


def test_a_childs_error_reaches_the_parent_through_the_sibling_that_received_it():
    def fail():
        raise IntegrityError("preprocessing.json: sha256 differs")

    first = background.start("transparent models", fail)
    background.pause(first)
    second = background.start("explanations", lambda: background.receive(first))
    background.hand_over(first, second)
    with pytest.raises(IntegrityError, match="sha256 differs"):
        background.collect(second)
    assert _reaped(first.pid)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]  # R, S, T (stopped) ...


def _paused_then_wanted(tmp_path, expect: str):
    go = tmp_path / "go"

    def work():
        while not go.exists():
            time.sleep(0.01)
        return os.sched_getscheduler(0)

    pending = background.start("transparent models", work)
    background.pause(pending)
    assert pending.paused == expect
    if expect == "idle":
        assert os.sched_getscheduler(pending.pid) == os.SCHED_IDLE
    else:
        time.sleep(0.1)
        assert _state(pending.pid) == "T"  # stopped: no progress while paused
    background.wanted(pending)
    assert os.sched_getscheduler(pending.pid) == os.SCHED_OTHER and _state(pending.pid) != "T"
    go.write_text("")
    assert background.collect(pending) == os.SCHED_OTHER


def test_a_paused_child_runs_at_idle_priority_where_it_can_be_raised_again(tmp_path):
    if not background._can_leave_idle():
        pytest.skip("this user may not raise a child out of SCHED_IDLE (no CAP_SYS_NICE, RLIMIT_NICE < 20)")
    _paused_then_wanted(tmp_path, "idle")


def test_a_paused_child_is_stopped_where_idle_priority_could_not_be_undone(tmp_path, monkeypatch):
    monkeypatch.setattr(background, "_can_leave_idle", lambda: False)  # an ordinary user's limits
    _paused_then_wanted(tmp_path, "stopped")


def test_a_result_handed_to_an_in_line_step_is_reaped_at_once():
    first = background.start("transparent models", lambda: 7)
    background.pause(first)
    second = background.start("explanations", lambda: background.receive(first), background=False)
    assert second.result == 7
    background.hand_over(first, second)
    assert _reaped(first.pid)


def test_when_the_receiving_sibling_fails_first_the_other_child_is_stopped_not_awaited(tmp_path):
    marker = tmp_path / "finished"

    def slow():
        time.sleep(3.0)
        marker.write_text("the fit ran to its end")
        return b"x" * 200_000  # more than a pipe holds: its writer would block if anyone still held the pipe

    def fail():
        raise MedtorchError("attributions failed")

    first = background.start("transparent models", slow)
    second = background.start("explanations", fail)
    background.hand_over(first, second)
    started = time.monotonic()
    with pytest.raises(MedtorchError, match="attributions failed"):
        background.collect(second)
    assert time.monotonic() - started < 2.5 and _reaped(first.pid) and not marker.exists()


def test_a_child_whose_result_nobody_reads_still_ends(tmp_path):
    # the sibling finished without reading: the writer meets a closed pipe, and must end there (not carry on
    # as a copy of this process)
    first = background.start("transparent models", lambda: (time.sleep(0.5), b"x" * 200_000)[1])
    second = background.start("explanations", lambda: 5)
    background.hand_over(first, second)
    assert background.collect(second) == 5
    assert _reaped(first.pid)


def test_a_childs_child_ends_with_it(tmp_path):
    """A child is killed when the process that forked it ends (PR_SET_PDEATHSIG): stopping the explanations
    (a failed run abandons its children) stops the comparison they forked as well."""
    pid_file = tmp_path / "grandchild"

    def forks_then_waits():
        inner = background.start("grandchild", lambda: time.sleep(60))
        pid_file.write_text(str(inner.pid))
        time.sleep(60)

    outer = background.start("child", forks_then_waits)
    end = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < end
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    background.abandon_all()  # stops ``outer`` only: the grandchild is not this process's child
    end = time.monotonic() + 10
    while _alive(grandchild):
        assert time.monotonic() < end, "the grandchild ran on after its parent was stopped"
        time.sleep(0.05)
    assert outer.pid not in background._LIVE


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
