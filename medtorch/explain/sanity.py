"""Sanity checks of the attributions themselves.

- Agreement: Spearman rank correlation between methods' global importance (mean |attribution|
  per column, averaged over classes).
- Model randomisation (Adebayo et al., 2018): re-initialise every weight of the network and
  attribute again; an attribution method that explains the model must change. The test passes
  when the mean per-row Spearman correlation of the signed attributions (trained vs randomised
  model, each row's predicted class) is below ``RANDOMISATION_MAX_CORR``. The correlation of
  |attributions| is reported too; it stays higher because input-times-gradient methods share
  the factor |input - baseline| whatever the weights (Adebayo et al. discuss this).
- Logistic regression: Integrated Gradients of logit k is exactly W_k * (x - baseline), since
  the gradient is constant along the path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from medtorch.explain.attributions import MethodResult

RANDOMISATION_MAX_CORR = 0.5
RANDOMISATION_ROWS = 64  # rows attributed again under the randomised model


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")  # a constant ranking has no correlation
    return float(spearmanr(a, b).statistic)


def method_agreement(results: list[MethodResult]) -> dict[str, dict[str, float]]:
    """Pairwise Spearman correlation of the methods' column rankings."""
    imp = {r.method: np.abs(r.columns).mean(axis=(0, 1)) for r in results}
    return {a: {b: _spearman(imp[a], imp[b]) for b in imp} for a in imp}


def randomised_copy(network: nn.Module, seed: int) -> nn.Module:
    """A copy of ``network`` with every parameter re-initialised (seeded)."""
    torch.manual_seed(seed)
    clone = copy.deepcopy(network)
    for m in clone.modules():
        reset = getattr(m, "reset_parameters", None) or getattr(m, "_reset_parameters", None)
        if callable(reset):
            reset()
    # parameters no module re-initialises keep the trained values: randomise those too
    before = dict(network.named_parameters())
    with torch.no_grad():
        for name, p in clone.named_parameters():
            if torch.equal(p, before[name]) and p.numel() > 1 and float(p.std()) > 0:
                p.normal_(0.0, float(before[name].std()))
    return clone.eval()


@dataclass
class RandomisationResult:
    method: str
    mean_row_spearman: float  # mean over rows of Spearman(attr trained, attr randomised), signed
    mean_row_spearman_abs: float  # the same for |attributions|
    global_spearman: float  # Spearman of the global importance rankings (mean |attr| per column)
    max_corr: float
    passed: bool


def randomisation_test(original: MethodResult, randomised: MethodResult, predicted: np.ndarray) -> RandomisationResult:
    rows = np.arange(original.columns.shape[1])
    a = original.columns[predicted, rows]  # (rows, columns) for each row's predicted class
    b = randomised.columns[predicted, rows]

    def mean_row(u, v):
        per_row = np.array([_spearman(u[i], v[i]) for i in rows])
        return float(np.nanmean(per_row)) if np.isfinite(per_row).any() else float("nan")

    signed = mean_row(a, b)
    glob = _spearman(np.abs(a).mean(axis=0), np.abs(b).mean(axis=0))
    passed = bool(np.isfinite(signed) and signed < RANDOMISATION_MAX_CORR)
    return RandomisationResult(original.method, signed, mean_row(np.abs(a), np.abs(b)), glob, RANDOMISATION_MAX_CORR, passed)


def logistic_ig_check(network: nn.Module, ig: MethodResult, x: torch.Tensor, baseline: torch.Tensor) -> dict:
    """Compare Integrated Gradients of a logistic model with W_k * (x - baseline) for every class."""
    w = network.linear.weight.detach().cpu().double().numpy()  # (classes, inputs)
    diff = (x.detach().cpu().double() - baseline.detach().cpu().double()).numpy()
    expected = w[:, None, :] * diff[None, :, :]
    err = float(np.abs(ig.inputs - expected).max())
    scale = float(np.abs(expected).max()) or 1.0
    return {"max_abs_error": err, "max_abs_expected": scale, "passed": bool(err <= 1e-5 * scale + 1e-6)}
