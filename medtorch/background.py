"""A step run in a forked process beside the steps after it, collected before the run is finished.

The explanations (Captum attributions, their sanity checks, the transparent baseline's fit and
their plots) need only the trained network and the prepared data, and nothing after them needs
them before the report. On Linux, with the network on the CPU and one process, they run in a
child made by ``os.fork`` while this process records the monitoring reference, evaluates and
assesses validation and stores the bridge reference. On the 2-core benchmark machine this hides
only part of them, since the parent's torch threads and the child share the two cores (from the
export to the finished run 5.6-7.5 s against 6.4-8.4 s in line); with more cores, most of them.
The child is a copy of this
process, so it computes what the step computes in line (same network, data and seeds; on one
torch thread, so values can differ from an in-line run's in the last bits, as any change of
thread count allows); it writes its files and appends its events itself (the event log is locked
across processes) and hands back what it recorded, which ``collect`` adds to this run's manifest.

The transparent baselines of the comparison (``explain.transparent``) need only the prepared rows,
so they start earlier, as soon as the split is preprocessed: in a child beside the data steps
(leakage checks, EDA: one core's work), paused while training runs (``pause``: at idle priority, so
it takes only the cycles training leaves unused, or stopped where that could not be undone), and at
the normal priority again from the start of the explanations (``wanted``). Its result goes straight
to the comparison's child below (``receive``; the parent reaps it, ``hand_over``). On the 2-core
benchmark machine training leaves few cycles (its torch threads spin between kernels), so there the
fit runs beside the data steps and, for the rest, beside the validation steps (the explanations
waited 0.7-0.9 s for it, against 1.75 s when it started at the end of training); on a
machine with cores to spare it is done by the end of training.

The explanations' child forks once more for the comparison with the transparent models
(``explain_model(..., compare_beside=True)``): it needs none of the attributions, so its
bootstrap runs beside them and their plots, and it is collected once the plots are written.
That child receives the transparent baselines' fits. Every child is killed when the process
that forked it ends (``PR_SET_PDEATHSIG``), so a failed run that stops the explanations stops
their comparison with them. Where no process can be had (``fork`` fails), the work runs in line.

Sequential, in this process, where a fork is not safe or not possible: not Linux, CUDA
initialised (a forked child cannot use it), a distributed process group, a process not
started by ``train.py`` or the ``medtorch`` command (the Python API in a notebook kernel or a
test is never forked), or ``explain.in_background=false``. (The transparent baselines of a GPU or multi-process run may
still have been forked before training, before CUDA or the process group existed; their result is
then collected in this process.) An error in the child is raised
here, from ``collect``, as the same exception; a child that dies without a word is an error
naming its signal.
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any, Callable

from medtorch.errors import EXIT_INTERNAL_ERROR, MedtorchError

_LIVE: set[int] = set()  # children not yet collected (abandoned when the run fails)


@dataclass
class Pending:
    """A forked child at work; ``result`` is set instead when the work ran in this process."""

    name: str
    pid: int | None = None
    fd: int | None = None
    result: Any = None
    paused: str | None = None  # "idle" (SCHED_IDLE) or "stopped" (SIGSTOP) from ``pause`` until ``wanted``
    after: list["Pending"] | None = None  # children whose result a sibling received: reaped when this one is collected


def can_fork() -> bool:
    """Linux, no CUDA context in this process, no distributed process group."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    import torch

    if torch.cuda.is_initialized():
        return False
    return not (torch.distributed.is_available() and torch.distributed.is_initialized())


def start(name: str, work: Callable[[], Any], background: bool = True) -> Pending:
    """Run ``work`` in a forked child (or here, when ``background`` is off or a fork is not safe)."""
    if not (background and can_fork()):
        return Pending(name, result=work())
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to be had (EAGAIN, ENOMEM): the work is done here, as where a fork is not safe
        os.close(read)
        os.close(write)
        return Pending(name, result=work())
    if pid == 0:  # the child: do the work, send its result or its exception, and end without cleanup
        code = 1
        try:  # whatever happens here, the child ends at os._exit: it never returns into the parent's code
            code = _child(name, work, read, write, parent)
        finally:
            os._exit(code)  # never the parent's atexit handlers, loggers or Hydra's teardown
    os.close(write)
    _LIVE.add(pid)
    return Pending(name, pid=pid, fd=read)


