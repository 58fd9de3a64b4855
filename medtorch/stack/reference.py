"""The bridge set: raw rows, with the model's reference probabilities and metrics, all hashed.

Stored when a run finishes validation (``store``): the validation rows (or the rows of the
file named by ``bridge.reference_file``) exactly as they were read (``bridge/reference_rows.parquet``: raw values and dtypes, before any preprocessing, so
a bridge re-runs preprocessing too) and ``bridge/reference.json`` (row ids, labels, the
probabilities the model gave them on the training stack, the metrics, and that stack's
fingerprint). Both files go into the manifest's artefacts, so ``load`` refuses a changed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.run import RunDir, atomic_path, read_json, write_json

REFERENCE_VERSION = 1


@dataclass
class Reference:
    """A loaded bridge set."""

    record: dict[str, Any]  # reference.json
    frame: pd.DataFrame  # raw rows, in the order of record["row_ids"]

    @property
    def probabilities(self) -> np.ndarray:
        return np.asarray(self.record["probabilities"], dtype=np.float64)

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.record["labels"], dtype=np.int64)

    @property
    def classes(self) -> list[str]:
        return list(self.record["classes"])


@dataclass
class FileRows:
    """The rows of a configured reference file, shaped like a split's ``Rows``."""

    name: str
    frame: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def rows_from_file(path: str, label: str | None, columns: list[str], classes: list[str]) -> FileRows:
    """Read a reference file; its label values must be the run's classes and it must hold every feature column."""
    from medtorch.data.sources import _class_name, read_table

    if not label:
        raise MedtorchError(f"bridge.reference_file={path!r} needs its label column: set bridge.reference_label=COLUMN "
                            "(data.target is used when set).")
    frame = read_table(path)
    frame.columns = [str(c) for c in frame.columns]
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
    """Raw rows -> preprocessing -> network (in its own dtype and device) -> probabilities."""
    from medtorch.models.inference import predict_proba

    return predict_proba(network, preprocessor.transform(frame), batch_size)


def store(rd: RunDir, split_name: str, rows, preprocessor, network, classes: list[str], batch_size: int,
          stack: dict[str, Any]) -> dict[str, Any]:
    """Write the bridge set for ``rows`` (a split's ``Rows``); return reference.json's content."""
    from medtorch.evaluation.metrics import classification_metrics
    from medtorch.hashing import sha256_file

    with atomic_path(rd.bridge_rows) as tmp:
        rows.frame.to_parquet(tmp, index=False)
    # the reference is computed from the rows as read back, through the same code a bridge runs
    frame = pd.read_parquet(rd.bridge_rows)
    if not np.array_equal(preprocessor.transform(frame), preprocessor.transform(rows.frame), equal_nan=True):
        raise MedtorchError(f"{rd.bridge_rows}: the raw rows do not survive a Parquet round trip unchanged; "
                            "check the column types of the data.")
    probs = predict_rows(preprocessor, network, frame, batch_size)
    record = {
        "version": REFERENCE_VERSION,
        "split": split_name,
        "rows_file": str(rd.bridge_rows.relative_to(rd.root)),
        "rows_sha256": sha256_file(rd.bridge_rows),
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
    write_json(rd.bridge_reference, record)
    return record


def load(rd: RunDir, manifest: dict[str, Any]) -> Reference:
    """Read and verify a run's bridge set; fail clearly if the run has none."""
    from medtorch.hashing import sha256_file
    from medtorch.loading import verify_artefact

    if not rd.bridge_reference.is_file():
        raise MedtorchError(
            f"{rd.root}: the run has no bridge reference ({rd.bridge_reference.name}); it was trained before "
            "medtorch stored one, so a bridge re-evaluation is impossible. Retrain it, or pass an explicit "
            "override with a reason to use it anyway."
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
    return Reference(record, frame)
