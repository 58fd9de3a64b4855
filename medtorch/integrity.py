"""Is a run directory still what its event log and manifest say it is?

The event log names files with their sha256 each time an act reads or writes them, and the
manifest lists the artefacts of the finished run. The last hash recorded for a file (the
manifest counts as recorded when the log records the manifest itself being written) is the
one the file must still have. ``verify_run`` checks the log's hash chain and head, then every
recorded file: a one-byte change, a deleted file, or a file that changed between two acts
without an act recording the change is reported with the event that recorded it. Files the
log names outside the run directory (a prediction's input and output) are listed, not checked:
they belong to the user and may move.

Files no event records are listed apart; where evidence lives (``EVIDENCE_LOCATIONS``) each is
a problem. Hydra's job log and the loggers' folder are declared outside the evidence. Earlier versions of
versioned artefacts kept in ``versions/`` are checked against the hash recorded for them. With
a hand-over head, ``medtorch.handover`` reports what was recorded after it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from medtorch.artefacts import ARTEFACTS, LOCK, RUN, artefact
from medtorch.audit import EventLog
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.handover import AfterHead, after_head
from medtorch.hashing import sha256_file
from medtorch.run import VERSIONS, RunDir, not_a_directory, read_json

# files that describe the log itself rather than being recorded in it: the log, its head, and the locks
_SELF = frozenset({artefact("events").path, artefact("events_head").path}
                  | {a.path for a in ARTEFACTS if a.kind == LOCK and a.scope == RUN})
# declared outside the evidence: Hydra's job log (written until the process ends, after the last
# event) and the experiment loggers' folder (its CSV log is hashed into the manifest at run end)
OUTSIDE_EVIDENCE = (artefact("job_log").path, Path(artefact("training_log").path).parent.as_posix() + "/*")
_MANIFEST = artefact("manifest").path
# where evidence lives: a file here that no event records is a problem (EXIT_INTEGRITY), not a note
EVIDENCE_LOCATIONS = ("checkpoints/*", "model*", "explain/*", "explanations/*", "test_evaluations/*")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass
class Recorded:
    """The last hash recorded for one file, and where it was recorded."""

    sha256: str
    where: str  # e.g. "<the event log> line 7 (validation_evaluated, output)"


@dataclass
class Verification:
    """What ``verify_run`` found: the events checked, each recorded file, and every problem."""

    run: str
    events: int = 0
    head_hash: str | None = None
    files: dict[str, Recorded] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)  # files no event records (those in evidence locations are problems too)
    outside_evidence: list[str] = field(default_factory=list)  # the job log, logs/: declared outside the evidence
    external: list[str] = field(default_factory=list)  # files outside the run the log names (e.g. a prediction's output)
    after_head: AfterHead | None = None  # with --head: events after it, write-once artefacts changed after it

    @property
    def ok(self) -> bool:
        return not self.problems


def _inside(root: Path, name: str) -> bool:
    return _relative(root, name) is not None


def _relative(root: Path, name: str) -> str | None:
    """``name`` as a path relative to the run (absolute paths into the run included); None if outside it."""
    try:
        return (root / name).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _run_files(root: Path, named: dict[str, str], v: Verification) -> Iterator[tuple[str, str]]:
    """The (run-relative name, sha256) of each file of one act's inputs or outputs that the run
    holds; files outside the run are noted in ``v.external``, the log's own files skipped."""
    for given, digest in named.items():
        name = _relative(root, given) if Path(given).is_absolute() else given
        if name is None or not _inside(root, name):
            v.external.append(given)
        elif name not in _SELF:
            yield name, digest


def _manifest_artefacts(rd: RunDir) -> dict[str, str]:
    """The manifest's artefact map; empty when the file is gone, not JSON, or not a manifest any more
    (a JSON list, say): the manifest itself is then reported as a changed file."""
    try:
        manifest = read_json(rd.manifest) if rd.manifest.is_file() else {}
    except IntegrityError:
        return {}
    artefacts = manifest.get("artefacts") if isinstance(manifest, dict) else None
    return artefacts if isinstance(artefacts, dict) else {}


# acts whose details may name files they took away ("removed": run-relative names), and the artefacts each may
# take away: any other name listed is ignored and its file checked as usual, so an event appended after hand-over
# cannot excuse a changed metrics or split record by calling it removed
_REMOVING = {"checkpoint_removed": ("checkpoint", "checkpoint_best", "checkpoint_last"),
             "report_written": ("report_pdf", "report_appendix")}


