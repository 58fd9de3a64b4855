"""The identity of a row, as the registry keeps it for every looked-at test row.

- ``subject``: where ``data.subject_column`` is set, the hashed subject id (every row of one
  patient has one identity, so a patient looked at once is recognised in any later split).
- ``record``: otherwise the hash of the whole raw record as medtorch loaded it: every feature,
  the subject/time/subgroup columns and the label (not the row id, which only numbers rows,
  and not ``data.drop`` columns, which are never loaded), with numbers rounded to
  ``registry.row_digits`` significant digits (default 6), so a re-export that printed
  ``0.1`` as ``0.10000000001`` is still the same record.

Matches between identities are judged by ``medtorch.data.coincidence.judge_matches``: a shared
subject is the same case; shared records are the same case only above the rate the data's
coarseness predicts, so coarse data does not demote a test set by coincidence.

``near_duplicate_keys`` adds, for a direct comparison of two tables, one key per row and left-out
column: rows equal in all but one column (one value shifted) then share a key.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

DIGITS_DEFAULT = 6


def _text(col: pd.Series, digits: int) -> np.ndarray:
    """Each value as canonical text: numbers to ``digits`` significant digits, missing as <NA>."""
    s = col.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        out = np.array([("<NA>" if np.isnan(x) else f"{(x + 0.0):.{digits}g}") for x in v], dtype=object)  # +0.0: -0 is 0
        return out
    return s.astype("string").fillna("<NA>").to_numpy(dtype=object)


def record_table(frame: pd.DataFrame, labels: np.ndarray, extra: pd.DataFrame | None, digits: int) -> pd.DataFrame:
    """The record of each row as text columns, sorted by column name (the order files list them in does not matter)."""
    cols = {f"f:{c}": _text(frame[c], digits) for c in frame.columns}
    if extra is not None:
        cols |= {f"x:{c}": _text(extra[c], digits) for c in extra.columns}
    cols["y:label"] = np.asarray(labels, dtype=object).astype(str)
    return pd.DataFrame({k: cols[k] for k in sorted(cols)})


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def row_identities(frame: pd.DataFrame, labels: np.ndarray, extra: pd.DataFrame | None, subject: str | None,
                   digits: int = DIGITS_DEFAULT) -> dict[str, Any]:
    """``{"kind": "subject"|"record", "digits": N, "identities": [hex, ...]}``, one identity per row, in row order."""
    if subject and extra is not None and subject in extra.columns:
        ids = extra[subject].reset_index(drop=True).astype("string").fillna("<NA>")
        return {"kind": "subject", "digits": digits, "identities": [_digest(["subject", s]) for s in ids]}
    table = record_table(frame, labels, extra, digits)
    names = list(table.columns)
    values = table.to_numpy(dtype=object)
    return {"kind": "record", "digits": digits,
            "identities": [_digest([f"{n}={v}" for n, v in zip(names, row)]) for row in values]}


def near_duplicate_keys(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each column c: one key per row from every other column (rows equal but for column c share it)."""
    names = list(table.columns)
    values = table.to_numpy(dtype=object)
    out = {}
    for j, c in enumerate(names):
        out[c] = np.array([_digest([f"{n}={v}" for k, (n, v) in enumerate(zip(names, row)) if k != j]) for row in values],
                          dtype=object)
    return out
