"""Acceptance criteria in force for a look: the frozen ones, or the latest *recorded* amendment.

Criteria change only through ``medtorch evaluate --acceptance FILE``, which writes
``acceptance_amendments/NNN.json`` and an ``acceptance_changed`` event holding the file's hash.
A file in ``acceptance_amendments/`` that no such event records (dropped in by hand, or edited
after it was recorded) is refused with EXIT_INTEGRITY, never used: the criteria a look is judged by
are always ones the run's audit trail can show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.artefacts import artefact
from medtorch.audit import EventLog, utc_now
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.evaluation import acceptance as A
from medtorch.evidence import Run
from medtorch.hashing import sha256_file
from medtorch.run import read_json

AMENDMENTS = artefact("acceptance_amendment").relative(name="x").rsplit("/", 1)[0]  # the folder of amendments


def _recorded_amendments(rd, events: list[dict[str, Any]]) -> list[Path]:
    """The amendment files in the order the event log recorded them, each checked against its recorded hash."""
    recorded: dict[str, str] = {}
    for e in events:
        if e["action"] == "acceptance_changed":
            recorded.update({k: v for k, v in e["outputs"].items() if k.startswith(f"{AMENDMENTS}/")})
    on_disk = sorted((rd.root / AMENDMENTS).glob("*"))  # any file there, not only the declared pattern
    problems = []
    for path in on_disk:
        rel = path.relative_to(rd.root).as_posix()
        if rel not in recorded:
            problems.append(f"{rel}: no acceptance_changed event records it (criteria change only through "
                            "'medtorch evaluate RUN --acceptance FILE')")
        elif sha256_file(path) != recorded[rel]:
            problems.append(f"{rel}: changed after it was recorded (sha256 {sha256_file(path)[:16]}... on disk, "
                            f"{recorded[rel][:16]}... recorded)")
    for rel in recorded:
        if not (rd.root / rel).is_file():
            problems.append(f"{rel}: recorded by the event log but missing")
    if problems:
        raise IntegrityError(f"{rd.root}: the acceptance criteria cannot be trusted:\n  - " + "\n  - ".join(problems)
                             + "\nRemove files that were not written by medtorch (or restore the recorded ones); to change "
                             "the criteria, run: medtorch evaluate RUN --acceptance FILE.")
    return [rd.root / rel for rel in recorded]


def active_criteria(rd, log: EventLog, acceptance_file: str | None) -> tuple[dict[str, Any], bool]:
    """The criteria in force (frozen, or the latest amendment), and whether any changed after a test look.

    ``acceptance_file`` (a YAML file with ``name`` and ``criteria``) amends the criteria; an
    amendment made after a test look of this run marks the run in every later output.
    """
    events = log.records()
    amendments = _recorded_amendments(rd, events)
    record = read_json(amendments[-1]) if amendments else read_json(rd.acceptance)
    A.check_record(record, str(amendments[-1] if amendments else rd.acceptance))
    changed = any(e["action"] == "acceptance_changed" and e["details"].get("after_test_look") for e in events)
    if acceptance_file is None:
        return record, changed
    from omegaconf import OmegaConf

    try:
        spec = OmegaConf.to_container(OmegaConf.load(acceptance_file))
        lines, name = list(spec["criteria"]), str(spec.get("name", Path(acceptance_file).stem))
    except Exception as e:  # missing file, not YAML, no 'criteria' list
        raise MedtorchError(f"--acceptance {acceptance_file}: expected a YAML file with a 'criteria' list "
                            f"(e.g. criteria: ['mcc_lower_ci >= 0.6']); got {type(e).__name__}: {e}") from None
    problems = A.criteria_problems(lines)
    if problems:
        raise MedtorchError(f"--acceptance {acceptance_file}:\n  - " + "\n  - ".join(problems))
    new = A.frozen_record(name, lines, utc_now())
    if new["sha256"] == record["sha256"]:
        return record, changed
    after_look = any(e["action"] == "test_evaluated" for e in events)
    new["replaces_sha256"], new["after_test_look"] = record["sha256"], after_look
    Run.open(rd.root).record(rd.at("acceptance_amendment", name=f"{len(amendments) + 1:03d}"), new,
                             event="acceptance_changed",
                             details={"sha256": new["sha256"], "replaces_sha256": record["sha256"],
                                      "after_test_look": after_look, "criteria": [c["text"] for c in new["criteria"]]})
    return new, changed or after_look
