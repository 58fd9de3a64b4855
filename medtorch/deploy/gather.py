"""Read a monitored input chunk by chunk, keeping only what the drift and degradation analyses need.

Each chunk (``chunk_rows`` rows, as ``predict`` reads them) is checked against the data
specification, its valid rows are predicted (in ``predict``'s batches, counted over the whole input, so the classes
do not depend on the chunking), and then it is dropped. What is kept, per input
row, is compact arrays:

- each numeric feature as float64 (8 bytes): the Kolmogorov-Smirnov test needs the values;
- each categorical feature as an int32 code into the levels seen so far (4 bytes);
- whether the row met the specification (1 byte), its predicted class (int32, -1 for none),
  its label (int32, -1 for missing; with ``--labels``) and its calendar window (int32, with
  ``--time``);

and the specification violations as counts per column and rule. Memory is therefore about
``8 x numeric + 4 x categorical + 13`` bytes per row, plus one chunk as pandas frames and the
distinct levels and windows; the input's text is never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from medtorch.data.table_checks import separator_hint
from medtorch.errors import MedtorchError, shown


class _Codes:
    """A vocabulary that grows chunk by chunk: text -> int32 code, -1 for missing."""

    def __init__(self) -> None:
        self.levels: list[str] = []
        self.index: dict[str, int] = {}
        self.parts: list[np.ndarray] = []

    def add(self, s: pd.Series) -> None:
        for v in sorted(set(s.dropna().unique().tolist()) - set(self.index)):
            self.index[v] = len(self.levels)
            self.levels.append(v)
        self.parts.append(pd.Categorical(s, categories=self.levels).codes.astype(np.int32))

    def codes(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int32)


@dataclass
class Gathered:
    n: int
    numeric: dict[str, np.ndarray]  # float64 per row, NaN where missing or not a number
    codes: dict[str, np.ndarray]  # int32 level code per row, -1 where missing
    levels: dict[str, list[str]]  # column -> level of each code
    valid: np.ndarray  # bool: the row met the data specification
    pred: np.ndarray  # int32 predicted class, -1 for rows not predicted
    y: Optional[np.ndarray]  # int32 class of the label, -1 where missing; None without --labels
    window: Optional[np.ndarray]  # int32 calendar window code, -1 where no date; None without --time
    windows: list[str] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)  # violations per "column: rule"
    ignored_columns: list[str] = field(default_factory=list)


def gather(run, checker, input_path: Path, labels: Optional[str], time_column: Optional[str], window: Optional[str],
           chunk_rows: int = 100_000) -> Gathered:
    from medtorch.deploy.predict import Batches
    from medtorch.deploy.reading import read_chunks

    spec, where = checker.spec, str(input_path)
    numeric: dict[str, list[np.ndarray]] = {c.name: [] for c in spec.columns if c.numeric}
    cats = {c.name: _Codes() for c in spec.columns if not c.numeric}
    valid, ys = [], []
    predicted: list[tuple[np.ndarray, np.ndarray]] = []  # (row numbers, predicted class), in input order
    # predict's batches (eval_batch_size over the whole input's valid rows): the classes do not depend on --chunk-rows
    batches = Batches(run, lambda rows, ids, probs, header: predicted.append((rows, probs.argmax(axis=1))))
    periods = _Codes()
    by_rule: dict[str, int] = {}
    ignored: list[str] = []
    n = 0
    for k, chunk in enumerate(read_chunks(input_path, list(cats), chunk_rows, list(numeric))):
        if k == 0:
            ignored = _check_columns(chunk, checker, labels, time_column, where, run.manifest["run_id"])
        typed, ok, violations = checker.check_rows(chunk, first_row=n + 1)
        for v in violations:
            by_rule[f"{v.column}: {v.rule}"] = by_rule.get(f"{v.column}: {v.rule}", 0) + 1
        if ok.any():
            batches.add(n + np.flatnonzero(ok), None, run.preprocessor.transform(typed if ok.all() else typed.loc[ok]))
        valid.append(ok)
        for name, parts in numeric.items():
            parts.append(typed[name].to_numpy(dtype=np.float64, na_value=np.nan))
        for name, codes in cats.items():
            codes.add(typed[name])
        if labels:
            ys.append(labels_of(chunk, labels, run.classes, where).astype(np.int32))
        if time_column and window:
            periods.add(_windows(chunk, time_column, window, where, first_row=n + 1, **_time_unit(run, time_column)))
        n += len(chunk)
    batches.flush()
    pred = np.full(n, -1, dtype=np.int32)
    for rows, classes in predicted:
        pred[rows] = classes
    return Gathered(n=n, numeric={k: np.concatenate(v) for k, v in numeric.items()},
                    codes={k: c.codes() for k, c in cats.items()}, levels={k: c.levels for k, c in cats.items()},
                    valid=np.concatenate(valid), pred=pred, y=np.concatenate(ys) if labels else None,
                    window=periods.codes() if time_column and window else None, windows=periods.levels,
                    by_rule=by_rule, ignored_columns=ignored)


def _check_columns(chunk: pd.DataFrame, checker, labels, time_column, where: str, run_id: str) -> list[str]:
    """Refuse an input without --labels/--time or a feature column; return the columns that will be ignored."""
    for opt, col in (("--labels", labels), ("--time", time_column)):
        if col is not None and col not in chunk.columns:
            from difflib import get_close_matches

            cols = [str(c) for c in chunk.columns]
            close = get_close_matches(str(col), cols, n=3)
            raise MedtorchError(f"{where}: {opt} {col} is not a column of the input"
                                + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
                                + f"; its {len(cols)} columns: {', '.join(cols[:30])}" + (" ..." if len(cols) > 30 else ""))
    structural = checker.check_columns(list(chunk.columns), allowed_extra=tuple(c for c in (labels, time_column) if c))
    missing = [v.column for v in structural if v.rule == "required column"]
    if missing:
        raise MedtorchError(f"{where} lacks the feature column(s) {missing} of run {run_id}; "
                            "monitoring compares every feature, so the input must have them all"
                            f"{separator_hint(list(chunk.columns))}.")
    return [v.column for v in structural if v.rule != "required column"]


def labels_of(frame: pd.DataFrame, column: str, classes: list[str], where: str) -> np.ndarray:
    """Class index per row; -1 where the label is missing. Unknown labels are refused."""
    from medtorch.data.levels import level_text

    text = level_text(frame[column])  # a label coded 1 and read as 1.0 (missing labels) is the class "1"
    unknown = sorted(set(text.dropna().unique()) - set(classes))
    if unknown:
        raise MedtorchError(f"{where}: --labels {column} holds value(s) {unknown[:10]} that are not classes of the run "
                            f"({classes}). Map them to the run's class names.")
    return pd.Categorical(text, categories=classes).codes.astype(np.int64)


def _time_unit(run, column: str) -> dict[str, Optional[str]]:
    """The run's data.time_unit/time_origin, when --time names the run's own time column."""
    data = run.config.get("data", {}) or {}
    if column != data.get("time_column"):
        return {"unit": None, "origin": None}
    return {"unit": data.get("time_unit"), "origin": data.get("time_origin")}


def _windows(frame: pd.DataFrame, column: str, freq: str, where: str, first_row: int = 1,
             unit: Optional[str] = None, origin: Optional[str] = None) -> pd.Series:
    if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
        from medtorch.data.calendar import to_dates  # integer years, or counts of data.time_unit, as training reads them

        t = pd.Series(to_dates(frame[column], column, unit, origin, where=f"{where} (--time)").to_numpy(),
                      index=frame.index)
        return t.dt.to_period(freq).astype("string")
    t = pd.to_datetime(frame[column], errors="coerce", format="mixed")  # per value, as training parses: no chunk-wise format guess
    bad = t.isna() & frame[column].notna()
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + first_row)[:10].tolist()
        raise MedtorchError(f"{where}: --time {column} holds values that are not dates in data rows {rows} "
                            f"(e.g. {shown(frame[column][bad].iloc[0])}); use ISO dates such as 2024-03-31.")
    return t.dt.to_period(freq).astype("string")


def section_counts(g: Gathered, mask: np.ndarray, column: str) -> tuple[dict[str, int], int]:
    """(count of each level of a categorical column among the masked rows, count missing)."""
    codes = g.codes[column][mask]
    present = codes[codes >= 0]
    counts = np.bincount(present, minlength=len(g.levels[column]))
    return {lvl: int(c) for lvl, c in zip(g.levels[column], counts) if c}, int(len(codes) - len(present))


def predicted_counts(g: Gathered, mask: np.ndarray, classes: list[str]) -> dict[str, Any]:
    counts = np.bincount(g.pred[mask & g.valid], minlength=len(classes))
    return {c: int(n) for c, n in zip(classes, counts) if n}
