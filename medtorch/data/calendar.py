"""Calendar values read one way everywhere: training, ``evaluate``, the assessments, ``monitor --time``.

A time column holds dates (ISO text or datetimes), or integers. Integers from 1800 to 2200 are
calendar years. Any other integer column is a count of days, weeks, months or years since a
stated origin: ``data.time_unit`` and ``data.time_origin`` say which, and without them the
column is refused with a message that says so. (Read as datetimes, integers would be
nanoseconds since 1970, and every row would fall into one period called "1970".)

A calendar analysis needs at least two periods; ``single_period`` says when it has one, so the
caller refuses it rather than report it.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError, shown

YEARS = (1800, 2200)
UNITS = ("day", "week", "month", "year")


def _origin(origin: Any, column: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(str(origin))
    except ValueError:
        raise MedtorchError(f"data.time_origin={origin!r} (origin of the time column {column!r}) is not a date; "
                            "expected e.g. data.time_origin=2015-01-01.") from None


def to_dates(values: Any, column: str, unit: Optional[str] = None, origin: Any = None,
             where: str = "", row_number: Optional[np.ndarray] = None) -> pd.Series:
    """The calendar date of each value (NaT where missing), read by the rules above; ``row_number``
    (each value's row in the file, from 0) numbers the row a refusal names, else its position."""
    s = pd.Series(values).reset_index(drop=True)
    at = f" of {where}" if where else ""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        dates = pd.to_datetime(s, errors="coerce", format="mixed")
        bad = dates.isna() & s.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            number = int(row_number[row]) if row_number is not None else row
            raise MedtorchError(f"time column {column!r}: value {shown(s.iloc[row])} (row {number + 1}{at}, numbered from 1) "
                                "is not a date; "
                                "expected ISO dates such as 2021-07-31, integer years, or day numbers with "
                                "data.time_unit and data.time_origin.")
        return dates
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    present = x[~np.isnan(x)]
    if len(present) and not np.all(present == np.round(present)):
        raise MedtorchError(f"time column {column!r}{at} holds fractional numbers (e.g. {shown(present[present != np.round(present)][0])}); "
                            "expected dates, integer years (1800-2200) or whole counts of data.time_unit.")
    if unit is None:
        if len(present) and (present.min() < YEARS[0] or present.max() > YEARS[1]):
            raise MedtorchError(
                f"time column {column!r}{at} holds integers from {present.min():.0f} to {present.max():.0f}, which are "
                f"not calendar years ({YEARS[0]}-{YEARS[1]}). If they count days, weeks, months or years since a date, "
                "say so: data.time_unit=day (or week, month, year) and data.time_origin=YYYY-MM-DD.")
        text = pd.Series(np.where(np.isnan(x), None, np.char.mod("%d", np.nan_to_num(x).astype(np.int64))))
        return pd.to_datetime(text, format="%Y", errors="coerce")
    if unit not in UNITS:
        raise MedtorchError(f"data.time_unit must be one of {UNITS}; got {unit!r}.")
    start = _origin(origin, column)
    k = np.nan_to_num(x).astype(np.int64)
    if unit in ("day", "week"):
        out = start + pd.to_timedelta(k * (7 if unit == "week" else 1), unit="D")
    else:  # calendar months/years: period arithmetic, vectorised
        months = k * (12 if unit == "year" else 1)
        first = pd.period_range(start=start.to_period("M"), periods=1, freq="M")[0]
        periods = pd.PeriodIndex([first + int(m) for m in np.unique(months)], freq="M")  # one per distinct count
        lookup = pd.Series(periods.to_timestamp() + (start - first.to_timestamp()), index=np.unique(months))
        out = lookup.reindex(months).to_numpy()
    return pd.Series(np.where(np.isnan(x), pd.NaT, out), dtype="datetime64[ns]")


def single_period(labels: np.ndarray, missing: str) -> Optional[str]:
    """The one period of a calendar analysis that has only one (ignoring missing dates), else None."""
    present = sorted({v for v in np.asarray(labels).tolist() if v != missing})
    return present[0] if len(present) == 1 else None


def refusal(column: str, period: str, only: str, n: int, setting: str = "evaluation.period") -> str:
    """Why a calendar analysis of ``column`` by ``period`` is refused; ``setting`` is what the user changes."""
    return (f"calendar analysis by {period} of {column!r} refused: all {n} dated row(s) fall into one period ({only}), "
            f"so it would compare nothing; choose a finer {setting} or data with more than one period.")