def _removable(action: Any, name: str) -> bool:
    return any(artefact(key).regex.match(name) for key in _REMOVING.get(action, ()))


def recorded_hashes(rd: RunDir, records: list[dict[str, Any]], v: Verification) -> dict[str, Recorded]:
    """Walk the log in order; the latest mention of each file wins. Inputs that disagree with the
    previous mention (the file changed while no act recorded writing it) are problems."""
    manifest_line = max((n for n, r in enumerate(records, 1) if _MANIFEST in r.get("outputs", {})), default=None)
    manifest_artefacts = _manifest_artefacts(rd) if manifest_line is not None else {}
    outputs_ever = {k for r in records for k in r.get("outputs", {})} | set(manifest_artefacts)
    latest: dict[str, Recorded] = {}
    for n, rec in enumerate(records, 1):
        where = f"{rd.events.name} line {n} ({rec.get('action')}"  # closed below with ", input)" or ", output)"
        for name, digest in _run_files(rd.root, rec.get("inputs", {}), v):
            if name not in outputs_ever and not (rd.root / name).is_file():
                continue  # an input outside the run (e.g. the raw data's hash), not a file here
            before = latest.get(name)
            if before is not None and before.sha256 != digest:
                v.problems.append(f"{name}: read at {where}, input) with sha256 {digest[:16]}... but {before.where} "
                                  f"recorded {before.sha256[:16]}...; it changed without an act recording the change.")
            latest[name] = Recorded(digest, f"{where}, input)")
        for name, digest in _run_files(rd.root, rec.get("outputs", {}), v):
            latest[name] = Recorded(digest, f"{where}, output)")
        # a file the act took away: Lightning's top-k dropped a checkpoint (medtorch.checkpoints), or a report written
        # without a PDF or appendix moved the earlier one to versions/ (medtorch.report), where it is still verified
        for name in rec.get("details", {}).get("removed", []) if rec.get("action") in _REMOVING else ():
            if _removable(rec.get("action"), name):
                latest.pop(name, None)
        if n == manifest_line:
            for name, digest in manifest_artefacts.items():
                latest[name] = Recorded(digest, f"{rd.manifest.name} artefacts")
    return latest


def mentions(rd: RunDir, records: list[dict[str, Any]], v: Verification):
    """``names(record)``: the (run-relative name, sha256) pairs one event recorded, inputs and outputs; the
    event that last recorded the manifest also vouches for the manifest's artefact hashes."""
    manifest_line = max((n for n, r in enumerate(records, 1) if _MANIFEST in r.get("outputs", {})), default=None)
    artefacts = _manifest_artefacts(rd) if manifest_line is not None else {}
    line_of = {id(r): n for n, r in enumerate(records, 1)}

    def names(rec: dict[str, Any]):
        yield from _run_files(rd.root, rec.get("inputs", {}), v)
        yield from _run_files(rd.root, rec.get("outputs", {}), v)
        if line_of.get(id(rec)) == manifest_line:
            yield from artefacts.items()

    return names


def _history(rd: RunDir, records: list[dict[str, Any]], v: Verification) -> dict[str, list[Recorded]]:
    """Every hash the log ever recorded for each file of the run, oldest first."""
    names, out = mentions(rd, records, Verification(run=v.run)), {}
    for n, rec in enumerate(records, 1):
        for name, digest in dict(names(rec)).items():
            out.setdefault(name, []).append(Recorded(digest, f"{rd.events.name} line {n} ({rec.get('action')})"))
    return out


def _kept_version(rd: RunDir, name: str, history: dict[str, list[Recorded]], v: Verification) -> bool:
    """An earlier version of a versioned artefact (``versions/<path>@<sha16>``, medtorch.run.keep_previous_version):
    verified against the hash the log recorded for <path> back then. False if it is not one the log recorded."""
    if not name.startswith(VERSIONS + "/") or "@" not in name:
        return False
    original, short = name[len(VERSIONS) + 1:].rsplit("@", 1)
    rec = next((r for r in reversed(history.get(original, [])) if r.sha256.startswith(short)), None)
    if rec is None:
        return False
    v.files[name] = Recorded(rec.sha256, f"{rec.where}, as {original}")
    if (actual := sha256_file(rd.root / name)) != rec.sha256:
        v.problems.append(f"{name}: an earlier version of {original} changed after it was recorded (sha256 "
                          f"{actual[:16]}... on disk, {rec.sha256[:16]}... recorded at {rec.where}).")
    return True


