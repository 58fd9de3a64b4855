"""Exclusive locks on shared files, held across a read-modify-write.

``event_log_lock(path)`` serialises appends to a run's event log across processes and
threads with the ``filelock`` package (``fcntl.flock`` on POSIX, ``msvcrt`` locking on
Windows), so N writers appending M events each leave exactly N x M lines and a valid chain.
The lock file (``artefact("events_lock")``) sits beside the log; it holds nothing and is not evidence.

``exclusive(path)`` below is the test-set ledger's lock; ``folder_lock(path)`` locks a folder itself.

Files shared by several processes (the project's test-set ledger) are read, extended and
written back atomically (``medtorch.run.write_bytes``). The atomic write keeps the file
whole, but two writers that read the same old content would each write it back with only
their own line: one line is lost. ``exclusive(path)`` serialises them with ``fcntl.flock`` on
a sidecar file ``PATH.lock`` (created beside it, never removed, holding nothing).

The lock is advisory (it binds medtorch, not other programs) and POSIX only: where
``fcntl`` is missing (Windows) the block runs unlocked, as before. It is re-entrant within a
thread, so a caller holding the lock may call code that takes it again. ``flock`` locks are
released by the kernel when the process exits, so a crash leaves no stale lock behind.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

_event_locks: dict[Path, Any] = {}  # lock path -> filelock.FileLock
_event_locks_guard = threading.Lock()


def _forget_event_locks() -> None:
    """In a forked child: new lock objects (filelock refuses one inherited across fork), a fresh guard."""
    global _event_locks_guard
    _event_locks.clear()
    _event_locks_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_event_locks)


def event_log_lock(path: str | Path):
    """The process-wide, re-entrant lock of the event log at ``path`` (a ``filelock.FileLock``).

    One FileLock object per log; a thread that holds it may take it again (filelock counts re-entries
    per thread), and a crash releases it (the kernel drops the OS lock with the process).
    """
    import filelock

    lp = Path(path).resolve().with_suffix(".lock")
    with _event_locks_guard:
        lock = _event_locks.get(lp)
        if lock is None:
            lp.parent.mkdir(parents=True, exist_ok=True)
            # thread-local (filelock's default): each thread takes the OS lock itself, so threads of one
            # process exclude each other too, and a thread that holds it may take it again
            lock = _event_locks[lp] = filelock.FileLock(str(lp))
        return lock


_held = threading.local()  # lock path -> depth, for re-entry by the thread holding it


def lock_path(path: str | Path) -> Path:
    path = Path(path).resolve()  # one lock per ledger, however the ledger's path is spelled (symlinks)
    return path.with_name(path.name + ".lock")


@contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (waiting for other holders) while the block runs."""
    if fcntl is None:
        yield
        return
    lp = lock_path(path)
    depth = getattr(_held, "depth", None)
    if depth is None:
        depth = _held.depth = {}
    if depth.get(lp):
        depth[lp] += 1
        try:
            yield
        finally:
            depth[lp] -= 1
        return
    lp.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        depth[lp] = 1
        try:
            yield
        finally:
            depth.pop(lp, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``folder`` itself (created if missing) while the block runs.

    For a folder the user names outside any run (``monitor --out``), which writers of different runs may
    share: each run's own lock does not exclude the other run. ``flock`` on the folder's own descriptor
    leaves no lock file beside the user's files (filelock and ``exclusive`` lock a sidecar file, which
    here would sit in the user's folder). A folder this call created is removed again if the block
    fails before anything was written into it. Not re-entrant; POSIX only, as ``exclusive``.
    """
    from medtorch.errors import MedtorchError

    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY) if fcntl is not None else None
    except OSError as e:
        raise MedtorchError(f"{folder}: the folder cannot be created or opened ({e.strerror}); give a folder you may "
                            "read and write.") from None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    finally:
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the open file releases the flock
