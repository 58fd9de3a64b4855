"""Model inputs back to the user's columns.

The model spec's ``feature_sources`` names, for every model input, the original column it
came from (a numeric column is one input; a categorical column is one input per level of its
one-hot encoding). Gradient methods attribute each input, so a column's attribution is the sum
of its parts; perturbation methods perturb a whole column at once (through the feature mask
built here), and every part then carries the column's attribution, which is taken once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ColumnMap:
    columns: list[str]  # original columns, in the order they first appear among the inputs
    group: np.ndarray  # (inputs,) index into ``columns`` for every model input

    @classmethod
    def from_sources(cls, sources: list[str]) -> "ColumnMap":
        columns = list(dict.fromkeys(sources))
        index = {c: i for i, c in enumerate(columns)}
        return cls(columns, np.array([index[s] for s in sources], dtype=np.int64))

    @property
    def feature_mask(self) -> torch.Tensor:
        """Captum's feature mask: inputs of one column share a group id; shape (1, inputs)."""
        return torch.from_numpy(self.group).unsqueeze(0)

    def sum_parts(self, values: np.ndarray) -> np.ndarray:
        """(..., inputs) -> (..., columns): add the parts of each column."""
        indicator = np.zeros((len(self.group), len(self.columns)))
        indicator[np.arange(len(self.group)), self.group] = 1.0
        return np.asarray(values, dtype=np.float64) @ indicator

    def take_group(self, values: np.ndarray) -> np.ndarray:
        """(..., inputs) -> (..., columns) for grouped attributions: the value of each column's first part."""
        first = np.array([int(np.flatnonzero(self.group == g)[0]) for g in range(len(self.columns))])
        return np.asarray(values, dtype=np.float64)[..., first]
