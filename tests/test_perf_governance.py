"""The cheaper governance computations give exactly what the direct computation gives.

Each speed-up of a governance step (narrower AUROC tables in the bootstrap, reused resamples and
values) is checked here against the plain computation on the same inputs: equal to the bit, or
against scikit-learn where that is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medtorch.evaluation import bootstrap as B


def _scores(n: int, seed: int, signal: float, digits: int):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.intp)
    s = np.round(1 / (1 + np.exp(-rng.normal(signal * y, 1.0))), digits)  # rounding: ties, some shared by both classes
    return y, np.stack([1 - s, s], axis=1)


def _levels_per_score(y, probs, idx):
    """The AUROC of each resample from one level per distinct score (the tables before merging runs)."""
    levels, inv = np.unique(probs[:, 1], return_inverse=True)
    m = len(levels)
    codes = inv * 2 + (y == 1)
    w = B._counts(codes, idx, 2 * m).astype(np.float64).reshape(len(idx), m, 2)
    wn, wp = w[:, :, 0], w[:, :, 1]
    below = np.cumsum(wn, axis=1) - wn
    return (wp * (below + 0.5 * wn)).sum(axis=1) / (wp.sum(axis=1) * wn.sum(axis=1))


@pytest.mark.parametrize("signal,digits", [(3.0, 3), (0.0, 2), (1.0, 6)])
def test_merged_auroc_levels_give_the_same_values_as_one_level_per_score(signal, digits):
    y, probs = _scores(3000, 1, signal, digits)
    idx = B.resample_indices(y, 60, 3)
    got = B.bootstrap_values(y, probs, idx)["auroc"]
    assert np.array_equal(got, _levels_per_score(y, probs, idx))  # exact: integer counts, exact sums
    for b in (0, 17, 59):
        assert got[b] == pytest.approx(roc_auc_score(y[idx[b]], probs[idx[b], 1]), abs=1e-12)
    codes, width = B.auroc_levels(probs[:, 1], y == 1)
    distinct = len(np.unique(probs[:, 1]))
    assert width < distinct if digits >= 3 else width == distinct  # narrower, unless every score holds both classes
    assert codes.min() >= 0 and codes.max() < 2 * width


def test_merged_levels_keep_ties_between_classes_and_degenerate_scores():
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9])  # 0.2 is shared by both classes
    codes, width = B.auroc_levels(s, y == 1)
    # runs: {0.1} neg, {0.2} both, {0.3} pos, {0.4} neg, {0.5, 0.6} pos, {0.9} neg
    assert width == 6 and codes[5] % width == codes[6] % width
    probs = np.stack([1 - s, s], axis=1)
    idx = B.resample_indices(y, 40, 0)
    got = B.bootstrap_values(y, probs, idx)["auroc"]
    ref = [roc_auc_score(y[i], s[i]) for i in idx]
    np.testing.assert_allclose(got, ref, atol=1e-12)
    constant = np.full((len(y), 2), 0.5)  # one level holding both classes: AUROC 0.5 on every resample
    assert np.all(B.bootstrap_values(y, constant, idx)["auroc"] == 0.5)


def test_values_are_reused_only_for_the_same_labels_predictions_and_resamples():
    y, probs = _scores(2000, 2, 2.0, 4)
    res = B.resampling(y, 200, 0)
    assert B.resampling(y.copy(), 200, 0) is res  # same content: the same resamples
    assert B.resampling(y, 200, 1) is not res and B.resampling(y, 201, 0).key != res.key
    first = B.bootstrap_values(y, probs, res)
    fresh = B.Resampling(y, 200, 0)  # a new object with the same draws
    assert np.array_equal(fresh.idx, res.idx)
    for name, v in B._values(y, probs, fresh.tables, fresh.resamples, True).items():
        assert np.array_equal(first[name], v)  # the kept values are the ones a fresh computation gives
    first["mcc"][:] = 9.0  # a caller changing its copy changes nothing kept
    again = B.bootstrap_values(y, probs, res)
    assert not np.any(again["mcc"] == 9.0)
    other = probs.copy()
    other[0] = other[0][::-1]
    assert not np.array_equal(B.bootstrap_values(y, other, res)["auroc"], again["auroc"])
    jack = B.jackknife_values(y, probs, res)
    assert np.array_equal(jack["auroc"], B._values(y, probs, lambda c, w, a, b: res.jackknife_tables(c, w)[a:b],
                                                   res.blocks, True)["auroc"])


def test_a_large_resampling_is_not_kept_in_memory(monkeypatch):
    y, _ = _scores(500, 3, 1.0, 3)
    monkeypatch.setattr(B, "_KEEP_BYTES", 500 * 50 * 4 - 1)  # just below these draws' size
    first = B.resampling(y, 50, 4)
    assert B.resampling(y, 50, 4) is not first and not B._resampling_kept
    assert np.array_equal(B.resampling(y, 50, 4).idx, first.idx)
