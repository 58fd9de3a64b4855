"""Data flows one way: split first, fit on training rows only, apply to every split."""

import numpy as np
import pandas as pd
import pytest

from medtorch.data.sources import RawTable
from medtorch.data.split import HeldOutRows, TrainRows, make_split
from medtorch.data.transforms import NotFittedError, TabularPreprocessor
from medtorch.errors import MedtorchError


def _raw(n=400, seed=0) -> RawTable:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(60, 10, n),
        "dose": rng.normal(5, 2, n),
        "site": rng.choice(["A", "B", "C"], n),
    })
    frame.loc[rng.random(n) < 0.1, "dose"] = np.nan
    frame.loc[rng.random(n) < 0.1, "site"] = None
    y = (frame["age"] > 60).astype(np.int64).to_numpy()
    return RawTable(frame=frame, y=y, classes=["no", "yes"], ids=np.arange(n), source={"kind": "test"})


def test_fitted_statistics_are_those_of_the_training_rows_alone():
    raw = _raw()
    splits = make_split(raw, "stratified", 0.6, 0.2, 0.2, seed=0)
    prep = TabularPreprocessor().fit(splits.train)
    tr = raw.frame.iloc[np.searchsorted(raw.ids, splits.train.ids)]
    assert prep.medians_["dose"] == pytest.approx(np.nanmedian(tr["dose"]))
    dose = tr["dose"].fillna(np.nanmedian(tr["dose"]))
    assert prep.means_["dose"] == pytest.approx(dose.mean())
    assert prep.scales_["dose"] == pytest.approx(dose.std(ddof=0))
    assert prep.means_["age"] == pytest.approx(tr["age"].mean())
    assert prep.levels_["site"] == sorted(tr["site"].dropna().unique())
    assert prep.modes_["site"] == tr["site"].value_counts().idxmax()
    # and differ from statistics over all rows: the test would catch a fit on everything
    assert prep.means_["age"] != pytest.approx(raw.frame["age"].mean(), abs=1e-9)
    assert prep.fitted_on_["split"] == "train" and prep.fitted_on_["rows"] == len(splits.train)


def test_training_rows_after_transform_are_standardised():
    splits = make_split(_raw(), "stratified", 0.6, 0.2, 0.2, seed=1)
    prep = TabularPreprocessor().fit(splits.train)
    x = prep.transform(splits.train.frame)
    assert x.dtype == np.float32
    assert np.allclose(x[:, :2].mean(0), 0, atol=1e-5) and np.allclose(x[:, :2].std(0), 1, atol=1e-4)
    assert x.shape[1] == 2 + len(prep.levels_["site"])
    assert prep.feature_sources_ == ["age", "dose"] + ["site"] * len(prep.levels_["site"])


def test_fit_refuses_validation_test_or_raw_rows():
    raw = _raw()
    splits = make_split(raw, "stratified", 0.6, 0.2, 0.2, seed=0)
    assert isinstance(splits.val, HeldOutRows) and isinstance(splits.test, HeldOutRows)
    for rows in (splits.val, splits.test, raw.frame, splits.val.frame):
        with pytest.raises(TypeError, match="only the training rows"):
            TabularPreprocessor().fit(rows)


def test_training_rows_cannot_be_forged():
    splits = make_split(_raw(), "stratified", 0.6, 0.2, 0.2, seed=0)
    v = splits.val
    with pytest.raises(TypeError, match="only be created by"):
        TrainRows("train", v.frame, v.y, v.ids, v.extra)


def test_transform_before_fit_is_refused():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        TabularPreprocessor().transform(_raw().frame)


