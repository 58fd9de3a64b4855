"""Leakage checks that look past one feature's threshold: outcome-only category levels, names
that say "measured after the outcome", and a multivariate probe.

- ``outcome_levels``: a category level with at least ``min_level_n`` training rows of which at
  least ``level_purity`` are one class (and more than that class's prevalence explains: a
  one-sided binomial test) is a leak candidate, e.g. a status recorded after death;
- ``follow_up_names``: a column whose name says follow-up, duration, time-to-event, censoring,
  discharge, death or cause, with why, and its single-feature signal as evidence;
- ``multivariate_probe`` (in ``leakage_probe``): a feature that alone predicts as well as all the
  other features together.

The last two warn; ``leakage.fail_on`` makes them stop the run.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy.stats import binom

from medtorch.data.leakage_result import CheckResult
from medtorch.data.split import Rows
from medtorch.errors import shown

MAX_LEVELS = 20  # integer columns with more distinct values are measurements (age in years), not category codes
LEVEL_ALPHA = 1e-4  # a pure level must also be beyond chance: P(>= k of n in the class | prevalence) below
# this, divided by the number of levels tested (Bonferroni), so many levels do not make a false stop

NAME_PATTERNS = (  # (regex on the lower-cased name with separators as "_", what it suggests)
    (r"follow_?up|(^|_)fu(_|$)|(^|_)fup", "follow-up time is measured from entry until the outcome or censoring"),
    (r"duration|length_?of_?stay|(^|_)los(_|$)|days?_?to|time_?to|(^|_)tte(_|$)|surviv|(^|_)surv(_|$)",
     "a duration or time-to-event ends at the outcome"),
    (r"censor", "censoring is decided by whether the outcome happened"),
    (r"discharg", "discharge happens after the outcome of the stay"),
    (r"death|died|dead|deceas|mortal|(^|_)dod(_|$)|vital_?status", "death is the outcome or follows it"),
    (r"cause", "a cause is recorded once the event has happened"),
)


def _norm(name: str) -> str:
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _is_categorical(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return True
    if pd.api.types.is_float_dtype(s):
        x = s.dropna().to_numpy(dtype=np.float64)
        if not np.all(x == np.round(x)):
            return False
    return s.nunique() <= MAX_LEVELS


def outcome_levels(train: Rows, min_n: int, purity: float, classes: list[str] | None = None) -> CheckResult:
    y = train.y
    n_classes = int(y.max()) + 1 if len(y) else 1
    prevalence = np.bincount(y, minlength=n_classes) / max(len(y), 1)
    flagged, tested = [], 0
    for col in train.frame.columns:
        s = train.frame[col]
        if not _is_categorical(s):
            continue
        codes, levels = pd.factorize(s, use_na_sentinel=True)  # missing is not a level
        keep = codes >= 0
        if not keep.any():
            continue
        table = np.bincount(codes[keep] * n_classes + y[keep], minlength=len(levels) * n_classes)
        table = table.reshape(len(levels), n_classes)
        n = table.sum(axis=1)
        top = table.argmax(axis=1)
        k = table[np.arange(len(levels)), top]
        share = k / np.maximum(n, 1)
        chance = binom.sf(k - 1, n, prevalence[top])  # P(at least k of n rows in that class by prevalence)
        tested += int((n >= min_n).sum())
        for i in np.flatnonzero((n >= min_n) & (share >= purity)):
            cls = int(top[i])
            flagged.append({"column": col, "level": str(levels[i]), "rows": int(n[i]), "class": cls,
                            "class_name": classes[cls] if classes else str(cls), "purity": round(float(share[i]), 4),
                            "class_prevalence": round(float(prevalence[cls]), 4), "p_chance": float(chance[i])})
    alpha = LEVEL_ALPHA / max(tested, 1)
    flagged = sorted((d for d in flagged if d["p_chance"] < alpha), key=lambda d: -d["rows"])
    evidence = {"min_level_n": min_n, "level_purity": purity, "levels_tested": tested, "alpha": alpha,
                "flagged": flagged}
    if flagged:
        names = "; ".join(f"{d['column']}={shown(d['level'])} ({d['rows']} rows, {d['purity']:.1%} {d['class_name']}, "
                          f"prevalence {d['class_prevalence']:.1%})" for d in flagged[:5])
        return CheckResult("outcome_levels", "fail", "category level(s) that occur (almost) only with one outcome: "
                           f"{names}; a value recorded after the outcome? List the column in data.drop", evidence)
    return CheckResult("outcome_levels", "pass", f"no category level with >= {min_n} rows is >= {purity:.0%} one class "
                       "beyond what its prevalence explains", evidence)


def follow_up_names(train: Rows, target: str | None, single: dict[str, float] | None = None) -> CheckResult:
    """Columns named like follow-up / post-outcome variables; ``single`` gives each column's
    single-feature balanced accuracy (from ``single_feature``) as evidence."""
    flagged = []
    for col in train.frame.columns:
        name = _norm(col)
        if target and name == _norm(target):
            continue
        for pattern, why in NAME_PATTERNS:
            if re.search(pattern, name):
                s = train.frame[col]
                numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                role = ("a number (a time or count up to an event?)" if numeric
                        else "a category (recorded at or after the event?)")
                flagged.append({"column": col, "why": why, "role": role,
                                "single_feature_balanced_accuracy": (single or {}).get(col)})
                break
    evidence = {"flagged": flagged}
    if flagged:
        names = "; ".join(f"{d['column']} ({d['why']})" for d in flagged)
        return CheckResult("follow_up_names", "warn", "column(s) named like follow-up or post-outcome variables: "
                           f"{names}. If a value is only known after the outcome, list it in data.drop", evidence)
    return CheckResult("follow_up_names", "pass", "no column is named like a follow-up or post-outcome variable", evidence)
