"""Undeclared subject ids among the features: a patient number repeated over visits.

A column looks like a subject id when it is integer or text, has at least n/20 distinct values
(a subject rarely has more than 20 records), most of its values occur 2 to 50 times, its values
span the splits (the same value in training and in validation/test), and the rows that share a
value are the same person: they agree on other low-cardinality columns (sex, site, ...) far
more often than random pairs of rows do. The last test is what keeps whole-year ages, lab
values and dates from being taken for ids: rows of the same age are different people of either
sex. A column named like an id (``id``, ``patient``, ``subject``, ``mrn``, ``number``) needs no
such agreement.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from medtorch.data.leakage_result import CheckResult
from medtorch.data.split import Rows

MOST = 0.5  # share of distinct values that must occur 2 to 50 times
SPAN = 0.05  # share of validation/test rows whose value also occurs in training
LIFT = 0.8  # agreement within value groups, beyond chance, that marks "the same person"
LOW_CARD = 20  # other columns with at most this many levels are compared
NAME = re.compile(r"(^|_)(id|ids|patient|subject|person|mrn|pid|number|nr|no)(_|$)|id$")


def _integer_or_text(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_numeric_dtype(s):
        x = s.dropna().to_numpy(dtype=np.float64)
        return bool(len(x)) and bool(np.all(x == np.round(x)))
    return True


def _agreement_lift(codes: np.ndarray, other: np.ndarray) -> float:
    """How much more often two rows with the same value agree on ``other`` than two random rows:
    (within - chance) / (1 - chance), over pairs of distinct rows, computed from counts."""
    n = len(codes)
    pair = pd.DataFrame({"g": codes, "o": other})
    g = pair.groupby("g").size().to_numpy(dtype=np.float64)
    go = pair.groupby(["g", "o"]).size().to_numpy(dtype=np.float64)
    o = pair.groupby("o").size().to_numpy(dtype=np.float64)
    within_pairs = (g * (g - 1)).sum()
    if within_pairs == 0 or n < 2:
        return 0.0
    within = (go * (go - 1)).sum() / within_pairs
    chance = (o * (o - 1)).sum() / (n * (n - 1))
    return float((within - chance) / (1 - chance)) if chance < 1 else 0.0


def subject_id_columns(parts: dict[str, Rows], subject: str | None) -> CheckResult:
    train = parts["train"]
    held = [p for name, p in parts.items() if name != "train" and len(p)]
    n = len(train)
    frame = train.frame
    low: dict[str, np.ndarray] | None = None  # other low-cardinality columns, found once a column needs them
    flagged = []
    for col in frame.columns:
        s = frame[col]
        if not _integer_or_text(s):
            continue
        counts = s.value_counts(dropna=True)
        if len(counts) < n / 20 or ((counts >= 2) & (counts <= 50)).mean() < MOST:
            continue
        seen = pd.Index(counts.index)
        held_values = pd.concat([p.frame[col] for p in held]) if held else pd.Series(dtype=object)
        span = float(held_values.isin(seen).mean()) if len(held_values) else 0.0
        if span < SPAN:
            continue
        named = bool(NAME.search(re.sub(r"[^a-z0-9]+", "_", str(col).lower())))
        if low is None:
            low = {c: pd.factorize(frame[c], use_na_sentinel=False)[0] for c in frame.columns
                   if frame[c].nunique(dropna=False) <= LOW_CARD}
        codes = pd.factorize(s, use_na_sentinel=False)[0]
        lifts = {c: round(_agreement_lift(codes, v), 3) for c, v in low.items() if c != col}
        same_person = sorted(c for c, v in lifts.items() if v >= LIFT)
        if named or len(same_person) >= min(2, len(low) - (col in low)) > 0:
            flagged.append({"column": col, "distinct": int(len(counts)), "rows": n,
                            "values_2_to_50_times": round(float(((counts >= 2) & (counts <= 50)).mean()), 3),
                            "held_out_rows_with_a_training_value": round(span, 3), "named_like_an_id": named,
                            "rows_sharing_a_value_agree_on": same_person, "agreement_lift": lifts})
    evidence = {"declared_subject_column": subject, "flagged": flagged}
    if flagged:
        cols = [d["column"] for d in flagged]
        return CheckResult("subject_id_columns", "warn", f"feature(s) {cols} look like a subject id repeated over "
                           f"records (values repeat and span the splits; rows sharing a value agree on "
                           f"{flagged[0]['rows_sharing_a_value_agree_on'] or 'their name'}). Declare it: "
                           f"data.subject_column={cols[0]} split=grouped", evidence)
    return CheckResult("subject_id_columns", "pass", "no feature looks like an undeclared subject id", evidence)
