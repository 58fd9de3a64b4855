"""Typed records of the JSON artefacts several modules read: the split record, the model spec and
the validation metrics (the data specification has its own, ``medtorch.deploy.spec.DataSpec``;
the manifest is ``medtorch.run.Manifest``).

Each ``from_dict`` is strict at the top level: a key the record does not declare, or a required
key that is absent, is refused with one message naming the key and the file, so a file written
by another version or edited by hand is not half-read. Nested values stay plain JSON (dicts and
lists): their shape depends on the task and the config, and their readers check what they use.
``medtorch.artefacts`` names, for each artefact, the record that reads it.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from medtorch.errors import IntegrityError

R = TypeVar("R")


def strict(cls: type[R], d: Any, where: str | Path) -> R:
    """``cls(**d)`` after checking ``d``'s keys against ``cls``'s fields; every problem named at once."""
    if not isinstance(d, dict):
        raise IntegrityError(f"{where}: expected a JSON object for a {cls.__name__}; got {type(d).__name__}. "
                             "The file is corrupt or was edited.")
    declared = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    needed = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]  # type: ignore[arg-type]
    unknown = sorted(k for k in d if k not in declared)
    missing = [k for k in needed if k not in d]
    problems = [text for text, bad in ((f"unknown key(s) {unknown}", unknown), (f"missing key(s) {missing}", missing)) if bad]
    if problems:
        raise IntegrityError(f"{where}: not a valid {cls.__name__}: {'; '.join(problems)} (expected the keys "
                             f"{declared}, of which {needed} are required). The file was written by another medtorch "
                             "version or edited; restore it from the run's recorded version or retrain.")
    return cls(**d)


class _Record:
    @classmethod
    def from_dict(cls, d: Any, where: str | Path):
        return strict(cls, d, where)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class SplitRecord(_Record):
    """The split record: how the rows were split, and each part's size, class counts and row-id hash."""

    strategy: str
    seed: int
    fractions: dict[str, float]
    parts: dict[str, dict[str, Any]]
    subject_column: str | None = None
    time_column: str | None = None
    train_end: str | None = None
    val_end: str | None = None
    excluded_seen_subject_rows: list[Any] | None = None
    test_source: str | None = None
    stratified_on: str | None = None  # task=survival
    test_sealed: bool = False


@dataclass(frozen=True)
class ModelSpec(_Record):
    """The model spec: what is needed to rebuild the network, and how its epoch (or C) was chosen."""

    model: dict[str, Any]
    n_features: int
    features: list[str]
    feature_sources: Any
    selected_by: dict[str, Any]
    weights_sha256: str
    n_classes: int | None = None
    classes: list[str] | None = None
    task: str | None = None  # "survival"; absent for classification
    n_outputs: int | None = None
    output: str | None = None
    ties: str | None = None
    skipped_batches: int | None = None


@dataclass(frozen=True)
class MetricsRecord(_Record):
    """The metrics record: the validation metrics, the sealed test's status and the training history."""

    val: dict[str, Any]
    test: Any
    test_status: str
    selected_epoch: dict[str, Any]
    epochs_trained: int | None
    history: list[dict[str, Any]]
    task: str | None = None  # the rest: task=survival
    horizon_unit: str | None = None
    duration_unit: str | None = None
    thresholds: dict[str, Any] | None = None
    ipcw: str | None = None
    baseline_hazard: str | None = None
    skipped_batches: int | None = None
    val_acceptance: dict[str, Any] | None = None
    cox_baseline: dict[str, Any] | None = None


def read_record(cls: type[R], path: str | Path) -> R:
    """Read ``path`` (JSON) into ``cls``, strictly."""
    from medtorch.run import read_json

    return cls.from_dict(read_json(path), str(path))  # type: ignore[attr-defined]
