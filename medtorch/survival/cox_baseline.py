"""The transparent comparison of a survival run: lifelines' Cox proportional-hazards model fitted on
the same training rows and the same preprocessed features (ridge penalty ``survival.cox_penalizer``,
Efron ties), assessed on the same validation rows with the same metrics, thresholds rule and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError
from medtorch.evidence import REPLACE, Run
from medtorch.survival.assessment import assess, brier_grid, thresholds_on
from medtorch.survival.baseline import BreslowBaseline
from medtorch.survival.evaluate import groups_of, survival_dir, times_events
from medtorch.survival.km import censoring_km


def fit_cox_baseline(cfg, splits, prep, metrics: dict, run: Run) -> dict:
    try:
        from lifelines import CoxPHFitter
    except ImportError:
        raise MedtorchError("survival.cox_baseline=true needs lifelines: pip install 'medtorch[survival]' "
                            "(or set survival.cox_baseline=false).") from None
    from medtorch.survival.horizons import horizons_in_duration_unit

    names = list(prep.feature_names_)
    ttr, etr = times_events(splits.train)
    tva, eva = times_events(splits.val)
    xtr, xva = prep.transform(splits.train.frame).astype(float), prep.transform(splits.val.frame).astype(float)
    df = pd.DataFrame(xtr, columns=names).assign(_T=ttr, _E=etr)
    try:
        cph = CoxPHFitter(penalizer=cfg.survival.cox_penalizer).fit(df, "_T", "_E")
    except Exception as e:  # lifelines raises ConvergenceError (and linear-algebra errors) on separable/collinear data
        raise MedtorchError(f"the Cox PH baseline (lifelines) did not fit the training split: {type(e).__name__}: "
                            f"{str(e).splitlines()[0] if str(e) else ''}. Raise survival.cox_penalizer (now "
                            f"{cfg.survival.cox_penalizer}) or set survival.cox_baseline=false.") from None
    beta = cph.params_.reindex(names).to_numpy()
    eta_tr, eta_va = xtr @ beta, xva @ beta
    baseline = BreslowBaseline.fit(eta_tr, ttr, etr)
    hd = horizons_in_duration_unit(cfg)
    ev = cfg.evaluation
    thresholds = thresholds_on(tva, eva, eta_va, baseline, hd)
    val = assess(tva, eva, eta_va, baseline, censoring_km(ttr, etr), list(ev.horizons), hd, thresholds,
                 brier_grid(ttr, etr, tva, hd, cfg.survival.brier_points), resamples=ev.bootstrap_resamples,
                 confidence=ev.confidence, seed=cfg.seed, groups=groups_of(cfg, splits.val), bins=ev.calibration_bins)
    record = {"model": "lifelines CoxPHFitter", "penalizer": cfg.survival.cox_penalizer, "ties": "efron",
              "fitted_on": "train", "features": names, "log_likelihood": float(cph.log_likelihood_),
              "hazard_ratios": {n: float(np.exp(b)) for n, b in zip(names, beta)},
              "coefficients": {n: float(b) for n, b in zip(names, beta)}, "thresholds": thresholds,
              "baseline_hazard": baseline.to_dict(), "val": val}
    rd = run.rd
    survival_dir(rd)
    path = rd.survival("cox_baseline")
    outputs = run.record(path, record)
    metrics["cox_baseline"] = {"val": val, "path": str(path.relative_to(rd.root))}
    # the metrics record gains the baseline's results in place: the validation step wrote it moments ago, in this run
    outputs.update(run.record(rd.metrics, metrics, kind=REPLACE))
    run.event("cox_baseline_fitted", {"cindex": val["overall"]["cindex"]["estimate"],
                                      "network_cindex": metrics["val"]["overall"]["cindex"]["estimate"]}, outputs=outputs)
    return record
