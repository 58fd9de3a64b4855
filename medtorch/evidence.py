"""The ``Run``: one object that writes, hashes, logs and reads every artefact of a run directory.

``run.record(path, obj, event=..., details=..., inputs=...)`` writes the artefact atomically,
hashes the bytes it wrote, enters the hash in the manifest and appends the event, in one call.
``run.read_json(path)`` / ``run.read_bytes(path)`` check the hash the run recorded for the file
before returning its content, and raise ``IntegrityError`` (``EXIT_INTEGRITY``) when the file changed.

Artefacts come in three kinds: ``WRITE_ONCE`` (refuses a different content once written: the
model, the split, the preprocessing, the data specification, the acceptance criteria),
``VERSIONED`` (the previous version is kept under ``versions/`` and each version gets its own
event: reports, bridge reports) and ``REPLACE`` (rewritten in place, e.g. the manifest itself).

The writer decides whether anything reaches the disk: a DDP rank other than 0 runs the same
steps with ``NullWriter``, which writes no file and appends no event (``Run.null``).

(It lives beside ``medtorch.run`` rather than in it: reading verifies hashes through
``medtorch.integrity``, which itself reads ``RunDir`` from ``medtorch.run``.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from medtorch.atomic import dumps, keep_previous_version, write_bytes
from medtorch.audit import EventLog, file_hashes, utc_now
from medtorch.errors import IntegrityError, MedtorchError
from medtorch.hashing import sha256_bytes
from medtorch.manifest import Manifest
from medtorch.run import RunDir, not_a_directory

WRITE_ONCE, VERSIONED, REPLACE = "write-once", "versioned", "replace"
KINDS = (WRITE_ONCE, VERSIONED, REPLACE)


def _declared_kind(rel: str) -> str:
    """How ``Run`` writes the artefact at run-relative ``rel``: its declared kind (medtorch.artefacts);
    appended and updated files are rewritten in place."""
    from medtorch import artefacts

    kind = artefacts.declared(rel).kind
    return {artefacts.WRITE_ONCE: WRITE_ONCE, artefacts.VERSIONED: VERSIONED}.get(kind, REPLACE)


class FileWriter:
    """Writes to the run directory (atomically) and appends to its event log."""

    writes = True

    def write(self, path: Path, data: bytes) -> None:
        write_bytes(path, data)

    def event_log(self, rd: RunDir) -> EventLog:
        return EventLog(rd.events)


class NullEventLog:
    """An event log that records nothing (the log of a DDP rank other than 0)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, action: str, details=None, inputs=None, outputs=None) -> dict[str, Any]:
        return {}

    def records(self) -> list[dict[str, Any]]:
        return []


class NullWriter:
    """Writes nothing: no file, no event. The same steps run; only rank 0 leaves evidence."""

    writes = False

    def write(self, path: Path, data: bytes) -> None:
        return None

    def event_log(self, rd: RunDir) -> NullEventLog:
        return NullEventLog(rd.events)


def encode(obj: Any) -> bytes:
    """The bytes an artefact is stored as: bytes as given, text as UTF-8, anything else as indented JSON."""
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    return (dumps(obj) + "\n").encode("utf-8")