def test_unseen_category_and_missing_values_at_transform():
    splits = make_split(_raw(), "stratified", 0.6, 0.2, 0.2, seed=0)
    prep = TabularPreprocessor().fit(splits.train)
    new = pd.DataFrame({"age": [np.nan, 70.0], "dose": [1.0, np.nan], "site": ["Z", None]})
    x = prep.transform(new)
    onehot = x[:, 2:]
    assert onehot[0].sum() == 0  # unseen level 'Z' -> all zeros
    assert onehot[1, prep.levels_["site"].index(prep.modes_["site"])] == 1  # missing -> mode
    assert x[0, 0] == pytest.approx((prep.medians_["age"] - prep.means_["age"]) / prep.scales_["age"])


def test_state_round_trip_gives_identical_transform():
    splits = make_split(_raw(), "stratified", 0.6, 0.2, 0.2, seed=0)
    prep = TabularPreprocessor().fit(splits.train)
    again = TabularPreprocessor.from_state(prep.state_dict())
    assert np.array_equal(prep.transform(splits.test.frame), again.transform(splits.test.frame))


def test_splits_are_disjoint_stratified_and_reproducible():
    raw = _raw(1000)
    a = make_split(raw, "stratified", 0.7, 0.15, 0.15, seed=5)
    b = make_split(raw, "stratified", 0.7, 0.15, 0.15, seed=5)
    c = make_split(raw, "stratified", 0.7, 0.15, 0.15, seed=6)
    ids = [set(p.ids) for p in a.parts().values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sum(map(len, ids)) == 1000
    assert a.test.ids_sha256 == b.test.ids_sha256 != c.test.ids_sha256
    rate = raw.y.mean()
    for part in a.parts().values():
        assert abs(part.y.mean() - rate) < 0.02


def test_split_that_leaves_a_class_absent_is_refused():
    raw = _raw(200)
    y = raw.y.copy()
    y[:] = 0
    y[:3] = 1  # three rows of class 'yes' cannot fill three splits of a 0.9/0.05/0.05 split
    raw.y = y
    with pytest.raises(MedtorchError, match="yes"):
        make_split(raw, "stratified", 0.9, 0.05, 0.05, seed=0)


def test_wrong_way_versus_right_way():
    """Fitting the scaler on all rows (the wrong way) gives statistics that include held-out rows."""
    raw = _raw(300, seed=4)
    splits = make_split(raw, "stratified", 0.6, 0.2, 0.2, seed=0)
    right = TabularPreprocessor().fit(splits.train)
    wrong_mean = raw.frame["age"].mean()
    held_out_mean = pd.concat([splits.val.frame, splits.test.frame])["age"].mean()
    # the wrong-way mean is pulled toward the held-out rows; the right-way mean is not
    assert abs(wrong_mean - held_out_mean) < abs(right.means_["age"] - held_out_mean)


@pytest.mark.parametrize("dtype", [object, "string", "string[pyarrow]"])
def test_categories_are_one_hot_with_missing_as_the_mode_and_unseen_as_zeros_whatever_the_text_dtype(dtype):
    from sklearn.preprocessing import OneHotEncoder

    splits = make_split(_raw(), "stratified", 0.6, 0.2, 0.2, seed=2)
    prep = TabularPreprocessor().fit(splits.train)
    site = ["B", None, "Z", "A", "C", None, "A"]  # missing -> the training mode; "Z" never seen in training
    new = pd.DataFrame({"age": np.full(7, 60.0), "dose": np.full(7, 5.0), "site": pd.Series(site, dtype=dtype)})
    x = prep.transform(new)
    filled = [[v if v is not None else prep.modes_["site"]] for v in site]
    enc = OneHotEncoder(categories=[prep.levels_["site"]], handle_unknown="ignore", sparse_output=False).fit(filled)
    np.testing.assert_array_equal(x[:, 2:], enc.transform(filled).astype(np.float32))
    assert x[2, 2:].sum() == 0 and x[1, 2:].sum() == 1
    # every value missing: each row is the mode's level
    x_na = prep.transform(new.assign(site=pd.Series([None] * 7, dtype=dtype)))
    assert (x_na[:, 2 + prep.levels_["site"].index(prep.modes_["site"])] == 1).all() and x_na[:, 2:].sum() == 7
