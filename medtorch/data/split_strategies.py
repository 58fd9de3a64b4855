"""Where each row goes: the row indices of train, validation and test for each split strategy.

Plain functions of labels, subject ids and times that return sorted index arrays; they create
no split objects (``medtorch.data.split.make_split`` does, and only it creates training rows).

- ``stratified``: random, class proportions kept in every split (scikit-learn's ``train_test_split``);
- ``grouped``: every row of one subject on one side, classes stratified as far as the subjects
  allow (scikit-learn's ``StratifiedGroupKFold``); fractions are met to within one fold;
- ``temporal``: earlier rows train, later rows validate and test, cut at dates given in config
  or at the dates where the cumulative row count reaches the fractions; all rows of one date
  lie on one side of a cut, so no date is in two splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError

Parts = dict[str, np.ndarray]


def stratified(y: np.ndarray, train: float, val: float, test: float, seed: int) -> Parts:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    if test > 0:
        dev, te = train_test_split(idx, test_size=test, stratify=y, random_state=seed)
    else:
        dev, te = idx, idx[:0]
    tr, va = train_test_split(dev, test_size=val / (train + val), stratify=y[dev], random_state=seed)
    return {"train": np.sort(tr), "val": np.sort(va), "test": np.sort(te)}


def _one_fold(y: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into (rest, held) with about ``fraction`` of rows held, subjects kept whole."""
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(2, int(round(1.0 / fraction)))
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise MedtorchError(f"a grouped split needs at least {k} subjects to hold out {fraction:.0%}; got {n_groups}.")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    rest, held = next(cv.split(np.zeros(len(y)), y, groups))
    return rest, held


def grouped(y: np.ndarray, subjects: pd.Series, train: float, val: float, test: float, seed: int) -> Parts:
    if subjects.isna().any():
        raise MedtorchError(f"the subject column has {int(subjects.isna().sum())} missing value(s); "
                            "a grouped split needs a subject id on every row.")
    groups = pd.factorize(subjects)[0]
    idx = np.arange(len(y))
    if test > 0:
        dev, te = _one_fold(y, groups, test, seed)
    else:
        dev, te = idx, idx[:0]
    tr_local, va_local = _one_fold(y[dev], groups[dev], val / (train + val), seed)
    return {"train": np.sort(dev[tr_local]), "val": np.sort(dev[va_local]), "test": np.sort(te)}


def temporal(times: pd.Series, train: float, val: float, test: float,
             train_end: str | None = None, val_end: str | None = None) -> Parts:
    t = times.reset_index(drop=True)
    if train_end is not None:
        cut1, cut2 = _as_time(train_end, t), _as_time(val_end, t)
    else:
        cut1, cut2 = _cut_at_fraction(t, train), _cut_at_fraction(t, train + val) if test > 0 else None
    tv = t.to_numpy()
    tr = np.flatnonzero(tv < cut1)
    if cut2 is None:
        va, te = np.flatnonzero(tv >= cut1), np.array([], dtype=np.int64)
    else:
        va, te = np.flatnonzero((tv >= cut1) & (tv < cut2)), np.flatnonzero(tv >= cut2)
    for name, rows in (("train", tr), ("val", va), ("test", te if test > 0 else [0])):
        if len(rows) == 0:
            raise MedtorchError(
                f"the temporal split leaves the {name} split empty (cut-offs {cut1} and {cut2}; dates run from "
                f"{t.min()} to {t.max()}). Set split.train_end/split.val_end inside that range or change the fractions."
            )
    return {"train": tr, "val": va, "test": te}


def drop_seen_subjects(parts: Parts, subjects: pd.Series) -> tuple[Parts, dict[str, int]]:
    """Keep in validation/test only subjects not seen in an earlier split; return rows dropped per split."""
    s = subjects.to_numpy()
    seen = set(s[parts["train"]].tolist())
    out, dropped = {"train": parts["train"]}, {}
    for name in ("val", "test"):
        rows = parts[name]
        keep = ~pd.Series(s[rows]).isin(seen).to_numpy()
        out[name], dropped[name] = rows[keep], int((~keep).sum())
        seen |= set(s[rows[keep]].tolist())
    return out, dropped


def _cut_at_fraction(t: pd.Series, fraction: float):
    """The first date at which the cumulative share of rows (in date order) reaches ``fraction``."""
    counts = t.value_counts().sort_index()
    share = counts.cumsum().to_numpy() / len(t)
    pos = int(np.searchsorted(share, fraction, side="left")) + 1  # first date after the cut
    if pos >= len(counts):
        raise MedtorchError(f"the time column has too few distinct dates ({len(counts)}) for a temporal split.")
    return counts.index[pos]


def _as_time(value: str, like: pd.Series):
    if pd.api.types.is_datetime64_any_dtype(like):
        try:
            return pd.Timestamp(value)
        except ValueError:
            raise MedtorchError(f"split cut-off {value!r} is not a date; expected e.g. 2019-01-01.") from None
    try:
        return float(value)
    except ValueError:
        raise MedtorchError(f"split cut-off {value!r} is not a number, but the time column holds numbers.") from None
