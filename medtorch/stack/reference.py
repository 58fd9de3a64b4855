"""The bridge set: raw rows, with the model's reference probabilities and metrics, all hashed.

Stored when a run finishes validation (``store``): the validation rows (or the rows of the
file named by ``bridge.reference_file``) exactly as they were read (``artefact("bridge_rows")``: raw values and dtypes, before any preprocessing, so
a bridge re-runs preprocessing too) and the bridge reference (``artefact("bridge_reference")``: row ids, labels, the
probabilities the model gave them on the training stack, the metrics, and that stack's
fingerprint). Both files go into the manifest's artefacts, so ``load`` refuses a changed one. Rows
evaluated later (the test split, once it has been looked at) are added with ``add_rows``.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.evidence import Run
from medtorch.run import RunDir, read_json

REFERENCE_VERSION = 1


@dataclass
class Reference:
    """A loaded bridge set: the one stored at training, then any added later, in that order."""

    sets: list[tuple[dict[str, Any], pd.DataFrame]]  # (reference json, raw rows in row_ids order)

    @property
    def record(self) -> dict[str, Any]:
        """The bridge reference, the set stored at training."""
        return self.sets[0][0]

    @property
    def frame(self) -> pd.DataFrame:
        return pd.concat([f for _, f in self.sets], ignore_index=True)

    @property
    def probabilities(self) -> np.ndarray:
        return np.concatenate([np.asarray(r["probabilities"], dtype=np.float64) for r, _ in self.sets])

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([np.asarray(r["labels"], dtype=np.int64) for r, _ in self.sets])

    @property
    def row_ids(self) -> np.ndarray:
        return np.concatenate([np.asarray(r["row_ids"], dtype=np.int64) for r, _ in self.sets])

    @property
    def classes(self) -> list[str]:
        return list(self.record["classes"])

    def summary(self) -> list[dict[str, Any]]:
        return [{"set": r["split"], "n": r["n"], "stack_hash": (r.get("stack") or {}).get("hash")} for r, _ in self.sets]


@dataclass
class FileRows:
    """The rows of a configured reference file, shaped like a split's ``Rows``."""

    name: str
    frame: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def rows_from_file(path: str, label: str | None, columns: list[str], classes: list[str],
                   categorical: list[str] = ()) -> FileRows:
    """Read a reference file; its label values must be the run's classes and it must hold every feature column.

    ``categorical`` columns are read as training read them (``medtorch.data.levels``).
    """
    from medtorch.data.levels import level_text
    from medtorch.data.sources import _class_name, read_table

    if not label:
        raise MedtorchError(f"bridge.reference_file={path!r} needs its label column: set bridge.reference_label=COLUMN "
                            "(data.target is used when set).")
    frame = read_table(path, text_columns=list(categorical))
    frame.columns = [str(c) for c in frame.columns]
    for c in categorical:
        if c in frame.columns:
            frame[c] = level_text(frame[c])
    missing = [c for c in [*columns, label] if c not in frame.columns]
    if missing:
        raise MedtorchError(f"bridge.reference_file {path} lacks column(s) {missing}; it needs the model's raw feature "
                            f"columns and the label column {label!r}.")
    names = frame[label].map(lambda v: None if pd.isna(v) else _class_name(v))
    unknown = sorted({str(v) for v in names if v not in classes})
    if unknown:
        raise MedtorchError(f"bridge.reference_file {path}: label column {label!r} holds {unknown}, which are not "
                            f"classes of this run ({classes}); every reference row needs a known label.")
    y = names.map(classes.index).to_numpy(dtype=np.int64)
    return FileRows(f"file:{path}", frame[columns].reset_index(drop=True), y, np.arange(len(frame), dtype=np.int64))


def predict_rows(preprocessor, network, frame: pd.DataFrame, batch_size: int) -> np.ndarray:
    """Raw rows -> preprocessing -> network (in its own dtype and device) -> probabilities.

    The one inference path (``medtorch.models.inference.infer``), as ``medtorch predict`` runs it.
    """
    from medtorch.models.inference import infer

    return infer(network, frame, batch_size, preprocessor=preprocessor)


