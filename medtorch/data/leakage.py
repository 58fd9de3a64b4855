"""Leakage checks, run after the split and before training.

Each check returns a ``CheckResult``: ``pass``, ``warn``, ``fail`` (or ``skipped`` when it
does not apply, saying why) with a one-line summary and evidence: counts and example row ids.

- ``duplicate_rows``: feature rows of validation/test identical to a training row (rows are
  hashed, never compared pairwise);
- ``subject_overlap``: one subject id in more than one split;
- ``time_overlap``: validation/test rows dated no later than the last training row, in a
  temporal split (fail) or against an external test file (warn);
- ``single_feature``: one feature that alone predicts the label (one class against the rest)
  almost perfectly on the training split, from its values or from its missingness alone;
- ``identifier_columns``: integer or text features with near-unique values (row ids, record numbers);
- ``target_copy``: a feature that is the label under another coding, or named after it.

All work on whole columns with NumPy/pandas: a million rows take seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.split import Rows

ORDER = {"skipped": 0, "pass": 0, "warn": 1, "fail": 2}
BINS = 20  # value bins per numeric feature, levels kept per categorical feature


@dataclass
class CheckResult:
    check: str
    status: str  # pass | warn | fail | skipped
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class LeakageReport:
    status: str  # the worst status of any check
    checks: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "checks": [asdict(c) for c in self.checks]}


def run_checks(parts: dict[str, Rows], cfg: Any, strategy: str, subject: str | None, time: str | None,
               target: str | None) -> LeakageReport:
    """Every check on the split ``parts`` (train, val, test); ``cfg`` is the ``leakage`` config."""
    train = parts["train"]
    checks = [
        duplicate_rows(parts, cfg.examples),
        subject_overlap(parts, subject, cfg.examples),
        time_overlap(parts, time, strategy, cfg.examples),
        single_feature(train, cfg.predictive_warn, cfg.predictive_fail),
        identifier_columns(train, cfg.identifier_unique),
        target_copy(train, target),
    ]
    worst = max(checks, key=lambda c: ORDER[c.status]).status
    return LeakageReport("pass" if worst == "skipped" else worst, checks)


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def duplicate_rows(parts: dict[str, Rows], examples: int = 5) -> CheckResult:
    train = parts["train"]
    first_train_id = pd.Series(train.ids, index=_row_hashes(train.frame))
    first_train_id = first_train_id[~first_train_id.index.duplicated()]
    evidence, total = {}, 0
    for name, part in parts.items():
        if name == "train" or len(part) == 0:
            continue
        h = _row_hashes(part.frame)
        hit = np.flatnonzero(pd.Index(h).isin(first_train_id.index))
        total += len(hit)
        evidence[name] = {
            "rows_identical_to_a_train_row": int(len(hit)),
            "of_rows": len(part),
            "examples": [{f"{name}_row_id": int(part.ids[i]), "train_row_id": int(first_train_id[h[i]])}
                         for i in hit[:examples]],
        }
    if total:
        return CheckResult("duplicate_rows", "fail",
                           f"{total} validation/test row(s) have feature values identical to a training row", evidence)
    return CheckResult("duplicate_rows", "pass", "no validation/test row repeats a training row", evidence)


def subject_overlap(parts: dict[str, Rows], subject: str | None, examples: int = 5) -> CheckResult:
    if not subject:
        return CheckResult("subject_overlap", "skipped", "no subject column configured (data.subject_column)")
    ids = {name: pd.unique(p.extra[subject].dropna()) for name, p in parts.items() if len(p)}
    evidence, total = {}, 0
    names = list(ids)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            try:
                both = np.intersect1d(ids[a], ids[b])
            except TypeError:  # mixed id types: compare as text
                both = np.intersect1d(ids[a].astype(str), ids[b].astype(str))
            total += len(both)
            evidence[f"{a}&{b}"] = {"subjects": int(len(both)), "examples": both[:examples].tolist()}
    if total:
        return CheckResult("subject_overlap", "fail", f"{total} subject(s) of {subject!r} appear in more than one split",
                           evidence)
    return CheckResult("subject_overlap", "pass", f"every subject of {subject!r} is in one split only", evidence)


def time_overlap(parts: dict[str, Rows], time: str | None, strategy: str, examples: int = 5) -> CheckResult:
    if strategy not in ("temporal", "external"):
        return CheckResult("time_overlap", "skipped", f"split.strategy={strategy} does not separate rows in time")
    if not time:
        return CheckResult("time_overlap", "skipped", "no time column configured (data.time_column)")
    later = ("val", "test") if strategy == "temporal" else ("test",)
    earlier = [n for n in ("train", "val") if n not in later]
    last = max(parts[n].extra[time].max() for n in earlier)
    evidence, total = {"last_earlier_time": str(last)}, 0
    for name in later:
        p = parts[name]
        hit = np.flatnonzero((p.extra[time] <= last).to_numpy())
        total += len(hit)
        evidence[name] = {"rows_not_later": int(len(hit)), "of_rows": len(p),
                          "examples": [int(p.ids[i]) for i in hit[:examples]]}
    if total:
        status = "fail" if strategy == "temporal" else "warn"
        return CheckResult("time_overlap", status, f"{total} row(s) of {'/'.join(later)} are dated on or before the "
                           f"last {'/'.join(earlier)} row ({last})", evidence)
    return CheckResult("time_overlap", "pass", f"every {'/'.join(later)} row is later than {last}", evidence)


def _codes(s: pd.Series) -> np.ndarray:
    """Bin codes of one column: value bins (numbers) or the most frequent levels; missing is its own bin."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        present = x[~missing]
        sample = present[:: max(1, len(present) // 200_000)]
        edges = np.unique(np.quantile(sample, np.linspace(0, 1, BINS + 1)[1:-1])) if len(sample) else np.array([])
        codes = np.searchsorted(edges, np.where(missing, 0.0, x), side="right")
    else:
        codes, levels = pd.factorize(s, use_na_sentinel=True)
        if len(levels) > BINS:  # keep the most frequent levels, lump the rest
            top = np.argsort(-np.bincount(codes[codes >= 0]), kind="stable")[:BINS]
            remap = np.full(len(levels), BINS, dtype=np.int64)
            remap[top] = np.arange(len(top))
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], 0)
    return np.where(missing, BINS + 1, codes).astype(np.int64)


