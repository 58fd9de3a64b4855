"""Append-only, hash-chained event log of a run (``artefact("events")``).

Each line is one act on the run: UTC time, user, host, the action, what it did, the hashes
of the files it read and wrote, the hash of the previous line, and its own hash. Changing,
inserting or deleting any line breaks the chain, which ``verify_chain`` detects. The head of
the chain (the number of lines and the last hash) is also kept in a small file beside the log
(``artefact("events_head")``), so that removing the last lines, which leaves a valid shorter chain, is
detected too. Appends are serialised across processes and threads by a file lock beside the
log (``artefact("events_lock")``, ``medtorch.locking.event_log_lock``).
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from medtorch.artefacts import artefact
from medtorch.errors import IntegrityError
from medtorch.hashing import canonical_json, sha256_bytes, sha256_file
from medtorch.locking import event_log_lock
from medtorch.atomic import _jsonable, write_bytes

GENESIS = "0" * 64


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers, some CI)
        return "unknown"


def _line_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return sha256_bytes(canonical_json(body).encode("utf-8"))


def file_hashes(root: Path, paths: list[Path], optional: bool = False) -> dict[str, str]:
    """``{path relative to root: sha256}`` of files a step wrote. A missing one is an error (a step that
    stopped writing an artefact must not simply drop out of the evidence); ``optional=True`` skips missing
    files, for artefacts that are genuinely optional (a disabled step's, Lightning's checkpoints in a smoke run)."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing and not optional:
        raise IntegrityError(f"{', '.join(missing)}: declared as written by this step but not found under {root}; "
                             "the step did not write it. This is a defect in the step (or the file was removed "
                             f"while the run was writing it); report it with the run's {artefact('events').name}.")
    return {str(Path(p).relative_to(root)): sha256_file(p) for p in paths if Path(p).is_file()}


@dataclass
class EventLog:
    """The event log of one run directory."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def head_path(self) -> Path:
        return self.path.with_suffix(".head")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise IntegrityError(f"{self.path}: line {n} is not valid JSON; the log was edited or truncated.") from None
        return out

    def append(
        self,
        action: str,
        details: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Append one event; ``inputs``/``outputs`` map artefact names to their sha256.

        Held under the log's file lock (``medtorch.locking.event_log_lock``) from reading the last
        line to renaming the new file into place, so concurrent writers never lose a line and never
        link two lines to the same predecessor; the rename makes each append atomic.
        """
        with event_log_lock(self.path):
            existing = self.path.read_bytes() if self.path.exists() else b""
            prev = GENESIS
            seq = 0
            if existing.strip():
                last = json.loads(existing.rstrip(b"\n").rsplit(b"\n", 1)[-1])
                prev, seq = last["hash"], last["seq"] + 1
            record: dict[str, Any] = {
                "seq": seq,
                "time_utc": utc_now(),
                "user": _user(),
                "host": socket.gethostname(),
                "action": action,
                "details": _jsonable(dict(details or {})),
                "inputs": dict(inputs or {}),
                "outputs": dict(outputs or {}),
                "prev_hash": prev,
            }
            record["hash"] = _line_hash(record)
            line = canonical_json(record).encode("utf-8") + b"\n"
            write_bytes(self.path, existing + line)
            write_bytes(self.head_path, canonical_json({"events": seq + 1, "hash": record["hash"]}).encode("utf-8") + b"\n")
        return record

    def verify_chain(self) -> int:
        """Check every line's hash and link; return the number of events. Raises on the first break."""
        prev = GENESIS
        records = self.records()
        for n, rec in enumerate(records, start=1):
            if rec.get("prev_hash") != prev or rec.get("seq") != n - 1:
                raise IntegrityError(
                    f"{self.path}: line {n} does not follow line {n - 1} (a line was deleted, inserted or reordered)."
                )
            if _line_hash(rec) != rec.get("hash"):
                raise IntegrityError(f"{self.path}: line {n} was altered after it was written (its hash does not match).")
            prev = rec["hash"]
        return len(records)

    def verify_head(self) -> int:
        """Check the chain, then that it ends where the head file says it does (no lines cut off the end)."""
        n = self.verify_chain()
        if not self.head_path.is_file():
            raise IntegrityError(
                f"{self.head_path}: missing; the end of the event log cannot be checked "
                "(lines may have been removed from its end). Restore the file from the run's archive."
            )
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            count, last = int(head["events"]), str(head["hash"])
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"{self.head_path}: not a valid log head (expected {{'events': N, 'hash': ...}}).") from None
        last_hash = self.records()[-1]["hash"] if n else GENESIS
        if count != n or last != last_hash:
            raise IntegrityError(
                f"{self.path}: the log has {n} lines but its head ({self.head_path.name}) records {count} ending in "
                f"{last[:16]}...; lines were removed from (or added to) the end of the log."
            )
        return n
