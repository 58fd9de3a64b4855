"""Same case or coincidence (medtorch.data.coincidence): unit tests against brute force and SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from medtorch.data.coincidence import MatchVerdict, judge_matches, reference_match_count


def _coarse(rng: np.random.Generator, n: int) -> np.ndarray:
    """Keys of coarse feature vectors: sex, age band, grade (about 2 x 8 x 4 = 64 cells)."""
    frame = pd.DataFrame({"sex": rng.integers(0, 2, n), "age": rng.integers(0, 8, n), "grade": rng.integers(0, 4, n)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _brute_reference_matches(keys, subjects=None) -> int:
    n = len(keys)
    subjects = list(range(n)) if subjects is None else list(subjects)
    hit = [any(keys[i] == keys[j] and subjects[i] != subjects[j] for j in range(n) if j != i) for i in range(n)]
    return int(sum(hit))


def test_reference_rate_matches_brute_force():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 15, 60)
    subjects = rng.integers(0, 30, 60)
    assert reference_match_count(keys) == _brute_reference_matches(list(keys))
    assert reference_match_count(keys, subjects) == _brute_reference_matches(list(keys), list(subjects))
    # the same subject repeating a key is not a coincidence between subjects
    assert reference_match_count([1, 1, 2], ["a", "a", "b"]) == 0
    assert reference_match_count([1, 1, 2], ["a", "b", "b"]) == 2


def test_coarse_split_of_different_subjects_is_coincidence():
    rng = np.random.default_rng(1)
    keys = _coarse(rng, 3000)
    v = judge_matches(keys[:2000], keys[2000:], ref_subjects=np.arange(2000), query_subjects=np.arange(2000, 3000))
    assert isinstance(v, MatchVerdict)
    assert v.n_matched > 900  # nearly every coarse row has a twin in training ...
    assert not v.same_case  # ... and that is coincidence
    assert v.same_subject == 0 and v.same_record == 0
    assert v.p_value > 0.001 and v.reason.startswith("coincidence")
    table = [[v.n_matched, v.n_query - v.n_matched], [v.reference_matched, v.n_reference - v.reference_matched]]
    assert v.p_value == pytest.approx(fisher_exact(table, alternative="greater").pvalue)
    assert v.observed_rate == pytest.approx(v.n_matched / 1000) and v.expected_rate == pytest.approx(
        v.reference_matched / 2000)


def test_false_same_case_rate_over_seeds_is_low():
    stops = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        keys = np.concatenate([_coarse(rng, 700), rng.integers(0, 10**12, 300)])  # coarse and near-unique rows
        rng.shuffle(keys)
        stops += judge_matches(keys[:700], keys[700:]).same_case
    assert stops <= 1


def test_copied_rows_are_the_same_case_by_excess_rate():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 10**12, 2000)  # continuous features: no coincidental twins
    query = rng.integers(0, 10**12, 500)
    query[:25] = ref[:25]  # 5 % of query rows copied from the reference set
    v = judge_matches(ref, query)
    assert v.same_case and v.n_matched == 25 and v.expected_rate == 0.0
    assert v.p_value < 1e-6 and "above what" in v.reason


def test_same_subject_and_same_record_are_the_same_case():
    ref, query = np.array([1, 2, 3, 4]), np.array([1, 9])
    v = judge_matches(ref, query, ref_subjects=["a", "b", "c", "d"], query_subjects=["a", "z"])
    assert v.same_case and v.same_subject == 1 and "subjects already" in v.reason
    v = judge_matches(ref, query, ref_subjects=["a", "b", "c", "d"], query_subjects=["y", "z"])
    assert v.same_subject == 0
    v = judge_matches(ref, query, ref_records=["r1", "r2", "r3", "r4"], query_records=["r1", "r9"])
    assert v.same_case and v.same_record == 1 and "whole reference record" in v.reason


def test_missing_subject_ids_never_count_as_the_same_subject():
    v = judge_matches([1, 2], [1], ref_subjects=[None, "b"], query_subjects=[None])
    assert v.same_subject == 0


def test_degenerate_sets():
    empty = judge_matches([], [1, 2])
    assert not empty.same_case and empty.n_matched == 0 and empty.p_value == 1.0
    none = judge_matches([1, 2], [])
    assert not none.same_case and none.n_query == 0 and none.observed_rate == 0.0
    same = judge_matches(["a"] * 10, ["a"] * 5)  # one cell only: every row matches, as predicted
    assert same.expected_rate == 1.0 and same.observed_rate == 1.0 and not same.same_case
    d = same.to_dict()
    for k in ("same_case", "n_query", "n_matched", "same_subject", "same_record", "observed_rate", "expected_rate",
              "p_value", "reason"):
        assert k in d


@pytest.mark.parametrize("kind", ["int", "str"])
def test_key_types(kind):
    ref, query = [10, 20, 30], [20, 40]
    if kind == "str":
        ref, query = [str(x) for x in ref], [str(x) for x in query]
    v = judge_matches(ref, query)
    assert v.n_matched == 1 and v.n_query == 2


def test_all_pairs_example_by_hand():
    # reference: keys a a b c (subjects 1 2 3 4): rows 0,1 share "a" across subjects -> 2 of 4
    v = judge_matches(list("aabc"), list("ad"), ref_subjects=[1, 2, 3, 4], query_subjects=[5, 6])
    assert v.reference_matched == 2 and v.expected_rate == 0.5 and v.n_matched == 1
    assert v.observed_rate == 0.5 and not v.same_case
