"""What happened to a run after its hand-over: ``medtorch audit verify RUN --head HASH``.

At hand-over QA writes down the full hash of the event log's last line. Later, the log must
still contain that line (a rewritten log does not), and after it:

- a write-once artefact (as ``medtorch.artefacts`` declares them: the model, the fitted
  preprocessing, the split, the data specification, the acceptance criteria, the sealed test
  split, the config...; and the final checkpoints) recorded at or before the head may not be recorded again with another hash:
  whoever swapped the model weights and appended an event saying so is reported, however
  well-formed the event (``EXIT_INTEGRITY``);
- versioned artefacts (the report, bridge reports, evaluations, explanations, monitoring)
  may get new versions, each with its own event; they are listed, not refused;
- every event after the head is listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from medtorch.artefacts import WRITE_ONCE, artefact, of_path
from medtorch.errors import MedtorchError

# rewritten while the run trains (each write recorded), final once it is complete and handed over
FINAL_AT_HANDOVER = frozenset({"checkpoint_last"})
FULL_HASH = re.compile(r"[0-9a-f]{64}")
_EVENTS = artefact("events").name


def write_once(name: str) -> bool:
    """Whether the run-relative ``name`` is an artefact the registry declares write-once (or final at hand-over)."""
    a = of_path(name)
    return a is not None and (a.kind == WRITE_ONCE or a.key in FINAL_AT_HANDOVER)


@dataclass
class AfterHead:
    head: str
    head_line: int | None = None  # 1-based line of the head in the event log
    events_after: list[dict[str, Any]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # problems: write-once artefacts re-recorded after the head
    new_versions: list[str] = field(default_factory=list)


def check_head_format(head: str) -> None:
    if not FULL_HASH.fullmatch(head.strip().lower()):
        raise MedtorchError(
            f"--head {head!r}: give the full hash (64 hexadecimal characters, the 'hash' of the event log's line at "
            f"hand-over, e.g. from `medtorch audit verify RUN` then); got {len(head)} characters. An abbreviated hash "
            "could match more than one line.")


def after_head(records: list[dict[str, Any]], head: str, run_names) -> AfterHead:
    """Compare what the log recorded after ``head`` with what it recorded up to it.

    ``run_names(record)`` yields the (run-relative name, sha256) pairs an event recorded (inputs and outputs)."""
    head = head.strip().lower()
    out = AfterHead(head)
    line = next((n for n, r in enumerate(records, 1) if r.get("hash") == head), None)
    if line is None:
        return out
    out.head_line = line
    before: dict[str, tuple[str, int]] = {}
    for n, rec in enumerate(records[:line], 1):
        for name, digest in run_names(rec):
            before[name] = (digest, n)
    for n, rec in enumerate(records[line:], line + 1):
        out.events_after.append({"line": n, "time_utc": rec.get("time_utc"), "user": rec.get("user"),
                                 "host": rec.get("host"), "action": rec.get("action")})
        for name, digest in dict(run_names(rec)).items():  # one verdict per file and event
            prior = before.get(name)
            if prior is None or prior[0] == digest:
                continue
            if write_once(name):
                out.changed.append(
                    f"{name}: changed after hand-over: recorded with sha256 {prior[0][:16]}... at {_EVENTS} line "
                    f"{prior[1]} (at or before the head, line {line}) and re-recorded with {digest[:16]}... at line {n} "
                    f"({rec.get('action')}, by {rec.get('user')}@{rec.get('host')}). A write-once artefact may not be "
                    "replaced; restore the original from the run's archive.")
            else:
                out.new_versions.append(f"{name}: new version at line {n} ({rec.get('action')})")
    return out
