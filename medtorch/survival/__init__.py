"""Time-to-event outcomes (``task=survival``): Cox partial-likelihood training of any network that
outputs one risk score, a Breslow baseline hazard fitted on the training split, survival metrics
(Harrell's and Uno's C, time-dependent AUC, Brier, calibration, MCC at a horizon) with subject-level
bootstrap intervals, survival EDA, leakage checks and plots. The classification path does not import
this package; ``medtorch.pipeline.run`` hands a ``task=survival`` config to ``medtorch.survival.pipeline``.
"""
