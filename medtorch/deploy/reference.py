"""The monitoring reference: how the training rows looked, kept so new data can be compared.

Derived from the training rows only (it is fitted state, like the preprocessing): for each
numeric column the quantile bin edges and counts (for PSI), a sorted sample of at most
``SAMPLE`` values (for Kolmogorov-Smirnov; exact when the training split is that small, else
evenly spaced order statistics, within 1/SAMPLE of the training ECDF) and the fraction
missing; for each categorical column the count of each level and the fraction missing; and
the distribution of the model's predicted class on the training rows. The sample holds
single-column values only, never whole rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.levels import level_text
from medtorch.data.split import TrainRows
from medtorch.deploy.spec import DataSpec

SAMPLE = 5000


def bin_counts(x: np.ndarray, edges: list[float] | np.ndarray) -> np.ndarray:
    """Counts of non-missing ``x`` in the bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    x = x[~np.isnan(x)]
    edges = np.asarray(edges, dtype=np.float64)
    return np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)


def derive_reference(rows: TrainRows, spec: DataSpec, predicted: np.ndarray, classes: list[str], bins: int) -> dict[str, Any]:
    if not isinstance(rows, TrainRows):
        raise TypeError(f"derive_reference accepts only the training rows (TrainRows); got {type(rows).__name__}.")
    columns = []
    for c in spec.columns:
        s = rows.frame[c.name]
        entry: dict[str, Any] = {"column": c.name, "kind": "numeric" if c.numeric else "categorical",
                                 "missing_fraction": float(s.isna().mean())}
        if c.numeric:
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            x = np.sort(x[~np.isnan(x)])
            edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
            take = x if len(x) <= SAMPLE else x[np.round(np.linspace(0, len(x) - 1, SAMPLE)).astype(int)]
            entry.update(n=int(len(x)), edges=edges.tolist(), counts=bin_counts(x, edges).tolist(), sample=take.tolist(),
                         sample_exact=bool(len(x) <= SAMPLE))
        else:
            counts = level_text(s).dropna().value_counts()
            entry["counts"] = {str(k): int(v) for k, v in sorted(counts.items())}
        columns.append(entry)
    pred = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(classes))
    return {"version": 1, "source": {"split": rows.name, "rows": len(rows), "ids_sha256": rows.ids_sha256},
            "bins": bins, "columns": columns, "predicted_class": {c: int(n) for c, n in zip(classes, pred)}}