def _set_priority(pid: int, idle: bool) -> bool:
    """``SCHED_IDLE`` (idle) or back to the normal policy for every thread of the child ``pid``; whether it took."""
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    try:
        for tid in threads:
            os.sched_setscheduler(tid, os.SCHED_IDLE if idle else os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        return False
    return True


def _can_leave_idle() -> bool:
    """Whether this process may take a child out of ``SCHED_IDLE`` again: with CAP_SYS_NICE, or a nice limit
    (RLIMIT_NICE) of 20 or more. An ordinary user usually has neither (the limit defaults to 0)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NICE)[0]
        if soft == resource.RLIM_INFINITY or soft >= 20:
            return True
        with open("/proc/self/status") as f:
            caps = next((line.split()[1] for line in f if line.startswith("CapEff:")), "0")
        return bool(int(caps, 16) >> 23 & 1)  # CAP_SYS_NICE
    except (ImportError, AttributeError, OSError, ValueError):
        return False


_RESULT_FD: list[int] = []  # in a forked child: the write end of its own result pipe (not kept by its children)


def _die_with(parent: int) -> None:
    """The child is killed when the process that forked it ends (Linux ``PR_SET_PDEATHSIG``): the child of a
    child that was stopped (a failed run abandons its children) never computes on alone, and never holds the
    stopped child's result pipe open."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl: the parent's abandon still stops its own children
        pass
    if os.getppid() != parent:  # the parent ended before the request took
        os._exit(EXIT_INTERNAL_ERROR)


def _child(name: str, work: Callable[[], Any], read: int, write: int, parent: int) -> int:
    """The forked child's life: do the work, send its result or its exception; the exit status."""
    _die_with(parent)
    os.close(read)
    for fd in _RESULT_FD:  # a child of a child: its parent's result goes to the parent's parent, not through here
        os.close(fd)
    _RESULT_FD[:] = [write]
    _default_signals()
    _own_streams()
    code = 0
    try:
        import torch

        from medtorch import heap
        from medtorch.progress import configure

        heap.release()  # forked while a training command held the collector: this child collects its own cycles
        # a forked child cannot use the parent's OpenMP thread pool (its first parallel region
        # waits for threads that were not copied, for ever): one thread, as DataLoader's workers
        torch.set_num_threads(1)
        configure("off")  # the parent owns the terminal
        payload = pickle.dumps(("ok", work()))
    except BaseException as e:  # every failure goes back to the parent, which raises it
        code = 1
        try:
            payload = pickle.dumps(("error", e))
        except Exception:  # an exception that does not pickle: its type and text
            payload = pickle.dumps(("error", MedtorchError(f"{name}: {type(e).__name__}: {e}")))
    try:
        with os.fdopen(write, "wb") as out:
            out.write(payload)
    except OSError:  # no reader left (the sibling meant to receive it failed first): nothing to hand back
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def _own_streams() -> None:
    """New stdout/stderr objects on duplicates of descriptors 1 and 2: a lock of the inherited ones may be
    held for ever (a parent's thread, e.g. a terminal's progress line, was writing at the fork), and a
    replaced ``sys.stdout`` (a notebook's) is not written from a fork."""
    import io

    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            raw = io.FileIO(os.dup(fd), "w")
        except OSError:  # the descriptor is closed: write nowhere
            raw = io.FileIO(os.open(os.devnull, os.O_WRONLY), "w")
        setattr(sys, name, io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True))


