"""Checks of a raw table at load time, before anything is split or fitted.

- Duplicate column names are refused (pandas would silently rename the second ``lab1`` to
  ``lab1.1``, and the model would train on a column the user never named).
- Non-finite numbers (``inf``, ``-inf``) in a feature column are refused, naming the column and
  example rows, or, with ``data.nonfinite=missing``, treated as missing values; the policy and
  the counts are recorded in the manifest (``data.nonfinite``). An ``inf`` that reaches the
  fitted preprocessing makes its mean ``inf`` and every weight NaN. A finite number beyond
  float32's range (|x| > 3.4e38, such as 1e300) is the same: the model computes in float32, where
  it is ``inf``, and its column's fitted scale overflows; it is refused (or blanked) with them.
- A column mixing numbers and text (a lab value with "high" in some rows) is refused, naming
  its non-numeric values and their counts: read as text it would become one one-hot level per
  distinct number. It is taken for a measurement when at least half its values are numbers
  and those take more than 20 distinct values (a few numeric codes beside a text level, such
  as "1.0", "2.0", "x", stay a categorical column). The user declares it categorical
  (``data.categorical``) or cleans it.
- A text column with more than 20 levels where more than half of its values are distinct is
  reported as a warning (printed and recorded): it is probably an identifier or free text.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError

HIGH_CARDINALITY_LEVELS = 20
EXAMPLES = 5
FLOAT32_MAX = float(np.finfo(np.float32).max)  # about 3.4e38; beyond it a value is inf to the model


def header_duplicates(path: Path, fmt: str, frame: pd.DataFrame) -> None:
    """Refuse a table that names a column twice (a CSV header is read raw: pandas would rename it)."""
    if fmt != "csv":
        refuse_duplicates([str(c) for c in frame.columns], path)
        return
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    except Exception:  # unreadable: read_table reports it with the reason
        return
    refuse_duplicates([str(h) for h in header], path)


def refuse_duplicates(names: list[str], path: Path) -> None:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    dups = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if dups:  # a blank name (trailing commas, as spreadsheets export) is named as blank, not as 'nan'
        listed = "; ".join(f"{repr(n) if n.strip() else 'a blank name'} at columns {', '.join(map(str, pos))}"
                           for n, pos in dups.items())
        raise MedtorchError(f"{path}: duplicate column name(s): {listed}. Each column needs a unique name; rename "
                            "or remove the duplicates in the file.")


def _rows(mask: np.ndarray, row_number: np.ndarray) -> str:
    hits = row_number[np.flatnonzero(mask)]
    shown = ", ".join(str(int(r) + 1) for r in hits[:EXAMPLES])  # 1 = the first data row, as predict and monitor count
    return shown + (" ..." if len(hits) > EXAMPLES else "")


def nonfinite(feat: pd.DataFrame, row_number: np.ndarray, policy: str, path: Path) -> dict[str, Any]:
    """Refuse or blank out +-inf (and numbers beyond float32's range) in numeric feature columns; return the record of
    what was found."""
    found: dict[str, int] = {}
    messages = []
    for col in feat.columns:
        s = feat[col]
        if not pd.api.types.is_float_dtype(s):
            continue
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        mask = np.abs(values) > FLOAT32_MAX  # inf and -inf too (NaN compares False): one pass over the column
        if mask.any():
            inf = np.zeros_like(mask)
            inf[mask] = np.isinf(values[mask])
            huge = mask & ~inf
            found[col] = int(mask.sum())
            beyond = "" if not huge.any() else f" beyond float32's range, e.g. {values[huge][0]:g}" if not inf.any() \
                else f", {int(huge.sum())} of them beyond float32's range, e.g. {values[huge][0]:g}"
            messages.append(f"column {col!r}: {found[col]} value(s){beyond} (rows {_rows(mask, row_number)})")
            if policy == "missing":
                feat[col] = s.mask(mask)
    if found and policy != "missing":
        raise MedtorchError(
            f"{path}: non-finite numbers (inf or -inf, or beyond float32's range of +-3.4e38, in which the model "
            "computes) in feature columns (rows numbered from 1, the first data row after the header):\n  - "
            + "\n  - ".join(messages)
            + "\nExpected finite numbers. Correct the file, or set data.nonfinite=missing to treat them as missing "
              "values (imputed like any other; the policy and counts are recorded in the manifest)."
        )
    return {"policy": policy, "columns": found}


def mixed_types(feat: pd.DataFrame, declared: list[str], path: Path) -> None:
    """Refuse text columns most of whose values are numbers (a lab value with a few words in it)."""
    problems = []
    for col in feat.columns:
        s = feat[col]
        if col in declared or not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
            continue
        present = s.dropna()
        if present.empty or pd.api.types.is_bool_dtype(present.infer_objects()):
            continue
        numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
        n_num = int(numbers.notna().sum())
        if n_num * 2 < len(present) or numbers.nunique() <= HIGH_CARDINALITY_LEVELS:
            # a text column with a stray number, or codes written as numbers with a text level
            # ("1.0", "2.0", "x"): categorical, as before
            continue
        text = present[numbers.isna()].astype(str).value_counts()
        shown = ", ".join(f"{v!r} x {n}" for v, n in text.head(EXAMPLES).items()) + (" ..." if len(text) > EXAMPLES else "")
        problems.append(f"column {col!r}: {n_num} numbers and {int(text.sum())} text value(s): {shown}")
    if problems:
        raise MedtorchError(
            f"{path}: column(s) mixing numbers and text:\n  - " + "\n  - ".join(problems)
            + "\nRead as text, each distinct number would become its own category. Clean the column (replace the "
              "text by a number or leave the cell empty for missing), or declare it categorical: data.categorical=[COLUMN]."
        )


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_DECIMAL_COMMA = r"^[-+]?\d+,\d+$"


def text_shapes(feat: pd.DataFrame, declared: list[str], path: Path) -> None:
    """Refuse a text feature column that holds dates (ISO, as CSV writes them) or numbers with a decimal comma: read as
    text, each distinct date or number would become a one-hot level of its own (a date column then looks like an
    identifier to the leakage checks). A Parquet date column is refused as such by the loader; declared categorical
    columns are the user's choice and left alone."""
    problems = []
    for col in feat.columns:
        s = feat[col]
        if col in declared or not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
            continue
        present = s.dropna().astype(str).str.strip()
        if present.empty:
            continue
        example = present.iloc[0]
        if present.str.match(_ISO_DATE).mean() >= 0.9:
            problems.append(f"column {col!r} holds dates (e.g. {example!r}): name it data.time_column={col} (the "
                            f"calendar of the split and the analyses), or list it in data.drop")
        elif present.str.match(_DECIMAL_COMMA).mean() >= 0.9 and present.nunique() > HIGH_CARDINALITY_LEVELS:
            problems.append(f"column {col!r} holds numbers written with a comma (e.g. {example!r}), a decimal comma "
                            "or a thousands separator: write them as plain numbers with a decimal point")
    if problems:
        raise MedtorchError(f"{path}: text column(s) that are not categories:\n  - " + "\n  - ".join(problems)
                            + "\nRead as text, each distinct value would become a category of its own. To keep a "
                              "column as categories anyway, declare it: data.categorical=[COLUMN].")


def high_cardinality(feat: pd.DataFrame, categorical: list[str]) -> list[str]:
    """Warnings for categorical columns with > 20 levels where > half the non-missing values are distinct."""
    warnings = []
    for col in categorical:
        present = feat[col].dropna()
        levels = int(present.nunique())
        if levels > HIGH_CARDINALITY_LEVELS and levels * 2 > len(present):
            warnings.append(f"categorical column {col!r} has {levels} levels for {len(present)} values (more than "
                            f"half distinct): probably an identifier or free text. Consider data.drop=[{col}].")
    for w in warnings:
        print(f"medtorch: warning: {w}", file=sys.stderr, flush=True)
    return warnings


def separator_hint(columns: list[str]) -> str:
    """Why a file may have been read as one column named "a;b;c": it was written with another separator."""
    if len(columns) != 1:
        return ""
    sep = next((name for ch, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")) if ch in str(columns[0])), None)
    return f" (the file was read as one column: it looks {sep}-separated; give a comma-separated CSV)" if sep else ""