@dataclass
class Run:
    """A run directory with its event log and typed manifest; every write and verified read goes through it."""

    rd: RunDir
    manifest: Manifest
    writer: FileWriter | NullWriter = field(default_factory=FileWriter)
    recorded: dict[str, str] = field(default_factory=dict)  # run-relative path -> sha256 written by this process
    _log_hashes: dict[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.rd = self.rd if isinstance(self.rd, RunDir) else RunDir(self.rd)
        self.log = self.writer.event_log(self.rd)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: str | Path) -> "Run":
        """An existing run directory, its manifest read strictly (format 1 or 2)."""
        rd = RunDir(root)
        if not rd.root.is_dir():
            raise MedtorchError(not_a_directory(rd.root))
        if not rd.manifest.is_file():
            raise MedtorchError(f"{rd.root}: no {rd.manifest.name}; this is not a medtorch run directory.")
        run = cls(rd, Manifest(run_id=""))
        run.manifest = Manifest.from_dict(run.read_json(rd.manifest), str(rd.manifest))
        return run

    @classmethod
    def null(cls, root: str | Path) -> "Run":
        """A run that writes nothing (DDP ranks other than 0; tests)."""
        return cls(RunDir(root), Manifest(run_id=""), NullWriter())

    @property
    def root(self) -> Path:
        return self.rd.root

    @property
    def writes(self) -> bool:
        return self.writer.writes

    def path(self, path: str | Path) -> Path:
        """A path inside the run: RunDir's paths as they are, a bare run-relative name under the root."""
        path = Path(path)
        return path if path.is_absolute() or path.is_relative_to(self.rd.root) else self.rd.root / path

    def rel(self, path: str | Path) -> str:
        path = self.path(path)
        try:
            return path.resolve().relative_to(self.rd.root.resolve()).as_posix()
        except ValueError:
            raise MedtorchError(f"{path}: not inside the run directory {self.rd.root}; a run records only its own files.") from None

    # ------------------------------------------------------------------ writing
    def record(self, path: str | Path, obj: Any, *, event: str | None = None, details: Mapping[str, Any] | None = None,
               inputs: Mapping[str, str] | Iterable[Path] | None = None, kind: str | None = None,
               also: Iterable[Path] = ()) -> dict[str, str]:
        """Write one artefact and (with ``event``) log it; ``also``: files the step wrote itself (plots), hashed into the same event."""
        return self.record_many({Path(path): obj}, event=event, details=details, inputs=inputs, kind=kind, also=also)

    def record_many(self, items: Mapping[Path, Any], *, event: str | None = None, details: Mapping[str, Any] | None = None,
                    inputs: Mapping[str, str] | Iterable[Path] | None = None, kind: str | None = None,
                    also: Iterable[Path] = ()) -> dict[str, str]:
        """``kind``: None takes each artefact's kind from its declaration in ``medtorch.artefacts``; a step
        that must rewrite a write-once file in place (a resume re-freezing its criteria) says so with REPLACE."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind={kind!r}: expected one of {KINDS}")
        outputs: dict[str, str] = {}
        for path, obj in items.items():
            path = self.path(path)
            data = encode(obj)
            digest = sha256_bytes(data)
            name = self.rel(path)
            declared_kind = _declared_kind(name)  # an undeclared artefact is refused before anything is written
            if self.writes:
                self._write(path, name, data, digest, kind or declared_kind)
            outputs[name] = digest
        if self.writes:
            outputs.update(self.hashes(also))
        self.recorded.update(outputs)
        self.manifest.artefacts.update(outputs)
        if event is not None:
            self.event(event, details, inputs=inputs, outputs=outputs)
        return outputs

    def _write(self, path: Path, name: str, data: bytes, digest: str, kind: str) -> None:
        if path.is_file() and kind != REPLACE:
            from medtorch.hashing import sha256_file

            current = sha256_file(path)
            if current == digest:
                return  # the same content again (a resumed run re-deriving its split): nothing to change
            if kind == WRITE_ONCE:
                raise IntegrityError(
                    f"{path}: a write-once artefact of this run already holds other content (sha256 {current[:16]}... "
                    f"on disk, {digest[:16]}... now); it is never overwritten. Start a new run in a new directory.")
            keep_previous_version(self.rd.root, [path])
        self.writer.write(path, data)

    def hashes(self, paths: Iterable[Path], optional: bool = False) -> dict[str, str]:
        """``{run-relative path: sha256}``; a missing file is an error unless ``optional``."""
        paths = [Path(p) for p in paths]
        return file_hashes(self.rd.root, paths, optional=optional) if self.writes else {}

    def hashes_where(self, paths: Iterable[Path]) -> dict[str, str]:
        """``{name: sha256}`` of files a step wrote wherever it was told to: a file inside the run by its
        run-relative path (``audit verify`` checks it, also after the run is moved), one outside by its
        absolute path (listed, not checked)."""
        from medtorch.hashing import sha256_file

        return {self.name_of(p): sha256_file(p) for p in map(Path, paths)}

    def name_of(self, path: str | Path) -> str:
        """A path as the event log names it: run-relative (POSIX) inside the run, absolute outside it."""
        full, root = Path(path).resolve(), self.rd.root.resolve()
        return full.relative_to(root).as_posix() if full.is_relative_to(root) else str(full)

    def event(self, action: str, details: Mapping[str, Any] | None = None,
              inputs: Mapping[str, str] | Iterable[Path] | None = None,
              outputs: Mapping[str, str] | Iterable[Path] | None = None) -> dict[str, Any]:
        """Append one event; inputs/outputs given as paths are hashed (a missing one is an error)."""
        if not self.writes:
            return {}
        return self.log.append(action, details, inputs=self._named(inputs), outputs=self._named(outputs))

    def _named(self, given) -> dict[str, str]:
        if given is None:
            return {}
        if isinstance(given, Mapping):
            return dict(given)
        return self.hashes(given)

    # ------------------------------------------------------------------ the manifest
    def update_manifest(self, **fields: Any) -> None:
        """Set manifest fields and write the manifest (no event: the run's end records it)."""
        for key, value in fields.items():
            if not hasattr(self.manifest, key):
                raise AttributeError(f"Manifest has no field {key!r}")
            setattr(self.manifest, key, value)
        self.save_manifest()

    def save_manifest(self) -> None:
        if self.writes:
            write_bytes(self.rd.manifest, encode(self.manifest.to_dict()))

    def finish(self, status: str, error: str | None = None, required: Iterable[Path] = (),
               optional: Iterable[Path] = ()) -> None:
        """Close the run: status, end time, the artefact hashes (``required`` must exist), and the event."""
        m = self.manifest
        m.status, m.finished_utc = status, utc_now()
        if error:
            m.error = error
        if self.writes:
            try:
                listed = self.hashes(required, optional=status != "complete")
            except IntegrityError as e:  # a step did not write what every complete run has: the run failed
                self.finish("failed", f"{type(e).__name__}: {e}", required, optional)
                raise
            recorded = self.hashes([self.path(n) for n in self.recorded], optional=True)  # a later step may have replaced one
            m.artefacts = {**recorded, **listed, **self.hashes(optional, optional=True)}
        self.save_manifest()
        self.event("run_" + status, {"error": error} if error else {}, outputs=[self.rd.manifest])

    # ------------------------------------------------------------------ verified reading
    def forget_log_hashes(self) -> None:
        """Read the event log afresh at the next verified read (another process appended to it)."""
        self._log_hashes = None

    def recorded_hash(self, path: str | Path) -> str:
        name = self.rel(path)
        if name in self.recorded:
            return self.recorded[name]
        if self._log_hashes is None:
            from medtorch.integrity import Verification, recorded_hashes

            log = EventLog(self.rd.events)
            log.verify_head()
            v = Verification(run=str(self.rd.root))
            self._log_hashes = {k: r.sha256 for k, r in recorded_hashes(self.rd, log.records(), v).items()}
        if name not in self._log_hashes:
            raise IntegrityError(f"{self.rd.root / name}: the run never recorded a hash for it, so it cannot be "
                                 "trusted. Use the run's own artefacts, or restore this one from the run's archive.")
        return self._log_hashes[name]

    def read_bytes(self, path: str | Path) -> bytes:
        """The file's content, once its sha256 matches the hash the run recorded for it."""
        path = self.path(path)
        if path == self.rd.manifest:  # the manifest vouches for others; its own hash is the run end's event
            expected = self.recorded_hash(path) if self._manifest_recorded() else None
        else:
            expected = self.recorded_hash(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{path}: missing; the run recorded it (sha256 {(expected or '?')[:16]}...). "
                                 "Restore it from the run's archive.") from None
        if expected is not None and (actual := sha256_bytes(data)) != expected:
            raise IntegrityError(f"{path}: changed after the run recorded it (sha256 {actual[:16]}... on disk, "
                                 f"{expected[:16]}... recorded); restore the original from the run's archive.")
        return data

    def _manifest_recorded(self) -> bool:
        """A running run's manifest has no recorded hash yet; a finished one's is in its last run_* event."""
        manifest = self.rel(self.rd.manifest)
        if manifest in self.recorded:
            return True
        return any(manifest in r.get("outputs", {}) for r in EventLog(self.rd.events).records())

    def read_json(self, path: str | Path) -> Any:
        data = self.read_bytes(path)
        try:
            return json.loads(data.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IntegrityError(f"{path}: not valid JSON ({e}); the file is corrupt or was edited.") from None
