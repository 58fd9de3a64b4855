"""Load a time-to-event table: features, the event indicator and the follow-up time.

The event column becomes the ``RawTable``'s label (classes "0" censored, "1" event), so the early
split stratifies on it (and groups by subject where set) exactly as for classification. Follow-up
times travel beside the rows in ``extra[DURATION]``; the duration column is never a feature.
Values are checked before anything else: a missing or negative time, a missing event, or an event
code other than 0/1 (competing events) is refused naming the column, the count and the first row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from medtorch.data import sources
from medtorch.data.table_checks import FLOAT32_MAX
from medtorch.errors import MedtorchError, shown
from medtorch.hashing import sha256_bytes, sha256_file

DURATION = "_medtorch_duration"  # the follow-up time's column in RawTable.extra / Rows.extra
PER_YEAR = {"day": 365.25, "month": 12.0, "year": 1.0}


def in_duration_unit(value: float, unit: str, duration_unit: str) -> float:
    """A time in ``unit`` expressed in ``duration_unit`` (horizons are given in years by default)."""
    return float(value) * PER_YEAR[duration_unit] / PER_YEAR[unit]


def load_survival(cfg_data, role: str = "training") -> sources.RawTable:
    """The table of ``cfg_data``; ``role`` as ``_check_events`` takes it (new test data: "test")."""
    if cfg_data.source == "gbsg2":
        frame, where, source = _gbsg2()
    else:
        frame = sources.read_table(cfg_data.path, cfg_data.format, text_columns=list(cfg_data.categorical))
        where = Path(cfg_data.path)
        source = {"kind": "file", "path": str(where.resolve()), "sha256": sha256_file(where)}
    dur, ev = cfg_data.duration_column, cfg_data.event_column
    frame.columns = [str(c) for c in frame.columns]
    for key, col in (("data.duration_column", dur), ("data.event_column", ev)):
        if col not in frame.columns:
            raise MedtorchError(f"{key}={col!r} is not a column of {where}. Columns: {', '.join(frame.columns[:30])}")
    durations = _check_durations(frame[dur], dur, where)
    events = _check_events(frame[ev], ev, where, role=role)
    frame[ev] = events
    table_cfg = OmegaConf.create({**OmegaConf.to_container(cfg_data, resolve=True), "target": ev,
                                  "drop": [*cfg_data.drop, dur]})
    raw = sources._table(table_cfg, frame, where, source, classes=["0", "1"])  # 0 censored, 1 event, whichever occur
    raw.extra = raw.extra.copy()
    raw.extra[DURATION] = durations
    raw.source.update({"duration_column": dur, "event_column": ev, "duration_unit": cfg_data.duration_unit,
                       "events": int(events.sum())})
    return raw


def _gbsg2() -> tuple[pd.DataFrame, Path, dict]:
    """The German Breast Cancer Study Group 2 trial (686 patients, recurrence-free survival in days),
    as shipped inside lifelines: nothing is downloaded."""
    try:
        from lifelines.datasets import load_gbsg2
    except ImportError:
        raise MedtorchError("data.source=gbsg2 needs lifelines, which ships the data: pip install 'medtorch[survival]'.") from None
    frame = load_gbsg2()
    digest = sha256_bytes(frame.to_csv(index=False).encode())
    return frame, Path("lifelines.datasets.load_gbsg2"), {"kind": "embedded", "name": "lifelines.datasets.load_gbsg2",
                                                         "sha256": digest}


def _first_bad(mask: np.ndarray) -> int:
    """The first flagged row, numbered from 1 (the first data row after the header), as predict counts."""
    return int(np.flatnonzero(mask)[0]) + 1


def _check_durations(s: pd.Series, col: str, where) -> np.ndarray:
    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)  # the model's float32 would make it inf
    if bad.any():
        raise MedtorchError(f"data.duration_column={col!r} of {where}: {int(bad.sum())} value(s) are missing, "
                            f"non-numeric, infinite or beyond float32's range of 3.4e38 (first at row {_first_bad(bad)}: {shown(s.iloc[_first_bad(bad) - 1])}); "
                            "every patient needs a follow-up time. Fix or remove those rows.")
    neg = values < 0
    if neg.any():
        raise MedtorchError(f"data.duration_column={col!r} of {where}: {int(neg.sum())} negative time(s) (first at row "
                            f"{_first_bad(neg)}: {values[neg][0]:g}); follow-up times must be >= 0.")
    return values


def _check_events(s: pd.Series, col: str, where, *, role: str = "training") -> np.ndarray:
    """The 0/1 event indicator of ``s``. ``role``: "training" (the early split stratifies on it and the IPCW
    weights need censoring: every patient with the event is refused), "test" (new test data: scored with the
    training split's censoring distribution, so everybody may have had the event) or "monitoring" (the outcomes
    of monitored rows, named by --labels; Harrell's C needs comparable pairs, not censoring)."""
    key = f"--labels {col!r}" if role == "monitoring" else f"data.event_column={col!r}"
    if s.isna().any():
        raise MedtorchError(f"{key} of {where}: {int(s.isna().sum())} missing value(s) (first at "
                            f"row {_first_bad(s.isna().to_numpy())}); every patient needs 1 (event) or 0 (censored).")
    values = pd.to_numeric(s, errors="coerce").astype("float64")  # a nullable Int64 from pyarrow strings: NaN, not NA
    nan = values.isna().to_numpy()
    text = sorted({str(v) for v in s[nan].tolist()})  # not numbers at all
    if text:
        raise MedtorchError(f"{key} of {where} holds text value(s) {text[:10]}; the event indicator is 1 (event) or 0 "
                            "(censored). Code the column as 1 and 0.")
    other = sorted({str(v) for v, n in zip(s.tolist(), values.tolist()) if n not in (0, 1)})
    if other:
        raise MedtorchError(
            f"{key} of {where} holds value(s) {other[:10]} besides 1 (event) and 0 (censored). "
            "Competing events (several event types) are not supported yet: code the event of interest as 1 and "
            "everything else as 0 (censored at that time), stating so, or analyse each cause separately.")
    events = values.to_numpy().astype(np.int64)
    if events.sum() == 0:
        if role == "monitoring":
            raise MedtorchError(f"{key} of {where}: all {len(events)} rows are censored (no 1), so no pair "
                                "of rows is comparable and Harrell's C cannot be computed; degradation needs rows "
                                "with the event. Check the coding (1 event, 0 censored) of this column.")
        raise MedtorchError(f"{key} of {where}: all {len(events)} patients are censored (no 1); "
                            + ("a survival model needs events." if role == "training" else
                               "no score of a survival model can be computed without events."))
    if events.sum() == len(events) and role == "training":
        raise MedtorchError(f"{key} of {where}: all {len(events)} patients have the event (no 0, "
                            "nobody censored). The early split stratifies on the event indicator and the IPCW metrics "
                            "need a censoring distribution; check the coding (1 event, 0 censored) of this column.")
    return events
