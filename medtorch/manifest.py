"""The run's manifest (``artefact("manifest")``) as a typed record with a format version.

Format 2 (this code) carries ``format_version: 2``. A manifest without the field was written
before the field existed (format 1); its keys are the same, so it reads as format 1 and is
written back unchanged in shape. ``from_dict`` is strict: a key this code does not know is a
manifest written by newer code or edited by hand, and is refused with the keys named, not
dropped silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from medtorch.artefacts import artefact
from medtorch.errors import IntegrityError

FORMAT_VERSION = 2  # 1: written before the manifest carried its version (medtorch <= 4980fb5)
LEGACY_FORMAT = 1


@dataclass
class Manifest:
    """Who ran what, on which data and stack, with what status; and the hashes of the run's artefacts."""

    run_id: str
    status: str = "running"
    format_version: int = FORMAT_VERSION
    medtorch_version: str | None = None
    experiment: str | None = None
    command: str | None = None
    started_utc: str | None = None
    finished_utc: str | None = None
    git: dict[str, Any] | None = None
    config_sha256: str | None = None
    seed: int | None = None
    packages: dict[str, Any] | None = None
    device: dict[str, Any] | None = None
    stack: dict[str, Any] | None = None
    task: str | None = None  # "survival" for time-to-event runs; absent for classification
    data: dict[str, Any] | None = None
    splits: dict[str, str] | None = None
    development: dict[str, Any] | None = None
    registry: dict[str, Any] | None = None
    data_spec: dict[str, Any] | None = None
    cv: dict[str, Any] | None = None
    evidence: bool | None = None  # False for a smoke run (medtorch.smoke)
    not_evidence_reason: str | None = None
    resumed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    artefacts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, where: str = artefact("manifest").name) -> "Manifest":
        """Read a manifest of format 1 or 2; refuse anything else, naming what is wrong."""
        if not isinstance(raw, dict):
            raise IntegrityError(f"{where}: expected a JSON object, got {type(raw).__name__}; the file is corrupt.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise IntegrityError(f"{where}: unknown manifest key(s) {unknown} (known: {sorted(known)}); the manifest "
                                 "was edited or written by a newer medtorch. Use the medtorch that wrote it.")
        version = raw.get("format_version", LEGACY_FORMAT)
        if version not in (LEGACY_FORMAT, FORMAT_VERSION):
            raise IntegrityError(f"{where}: manifest format_version {version!r}; this medtorch reads formats "
                                 f"{LEGACY_FORMAT} and {FORMAT_VERSION}. Use the medtorch that wrote the run.")
        if not isinstance(raw.get("run_id"), str):
            raise IntegrityError(f"{where}: 'run_id' must be a string, got {raw.get('run_id')!r}.")
        values = {k: v for k, v in raw.items() if v is not None or k in ("finished_utc",)}
        values["format_version"] = version
        values["resumed"] = list(raw.get("resumed") or [])
        values["artefacts"] = dict(raw.get("artefacts") or {})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: format 2 writes every field it has a value for (format 1 keeps its shape, no version key)."""
        out = asdict(self)
        if self.format_version == LEGACY_FORMAT:
            out.pop("format_version")
        optional = ("task", "registry", "data_spec", "cv", "evidence", "not_evidence_reason", "error", "development")
        for key in optional:
            if out[key] is None:
                out.pop(key)
        if not out["resumed"]:
            out.pop("resumed")
        return out

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping-style read, for code that takes the manifest as a dict (``manifest.get('registry')``)."""
        value = getattr(self, key, None)
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None
