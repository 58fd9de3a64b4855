"""Leakage checks, run after the split and before training.

Each check returns a ``CheckResult``: ``pass``, ``warn``, ``fail`` (or ``skipped`` when it
does not apply, saying why) with a one-line summary and evidence: counts and example row ids.
A failed check the user acknowledged (``leakage.accept.CHECK="reason"``) is ``accepted``: it
does not stop the run, and the reason is recorded beside the evidence.

- ``duplicate_rows``: validation/test rows whose features equal a training row's, judged the
  same case (same subject, same whole record, or a match rate above the within-training rate:
  fail) or coincidence of coarse features (reported, with the expected rate beside it), by
  ``medtorch.data.coincidence``;
- ``subject_overlap``: one subject id in more than one split (unique subjects counted);
- ``time_overlap``: validation/test rows dated no later than the last training row, in a
  temporal split (fail) or against an external test file (warn);
- ``single_feature``: one feature that alone predicts the label (one class against the rest)
  almost perfectly on the training split, from its values or from its missingness alone;
- ``identifier_columns``: integer or text features with near-unique values (row ids, record numbers);
- ``target_copy``: a feature that is the label under another coding, or named after it;
- ``outcome_levels``, ``follow_up_names`` (``leakage_signal``), ``multivariate_probe``
  (``leakage_probe``), ``subject_id_columns`` (``leakage_ids``).

All work on whole columns with NumPy/pandas: a million rows take seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.coincidence import judge_matches
from medtorch.data.leakage_result import CheckResult
from medtorch.data.split import Rows

ORDER = {"skipped": 0, "pass": 0, "accepted": 1, "warn": 1, "fail": 2}
BINS = 20  # value bins per numeric feature, levels kept per categorical feature
COINCIDENCE_FLOOR = 1e-6  # coarse_rows: fewer expected chance partners than this is no coincidence
__all__ = ["CheckResult", "LeakageReport", "run_checks"]


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
               target: str | None, seed: int = 0, classes: list[str] | None = None) -> LeakageReport:
    """Every check on the split ``parts`` (train, val, test); ``cfg`` is the ``leakage`` config."""
    from medtorch.data.leakage_ids import subject_id_columns
    from medtorch.data.leakage_probe import multivariate_probe
    from medtorch.data.leakage_signal import follow_up_names, outcome_levels

    train = parts["train"]
    single = single_feature(train, cfg.predictive_warn, cfg.predictive_fail)
    ba = {d["column"]: round(d["balanced_accuracy"], 4) for d in reversed(single.evidence["scores"])}
    checks = [
        duplicate_rows(parts, cfg.examples, subject, _get(cfg, "coincidence_alpha", 0.001)),
        subject_overlap(parts, subject, cfg.examples),
        time_overlap(parts, time, strategy, cfg.examples),
        single,
        identifier_columns(train, cfg.identifier_unique),
        target_copy(train, target),
        outcome_levels(train, _get(cfg, "min_level_n", 30), _get(cfg, "level_purity", 0.99), classes),
        follow_up_names(train, target, ba),
        (multivariate_probe(train, _get(cfg, "probe_rows", 20_000), _get(cfg, "probe_margin", 0.02), seed, classes)
         if _get(cfg, "probe", True) else CheckResult("multivariate_probe", "skipped", "leakage.probe=false")),
        subject_id_columns(parts, subject),
    ]
    del single.evidence["scores"]
    fail_on = set(_get(cfg, "fail_on", []) or [])
    accept = dict(_get(cfg, "accept", {}) or {})
    for c in checks:
        if c.status == "warn" and c.check in fail_on:
            c.status, c.evidence["made_a_failure_by"] = "fail", "leakage.fail_on"
        reason = accept.get(c.check)
        if c.status == "fail" and reason:
            c.status, c.evidence["accepted"] = "accepted", {"reason": str(reason), "was": "fail"}
            c.summary = f"{c.summary} [accepted: {reason}]"
    worst = max(checks, key=lambda c: ORDER[c.status]).status
    return LeakageReport("pass" if worst == "skipped" else worst, checks)


def _get(cfg: Any, key: str, default: Any) -> Any:
    value = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if value is None else value


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _column(part: Rows, name: str | None) -> np.ndarray | None:
    return part.extra[name].to_numpy() if name and name in part.extra.columns else None


def coarse_rows(frame: pd.DataFrame, floor: float = COINCIDENCE_FLOOR, keys: np.ndarray | None = None) -> np.ndarray:
    """Per row: could its feature vector be shared by chance? Each value's share among the rows
    outside the group of rows identical to it, multiplied over the columns and by the number of
    rows, estimates how many other rows would share the whole vector if columns were independent.
    Rows where that is below ``floor`` are too fine to be shared by coincidence (a row and its
    verbatim copy, with labs to three decimals); coarse rows (age in years, grades, stages) are
    far above it. Correlated columns make the estimate low, so the floor is set low: the rule
    leaves out only rows whose values could not plausibly meet by chance."""
    n = len(frame)
    keys = pd.Series(_row_hashes(frame) if keys is None else keys)
    shared = keys.duplicated(keep=False).to_numpy()
    if not shared.any():  # no row has a twin: nothing to judge (and no pass over every column)
        return np.ones(n, dtype=bool)
    group = keys.map(keys.value_counts()).to_numpy().astype(np.float64)
    log_share = np.zeros(n)
    with np.errstate(divide="ignore"):
        for col in frame.columns:
            codes = pd.factorize(frame[col], use_na_sentinel=False)[0]
            outside = np.bincount(codes)[codes] - group
            log_share += np.log(np.maximum(outside, 0.0) / np.maximum(n - group, 1.0))
    return np.log(max(n - 1, 1)) + log_share >= np.log(floor)


def duplicate_rows(parts: dict[str, Rows], examples: int = 5, subject: str | None = None,
                   alpha: float = 0.001) -> CheckResult:
    from medtorch.data.sources import RECORD_KEY

    train = parts["train"]
    ref = _row_hashes(train.frame)
    eligible = coarse_rows(train.frame, keys=ref)
    first_train_id = pd.Series(train.ids, index=ref)
    first_train_id = first_train_id[~first_train_id.index.duplicated()]
    evidence: dict[str, Any] = {"method": None}
    same, coincidence = [], []
    for name, part in parts.items():
        if name == "train" or len(part) == 0:
            continue
        h = _row_hashes(part.frame)
        v = judge_matches(ref, h, ref_subjects=_column(train, subject), query_subjects=_column(part, subject),
                          ref_records=_column(train, RECORD_KEY), query_records=_column(part, RECORD_KEY), alpha=alpha,
                          ref_eligible=eligible)
        hit = np.flatnonzero(pd.Index(h).isin(first_train_id.index))
        evidence["method"] = v.test
        evidence[name] = {
            "rows_identical_to_a_train_row": v.n_matched, "of_rows": len(part), "verdict": v.to_dict(),
            "examples": [{f"{name}_row_id": int(part.ids[i]), "train_row_id": int(first_train_id[h[i]])}
                         for i in hit[:examples]],
        }
        (same if v.same_case else coincidence if v.n_matched else []).append(f"{name}: {v.reason}")
    if same:
        return CheckResult("duplicate_rows", "fail", "validation/test rows repeat training rows as the same case: "
                           + " ".join(same), evidence)
    if coincidence:
        return CheckResult("duplicate_rows", "pass", "rows share feature values with training rows by coincidence, "
                           "not as the same case (information): " + " ".join(coincidence), evidence)
    return CheckResult("duplicate_rows", "pass", "no validation/test row repeats a training row", evidence)


def subject_overlap(parts: dict[str, Rows], subject: str | None, examples: int = 5) -> CheckResult:
    if not subject:
        return CheckResult("subject_overlap", "skipped", "no subject column configured (data.subject_column)")
    ids = {name: pd.unique(p.extra[subject].dropna().astype(str)) for name, p in parts.items() if len(p)}
    evidence: dict[str, Any] = {}
    names = list(ids)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = np.intersect1d(ids[a], ids[b])
            evidence[f"{a}&{b}"] = {"subjects": int(len(both)), "examples": both[:examples].tolist()}
    # each subject once, however many pairs of splits it is in
    per_subject = pd.Series(np.concatenate(list(ids.values())) if ids else np.array([], dtype=object)).value_counts()
    shared = per_subject[per_subject > 1]
    total = int(len(shared))
    evidence["subjects_in_more_than_one_split"] = total
    evidence["subjects"] = int(len(per_subject))
    if total:
        return CheckResult("subject_overlap", "fail", f"{total} subject(s) of {subject!r} (of {len(per_subject)}) "
                           "appear in more than one split", evidence)
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
    evidence = {"thresholds": {"warn": warn, "fail": fail}, "top": scores[:5], "flagged": flagged,
                "scores": [d for d in scores if d["from"] == "values"]}  # removed again by run_checks
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
        if target and target.lower() in str(col).lower():  # whatever its number of values
            named.append(col)
        if s.iloc[:10_000].nunique(dropna=False) > 2 * n_classes:
            continue  # too many values to be a recoding of the label (checked on a prefix: cheap)
        codes, levels = pd.factorize(s, use_na_sentinel=False)
        if len(levels) <= 2 * n_classes:
            pairs = np.unique(codes.astype(np.int64) * n_classes + y)
            if len(pairs) == len(levels):  # each value goes with one class only
                copies.append(col)
    evidence = {"target": target, "copies": copies, "named_after_target": named}
    if copies:
        return CheckResult("target_copy", "fail", f"feature(s) {copies} determine the label exactly (a copy of the "
                           "target under another coding); list them in data.drop", evidence)
    if named:
        return CheckResult("target_copy", "warn", f"feature(s) {named} are named after the target {target!r}", evidence)
    return CheckResult("target_copy", "pass", "no feature copies the target", evidence)