def _holds_run_files(rd: RunDir) -> bool:
    """Whether the directory holds any file the artefact registry declares at a fixed path in a run
    (the model weights, the config, the split record, ...). Only those paths are looked at, never a walk of the
    directory: the path may be any folder a user typed, a home directory included."""
    return any((rd.root / a.path).is_file() for a in ARTEFACTS if a.scope == RUN and "{" not in a.path)


def verify_run(run_dir: str | Path, only: Iterable[str] | None = None, head: str | None = None) -> Verification:
    """Check the log's chain and head and every file it or the manifest records (or just ``only``);
    with ``head`` (the full hash QA recorded at hand-over), also what changed after it (medtorch.handover)."""
    rd = RunDir(Path(run_dir))
    v = Verification(run=str(rd.root))
    if not rd.root.is_dir():  # a wrong path, not a changed run: bad input (EXIT_BAD_INPUT)
        raise MedtorchError(not_a_directory(rd.root))
    if not rd.events.is_file() and not rd.manifest.is_file() and not _holds_run_files(rd):
        # nothing medtorch writes in a run: bad input. A run that lost its log or manifest (its other
        # files still there) is checked below and fails as changed.
        raise MedtorchError(f"{rd.root}: no {rd.events.name}, no {rd.manifest.name} and no other file a medtorch run "
                            "holds; this is not a medtorch run directory.")
    log = EventLog(rd.events)
    if not rd.events.is_file():
        v.problems.append(f"{rd.events}: missing; a medtorch run always has an event log.")
        return v
    try:
        v.events = log.verify_head()
    except IntegrityError as e:
        v.problems.append(str(e))
        return v  # a broken log cannot be trusted to say which hashes the files should have
    records = log.records()
    v.head_hash = records[-1]["hash"] if records else None
    latest = recorded_hashes(rd, records, v)
    if head is not None:
        v.after_head = after_head(records, head, mentions(rd, records, v))
        if v.after_head.head_line is None:
            v.problems.append(f"the log contains no line with hash {head}; the log was rewritten after that head "
                              "was recorded (or the hash belongs to another run).")
        v.problems += v.after_head.changed
    wanted = set(latest) if only is None else set(only)
    for name in sorted(wanted):
        rec = latest.get(name)
        if rec is None and not _inside(rd.root, name):
            v.problems.append(f"{name}: lies outside the run directory; only the run's own files can be verified.")
            continue
        if rec is None:
            v.problems.append(f"{name}: the run never recorded a hash for it, so it cannot be trusted.")
            continue
        v.files[name] = rec
        path = rd.root / name
        if not path.is_file():
            v.problems.append(f"{name}: missing; recorded at {rec.where} with sha256 {rec.sha256[:16]}...")
        elif (actual := sha256_file(path)) != rec.sha256:
            v.problems.append(f"{name}: changed after it was recorded (sha256 {actual[:16]}... on disk, "
                              f"{rec.sha256[:16]}... recorded at {rec.where}).")
    if only is None:
        history = _history(rd, records, v)
        for name in sorted(p.relative_to(rd.root).as_posix() for p in rd.root.rglob("*") if p.is_file()):
            if name in latest or name in _SELF or _kept_version(rd, name, history, v):
                continue
            if _matches(name, OUTSIDE_EVIDENCE):
                v.outside_evidence.append(name)
                continue
            v.unrecorded.append(name)
            if _matches(name, EVIDENCE_LOCATIONS):
                v.problems.append(f"{name}: no event of the run records this file, yet it sits where evidence lives; "
                                  "it was added after the fact. Remove it, or find out who put it there.")
    v.external = sorted(set(v.external))
    return v


def require_intact(run_dir: str | Path, names: Iterable[str] | None = None) -> Verification:
    """``verify_run``, raising one ``IntegrityError`` that lists every problem (the first one first)."""
    v = verify_run(run_dir, names)
    if v.problems:
        raise IntegrityError(
            f"{v.run}: the run's audit trail does not match its files ({len(v.problems)} problem(s)); "
            "restore the originals from the run's archive:\n  - " + "\n  - ".join(v.problems)
        )
    return v
