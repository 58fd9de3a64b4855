"""Rebalancing of the training batches: class weights, oversampling, augmentation.

Applied to training batches only (validation and test are never resampled or perturbed):

- ``class_weights=balanced``: cross-entropy weights n / (classes x count), scikit-learn's
  "balanced" weights, fitted on the training split;
- ``oversample=balanced``: each training row is drawn with probability proportional to
  1 / (rows of its class), so every class is drawn equally often;
- ``oversample_subgroups={column: {value: factor}}``: rows of a named rare subgroup (a site,
  an ethnicity) drawn ``factor`` times as often again;
- ``augmentation=gaussian_noise``: noise of ``noise_std`` on the standardised numeric features;
- ``mixup_alpha`` > 0: mixup within each training batch (pairs from a seeded permutation,
  lambda ~ Beta(alpha, alpha)), trained on the mixed soft targets (``TensorLoader``, ``Classifier``).

The plan records the share of each class and named subgroup in the raw training split and
the share expected in the drawn training batches, for the lineage and the EDA summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medtorch.data.split import TrainRows
from medtorch.errors import MedtorchError

AUGMENTATION_LIMITS = (
    "Gaussian noise on standardised numeric features assumes features are independent and "
    "noise-tolerant; it ignores clinical constraints between columns (e.g. systolic > diastolic), does "
    "not touch categorical features, and can blur thresholds that carry clinical meaning."
)

MIXUP_LIMITS = (
    "mixup trains on convex combinations of two rows, which are not real patients: a mixed row can "
    "break clinical constraints between columns and lie where no patient does; one-hot categorical "
    "columns become fractional (e.g. 0.7 smoker), which no real input has; labels are softened, "
    "so training loss and confusion counts (dominant label) are not those of real rows."
)


@dataclass
class BalancePlan:
    class_weights: np.ndarray | None  # one weight per class, for the loss
    row_weights: np.ndarray | None  # one sampling weight per training row
    noise_std: float  # 0 = no augmentation
    record: dict[str, Any]
    mixup_alpha: float = 0.0  # 0 = no mixup


def plan_balance(cfg: Any, train: TrainRows, classes: list[str], n_numeric: int) -> BalancePlan:
    if not isinstance(train, TrainRows):
        raise TypeError("rebalancing is planned on the training rows made by make_split (TrainRows) only.")
    y = train.y
    counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
    class_weights = None
    if cfg.class_weights == "balanced":
        class_weights = len(y) / (len(classes) * counts)
    w = np.ones(len(y))
    if cfg.oversample == "balanced":
        w = 1.0 / counts[y]
    for col, factors in cfg.oversample_subgroups.items():
        if col not in train.extra:
            raise MedtorchError(f"balance.oversample_subgroups names column {col!r}, which is not among "
                                f"data.subgroup_columns ({list(train.extra.columns)}).")
        values = train.extra[col].astype(str).to_numpy()
        for value, factor in factors.items():
            hit = values == str(value)
            if not hit.any():
                raise MedtorchError(f"balance.oversample_subgroups.{col}.{value}: no training row has {col}={value!r}; "
                                    f"values present: {sorted(set(values.tolist()))[:20]}.")
            w = np.where(hit, w * float(factor), w)
    resampled = cfg.oversample != "none" or bool(cfg.oversample_subgroups)
    row_weights = w / w.sum() if resampled else None
    p = row_weights if resampled else np.full(len(y), 1.0 / len(y))
    record: dict[str, Any] = {
        "class_weights": dict(zip(classes, class_weights.round(6).tolist())) if class_weights is not None else "none",
        "oversample": cfg.oversample,
        "oversample_subgroups": {c: dict(f) for c, f in cfg.oversample_subgroups.items()},
        "applies_to": "training batches only",
        "class_share_raw": dict(zip(classes, (counts / len(y)).round(4).tolist())),
        "class_share_drawn": dict(zip(classes, np.bincount(y, weights=p, minlength=len(classes)).round(4).tolist())),
        "augmentation": cfg.augmentation,
    }
    for col in cfg.oversample_subgroups:
        values = train.extra[col].astype(str).to_numpy()
        levels = sorted(set(values.tolist()))
        record[f"{col}_share_raw"] = {v: round(float((values == v).mean()), 4) for v in levels}
        record[f"{col}_share_drawn"] = {v: round(float(p[values == v].sum()), 4) for v in levels}
    noise = 0.0
    if cfg.augmentation == "gaussian_noise":
        noise = float(cfg.noise_std)
        record.update({"noise_std": noise, "noise_on": f"the {n_numeric} standardised numeric features",
                       "limitations": AUGMENTATION_LIMITS})
    mixup = float(cfg.mixup_alpha)
    record["mixup_alpha"] = mixup
    if mixup > 0:
        record.update({"mixup": "within each training batch, pairs from a seeded permutation, "
                                f"lambda ~ Beta({mixup}, {mixup}) folded to max(lambda, 1 - lambda); "
                                "loss lam * CE(y) + (1 - lam) * CE(y_pair), class weights on each term",
                       "mixup_limitations": MIXUP_LIMITS})
    return BalancePlan(class_weights, row_weights, noise, record, mixup)
