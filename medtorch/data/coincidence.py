"""Same case or coincidence: judge rows of one set that match rows of another.

When features are coarse (age in whole years, grades, stages, rounded labs), different
subjects share identical feature vectors, so "a validation row equals a training row" is
not by itself a leak. This module separates the two kinds of match:

- **the same case**: a matched query row whose subject id occurs in the reference set, a
  query row whose whole raw record (ids and dates included) occurs in the reference set, or
  a cross-set match rate above the rate the reference set predicts (one-sided test);
- **coincidence**: identical feature vectors of different subjects at the rate the data's
  coarseness predicts.

The expected rate is measured inside the reference set, leave-one-out: the share of reference
rows whose feature key is shared with another reference row of a different subject (with a
different row, when no subjects are given). A query row drawn from the same population matches
the reference set at about that rate. The observed and expected rates are compared with
Fisher's exact test, one-sided (scipy.stats.fisher_exact, alternative="greater"): it treats
both rates as estimates, so a small reference set does not make the test over-confident.

Inputs are per-row hashes (str or int); nothing here knows about runs, configs or files, so
the leakage checks and the test-set registry judge matches with the same logic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

TEST = "Fisher's exact test, one-sided (query match rate > reference leave-one-out match rate)"


@dataclass(frozen=True)
class MatchVerdict:
    same_case: bool  # True -> the stop-worthy kind (same subject, same record, or excess rate)
    n_query: int  # rows in the query set
    n_matched: int  # query rows whose feature key occurs in the reference set
    same_subject: int  # matched query rows whose subject id occurs in the reference set (0 if no subjects)
    same_record: int  # query rows whose whole-record key occurs in the reference set (0 if no records)
    observed_rate: float  # n_matched / n_query
    expected_rate: float  # the coincidence rate the data's coarseness predicts (from within the reference set)
    p_value: float  # one-sided test of observed > expected
    reason: str  # one sentence a user reads
    n_reference: int = 0  # rows in the reference set
    reference_matched: int = 0  # reference rows sharing their key with another reference row (other subject)
    alpha: float = 0.001
    test: str = TEST

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key_codes(ref: Any, query: Any) -> tuple[np.ndarray, np.ndarray]:
    """Keys of both sets as shared integer codes (fast to compare whatever the key type)."""
    a, b = np.asarray(ref).ravel(), np.asarray(query).ravel()
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return a, b
    codes, _ = pd.factorize(np.concatenate([a.astype(object), b.astype(object)]), use_na_sentinel=False)
    return codes[: len(a)], codes[len(a):]


def _isin(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """query[i] in ref, by pandas' hash table (numpy's isin sorts: seconds for a million rows)."""
    return pd.Index(query).isin(pd.Index(ref)) if len(ref) else np.zeros(len(query), dtype=bool)


def _subject_codes(ref: Any, query: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Subject ids of both sets as shared integer codes; a missing id is a subject of its own
    (a negative code used once), so it can never be shown to repeat."""
    a, b = np.asarray(ref).ravel(), np.asarray([] if query is None else query).ravel()
    if not (a.dtype.kind in "iu" and b.dtype.kind in "iu" or (a.dtype.kind in "iu" and query is None)):
        a, b = a.astype(object), b.astype(object)  # mixed or text ids: compared as objects
    codes, _ = pd.factorize(np.concatenate([a, b]), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    missing = np.flatnonzero(codes < 0)
    codes[missing] = -1 - np.arange(len(missing))
    return codes[: len(a)], codes[len(a):]


def reference_match_count(ref_keys: Any, ref_subjects: Any = None, eligible: Any = None) -> int:
    """Reference rows whose key is shared with another reference row of a different subject
    (only rows marked ``eligible`` count, when given)."""
    keys = pd.Series(np.asarray(ref_keys).ravel())
    if len(keys) == 0:
        return 0
    if ref_subjects is None:
        shared = keys.duplicated(keep=False).to_numpy()
    else:
        pairs = pd.DataFrame({"k": keys.to_numpy(), "s": _subject_codes(ref_subjects)[0]})
        distinct = pairs.drop_duplicates().groupby("k").size()  # distinct subjects per key
        shared = (pairs["k"].map(distinct) >= 2).to_numpy()
    if eligible is not None:
        shared = shared & np.asarray(eligible, dtype=bool).ravel()
    return int(shared.sum())


def judge_matches(ref_keys: Any, query_keys: Any, *, ref_subjects: Any = None, query_subjects: Any = None,
                  ref_records: Any = None, query_records: Any = None, alpha: float = 0.001,
                  ref_eligible: Any = None) -> MatchVerdict:
    """Judge the query rows that match reference rows: the same case, or coincidence.

    ``ref_eligible`` (optional, per reference row) marks the rows whose matches inside the
    reference set may count as coincidence when the expected rate is measured: a caller that
    knows the columns leaves out rows whose values are too fine to be shared by chance (see
    ``medtorch.data.leakage.coarse_rows``), so verbatim copies inside the reference set do not
    raise the expected rate they are judged against."""
    ref, query = _key_codes(ref_keys, query_keys)
    n_ref, n_query = len(ref), len(query)
    matched = _isin(query, ref)
    n_matched = int(matched.sum())
    same_subject = 0
    if ref_subjects is not None and query_subjects is not None and n_matched:
        r_subj, q_subj = _subject_codes(ref_subjects, query_subjects)
        same_subject = int(_isin(q_subj[matched], r_subj).sum())
    same_record = 0
    if ref_records is not None and query_records is not None and n_query:
        r_rec, q_rec = _key_codes(ref_records, query_records)
        same_record = int(_isin(q_rec, r_rec).sum())
    ref_matched = reference_match_count(ref, ref_subjects, ref_eligible)
    observed = n_matched / n_query if n_query else 0.0
    expected = ref_matched / n_ref if n_ref else 0.0
    p = 1.0
    if n_query and n_ref:
        table = [[n_matched, n_query - n_matched], [ref_matched, n_ref - ref_matched]]
        p = float(fisher_exact(table, alternative="greater").pvalue)
    excess = p < alpha
    same_case = bool(same_subject or same_record or excess)
    reason = _reason(n_query, n_matched, same_subject, same_record, observed, expected, p, alpha)
    return MatchVerdict(same_case, n_query, n_matched, same_subject, same_record, float(observed), float(expected),
                        p, reason, n_ref, ref_matched, alpha)


def _reason(n_query: int, n_matched: int, same_subject: int, same_record: int, observed: float, expected: float,
            p: float, alpha: float) -> str:
    rates = f"{observed:.2%} of rows match against {expected:.2%} expected by coincidence (one-sided p={p:.2g})"
    if same_subject:
        return f"the same case: {same_subject} matched row(s) belong to subjects already in the reference set; {rates}."
    if same_record:
        return (f"the same case: {same_record} row(s) repeat a whole reference record, every raw column (ids and "
                f"dates too, where the table has them); {rates}.")
    if p < alpha:
        return f"the same case: {rates}, above what the data's coarseness predicts (p < {alpha:g})."
    if n_matched:
        return (f"coincidence: {n_matched} of {n_query} row(s) share feature values with other subjects; {rates}, "
                "which the data's coarseness explains.")
    return f"no row of {n_query} matches the reference set."