def store(run: Run, split_name: str, rows, preprocessor, network, classes: list[str], batch_size: int,
          stack: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Write the bridge set for ``rows`` (a split's ``Rows``); return the reference's content and the files' hashes."""
    return _write_set(run, run.rd.bridge_reference, run.rd.bridge_rows, split_name, rows, preprocessor, network, classes,
                      batch_size, stack)


def _write_set(run: Run, json_path, rows_path, split_name: str, rows, preprocessor, network, classes: list[str],
               batch_size: int, stack: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Record the rows (Parquet) and their reference (JSON); return the reference and ``{json, rows: sha256}``."""
    from medtorch.evaluation.metrics import classification_metrics

    rd = run.rd
    buffer = io.BytesIO()
    rows.frame.to_parquet(buffer, index=False)
    stored = buffer.getvalue()
    rows_hash = run.record(rows_path, stored)
    # the reference is computed from the rows as read back, through the same code a bridge runs
    frame = pd.read_parquet(io.BytesIO(stored))
    if not np.array_equal(preprocessor.transform(frame), preprocessor.transform(rows.frame), equal_nan=True):
        raise MedtorchError(f"{rows_path}: the raw rows do not survive a Parquet round trip unchanged; "
                            "check the column types of the data.")
    probs = predict_rows(preprocessor, network, frame, batch_size)
    record = {
        "version": REFERENCE_VERSION,
        "split": split_name,
        "rows_file": str(rows_path.relative_to(rd.root)),
        "rows_sha256": rows_hash[run.rel(rows_path)],
        "n": len(rows),
        "classes": list(classes),
        "row_ids": rows.ids.tolist(),
        "labels": rows.y.tolist(),
        "probabilities": probs.tolist(),
        "metrics": classification_metrics(rows.y, probs, classes),
        "inference": {"dtype": str(next(network.parameters()).dtype).replace("torch.", ""),
                      "device": str(next(network.parameters()).device.type), "batch_size": batch_size},
        "stack": stack,
    }
    return record, {**run.record(json_path, record), **rows_hash}


def add_rows(loaded, name: str, rows) -> dict[str, Any]:
    """Add ``rows`` (``Rows``-like: frame, y, ids; e.g. the test split once it has been evaluated) to the bridge set.

    The rows go through the loaded model on the current (cleared) stack; the files are
    ``rd.bridge_added(name, ext)`` for ext json and parquet, and their hashes are recorded in a
    ``bridge_reference_added`` event (the manifest's artefacts are sealed at training).
    """
    rd = loaded.rd
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
        raise MedtorchError(f"a bridge set name must be lower-case letters, digits and '_' (e.g. 'test'); got {name!r}.")
    json_path, rows_path = rd.bridge_added(name, "json"), rd.bridge_added(name, "parquet")
    if json_path.exists() or name == read_json(rd.bridge_reference)["split"]:
        raise MedtorchError(f"{rd.root}: the bridge set already holds rows named {name!r}; a set is added once.")
    run = Run.open(rd.root)
    record, outputs = _write_set(run, json_path, rows_path, name, rows, loaded.preprocessor, loaded.network,
                                 loaded.classes, loaded.eval_batch_size, loaded.stack)
    run.event("bridge_reference_added", {"set": name, "rows": record["n"], "stack_hash": (loaded.stack or {}).get("hash")},
              inputs=[rd.model_weights, rd.preprocessing], outputs=outputs)
    return record


def _added_sets(rd: RunDir) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Sets added after training, each checked against the hashes its event recorded."""
    from medtorch.audit import EventLog
    from medtorch.hashing import sha256_file

    out = []
    for rec in EventLog(rd.events).records():
        if rec["action"] != "bridge_reference_added":
            continue
        for name, digest in rec["outputs"].items():
            path = rd.root / name
            if not path.is_file() or sha256_file(path) != digest:
                raise IntegrityError(f"{path}: missing or changed since it was added to the bridge set "
                                     f"(event log line {rec['seq'] + 1}); restore it.")
        name = rec["details"]["set"]
        out.append((read_json(rd.bridge_added(name, "json")), pd.read_parquet(rd.bridge_added(name, "parquet"))))
    return out


def exists(rd: RunDir, manifest: dict[str, Any]) -> bool:
    """Whether the run has its bridge set; False only for a run whose records never held one (trained before
    medtorch stored one).

    A bridge reference or its rows that the manifest or the event log recorded and that is now missing
    raises ``IntegrityError``: no override may stand in for a deleted reference.
    """
    from medtorch.audit import EventLog

    files = (rd.bridge_reference, rd.bridge_rows)
    if all(path.is_file() for path in files):
        return True
    recorded = dict(manifest.get("artefacts") or {})
    for rec in EventLog(rd.events).records():  # read only when a file is missing
        if rec["action"] == "bridge_reference_stored":
            recorded.update(rec.get("outputs") or {})
    for path in files:
        digest = recorded.get(str(path.relative_to(rd.root)))
        if digest is not None and not path.is_file():
            raise IntegrityError(f"{path}: missing; the run recorded it with sha256 {digest[:16]}... (its manifest "
                                 "or event log). Restore it from a copy of the run; a bridge cannot run, and no "
                                 "override can replace it.")
    return rd.bridge_reference.is_file()


def load(rd: RunDir, manifest: dict[str, Any]) -> Reference:
    """Read and verify a run's bridge set; fail clearly if the run has none."""
    from medtorch.hashing import sha256_file
    from medtorch.loading import verify_artefact

    if not exists(rd, manifest):
        raise MedtorchError(
            f"{rd.root}: the run has no bridge reference ({rd.bridge_reference.name}) and its manifest and event "
            "log never recorded one; it was trained before medtorch stored one, so a bridge re-evaluation is "
            "impossible. Retrain it, or pass an explicit override with a reason to use it anyway."
        )
    verify_artefact(rd, rd.bridge_reference, manifest)
    verify_artefact(rd, rd.bridge_rows, manifest)
    record = read_json(rd.bridge_reference)
    if record.get("version") != REFERENCE_VERSION:
        raise MedtorchError(f"{rd.bridge_reference}: reference version {record.get('version')!r} is not supported "
                            f"(expected {REFERENCE_VERSION}).")
    if sha256_file(rd.bridge_rows) != record["rows_sha256"]:
        raise IntegrityError(f"{rd.bridge_rows}: its hash differs from the one recorded in {rd.bridge_reference.name}.")
    frame = pd.read_parquet(rd.bridge_rows)
    if len(frame) != record["n"]:
        raise IntegrityError(f"{rd.bridge_rows}: {len(frame)} rows, but the reference records {record['n']}.")
    return Reference([(record, frame), *_added_sets(rd)])
