"""Transparent versus black box: is the black box's extra performance real?

The transparent baseline is a finished logistic-regression run on the same data and the same
split (both checked by hash). Both models predict the same rows; the MCC of each and their
difference get percentile confidence intervals from one seeded paired bootstrap over rows.
The black box is called justified only when the whole interval of its MCC gain lies above 0.
The baseline's coefficients are shown as odds ratios: per training standard deviation for a
numeric column, and against the column's first level for a categorical one.

The resamples are those of ``medtorch.evaluation.bootstrap`` (class-stratified), drawn once
and applied to both models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError
from medtorch.evaluation.metrics import confusion_matrix, mcc


def bootstrap_mcc(y: np.ndarray, probs: dict[str, np.ndarray], resamples: int, seed: int) -> dict[str, np.ndarray]:
    """MCC of each model on the same class-stratified resamples of the rows (a paired bootstrap)."""
    from medtorch.evaluation.bootstrap import bootstrap_values, resample_indices

    idx = resample_indices(y, resamples, seed)
    return {name: bootstrap_values(y, p, idx, with_auroc=False)["mcc"] for name, p in probs.items()}


def _interval(estimate: float, values: np.ndarray, confidence: float) -> list[float]:
    from medtorch.evaluation.bootstrap import percentile_interval

    ci = percentile_interval(estimate, values, confidence)
    return [ci.lower, ci.upper]


@dataclass
class Comparison:
    baseline_run: str
    split: str
    rows: int
    confidence: float
    resamples: int
    black_box: dict[str, Any]  # model, mcc, ci
    transparent: dict[str, Any]
    difference: dict[str, Any]  # mcc (black box - transparent), ci
    justified: bool
    verdict: str
    odds_ratios: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(black_box_name: str, black_probs: np.ndarray, baseline, baseline_probs: np.ndarray, y: np.ndarray,
            split: str, resamples: int, confidence: float, seed: int) -> Comparison:
    k = black_probs.shape[1]
    probs = {"black_box": black_probs, "transparent": baseline_probs}
    boot = bootstrap_mcc(y, probs, resamples, seed)
    point = {n: mcc(confusion_matrix(y, p.argmax(axis=1), k)) for n, p in probs.items()}
    gain = point["black_box"] - point["transparent"]
    diff_ci = _interval(gain, boot["black_box"] - boot["transparent"], confidence)
    justified = diff_ci[0] > 0
    pct = f"{confidence:.0%}"
    if justified:
        verdict = (f"The {black_box_name} model's MCC exceeds the transparent baseline's by {gain:.3f} "
                   f"({pct} CI {diff_ci[0]:.3f} to {diff_ci[1]:.3f}, entirely above 0): the data support using the black box.")
    else:
        verdict = (f"The {black_box_name} model's MCC differs from the transparent baseline's by {gain:+.3f} "
                   f"({pct} CI {diff_ci[0]:.3f} to {diff_ci[1]:.3f}, which includes 0 or lies below it): the data do not "
                   "show that the transparent model performs unsatisfactorily, so the black box is not justified on performance.")
    return Comparison(
        baseline_run=str(baseline.rd.root), split=split, rows=int(len(y)), confidence=confidence, resamples=resamples,
        black_box={"model": black_box_name, "mcc": point["black_box"],
                   "ci": _interval(point["black_box"], boot["black_box"], confidence)},
        transparent={"model": "logistic", "mcc": point["transparent"],
                     "ci": _interval(point["transparent"], boot["transparent"], confidence)},
        difference={"mcc": gain, "ci": diff_ci}, justified=bool(justified), verdict=verdict,
        odds_ratios=odds_ratios(baseline.network, baseline.preprocessor, baseline.classes),
    )


def odds_ratios(network, preprocessor, classes: list[str]) -> list[dict[str, Any]]:
    """exp(coefficient difference) of each class against the first class, per interpretable unit."""
    w = network.linear.weight.detach().cpu().double().numpy()  # (classes, inputs)
    names = preprocessor.feature_names_
    sources = preprocessor.feature_sources_
    out = []
    for k in range(1, len(classes)):
        beta = w[k] - w[0]
        for j, (name, col) in enumerate(zip(names, sources)):
            if col in preprocessor.numeric_:
                unit, b = f"+1 SD ({preprocessor.scales_[col]:.4g} units)", beta[j]
            else:
                first = names.index(f"{col}={preprocessor.levels_[col][0]}")
                if j == first:
                    continue  # the reference level
                unit, b = f"vs {col}={preprocessor.levels_[col][0]}", beta[j] - beta[first]
            out.append({"outcome": f"{classes[k]} vs {classes[0]}", "term": name, "column": col, "per": unit,
                        "log_odds": float(b), "odds_ratio": float(np.exp(b))})
    return out


def check_same_rows(baseline, data_sha256: str, split: str, split_sha256: str, classes: list[str]) -> None:
    """Refuse a baseline that was not trained on the same data and split, or is not logistic."""
    m = baseline.manifest
    where = str(baseline.rd.root)
    if baseline.spec["model"]["name"] != "logistic":
        raise MedtorchError(f"{where}: explain.compare_with must name a logistic-regression run (the transparent "
                            f"baseline); this run's model is {baseline.spec['model']['name']!r}.")
    if baseline.classes != list(classes):
        raise MedtorchError(f"{where}: the transparent baseline's classes {baseline.classes} differ from this "
                            f"model's {list(classes)}.")
    if m.get("data", {}).get("sha256") != data_sha256:
        raise MedtorchError(f"{where}: the transparent baseline was trained on different data (sha256 "
                            f"{str(m.get('data', {}).get('sha256'))[:16]}... vs {data_sha256[:16]}...); train it on the same data.")
    if m.get("splits", {}).get(split) != split_sha256:
        raise MedtorchError(f"{where}: the transparent baseline's {split} rows differ from this run's (its split "
                            "seed or fractions differ); train it with the same seed and split settings.")


def odds_ratio_table(comparison: Comparison) -> pd.DataFrame:
    return pd.DataFrame(comparison.odds_ratios)
