"""Transparent versus black box: does the black box beat the best transparent model?

The candidates are the transparent models fitted in the run on the same training rows and
preprocessing (``explain.transparent``: a converged, validation-tuned logistic regression by
default; an Explainable Boosting Machine and a shallow tree on request), and optionally a
finished logistic-regression run on the same data and split (``explain.compare_with``, both
checked by hash). Every model predicts the same validation rows; MCC and AUROC of each, and
the black box's gain over each, get intervals from one seeded paired bootstrap: the same
resamples (of subjects when the data name them, else class-stratified rows) for every model,
BCa where stable. The best transparent model is the one with the highest validation MCC
(AUROC breaks ties). The black box is called justified only when its MCC gain over every
transparent model, the best included, has a whole interval above 0.

The transparent models' settings (C, depth) were chosen on these same validation rows, which
flatters them a little; the black box's epoch was chosen on them too. The comparison is
therefore between two optimistic figures; the governed test look is the unbiased one.

The logistic model's coefficients are shown as odds ratios: per training standard deviation for
a numeric column, and against the column's first level for a categorical one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import artefact
from medtorch.errors import MedtorchError
from medtorch.evaluation.bca import interval
from medtorch.evaluation.bootstrap import Resampling, bootstrap_values, jackknife_values, resampling
from medtorch.evaluation.metrics import auroc, confusion_matrix, mcc

METRICS = ("mcc", "auroc")


@dataclass
class Candidate:
    model: str  # logistic | ebm | tree
    source: str  # "fitted in this run" or the run directory it came from
    probs: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)


def bootstrap_mcc(y: np.ndarray, probs: dict[str, np.ndarray], resamples: int, seed: int) -> dict[str, np.ndarray]:
    """MCC of each model on the same class-stratified resamples of the rows (a paired bootstrap)."""
    res = resampling(np.asarray(y), resamples, seed)
    return {name: bootstrap_values(y, p, res, with_auroc=False)["mcc"] for name, p in probs.items()}


@dataclass
class Comparison:
    baseline_run: str | None
    split: str
    rows: int
    confidence: float
    resamples: int
    black_box: dict[str, Any]  # model, mcc, ci, auroc, auroc_ci, intervals
    transparent: dict[str, Any]  # the best transparent model, same fields plus source and settings
    difference: dict[str, Any]  # black box - best transparent: mcc, ci, auroc, auroc_ci, intervals
    justified: bool
    verdict: str
    odds_ratios: list[dict[str, Any]]
    candidates: list[dict[str, Any]] = field(default_factory=list)  # every transparent model, with its difference
    resampled: str = "rows"
    subjects: int | None = None
    bootstrap: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _point(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"mcc": mcc(confusion_matrix(y, p.argmax(axis=1), p.shape[1])), "auroc": auroc(y, p)}


def _entry(point: dict[str, float], ivs: dict[str, Any], n: int, res: Resampling) -> dict[str, Any]:
    """mcc/auroc with [lower, upper] lists (ci, auroc_ci) and the full interval records (method, n)."""
    out: dict[str, Any] = {}
    for m in METRICS:
        iv = {**ivs[m].as_dict(), "n": n, **({"subjects": res.units} if res.kind == "subjects" else {})}
        out[m], out["ci" if m == "mcc" else f"{m}_ci"] = point[m], [iv["lower"], iv["upper"]]
        out[f"{m}_interval"] = iv
    return out


def compare(black_box_name: str, black_probs: np.ndarray, candidates: list[Candidate], y: np.ndarray, split: str,
            resamples: int, confidence: float, seed: int, subjects: np.ndarray | None = None,
            odds: list[dict[str, Any]] | None = None, baseline_run: str | None = None, method: str = "bca") -> Comparison:
    if not candidates:
        raise MedtorchError("the comparison needs at least one transparent model (explain.transparent or "
                            "explain.compare_with); none was given.")
    y = np.asarray(y, dtype=np.intp)
    res = resampling(y, resamples, seed, subjects)
    models = {"black_box": black_probs, **{f"{i}": c.probs for i, c in enumerate(candidates)}}
    point = {k: _point(y, p) for k, p in models.items()}
    boot = {k: bootstrap_values(y, p, res) for k, p in models.items()}
    jack = {k: jackknife_values(y, p, res) for k, p in models.items()} if method == "bca" else {}

    def iv(key: str, other: str | None = None):
        out = {}
        for m in METRICS:
            est = point[key][m] - (point[other][m] if other else 0.0)
            vals = boot[key][m] - (boot[other][m] if other else 0.0)
            jk = None if not jack else jack[key][m] - (jack[other][m] if other else 0.0)
            out[m] = interval(est, vals, jk, confidence, method)
        return out

    n = int(len(y))
    black = {"model": black_box_name, **_entry(point["black_box"], iv("black_box"), n, res)}
    rows = []
    for i, c in enumerate(candidates):
        k = str(i)
        rows.append({"model": c.model, "source": c.source, "settings": c.settings, **_entry(point[k], iv(k), n, res),
                     "difference": _entry({m: point["black_box"][m] - point[k][m] for m in METRICS},
                                          iv("black_box", k), n, res)})
    best = max(range(len(rows)), key=lambda i: (rows[i]["mcc"], np.nan_to_num(rows[i]["auroc"], nan=-1.0)))
    top = rows[best]
    gain = top["difference"]
    justified = all(r["difference"]["ci"][0] > 0 for r in rows)
    pct = f"{confidence:.0%}"
    name = f"{top['model']} ({top['source']})"
    if justified:
        verdict = (f"The {black_box_name} model's MCC exceeds the best transparent model's, {name}, by {gain['mcc']:.3f} "
                   f"({pct} CI {gain['ci'][0]:.3f} to {gain['ci'][1]:.3f}, entirely above 0; AUROC gain {gain['auroc']:+.3f}, "
                   f"CI {gain['auroc_ci'][0]:.3f} to {gain['auroc_ci'][1]:.3f}): the data support using the black box.")
    else:
        verdict = (f"The {black_box_name} model's MCC differs from the best transparent model's, {name}, by {gain['mcc']:+.3f} "
                   f"({pct} CI {gain['ci'][0]:.3f} to {gain['ci'][1]:.3f}; AUROC {gain['auroc']:+.3f}, CI "
                   f"{gain['auroc_ci'][0]:.3f} to {gain['auroc_ci'][1]:.3f}). The gain over every transparent model is "
                   "not shown to be above 0, so the black box is not justified on performance.")
    transparent = {k: v for k, v in top.items() if k != "difference"}
    return Comparison(
        baseline_run=baseline_run, split=split, rows=n, confidence=confidence, resamples=resamples,
        black_box=black, transparent=transparent, difference=gain, justified=bool(justified), verdict=verdict,
        odds_ratios=odds or [], candidates=rows, resampled=res.kind,
        subjects=res.units if res.kind == "subjects" else None, bootstrap=f"paired {res.description}, " + (f"BCa where stable, else percentile (method and reason per interval "
                                                   f"in {artefact('explanation').name})" if method == "bca" else "percentile"),
        note=("Validation rows chose the black box's epoch and the transparent models' settings (C, depth): both "
              "figures are optimistic; the governed test look is the unbiased one."),
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
