"""The evaluation horizons of a survival run in the data's duration unit."""

from __future__ import annotations

from medtorch.survival.data import in_duration_unit


def horizons_in_duration_unit(cfg) -> list[float]:
    return [in_duration_unit(h, cfg.evaluation.horizon_unit, cfg.data.duration_unit) for h in cfg.evaluation.horizons]
