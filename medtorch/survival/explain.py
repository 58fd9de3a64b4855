"""Attributions of the risk score of a survival network (Captum, through ``medtorch.explain.attributions``).

The network has one output, the log relative hazard, so each method attributes that one output
(target 0) of the validation rows (a seeded sample of at most ``explain.max_rows``) against
baselines from the training rows only. Per original column: the mean absolute attribution (global
importance) and the mean signed attribution (positive: the column raises the risk on average), for
each configured method that applies to a single output; written to ``rd.survival("explanation")`` with a
bar plot. Integrated Gradients' completeness is reported as the largest |convergence delta|.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medtorch.evidence import Run

METHODS = ("integrated_gradients", "gradient_shap", "feature_ablation")


def explain_risk(cfg, network, x_val: torch.Tensor, x_train: torch.Tensor, prep, run: Run) -> dict | None:
    from medtorch.explain.attributions import attribute, make_baselines
    from medtorch.explain.columns import ColumnMap

    e = cfg.explain
    if not e.enabled:
        run.event("explained", {"status": "disabled"})
        return None
    rng = np.random.default_rng(e.seed)
    rows = np.sort(rng.choice(len(x_val), size=min(len(x_val), e.max_rows), replace=False))
    x = x_val[rows]
    cmap = ColumnMap.from_sources(prep.feature_sources_)
    base = make_baselines(e.baseline, x_train, len(x), e.baseline_samples, e.seed)
    out: dict[str, Any] = {"output": "risk score (log relative hazard)", "split": "val", "rows": int(len(x)),
                           "baseline": e.baseline, "columns": list(cmap.columns), "methods": {}}
    for method in [m for m in e.methods if m in METHODS]:
        r = attribute(network, method, x, 1, base, cmap, ig_steps=e.ig_steps,
                      gradient_shap_samples=e.gradient_shap_samples, seed=e.seed)
        cols = r.columns[0]  # (rows, columns)
        out["methods"][method] = {
            "mean_abs": dict(zip(cmap.columns, np.abs(cols).mean(axis=0).tolist())),
            "mean_signed": dict(zip(cmap.columns, cols.mean(axis=0).tolist())),
            "seconds": round(r.seconds, 3),
            **({"max_abs_convergence_delta": float(np.abs(r.delta).max())} if r.delta is not None else {}),
        }
    rd = run.rd
    plots = [_plot(out, rd.survival("importance_plot"))] if cfg.eda.plots and out["methods"] else []
    run.record(rd.survival("explanation"), out, also=plots, event="explained",
               details={"task": "survival", "methods": list(out["methods"]), "rows": out["rows"]},
               inputs=[rd.model_weights])
    return out


def _plot(out: dict, path):
    from medtorch.survival.plots import _plt, _save

    plt = _plt()
    method = next(iter(out["methods"]))
    imp = out["methods"][method]["mean_abs"]
    names = sorted(imp, key=imp.get)[-15:]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names])
    ax.set_xlabel(f"mean |attribution| of the risk score ({method.replace('_', ' ')})")
    ax.set_title(f"Risk-score attributions, validation ({out['rows']} rows)")
    return _save(fig, path)
