"""The run's monitoring log: one JSON line per monitoring, appended through the run's verified read and
recorded with the ``monitored`` event, for classification and survival runs alike."""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from medtorch.artefacts import artefact
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.evidence import Run
from medtorch.locking import event_log_lock, folder_lock


@contextmanager
def monitoring_entry(evidence: Run, folder: Path, chosen: bool) -> Iterator[tuple[bytes, Path]]:
    """Hold the run's event log lock while one monitoring writes its report and appends its line; give the log's
    verified bytes and the report's folder, both settled under the lock. Two monitorings at once then cannot both
    extend the same old log (one line lost), nor write into one folder: ``folder`` is the run's default (a time
    stamp, ``chosen`` False), made unique with ``_2``, ``_3``, ... if another monitoring took it within the same
    millisecond; a folder the user chose (``--out``) that already holds a monitoring report is refused
    (EXIT_BAD_INPUT): that report's hashes are in a run's event log, and overwriting it would fail audit verify.
    A chosen folder is also locked itself, after the run's log: monitorings of *different* runs may name the
    same ``--out``, and only one of them may find it empty and write there."""
    with event_log_lock(evidence.rd.events), ExitStack() as held:
        evidence.forget_log_hashes()  # another monitoring may have appended since this one first read the log
        existing = intact_log(evidence)
        if chosen:
            held.enter_context(folder_lock(folder))
        yield existing, _report_folder(Path(folder), chosen)


def _report_folder(folder: Path, chosen: bool) -> Path:
    report = folder / artefact("monitoring_report").file_name(ext="json")
    if chosen:
        if report.exists():
            raise MedtorchError(f"--out {folder} already holds a monitoring report ({report.name}); a run's event log "
                                "records its hashes, so it is not overwritten. Give a new folder; nothing was done.")
        return folder
    unique, n = folder, 2
    while unique.exists():
        unique, n = folder.with_name(f"{folder.name}_{n}"), n + 1
    return unique


def intact_log(evidence: Run) -> bytes:
    """The monitoring log's bytes through the run's verified read (a log edited, truncated or removed since the
    run last recorded it is refused, EXIT_INTEGRITY: appending to it would record the change as the run's own);
    b"" before the first monitoring, when the run has never recorded one. Called before anything is written."""
    log = evidence.rd.monitoring_log
    if not log.exists():
        try:
            evidence.recorded_hash(log)
        except IntegrityError:  # never recorded: the first monitoring of this run
            return b""
    return evidence.read_bytes(log)  # a recorded log that is gone is refused as missing


def log_monitoring(evidence: Run, existing: bytes, line: Mapping[str, Any], files: Iterable[Path],
                   details: Mapping[str, Any], inputs: Mapping[str, str]) -> None:
    """Append ``line`` to the log (``existing`` is the log ``monitoring_entry`` gave) and record the event.

    The log and the report's files are the event's outputs: inside the run by run-relative path, so audit
    verify checks them wherever the run is moved; a report written outside it (--out) by absolute path.
    """
    logged = evidence.record(evidence.rd.monitoring_log, existing + (json.dumps(dict(line)) + "\n").encode("utf-8"))
    evidence.event("monitored", details, inputs=inputs, outputs={**logged, **evidence.hashes_where(files)})
