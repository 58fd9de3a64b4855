"""Fitted preprocessing: imputation, categorical encoding and standardisation.

Follows scikit-learn's contract: everything learned from data is set only in ``fit``, is
named with a trailing underscore, and ``transform`` refuses to run before ``fit``. ``fit``
accepts only ``TrainRows`` (see ``medtorch.data.split``). The fitted state is plain JSON
(``artefact("preprocessing")``), readable by a reviewer and loadable without pickle.

- numeric columns: missing values -> training median; then (x - mean) / scale, with the
  training mean and population standard deviation (scale 1 where it is 0);
- categorical columns (strings, booleans, and integer columns declared in
  ``data.categorical``): missing -> most frequent training level; one-hot over the training
  levels; a level never seen in training encodes as all zeros (policy ``zeros``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.split import TrainRows
from medtorch.errors import MedtorchError

STATE_VERSION = 1


class NotFittedError(MedtorchError):
    pass


class TabularPreprocessor:
    def __init__(self) -> None:
        self.numeric_: list[str] | None = None

    # ------------------------------------------------------------------ fit
    def fit(self, rows: TrainRows) -> "TabularPreprocessor":
        if not isinstance(rows, TrainRows):
            raise TypeError(
                f"TabularPreprocessor.fit accepts only the training rows made by make_split (TrainRows); "
                f"got {type(rows).__name__}. Fitting on validation or test rows would leak them into the model."
            )
        frame = rows.frame
        numeric, categorical = [], []
        for col in frame.columns:
            s = frame[col]
            if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
                categorical.append(col)
            else:
                numeric.append(col)
        medians, means, scales = {}, {}, {}
        for col in numeric:
            x = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isnan(x).all():
                raise MedtorchError(f"column {col!r} has no values in the training split; drop it (data.drop=[...]).")
            med = float(np.nanmedian(x))
            x = np.where(np.isnan(x), med, x)
            mean, sd = float(x.mean()), float(x.std())
            medians[col], means[col], scales[col] = med, mean, (sd if sd > 0 else 1.0)
        levels, modes = {}, {}
        for col in categorical:
            s = frame[col].astype("string")
            counts = s.value_counts(dropna=True)
            if counts.empty:
                raise MedtorchError(f"column {col!r} has no values in the training split; drop it (data.drop=[...]).")
            levels[col] = sorted(counts.index.tolist())
            # most frequent; ties broken by the sorted level order, so fitting is deterministic
            top = counts.max()
            modes[col] = min(v for v, n in counts.items() if n == top)
        self.numeric_, self.categorical_ = numeric, categorical
        self.medians_, self.means_, self.scales_ = medians, means, scales
        self.levels_, self.modes_ = levels, modes
        self.columns_ = list(frame.columns)
        self.fitted_on_ = {"split": rows.name, "rows": len(rows), "ids_sha256": rows.ids_sha256}
        names = pd.Series(self.feature_names_)
        if names.duplicated().any():  # a column named 'sex=F' beside categorical 'sex' with level 'F'
            twice = sorted(set(names[names.duplicated()]))
            raise MedtorchError(f"model input name(s) {twice[:5]} would occur twice: a column of that name and a level "
                                "of a categorical column (named column=level) give the same input. Rename the column.")
        return self

    # ------------------------------------------------------------ transform
    def _check_fitted(self) -> None:
        if self.numeric_ is None:
            raise NotFittedError("This TabularPreprocessor instance is not fitted yet. Call 'fit' with the training rows first.")

    @property
    def feature_names_(self) -> list[str]:
        self._check_fitted()
        return list(self.numeric_) + [f"{c}={lvl}" for c in self.categorical_ for lvl in self.levels_[c]]

    @property
    def feature_sources_(self) -> list[str]:
        """For each model input, the user's column it came from (for attributions)."""
        self._check_fitted()
        return list(self.numeric_) + [c for c in self.categorical_ for _ in self.levels_[c]]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw frame -> float32 matrix in model feature order."""
        self._check_fitted()
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise MedtorchError(f"input is missing column(s) {missing} that the model was trained on.")
        n = len(frame)
        out = np.empty((n, len(self.feature_names_)), dtype=np.float32)
        if self.numeric_:
            try:
                x = frame[self.numeric_].to_numpy(dtype=np.float64, na_value=np.nan)
            except (ValueError, TypeError) as e:
                bad = [c for c in self.numeric_ if not pd.api.types.is_numeric_dtype(frame[c])]
                raise MedtorchError(f"numeric column(s) {bad} hold non-numeric values: {e}") from None
            med = np.array([self.medians_[c] for c in self.numeric_])
            mean = np.array([self.means_[c] for c in self.numeric_])
            scale = np.array([self.scales_[c] for c in self.numeric_])
            # (where(isnan, median, x) - mean) / scale, in place on where's new matrix (not two more)
            x = np.where(np.isnan(x), med, x)
            x -= mean
            x /= scale
            out[:, : len(self.numeric_)] = x
        j = len(self.numeric_)
        for col in self.categorical_:
            lv = self.levels_[col]
            s = frame[col]
            if not isinstance(s.dtype, pd.StringDtype):
                s = s.astype("string")
            # each distinct value looked up once: codes of the values, then their levels (-1 for unseen);
            # a missing value (code -1) takes the last entry, the training mode's level
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            index = pd.Index(lv)
            lookup = np.append(index.get_indexer(np.asarray(uniques, dtype=object)),
                               index.get_indexer([self.modes_[col]]))
            codes = lookup[codes]
            out[:, j : j + len(lv)] = 0.0  # one-hot written into the output, not built beside it
            seen = codes >= 0
            out[np.flatnonzero(seen), j + codes[seen]] = 1.0
            j += len(lv)
        return out

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "version": STATE_VERSION,
            "columns": self.columns_,
            "fitted_on": self.fitted_on_,
            "numeric": [
                {"column": c, "impute": "median", "median": self.medians_[c], "mean": self.means_[c], "scale": self.scales_[c]}
                for c in self.numeric_
            ],
            "categorical": [
                {"column": c, "impute": "most_frequent", "mode": self.modes_[c], "levels": self.levels_[c],
                 "encoding": "one_hot", "unseen": "zeros"}
                for c in self.categorical_
            ],
            "features": self.feature_names_,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TabularPreprocessor":
        if state.get("version") != STATE_VERSION:
            raise MedtorchError(f"preprocessing state version {state.get('version')!r} is not supported (expected {STATE_VERSION}).")
        self = cls()
        try:
            self.columns_ = list(state["columns"])
            self.fitted_on_ = dict(state["fitted_on"])
            self.numeric_ = [d["column"] for d in state["numeric"]]
            self.medians_ = {d["column"]: float(d["median"]) for d in state["numeric"]}
            self.means_ = {d["column"]: float(d["mean"]) for d in state["numeric"]}
            self.scales_ = {d["column"]: float(d["scale"]) for d in state["numeric"]}
            self.categorical_ = [d["column"] for d in state["categorical"]]
            self.levels_ = {d["column"]: list(d["levels"]) for d in state["categorical"]}
            self.modes_ = {d["column"]: d["mode"] for d in state["categorical"]}
        except (KeyError, TypeError) as e:
            raise MedtorchError(f"preprocessing state is incomplete or corrupt (missing {e}).") from None
        return self
