"""Validation evaluation of a survival run: the Breslow baseline on the training split, horizon
thresholds fixed on validation, the assessment with intervals, predictions and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.evidence import Run
from medtorch.run import RunDir
from medtorch.survival.assessment import assess, brier_grid, thresholds_on
from medtorch.survival.baseline import BreslowBaseline
from medtorch.survival.data import DURATION
from medtorch.survival.km import censoring_km


def survival_dir(rd: RunDir) -> Path:
    p = rd.survival_dir
    p.mkdir(parents=True, exist_ok=True)
    return p


def times_events(part) -> tuple[np.ndarray, np.ndarray]:
    return part.extra[DURATION].to_numpy(float), part.y.astype(int)


def groups_of(cfg, part) -> np.ndarray | None:
    col = cfg.data.subject_column
    return part.extra[col].to_numpy() if col and col in part.extra else None


def evaluate_validation(cfg, splits, eta: dict[str, np.ndarray], module, trainer, run: Run) -> dict[str, Any]:
    from medtorch.survival.horizons import horizons_in_duration_unit
    from medtorch.survival.plots import plot_assessment

    rd = run.rd
    sd = survival_dir(rd)
    ttr, etr = times_events(splits.train)
    tva, eva = times_events(splits.val)
    baseline = BreslowBaseline.fit(eta["train"], ttr, etr)
    censoring = censoring_km(ttr, etr)
    # fixed before any test look: the governed look (medtorch/survival/governed.py) reuses them
    fixed = {rd.survival("baseline_hazard"): baseline.to_dict(),
             rd.survival("censoring"): {"times": censoring.times.tolist(), "values": censoring.values.tolist(),
                                        "first_event_time": float(ttr[etr == 1].min()), "fitted_on": "train"}}
    hd = horizons_in_duration_unit(cfg)
    thresholds = thresholds_on(tva, eva, eta["val"], baseline, hd)
    grid = brier_grid(ttr, etr, tva, hd, cfg.survival.brier_points)
    ev = cfg.evaluation
    val = assess(tva, eva, eta["val"], baseline, censoring, list(ev.horizons), hd, thresholds, grid,
                 resamples=ev.bootstrap_resamples, confidence=ev.confidence, seed=cfg.seed,
                 groups=groups_of(cfg, splits.val), bins=ev.calibration_bins)
    metrics = {
        "task": "survival", "val": val, "test": None, "test_status": "sealed: not evaluated by training",
        "horizon_unit": ev.horizon_unit, "duration_unit": cfg.data.duration_unit,
        "thresholds": {"values": thresholds, "fixed_on": "validation (highest MCC at each horizon)",
                       "scale": "predicted risk 1 - S(t | x)"},
        "ipcw": "censoring distribution (reverse Kaplan-Meier) of the training split",
        "baseline_hazard": "Breslow, fitted on the training split's risk scores",
        "selected_epoch": run.read_json(rd.model_spec)["selected_by"], "epochs_trained": trainer.current_epoch,
        "skipped_batches": module.skipped_batches, "history": module.history,
    }
    surv = baseline.survival(eta["val"], hd)
    table = pd.DataFrame({"row_id": splits.val.ids, "duration": tva, "event": eva, "risk_score": eta["val"]})
    for k, h in enumerate(ev.horizons):
        table[f"survival_at_{h:g}{ev.horizon_unit[0]}"] = surv[:, k]
    plots = plot_assessment(val, tva, eva, eta["val"], baseline, censoring, cfg, sd, "val") if cfg.eda.plots else []
    run.record_many({rd.metrics: metrics, rd.predictions("val"): table.to_csv(index=False, float_format="%.8g"), **fixed},
                    also=plots, event="validation_evaluated", inputs=[rd.model_weights, rd.preprocessing],
                    details={"n": val["n"], "events": val["events"], "cindex": val["overall"]["cindex"]["estimate"],
                             "uno_cindex": val["overall"]["uno_cindex"]["estimate"],
                             "ibs": val["overall"]["ibs"]["estimate"], "thresholds": thresholds})
    return metrics
