"""Synthetic clinical-style tables for the deployment tests: train once, then shift at will."""

from __future__ import annotations

import numpy as np
import pandas as pd

TRAIN_OVERRIDES = ["+experiment=table", "data.target=label", "data.id_column=pid", "data.time_column=visit",
                   "trainer.batch_size=128", "+monitoring.min_sensitivity.disease=0.7", "monitoring.min_mcc=0.4"]


def table(n: int, seed: int, shift: float = 0.0, flip: float = 0.0, start: str = "2024-01-01") -> pd.DataFrame:
    """Rows with numeric, integer and categorical features, missing BMI, a label, an id and a visit date.

    ``shift`` moves the marker and age distributions (covariate drift); ``flip`` is the fraction
    of labels flipped at random (the model gets worse, the inputs look the same).
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 90, n)
    marker = rng.normal(0, 1, n) + shift
    bmi = rng.normal(26, 4, n).clip(15, 40).round(1)
    bmi[rng.random(n) < 0.1] = np.nan
    sex = rng.choice(["F", "M"], n)
    site = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    logit = 2.5 * (marker - shift) + 0.03 * (age - 55) + (site == "C") * 0.5
    label = np.where(logit + rng.logistic(0, 0.5, n) > 0, "disease", "healthy")
    flipped = rng.random(n) < flip
    label = np.where(flipped, np.where(label == "disease", "healthy", "disease"), label)
    visit = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    return pd.DataFrame({"pid": np.arange(n) + seed * 100_000, "age": age + int(round(shift * 10)), "marker": marker,
                         "bmi": bmi, "sex": sex, "site": site, "visit": visit.strftime("%Y-%m-%d"), "label": label})