def _default_signals() -> None:
    """The child does not inherit the parent's handlers (a scheduler's requeue on SIGUSR2, Ctrl-C's
    KeyboardInterrupt): a signal ends it, and the parent, which handles the signal, abandons it."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def wanted(pending: Pending) -> None:
    """Its result is wanted now: a paused child competes for the cores as any process does from here on."""
    if pending.pid is None or pending.paused is None:
        return
    if pending.paused == "stopped":
        _signal(pending.pid, "SIGCONT")
    else:
        _set_priority(pending.pid, idle=False)
    pending.paused = None


def pause(pending: Pending) -> None:
    """Until ``wanted``: the child runs at idle priority, only on cores nothing else wants (say, while training
    runs). Where this process could not raise it again (an ordinary user; see ``_can_leave_idle``), the child is
    stopped instead (SIGSTOP, SIGCONT at ``wanted``): it then makes no progress while paused, but it never stays
    at idle priority while its result is awaited."""
    if pending.pid is None or pending.paused is not None:
        return
    if _can_leave_idle() and _set_priority(pending.pid, idle=True):
        pending.paused = "idle"
    else:
        _signal(pending.pid, "SIGSTOP")
        pending.paused = "stopped"


def _signal(pid: int, name: str) -> None:
    import signal

    try:
        os.kill(pid, getattr(signal, name))
    except ProcessLookupError:  # it has ended already; collect reports how
        pass


def collect(pending: Pending) -> Any:
    """Wait for the child; return its result or raise its exception."""
    if pending.pid is None:
        return pending.result
    wanted(pending)
    try:
        return _unpickle(pending, _read(pending), lambda: _reap(pending))
    except BaseException:  # a sibling handed to it is no longer wanted: stopped, not waited for
        for other in pending.after or []:
            _stop(other)
        raise
    finally:
        for other in pending.after or []:
            if other.pid in _LIVE:
                wanted(other)
                _reap(other)


def receive(pending: Pending) -> Any:
    """In another child of the same parent (a sibling): read the child's result or raise its exception. The
    parent reaps it (``hand_over``)."""
    if pending.pid is None:
        return pending.result
    return _unpickle(pending, _read(pending), lambda: None)


def hand_over(pending: Pending, to: Pending) -> None:
    """``pending``'s result goes to the sibling ``to`` (which calls ``receive``): close this process's end of
    the pipe, and reap ``pending`` when ``to`` is collected. ``to`` in line: ``pending`` is reaped now."""
    if pending.pid is None:
        return
    if pending.fd is not None:  # a child blocked writing a large result to a pipe nobody reads ends at the close
        os.close(pending.fd)
        pending.fd = None
    if to.pid is None:
        wanted(pending)
        _reap(pending)
        return
    to.after = [*(to.after or []), pending]


def _read(pending: Pending) -> bytes:
    """All the child sent, then its pipe closed here (and forgotten: the number may be reused)."""
    fd, pending.fd = pending.fd, None
    with os.fdopen(fd, "rb") as inp:
        return inp.read()


def _reap(pending: Pending) -> int:
    _, status = os.waitpid(pending.pid, 0)
    _LIVE.discard(pending.pid)
    return status


def _unpickle(pending: Pending, payload: bytes, reap: Callable[[], Any]) -> Any:
    status = reap()
    if not payload:
        how = ("died" if status is None else f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exited {os.WEXITSTATUS(status)}")
        raise MedtorchError(f"{pending.name}: the process computing them {how} without a result "
                            "(out of memory?); rerun with explain.in_background=false to see the error in line.")
    kind, value = pickle.loads(payload)
    if kind == "error":
        raise value
    return value


def _stop(pending: Pending) -> None:
    import signal

    try:
        os.kill(pending.pid, signal.SIGKILL)
        os.waitpid(pending.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    _LIVE.discard(pending.pid)


def abandon(pending: Pending) -> None:
    """Stop and reap a child whose result is no longer wanted (nothing it would send is read)."""
    if pending.pid is None or pending.pid not in _LIVE:
        return
    if pending.fd is not None:
        os.close(pending.fd)
        pending.fd = None
    _stop(pending)


def abandon_all() -> None:
    """Stop and reap every child not yet collected (the run failed: nothing more may be written into it)."""
    for pid in list(_LIVE):
        _stop(Pending("", pid=pid))
