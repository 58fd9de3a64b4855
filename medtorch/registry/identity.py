"""The identity of a row, as the registry keeps it for every looked-at test row.

- ``subject``: where ``data.subject_column`` is set, the hashed subject id (every row of one
  patient has one identity, so a patient looked at once is recognised in any later split).
- ``record``: otherwise the hash of the whole raw record as medtorch loaded it: every feature,
  the subject/time/subgroup columns and the label (not the row id, which only numbers rows,
  and not ``data.drop`` columns, which are never loaded; ``RECIPE`` says how), with numbers rounded to
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
# How a record identity is made. Recipe 1 (registries written before recipe 2) also coded the
# loader's hash of the whole raw row (``medtorch.data.sources.RECORD_KEY``), which keeps every
# digit and the row id: a re-export that printed 14.336588820890805 as 14.336588820890803 gave
# new identities, so reused rows were not recognised. Recipe 2 leaves that column out. A looked-at
# set keeps the recipe it was recorded with, and new rows are compared with it by that recipe.
RECIPE = 2
RECIPES = (1, 2)
RAW_ROW_HASH = "__record_key__"  # the column medtorch.data.sources.RECORD_KEY names (tested equal)
_NA, _INF, _TEXT, _TINY = 10_001, 10_002, 10_003, 10_004  # exponent slots no finite float64 can have (|exponent| <= 324)


def _numeric(v: np.ndarray, digits: int) -> np.ndarray:
    """(n, 2) int64: a number rounded to ``digits`` significant digits as (mantissa, decimal exponent).

    Computed with numpy, not by formatting text, so a million values take milliseconds:
    13.54 -> (135400, -4) at 6 digits, and 0.10000000001 -> (100000, -6) like 0.1.
    """
    v = np.asarray(v, dtype="float64") + 0.0  # -0.0 is 0
    out = np.zeros((len(v), 2), dtype=np.int64)
    nz = np.isfinite(v) & (v != 0)
    with np.errstate(all="ignore"):
        e = np.floor(np.log10(np.abs(v[nz]))).astype(np.int64) - (digits - 1)
        m = np.round(v[nz] * 10.0 ** (-e.astype(float)))
        over = np.abs(m) >= 10.0 ** digits  # 999999.7 rounded up to 1000000
        m[over], e[over] = np.round(m[over] / 10), e[over] + 1
    bad = ~np.isfinite(m)  # subnormal numbers: kept as their bits
    m[bad], e[bad] = v[nz][bad].view(np.int64), _TINY
    out[nz, 0], out[nz, 1] = m.astype(np.int64), e
    out[np.isnan(v), 1] = _NA
    out[np.isinf(v), 0], out[np.isinf(v), 1] = np.sign(v[np.isinf(v)]).astype(np.int64), _INF
    return out


def _text(values: pd.Series) -> np.ndarray:
    """(n, 2) int64: the first 8 bytes of the sha256 of each value's text (missing as <NA>)."""
    codes, uniques = pd.factorize(values.reset_index(drop=True).astype("string").fillna("<NA>"))
    digest = np.array([int.from_bytes(hashlib.sha256(str(u).encode()).digest()[:8], "little", signed=True) for u in uniques],
                      dtype=np.int64)
    out = np.zeros((len(codes), 2), dtype=np.int64)
    out[:, 0], out[:, 1] = digest[codes] if len(uniques) else 0, _TEXT
    return out


def _column(col: pd.Series, digits: int) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return _numeric(col.to_numpy(dtype="float64", na_value=np.nan), digits)
    return _text(col)


def record_matrix(frame: pd.DataFrame, labels: np.ndarray | None, extra: pd.DataFrame | None,
                  digits: int) -> tuple[list[str], np.ndarray]:
    """Column names (sorted) and an (n, 2 x columns) int64 matrix: each row's record, canonically coded."""
    cols = {f"f:{c}": frame[c] for c in frame.columns}
    if extra is not None:
        cols |= {f"x:{c}": extra[c] for c in extra.columns}
    if labels is not None:
        cols["y:label"] = pd.Series(np.asarray(labels, dtype=object).astype(str))
    names = sorted(cols)
    blocks = [_column(cols[n].reset_index(drop=True), digits) for n in names]
    return names, (np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.int64))


def _digests(header: str, mat: np.ndarray) -> list[str]:
    head = hashlib.sha256(header.encode()).digest()
    mat = np.ascontiguousarray(mat, dtype="<i8")
    return [hashlib.sha256(head + row.tobytes()).hexdigest()[:32] for row in mat]


def row_identities(frame: pd.DataFrame, labels: np.ndarray, extra: pd.DataFrame | None, subject: str | None,
                   digits: int = DIGITS_DEFAULT, recipe: int = RECIPE) -> dict[str, Any]:
    """``{"kind": "subject"|"record", "digits": N, "recipe": R, "identities": [hex, ...]}``, one identity per row,
    in row order, and ``by_recipe``: the identities by every recipe a registry may hold, so rows are compared with a
    looked-at set's identities made the same way (``medtorch.registry.binding.overlaps``)."""
    if subject and extra is not None and subject in extra.columns:
        ids = _digests("subject", _text(extra[subject]))  # the same under every recipe
        return {"kind": "subject", "digits": digits, "recipe": recipe, "identities": ids,
                "by_recipe": {r: ids for r in RECIPES}}
    by_recipe = _ByRecipe(lambda r: _record_identities(frame, labels, extra, digits, r))
    return {"kind": "record", "digits": digits, "recipe": recipe, "identities": by_recipe[recipe], "by_recipe": by_recipe}


class _ByRecipe(dict):
    """Record identities by recipe, each made when first asked for: the older recipe only where a
    registry holds a set recorded by it (hashing 140,000 rows of 32 numbers by one recipe took 0.4-1.2 s)."""

    def __init__(self, make) -> None:
        super().__init__()
        self._make = make

    def __contains__(self, recipe: object) -> bool:
        return recipe in RECIPES

    def __missing__(self, recipe: int) -> list[str]:
        if recipe not in RECIPES:
            raise KeyError(recipe)
        self[recipe] = ids = self._make(recipe)
        return ids


def _record_identities(frame: pd.DataFrame, labels: np.ndarray, extra: pd.DataFrame | None, digits: int,
                       recipe: int) -> list[str]:
    if recipe >= 2 and extra is not None and RAW_ROW_HASH in extra.columns:
        extra = extra.drop(columns=[RAW_ROW_HASH])
    names, mat = record_matrix(frame, labels, extra, digits)
    return _digests("record\x1f" + "\x1f".join(names), mat)


def near_duplicate_keys(frame: pd.DataFrame, digits: int) -> dict[str, np.ndarray]:
    """For each column c: one key per row from every other column (rows equal but for column c share it).

    Compared in memory only (never stored), so pandas' fast row hash is enough here.
    """
    names, mat = record_matrix(frame, None, None, digits)
    out = {}
    for j, c in enumerate(names):
        rest = np.delete(mat, [2 * j, 2 * j + 1], axis=1)
        out[c.removeprefix("f:")] = pd.util.hash_pandas_object(pd.DataFrame(rest), index=False).to_numpy()
    return out
