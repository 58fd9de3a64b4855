"""The data specification: what every input column must look like for the model to be used.

For each feature column: its type (float, integer or categorical), the allowed range or the
allowed categories, whether missing values are allowed, and units and description where
given. It is either *derived* at training time from the training rows and the ``spec``
config (observed range widened by ``spec.range_margin``, not below 0 for a column that
was never negative; or ``spec.limits``), or
*pre-defined*: a file written and locked (``spec.sha256``) before training, which the run
records and enforces on its own data. Either way it is saved as ``artefact("data_spec")`` in the
run directory, hashed in the manifest, and every later input is checked against it
(``medtorch.deploy.checks``).

Deriving is fitting: like ``TabularPreprocessor.fit`` it accepts only ``TrainRows``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from medtorch.data.levels import level_text
from medtorch.data.split import TrainRows
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_file

SPEC_VERSION = 1
TYPES = ("float", "integer", "categorical")


@dataclass
class ColumnSpec:
    name: str
    type: str  # float | integer | categorical
    nullable: bool
    min: Optional[float] = None  # numeric: allowed range (inclusive)
    max: Optional[float] = None
    categories: Optional[list[str]] = None  # categorical: allowed levels (as text)
    range_source: Optional[str] = None  # observed+margin | config | predefined
    observed_min: Optional[float] = None
    observed_max: Optional[float] = None
    observed_missing: Optional[int] = None  # training rows with this column missing
    units: Optional[str] = None
    description: Optional[str] = None

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "integer")


@dataclass
class DataSpec:
    origin: str  # derived | predefined
    columns: list[ColumnSpec]
    known_columns: list[str] = field(default_factory=list)  # label, id, time, ... accepted in inputs, not checked
    source: dict[str, Any] = field(default_factory=dict)  # training rows it was derived from, or the locked file
    version: int = SPEC_VERSION

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> "DataSpec":
        """Read a specification (a run's data specification or a user's file); fail naming what is wrong."""
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list) or not d["columns"]:
            raise MedtorchError(f"{where}: a data specification needs a non-empty 'columns' list.")
        problems, cols = [], []
        allowed = set(ColumnSpec.__dataclass_fields__)
        for i, c in enumerate(d["columns"]):
            if not isinstance(c, dict) or "name" not in c or "type" not in c:
                problems.append(f"columns[{i}] needs at least 'name' and 'type'")
                continue
            unknown = set(c) - allowed
            if unknown:
                problems.append(f"columns[{i}] ({c['name']}): unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
            if c["type"] not in TYPES:
                problems.append(f"columns[{i}] ({c['name']}): type must be one of {TYPES}; got {c['type']!r}")
            if c["type"] == "categorical" and not c.get("categories"):
                problems.append(f"columns[{i}] ({c['name']}): a categorical column needs a 'categories' list")
            lo, hi = c.get("min"), c.get("max")
            if lo is not None and hi is not None and lo > hi:
                problems.append(f"columns[{i}] ({c['name']}): min {lo} is above max {hi}")
            if not unknown:
                c = {**c, "nullable": bool(c.get("nullable", False))}
                if c.get("categories") is not None:  # YAML 1.0 and 1 are the level "1", as in the data
                    c["categories"] = level_text(pd.Series([str(v) for v in c["categories"]], dtype=object)).tolist()
                cols.append(ColumnSpec(**c))
        names = [c.get("name") for c in d["columns"] if isinstance(c, dict)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            problems.append(f"column(s) {dup} are listed more than once")
        if problems:
            raise MedtorchError(f"{where}: invalid data specification:\n  - " + "\n  - ".join(problems))
        return cls(origin=d.get("origin", "predefined"), columns=cols, known_columns=list(d.get("known_columns", [])),
                   source=dict(d.get("source", {})), version=int(d.get("version", SPEC_VERSION)))


def derive(rows: TrainRows, spec_cfg, known_columns: list[str]) -> DataSpec:
    """Derive the specification from the training rows and the ``spec`` config section."""
    if not isinstance(rows, TrainRows):
        raise TypeError(f"derive accepts only the training rows made by make_split (TrainRows); got {type(rows).__name__}. "
                        "A specification derived from validation or test rows would leak them.")
    frame = rows.frame
    named = {*spec_cfg.limits, *spec_cfg.units, *spec_cfg.descriptions}
    unknown = sorted(c for c in named if c not in frame.columns)
    if unknown:
        raise MedtorchError(f"spec.limits/units/descriptions name column(s) {unknown} that are not feature columns; "
                            f"features: {', '.join(map(str, frame.columns[:30]))}")
    cols = []
    for name in frame.columns:
        s = frame[name]
        n_missing = int(s.isna().sum())
        nullable = {"allow": True, "refuse": False}.get(spec_cfg.missing, n_missing > 0)
        c = ColumnSpec(name=str(name), type=_type_of(s), nullable=nullable, observed_missing=n_missing,
                       units=spec_cfg.units.get(name), description=spec_cfg.descriptions.get(name))
        if c.numeric:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
            c.observed_min, c.observed_max = lo, hi
            if name in spec_cfg.limits:
                c.min, c.max = (float(v) for v in spec_cfg.limits[name])
                c.range_source = "config"
            else:
                pad = spec_cfg.range_margin * (hi - lo)
                # a quantity never negative in training (a size, a count, a concentration) stays non-negative
                c.min, c.max = (max(lo - pad, 0.0) if lo >= 0 else lo - pad), hi + pad
                c.range_source = f"observed+margin({spec_cfg.range_margin})"
        else:
            c.categories = sorted(level_text(s).dropna().unique().tolist())
        cols.append(c)
    return DataSpec(origin="derived", columns=cols, known_columns=known_columns,
                    source={"split": rows.name, "rows": len(rows), "ids_sha256": rows.ids_sha256})


def _type_of(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return "categorical"  # the same rule TabularPreprocessor uses
    return "integer" if pd.api.types.is_integer_dtype(s) else "float"


def load_predefined(path: str | Path, locked_sha256: str | None, features: list[str], known_columns: list[str]) -> DataSpec:
    """Read a user's pre-defined specification; refuse it if it changed since it was locked."""
    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"spec.path={path}: file not found. Write the specification first (see README), or unset spec.path.")
    digest = sha256_file(path)
    if locked_sha256 and digest != locked_sha256.lower():
        raise MedtorchError(f"spec.path={path} was changed after it was locked: its sha256 is {digest}, the lock "
                            f"(spec.sha256) says {locked_sha256}. Restore the locked file or lock the new one deliberately.")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as e:  # JSON/YAML/Unicode errors all mean the same to the user
        raise MedtorchError(f"spec.path={path} could not be read: {type(e).__name__}: {e}") from None
    spec = DataSpec.from_dict(raw, f"spec.path={path}")
    missing = [c for c in features if c not in spec.names]
    extra = [c for c in spec.names if c not in features]
    if missing or extra:
        raise MedtorchError(f"spec.path={path} does not match the data's feature columns: "
                            f"not specified {missing}; specified but not in the data {extra}.")
    spec.origin = "predefined"
    spec.known_columns = sorted(set(spec.known_columns) | set(known_columns))
    spec.source = {"path": str(path.resolve()), "sha256": digest, "locked": bool(locked_sha256)}
    for c in spec.columns:
        c.range_source = c.range_source or "predefined"
    return spec


def read_run_spec(rd, manifest: dict[str, Any]) -> tuple[DataSpec, str]:
    """A run's specification and its sha256, verified against the run's manifest."""
    from medtorch.loading import verify_artefact
    from medtorch.run import read_json

    if not rd.data_spec.is_file() and rd.data_spec.name not in manifest.get("artefacts", {}):
        raise MedtorchError(f"{rd.root}: the run has no data specification ({rd.data_spec.name}); it was trained by a medtorch "
                            "version without one. Retrain it to use spec-checked prediction and monitoring.")
    verify_artefact(rd, rd.data_spec, manifest)
    return DataSpec.from_dict(read_json(rd.data_spec), str(rd.data_spec)), sha256_file(rd.data_spec)
