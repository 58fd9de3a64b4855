"""Sensitivity analyses: performance per class, per subgroup and per calendar period.

Each cell holds n, MCC (bootstrap CI, over subjects when the data name them) and per-class
sensitivity and specificity (binomial CIs, each with its own n),
a ``small_n`` flag where n is below the configured minimum (too small to judge), and its MCC
minus the overall MCC. Each table adds the gaps between its groups: the MCC range (max - min)
and the range of each class's sensitivity, over the groups large enough to judge.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError
from medtorch.evaluation.bootstrap import bootstrap_cis

MISSING = "(missing)"
PERIODS = ("year", "quarter", "month", "days")


def group_labels(values: pd.Series) -> np.ndarray:
    """Group label per row as text; missing values form their own group."""
    s = pd.Series(values).reset_index(drop=True)
    return np.where(s.isna(), MISSING, s.astype(str)).astype(object)


def period_labels(values: pd.Series, column: str, period: str, width_days: int = 365, unit: str | None = None,
                  origin: str | None = None) -> np.ndarray:
    """Calendar period per row: 2021, 2021-Q3, 2021-07, or a fixed width of days from the first date.
    Integer columns are read as medtorch.data.calendar reads them everywhere (years 1800-2200, or
    counts of ``unit`` since ``origin``; anything else is refused)."""
    from medtorch.data.calendar import to_dates

    dates = to_dates(values, column, unit, origin, where="the evaluated rows")
    if period == "year":
        lab = dates.dt.year.astype("Int64").astype(str)
    elif period == "quarter":
        lab = dates.dt.year.astype("Int64").astype(str) + "-Q" + dates.dt.quarter.astype("Int64").astype(str)
    elif period == "month":
        lab = dates.dt.strftime("%Y-%m")
    elif period == "days":
        start = dates.min()
        k = ((dates - start).dt.days // width_days).astype("Int64")
        lo = start + pd.to_timedelta(k.fillna(0).astype(int) * width_days, unit="D")
        hi = lo + pd.Timedelta(days=width_days - 1)
        lab = lo.dt.strftime("%Y-%m-%d") + ".." + hi.dt.strftime("%Y-%m-%d")
    else:
        raise MedtorchError(f"evaluation.period must be one of {PERIODS}; got {period!r}.")
    return np.where(dates.isna(), MISSING, lab.astype(str)).astype(object)


def group_table(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], labels: np.ndarray, overall_mcc: float,
                min_n: int, n_resamples: int, seed: int, confidence: float, subjects: np.ndarray | None = None,
                method: str = "bca", proportion_method: str = "wilson") -> dict[str, Any]:
    """One sensitivity table: a cell per group, and the gaps between adequately sized groups.

    A cell's MCC is bootstrapped (over the cell's subjects when ``subjects`` is given); its
    sensitivity and specificity get binomial intervals (``proportion_method``).
    """
    cells = []
    for g in sorted(set(labels.tolist()), key=lambda v: (v == MISSING, v)):
        m = labels == g
        ci = bootstrap_cis(y[m], probs[m], classes, n_resamples, seed, confidence, with_auroc=False,
                           subjects=None if subjects is None else subjects[m], method=method,
                           proportion_method=proportion_method)
        cells.append({
            "group": g, "n": int(m.sum()), "small_n": bool(m.sum() < min_n), "mcc": ci["mcc"],
            "mcc_vs_overall": ci["mcc"]["estimate"] - overall_mcc,
            "per_class": {c: {"n": v["support"], "sensitivity": v["sensitivity"], "specificity": v["specificity"]}
                          for c, v in ci["per_class"].items()},
        })
    judged = [c for c in cells if not c["small_n"]]

    def spread(values: list[float]) -> float | None:
        vals = [v for v in values if v is not None and not np.isnan(v)]
        return float(max(vals) - min(vals)) if len(vals) >= 2 else None

    gaps = {
        "mcc_range": spread([c["mcc"]["estimate"] for c in judged]),
        "sensitivity_range": {c: spread([cell["per_class"][c]["sensitivity"]["estimate"] for cell in judged]) for c in classes},
        "groups_judged": len(judged),
        "groups_too_small": [c["group"] for c in cells if c["small_n"]],
        "min_n": min_n,
    }
    return {"cells": cells, "gaps": gaps}


def class_table(ci: dict[str, Any], min_n: int) -> dict[str, Any]:
    """Per class: support, sensitivity, specificity, precision and NPV with CIs (and their n), and the small-n flag."""
    return {c: {**v, "small_n": bool(v["support"] < min_n)} for c, v in ci["per_class"].items()}