def _one_vs_rest_ba(codes: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Best balanced accuracy of predicting each class (against the rest) from the bins alone."""
    nb = int(codes.max()) + 1
    counts = np.bincount(codes * n_classes + y, minlength=nb * n_classes).reshape(nb, n_classes).astype(np.float64)
    pos = counts
    neg = counts.sum(axis=1, keepdims=True) - counts
    p, n = pos.sum(axis=0), neg.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        predict = pos / p > neg / n
        ba = 0.5 * ((pos * predict).sum(axis=0) / p + (neg * ~predict).sum(axis=0) / n)
    return np.nan_to_num(ba, nan=0.5)


def single_feature(train: Rows, warn: float, fail: float) -> CheckResult:
    y = train.y
    n_classes = int(y.max()) + 1
    scores = []
    for col in train.frame.columns:
        s = train.frame[col]
        ba = _one_vs_rest_ba(_codes(s), y, n_classes)
        scores.append({"column": col, "from": "values", "balanced_accuracy": float(ba.max()), "class": int(ba.argmax())})
        miss = s.isna().to_numpy()
        if 0 < miss.sum() < len(miss):
            ba = _one_vs_rest_ba(miss.astype(np.int64), y, n_classes)
            scores.append({"column": col, "from": "missingness", "balanced_accuracy": float(ba.max()),
                           "class": int(ba.argmax())})
    scores.sort(key=lambda d: -d["balanced_accuracy"])
    flagged = [d for d in scores if d["balanced_accuracy"] >= warn]
    evidence = {"thresholds": {"warn": warn, "fail": fail}, "top": scores[:5], "flagged": flagged}
    bad = [d for d in flagged if d["balanced_accuracy"] >= fail]
    if bad:
        names = ", ".join(f"{d['column']} ({d['from']}, {d['balanced_accuracy']:.3f})" for d in bad)
        return CheckResult("single_feature", "fail", f"feature(s) alone predict the label on train: {names}", evidence)
    if flagged:
        names = ", ".join(f"{d['column']} ({d['from']}, {d['balanced_accuracy']:.3f})" for d in flagged)
        return CheckResult("single_feature", "warn", f"strongly predictive single feature(s): {names}", evidence)
    top = scores[0] if scores else {"column": None, "balanced_accuracy": float("nan")}
    return CheckResult("single_feature", "pass", f"no single feature predicts the label beyond balanced accuracy "
                       f"{warn} (best: {top['column']}, {top['balanced_accuracy']:.3f})", evidence)


def identifier_columns(train: Rows, unique: float) -> CheckResult:
    flagged = []
    n = len(train)
    for col in train.frame.columns:
        s = train.frame[col].dropna()
        if len(s) == 0:
            continue
        if pd.api.types.is_float_dtype(s):
            x = s.to_numpy(dtype=np.float64)
            if not np.all(x == np.round(x)):
                continue  # continuous measurements are naturally near-unique
        elif pd.api.types.is_bool_dtype(s):
            continue
        share = s.nunique() / n
        if share >= unique:
            flagged.append({"column": col, "distinct_share": round(float(share), 4), "examples": s.head(3).tolist()})
    if flagged:
        return CheckResult("identifier_columns", "fail", "identifier-like feature(s) (near-unique integer/text values): "
                           + ", ".join(d["column"] for d in flagged) + "; list them in data.drop",
                           {"threshold": unique, "flagged": flagged})
    return CheckResult("identifier_columns", "pass", "no identifier-like feature", {"threshold": unique})


def target_copy(train: Rows, target: str | None) -> CheckResult:
    y = train.y
    n_classes = int(y.max()) + 1
    copies, named = [], []
    for col in train.frame.columns:
        s = train.frame[col]
        if s.iloc[:10_000].nunique(dropna=False) > 2 * n_classes:
            continue  # too many values to be a recoding of the label (checked on a prefix: cheap)
        codes, levels = pd.factorize(s, use_na_sentinel=False)
        if len(levels) <= 2 * n_classes:
            pairs = np.unique(codes.astype(np.int64) * n_classes + y)
            if len(pairs) == len(levels):  # each value goes with one class only
                copies.append(col)
        if target and target.lower() in str(col).lower():
            named.append(col)
    evidence = {"target": target, "copies": copies, "named_after_target": named}
    if copies:
        return CheckResult("target_copy", "fail", f"feature(s) {copies} determine the label exactly (a copy of the "
                           "target under another coding); list them in data.drop", evidence)
    if named:
        return CheckResult("target_copy", "warn", f"feature(s) {named} are named after the target {target!r}", evidence)
    return CheckResult("target_copy", "pass", "no feature copies the target", evidence)
