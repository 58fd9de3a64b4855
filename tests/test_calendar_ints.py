"""Integer calendar columns read one way everywhere (medtorch.data.calendar): years, counts since
an origin, a clear stop without one, and single-period analyses refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medtorch.config import DataConfig
from medtorch.data import sources
from medtorch.data.calendar import to_dates
from medtorch.deploy.gather import _windows
from medtorch.errors import MedtorchError
from medtorch.evaluation.assessment import assess
from medtorch.evaluation.subgroups import period_labels

EV = {"bootstrap_resamples": 50, "confidence": 0.95, "min_group_n": 5, "period": "year", "period_days": 365,
      "calibration_bins": 5}


def test_integer_years_and_counts_since_an_origin():
    assert to_dates(pd.Series([1800, 2024, None]), "y").tolist()[:2] == [pd.Timestamp("1800-01-01"),
                                                                       pd.Timestamp("2024-01-01")]
    assert to_dates(pd.Series([0, 366]), "d", "day", "2020-01-01").tolist() == [pd.Timestamp("2020-01-01"),
                                                                               pd.Timestamp("2021-01-01")]
    assert to_dates(pd.Series([2]), "w", "week", "2020-01-01").iloc[0] == pd.Timestamp("2020-01-15")
    assert to_dates(pd.Series([13]), "m", "month", "2020-01-01").iloc[0] == pd.Timestamp("2021-02-01")
    assert to_dates(pd.Series([3]), "y", "year", "2020-06-30").iloc[0] == pd.Timestamp("2023-06-30")


@pytest.mark.parametrize("values", [[0, 31, 400], [1799, 2000], [2000, 2201]])
def test_other_integers_stop_with_how_to_fix(values):
    with pytest.raises(MedtorchError, match=r"not calendar years \(1800-2200\).*data.time_unit=day.*data.time_origin"):
        to_dates(pd.Series(values), "study_day")


def test_bad_values_and_origins_are_refused():
    with pytest.raises(MedtorchError, match="fractional"):
        to_dates(pd.Series([2019.5]), "t")
    with pytest.raises(MedtorchError, match="time_origin='soon' .* is not a date"):
        to_dates(pd.Series([1]), "t", "day", "soon")
    with pytest.raises(MedtorchError, match="not a date"):
        to_dates(pd.Series(["2020-01-01", "later"]), "t")


def test_period_labels_of_day_numbers_are_calendar_years_not_1970():
    days = pd.Series(np.arange(0, 365 * 3, 30))
    labels = period_labels(days, "study_day", "year", unit="day", origin="2015-01-01")
    assert sorted(set(labels)) == ["2015", "2016", "2017"]
    with pytest.raises(MedtorchError, match="data.time_unit"):  # the old code put every row in "1970"
        period_labels(days, "study_day", "year")
    assert sorted(set(period_labels(pd.Series([2019, 2020, 2020]), "year", "year"))) == ["2019", "2020"]


def test_single_period_calendar_analysis_is_refused_not_reported():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    probs = np.column_stack([1 - (p := rng.random(n)), p])
    one = assess(y, probs, ["a", "b"], pd.DataFrame({"yr": np.full(n, 2020)}), {"time_column": "yr"}, EV, 0)
    assert one["periods"] is None and "refused" in one["periods_refused"] and "(2020)" in one["periods_refused"]
    two = assess(y, probs, ["a", "b"], pd.DataFrame({"yr": np.repeat([2020, 2021], n // 2)}), {"time_column": "yr"}, EV, 0)
    assert [c["group"] for c in two["periods"]["cells"]] == ["2020", "2021"] and "periods_refused" not in two


def test_training_load_stops_on_day_numbers_without_a_unit(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0), "day": np.arange(40) * 10, "y": np.tile(["a", "b"], 20)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    d = OmegaConf.structured(DataConfig(name="t", source="table", path=str(tmp_path / "t.csv"), target="y",
                                        time_column="day"))
    with pytest.raises(MedtorchError, match="data.time_unit"):
        sources.load(d)
    d.time_unit, d.time_origin = "day", "2020-01-01"
    raw = sources.load(d)
    assert raw.extra["day"].iloc[-1] == pd.Timestamp("2020-01-01") + pd.Timedelta(days=390)


def test_monitor_windows_of_integer_columns():
    frame = pd.DataFrame({"yr": [2019, 2020, 2020], "day": [0, 40, 400]})
    assert _windows(frame, "yr", "Y", "new.csv").tolist() == ["2019", "2020", "2020"]
    assert _windows(frame, "day", "Y", "new.csv", unit="day", origin="2015-01-01").tolist() == ["2015", "2015", "2016"]
    with pytest.raises(MedtorchError, match="data.time_unit"):
        _windows(frame, "day", "Y", "new.csv")
